"""A distillation recipe's report: its students beside the RL runs of the same models, with compute.

The RL side is the committed record of the miniature's no_prior run (a real CPU run); the distill side is
a record written the way distill/plan.py writes one.

    python -m pytest tests/reporting/test_students.py -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reporting.report import build_report
from reporting.runs import load_recipe_runs
from reporting.students import rl_compute, students_rows

REPO = Path(__file__).resolve().parents[2]
RL_RUN = REPO / "results" / "countdown-mini" / "runs" / "countdown-mini__no_prior__s1"
STUDENT = "results/countdown-mini/base/none"


def write_distill_run(results: Path, run_id: str, greedy: float, mean_at_n: float, status="finished") -> Path:
    run_dir = results / "mini-distill" / "runs" / run_id
    (run_dir / "eval").mkdir(parents=True)
    record = {
        "kind": "distill",
        "run_id": run_id,
        "status": status,
        "student": STUDENT,
        "teacher": "checkpoints/countdown-mini/countdown-mini__grpo__s1/global_step_30/actor",
        "teacher_run": "countdown-mini__grpo__s1",
        "seed": int(run_id[-1]),
        "device": "cpu",
        "reproduce": f"python -m launch distill run mini-distill --variant no_prior --seed {run_id[-1]} --device cpu",
        "stage_seconds": {"data": 150.0, "sft": 240.0, "eval": 90.0},
    }
    if status == "failed":
        record["error"] = "sft: exit 1"
    (run_dir / "run.json").write_text(json.dumps(record))
    counts = {"responses": {"sampled": 3840, "correct": 2081, "kept": 855}}
    (run_dir / "distill.json").write_text(json.dumps({"counts": counts}))
    lines = [{"step": step, "data": {"train/loss": 2.0 / step}} for step in range(1, 81)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = {"n": 4, "greedy_acc": greedy, "mean@n": mean_at_n, "greedy_search_rate": 1.0}
    (run_dir / "eval" / "countdown.json").write_text(json.dumps(result))
    return run_dir


def results_with_both(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    shutil.copytree(RL_RUN, results / "countdown-mini" / "runs" / RL_RUN.name)
    write_distill_run(results, "mini-distill__no_prior__s1", 0.40, 0.30)
    write_distill_run(results, "mini-distill__no_prior__s2", 0.50, 0.36)
    write_distill_run(results, "mini-distill__no_prior__s3", 0.0, 0.0, status="failed")
    return results


def test_rl_compute_is_steps_times_batch_settings():
    (run,) = [
        r for r in load_recipe_runs(REPO / "results", "countdown-mini") if r.run_dir.name == RL_RUN.name
    ]
    # countdown-mini: 30 steps x 16 prompts x 8 samples; 16 / 8 = 2 mini-batches, 1 PPO epoch.
    assert rl_compute(run) == (3840, 60)


def test_students_sit_beside_the_rl_runs_of_the_same_model(tmp_path):
    results = results_with_both(tmp_path)
    rows = students_rows(load_recipe_runs(results, "mini-distill"), results)
    assert [row.how for row in rows] == [
        "distilled from countdown-mini__grpo__s1",
        "RL: countdown-mini no_prior",
    ]
    distilled, rl = rows
    assert (distilled.seeds, distilled.accuracy) == ("1,2", "45.0 ± 7.1 (greedy)")  # the failed seed is out
    assert distilled.mean_at_n == "33.0 ± 4.2 (mean@4)"
    assert (distilled.sampled, distilled.traces, distilled.updates) == (
        "3,840 (teacher)",
        "855 of 3,840",
        "80",
    )
    assert distilled.wall_min == "8"
    # The committed no_prior run: greedy validation 9.8% at step 0, 6.6% at step 30, 4 minutes.
    assert (rl.accuracy, rl.start, rl.search) == ("6.6 (greedy, final step)", "9.8", "0.0")
    assert distilled.search == "100.0 ± 0.0"
    assert (rl.sampled, rl.updates, rl.wall_min) == ("3,840 (own rollouts)", "60", "4")
    recorded = json.loads((RL_RUN / "run.json").read_text())
    assert rl.commit == recorded["git_commit"][:10] + ("-dirty" if recorded["git_dirty"] else "")
    assert distilled.commit == "—"  # these hand-written records name no commit


def test_the_distill_summary_is_the_students_table(tmp_path):
    results = results_with_both(tmp_path)
    paths = build_report("mini-distill", results)
    summary = paths.summary.read_text()
    assert "`python -m launch distill run mini-distill --device cpu`" in summary
    assert "| `results/countdown-mini/base/none` | distilled from countdown-mini__grpo__s1 | 1,2 |" in summary
    assert "| `results/countdown-mini/base/none` | RL: countdown-mini no_prior | 1 |" in summary
    assert "- `mini-distill__no_prior__s3`: failed (sft: exit 1)" in summary
    assert [path.name for path in paths.curves] == ["sft_loss.png"] and paths.curves[0].is_file()
    assert "- [mini-distill](mini-distill/summary.md)" in paths.index.read_text()
