"""Report over synthetic multi-variant, multi-seed records written with verl's own FileLogger.

Expected figures are computed by hand in the comments; the records hold invented numbers and
live only in pytest's tmp dirs (never under results/ in git).
"""

import json
import math
import shutil
import statistics
from pathlib import Path

import pytest

from launch.records import read_metrics_file
from reporting.cli import report_main as main
from reporting.report import build_report
from reporting.runs import load_recipe_runs
from reporting.stats import accuracy_stats, band, per_seed_mean

RECIPE = "toy"
ACC = "val-core/countdown/acc/mean@1"


def verl_file_log(path: Path, steps: dict[int, dict]) -> None:
    """Write `steps` exactly as verl 0.9.1's file logger does (it reads its path from the environment)."""
    from verl.utils.tracking import FileLogger

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VERL_FILE_LOGGER_PATH", str(path))
        logger = FileLogger(RECIPE, path.parent.name)
    for step, data in sorted(steps.items()):
        logger.log(data, step)
    logger.finish()


def training(acc: dict[int, float], length: float | list[float], throughput: list[float]) -> dict[int, dict]:
    """Steps 1-4 of training metrics plus validation accuracy at the steps in `acc` (0 = before training)."""
    lengths = length if isinstance(length, list) else [length] * 4
    steps: dict[int, dict] = {0: {ACC: acc[0]}} if 0 in acc else {}
    for step in range(1, 5):
        steps[step] = {
            "critic/score/mean": 0.1 * step,
            "response_length/mean": lengths[step - 1],
            "perf/throughput": throughput[step - 1],
            "actor/entropy": 1.0 / step,
            "actor/kl_loss": 0.001 * step,
            "val-aux/countdown/format/mean@1": 0.2 * step,
        }
        if step in acc:
            steps[step][ACC] = acc[step]
    return steps


def write_run(root: Path, run_id: str, status="finished", exit_code=0, gpu_hours=1.0, attempt_status=None):
    run_dir = root / RECIPE / "runs" / run_id
    run_dir.mkdir(parents=True)
    variant = run_id.split("__")[1]
    meta = {
        "run_id": run_id, "recipe": RECIPE, "recipe_hash": "abc", "variant": variant,
        "seed": int(run_id.rsplit("__s", 1)[1]), "grid": {}, "overrides": {}, "command": ["python3"],
        "git_commit": "0123456789abcdef", "git_dirty": False,
        "versions": {"verl": "0.9.1", "vllm": "0.24.0", "torch": "2.11.0", "transformers": "5.9.0"},
        "hardware": {"gpu_model": "NVIDIA H100 80GB HBM3", "gpu_count": 2, "device": "cuda"},
        "attempts": [{"attempt": 1, "started_at": "2026-01-01T00:00:00", "ended_at": "2026-01-01T01:00:00",
                      "exit_code": exit_code, "status": attempt_status or status}],
        "status": status, "gpu_hours": gpu_hours,
        "wandb": {"mode": "online", "url": f"https://wandb.ai/e/p/runs/{run_id}", "offline_dir": None,
                  "run_id": run_id},
    }  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(meta))
    return run_dir


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    # base: 3 seeds. final acc 0.50, 0.14, 0.50 -> mean 0.38, std sqrt(0.0864/2) = 0.20785.
    # step means: 0.10 (step 0), 0.40 (step 2), 0.38 (step 4) -> best step 2: 0.40 ± std(.3,.4,.5) = 0.10.
    # lengths: mean(100,200,300,400)=250, 200, 150 -> 200. throughput medians 1000, 35, 500 -> 511.67.
    specs = [
        (
            "toy__base__s1",
            {0: 0.10, 2: 0.30, 4: 0.50},
            [100.0, 200.0, 300.0, 400.0],
            [10, 1000, 1000, 1000],
            1.5,
        ),
        ("toy__base__s2", {0: 0.20, 2: 0.40, 4: 0.14}, 200.0, [20, 30, 40, 50], 1.25),
        ("toy__base__s3", {0: 0.00, 2: 0.50, 4: 0.50}, 150.0, [500, 500, 500, 500], 1.0),
        # no_kl: finals 0.6, 0.4 -> 0.5 ± 0.1414; step means 0.1, 0.3, 0.5 -> best step 4.
        ("toy__no_kl__s1", {0: 0.1, 2: 0.2, 4: 0.6}, 300.0, [100] * 4, 2.0),
        ("toy__no_kl__s2", {0: 0.1, 2: 0.4, 4: 0.4}, 300.0, [100] * 4, 2.0),
    ]
    for run_id, acc, length, throughput, hours in specs:
        run_dir = write_run(root, run_id, gpu_hours=hours)
        verl_file_log(run_dir / "metrics.jsonl", training(acc, length, throughput))
    # no_kl s3 ran out of memory before logging anything: no metrics file at all.
    write_run(root, "toy__no_kl__s3", status="oom", exit_code=137, gpu_hours=0.1)
    # short s1 finished, but its metrics file lost half of its last line (killed mid-write).
    run_dir = write_run(root, "toy__short__s1")
    verl_file_log(run_dir / "metrics.jsonl", training({0: 0.2, 2: 0.3, 4: 0.9}, 50.0, [1] * 4))
    text = (run_dir / "metrics.jsonl").read_text()
    (run_dir / "metrics.jsonl").write_text(text[: len(text) - len(text.splitlines()[-1]) // 2 - 1])
    # diverged s1: the score went NaN at step 3 (the file logger writes it as null).
    run_dir = write_run(root, "toy__diverged__s1")
    steps = training({0: 0.1, 2: 0.2}, 80.0, [1] * 4)
    steps[3]["critic/score/mean"] = float("nan")
    verl_file_log(run_dir / "metrics.jsonl", steps)
    # crashed s1: run.json still says running, the attempt exited 1; only attempt files, no merged view.
    run_dir = write_run(root, "toy__crashed__s1", status="running", exit_code=1, attempt_status="failed")
    verl_file_log(
        run_dir / "metrics.attempt-1.jsonl", {1: {"critic/score/mean": 0.1}, 2: {"critic/score/mean": 0.2}}
    )
    verl_file_log(run_dir / "metrics.attempt-2.jsonl", {2: {ACC: 0.25}, 3: {"critic/score/mean": 0.3}})
    # finished according to run.json, but no metrics were ever written.
    write_run(root, "toy__nometrics__s1")
    return root


def by_id(results: Path) -> dict:
    return {run.run_id: run for run in load_recipe_runs(results, RECIPE)}


def test_accuracy_stats_match_hand_computed_values(results):
    runs = by_id(results)
    base = [runs[f"toy__base__s{seed}"] for seed in (1, 2, 3)]
    stats = accuracy_stats(base, ACC)
    assert stats.final == pytest.approx((0.38, math.sqrt(0.0864 / 2)))
    assert stats.best_step == 2  # not 4: the mean over seeds peaks at step 2 even though two seeds end at 0.5
    assert stats.best == pytest.approx((0.40, 0.10))
    no_kl = accuracy_stats([runs["toy__no_kl__s1"], runs["toy__no_kl__s2"]], ACC)
    assert no_kl.final == pytest.approx((0.5, math.sqrt(0.02)))
    assert no_kl.best_step == 4
    assert per_seed_mean(base, "response_length/mean") == pytest.approx(200.0)
    assert per_seed_mean(base, "perf/throughput", reduce=statistics.median) == pytest.approx(1535 / 3)


def test_band_is_mean_and_min_max_over_seeds():
    curve = band([[(1, 1.0), (2, 3.0)], [(1, 3.0)], [(2, 5.0)]])
    assert curve.steps == [1, 2]
    assert curve.mean == [2.0, 4.0]
    assert (curve.low, curve.high) == ([1.0, 3.0], [3.0, 5.0])


def test_statuses_keep_every_broken_run(results):
    runs = by_id(results)
    assert len(runs) == 10
    assert runs["toy__no_kl__s3"].status == "oom" and "no metrics" in runs["toy__no_kl__s3"].notes
    assert runs["toy__diverged__s1"].status == "diverged"
    assert "non-finite critic/score/mean at step 3" in runs["toy__diverged__s1"].notes
    assert runs["toy__crashed__s1"].status == "failed"
    assert runs["toy__nometrics__s1"].status == "no metrics"
    short = runs["toy__short__s1"]
    assert short.status == "finished" and any("truncated" in note for note in short.notes)
    assert sorted(short.metrics) == [0, 1, 2, 3]  # the broken step-4 line is dropped, the rest kept
    assert [run.aggregated for run in runs.values()].count(True) == 6


def test_attempt_files_merge_per_key(results):
    crashed = by_id(results)["toy__crashed__s1"]
    # attempt 2 re-logged step 2 with validation only: attempt 1's training metric of step 2 survives.
    assert crashed.metrics[2] == {"critic/score/mean": 0.2, ACC: 0.25}
    assert sorted(crashed.metrics) == [1, 2, 3]


def test_read_metrics_file_reports_corrupt_middle_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "data": {"a": 1}}\n{"step": 2, "da\n{"step": 3, "data": {"a": 3}}\n')
    metrics, notes = read_metrics_file(path)
    assert sorted(metrics) == [1, 3]
    assert notes == ["metrics.jsonl line 2 unreadable, skipped"]


def table_rows(summary: str) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {}
    for line in summary.split("## Our runs", 1)[1].split("\n## ", 1)[0].splitlines():
        if line.startswith("| ") and not line.startswith("| variant"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows.setdefault(cells[0], []).append(cells)
    return rows


def test_summary_rows_and_pictures(results):
    paths = build_report(RECIPE, results)
    summary = paths.summary.read_text()
    assert summary.startswith(
        "# toy: results\n\nReproduce the whole table (all variants and seeds): `make sweep RECIPE=toy`"
    )
    assert "make train RECIPE=toy VARIANT=no_kl SEED=3" in summary
    rows = table_rows(summary)
    (base,) = rows["base"]
    # variant, seeds, status, first, final, best@step, steps to 50%, steps, resp len, GPU-h, tokens/s, hardware, commit, wandb
    # first: each seed's first validation (0.10, 0.20, 0.00) -> 0.10 ± 0.10.
    # s2's accuracy falls from 0.40 (step 2) to 0.14 (step 4): the doctor's val-collapse, kept in the mean.
    status = "finished; doctor: s2 val-collapse @ 2-4"
    assert base[:6] == ["base", "3 (1,2,3)", status, "10.0 ± 10.0", "38.0 ± 20.8", "40.0 ± 10.0 @ 2"]
    # steps to 50%: s1 at step 4, s3 at step 2, s2 never (0.40 at best) -> 3 ± 1.4 over 2 of 3 seeds.
    assert base[6] == "3 ± 1 (2/3)"
    assert base[7:12] == ["4", "200", "3.75", "512", "2× NVIDIA H100 80GB HBM3"]
    assert base[12] == "0123456789"
    assert [row[2].split(" ")[0] for row in rows["no_kl"]] == ["finished", "oom"]
    assert rows["no_kl"][1][3] == rows["no_kl"][1][4] == "—"
    (short,) = rows["short"]
    assert short[1] == "1 (1) pilot" and short[4] == "30.0"  # last complete validation is step 2
    assert (
        rows["diverged"][0][2].startswith("diverged") and "doctor: non-finite @ 3" in rows["diverged"][0][2]
    )
    assert "- `toy__base__s2`:\n  - val-collapse  steps 2-4: countdown: validation accuracy 0.400" in summary
    assert rows["crashed"][0][2].startswith("failed") and rows["crashed"][0][4] == "25.0"
    assert rows["nometrics"][0][2] == "no metrics"
    assert "metrics.jsonl truncated" in summary
    names = sorted(path.name for path in paths.curves)
    assert names == ["entropy.png", "format_rate.png", "kl.png", "response_length.png", "train_score.png",
                     "val_acc.png"]  # fmt: skip
    assert "Not plotted (no finite value in any run): `verify_rate`, `search_rate`." in summary
    assert all(path.stat().st_size > 10_000 for path in paths.curves)
    assert "## Published anchors (not our runs)" in summary and "arXiv:2501.12948v1, Table 2" in summary
    assert "No rollout digest (rollout_digest.json" in summary and paths.aha is None


def test_cli_writes_index_once_and_refuses_bad_input(results, tmp_path, capsys):
    assert main([RECIPE, "--results-dir", str(results)]) == 0
    assert main([RECIPE, "--results-dir", str(results)]) == 0
    index = (results / "README.md").read_text()
    assert index.count("- [toy](toy/summary.md)") == 1
    empty = tmp_path / "empty"
    assert main(["missing", "--results-dir", str(empty)]) == 2
    assert "no run records under" in capsys.readouterr().err
    assert main([RECIPE, "--results-dir", str(results), "--threshold", "0"]) == 2
    assert main(["../etc", "--results-dir", str(empty)]) == 2
    assert not empty.exists()


def test_index_keeps_hand_written_text(results):
    readme = results / "README.md"
    readme.write_text("# Results\n\nWritten by a person.\n")
    build_report(RECIPE, results)
    text = readme.read_text()
    assert text.startswith("# Results\n\nWritten by a person.\n") and "(toy/summary.md)" in text


def test_a_runs_checkpoint_evaluation_curve_is_linked_from_the_summary(results):
    assert "None yet: `make eval-checkpoints" in build_report(RECIPE, results).summary.read_text()
    curve = results / RECIPE / "runs" / "toy__base__s2" / "eval" / "accuracy_vs_step.png"
    curve.parent.mkdir(parents=True)
    curve.write_bytes(b"\x89PNG\r\n\x1a\n")
    try:
        summary = build_report(RECIPE, results).summary.read_text()
    finally:  # the records are shared by this module's tests
        shutil.rmtree(curve.parent)
    assert "![toy__base__s2](runs/toy__base__s2/eval/accuracy_vs_step.png)" in summary


def test_the_self_correction_curve_is_drawn_where_runs_logged_it_and_never_listed_as_missing(tmp_path):
    for root, logged in ((tmp_path / "with", True), (tmp_path / "without", False)):
        steps = training({0: 0.1, 4: 0.4}, 100.0, [1] * 4)
        for step in range(1, 5):
            if logged:
                steps[step]["val-aux/countdown/has_self_correct/mean@1"] = 0.01 * step
        verl_file_log(write_run(root, "toy__long__s1") / "metrics.jsonl", steps)
    assert "self_correction_rate.png" in {
        path.name for path in build_report(RECIPE, tmp_path / "with").curves
    }
    paths = build_report(RECIPE, tmp_path / "without")
    assert "self_correction_rate.png" not in {path.name for path in paths.curves}
    assert (
        "Not plotted (no finite value in any run): `verify_rate`, `search_rate`." in paths.summary.read_text()
    )


def test_the_behaviour_table_gives_first_and_final_search_lines_per_variant(tmp_path):
    # grpo: search lines 0 -> 2 and 0 -> 4 (final 3.00 ± 1.41); control: 0 -> 0.5, one seed without the
    # self-correction key (an older record), so that cell says on how many seeds it rests.
    specs = {
        "toy__grpo__s1": ({2: 1.0, 4: 2.0}, 0.1),
        "toy__grpo__s2": ({2: 1.0, 4: 4.0}, 0.3),
        "toy__control__s1": ({2: 0.5, 4: 0.5}, None),
        "toy__control__s2": ({2: 0.0, 4: 0.5}, 0.0),
    }
    for run_id, (lines, corrected) in specs.items():
        steps = training({0: 0.1, 4: 0.4}, 100.0, [1] * 4)
        steps[0]["val-aux/countdown/search_steps/mean@1"] = 0.0
        for step, value in lines.items():
            steps[step]["val-aux/countdown/search_steps/mean@1"] = value
            if corrected is not None:
                steps[step]["val-aux/countdown/has_self_correct/mean@1"] = corrected * step / 4
        verl_file_log(write_run(tmp_path, run_id) / "metrics.jsonl", steps)
    summary = build_report(RECIPE, tmp_path).summary.read_text()
    section = summary.split("## Behaviour on held-out validation", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.strip("|").split(" | ")] for line in section.splitlines())
        if cells[0] in {"grpo", "control"}
    }
    assert section.count("| variant | seeds | search lines (countdown) | self-correct % (countdown) |") == 1
    assert rows["grpo"] == ["1,2", "0.00 → 3.00 ± 1.41", "10.0 → 20.0 ± 14.1"]
    assert rows["control"] == ["1,2", "0.00 → 0.50 ± 0.00", "0.0 → 0.0 (1/2 seeds)"]
    # Without search lines in any run there is no behaviour table.
    bare = tmp_path / "bare"
    verl_file_log(write_run(bare, "toy__grpo__s1") / "metrics.jsonl", training({0: 0.1}, 1.0, [1] * 4))
    assert "## Behaviour" not in build_report(RECIPE, bare).summary.read_text()
