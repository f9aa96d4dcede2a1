"""A multi-stage recipe's report: each pipeline's stages in order, with the accuracy after each and the
responses and updates each spent, from records laid out as launch/stages/ and distill write them.
(tests/distill/test_stage_cpu.py makes such records for real; here they are written directly.)"""

from __future__ import annotations

import json

from reporting.report import build_report


def _write(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in payload))
    else:
        path.write_text(json.dumps(payload))


def test_the_stages_of_a_pipeline_are_one_table_in_order(tmp_path):
    run_dir = tmp_path / "r1" / "runs" / "r1__default__s1"
    stages = [
        {"index": 1, "name": "cold", "kind": "sft", "dir": "stages/01-cold", "start_model": "base-model"},
        {"index": 2, "name": "rl", "kind": "rl", "dir": "stages/02-rl", "start_model": "ckpt/01-cold/model"},
        {
            "index": 3,
            "name": "last",
            "kind": "rl",
            "dir": "stages/03-last",
            "start_model": "ckpt/02-rl/model",
        },
    ]
    for entry, status in zip(stages, ["finished", "finished", "pending"], strict=True):
        entry["status"] = status
    pipeline = {"run_id": "r1__default__s1", "status": "failed", "stages": stages}
    _write(run_dir / "pipeline.json", pipeline | {"finished_stages": ["cold", "rl"]})
    cold = run_dir / "stages" / "01-cold"
    _write(cold / "run.json", {"kind": "distill", "status": "finished", "stage_seconds": {"sft": 120.0}})
    _write(cold / "distill.json", {"counts": {"responses": {"sampled": 64, "kept": 10}}})
    _write(cold / "metrics.jsonl", [{"step": s, "data": {"train/loss": 1.0 / s}} for s in (1, 2, 3, 4, 5)])
    _write(cold / "eval" / "countdown.json", {"greedy_acc": 0.25, "mean@n": 0.2, "n": 4})
    rl = run_dir / "stages" / "02-rl"
    overrides = {"data.train_batch_size": 4, "actor_rollout_ref.rollout.n": 2}
    overrides |= {"actor_rollout_ref.actor.ppo_mini_batch_size": 2}
    overrides |= {"actor_rollout_ref.rollout.val_kwargs.temperature": 0}
    attempt = {
        "attempt": 1,
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": "2026-01-01T00:03:00+00:00",
    }
    attempt |= {"exit_code": 0, "status": "finished"}
    _write(rl / "run.json", {"status": "finished", "overrides": overrides, "attempts": [attempt], "seed": 1})
    rows = [{"step": 1, "data": {"critic/score/mean": 0.1}}, {"step": 2, "data": {"critic/score/mean": 0.2}}]
    rows[-1]["data"]["val-core/countdown/acc/mean@1"] = 0.5
    rows[0]["data"]["val-core/countdown/acc/mean@1"] = 0.3
    _write(rl / "metrics.jsonl", rows)

    summary = build_report("r1", tmp_path).summary.read_text()
    assert "### `r1__default__s1`: failed, finished stages: cold, rl" in summary
    table = [line for line in summary.splitlines() if line.startswith("| 1.") or line[:4] in ("| 2.", "| 3.")]
    assert table == [
        "| 1. cold | sft | `base-model` | finished | 25.0 (greedy) | 64 (teacher) | 10 of 64 | 5 | 2 | — |",
        "| 2. rl | rl | `ckpt/01-cold/model` | finished | 50.0 (greedy, final step) | 16 (own rollouts) | — | 4 | 3 | — |",
        "| 3. last | rl | `ckpt/02-rl/model` | pending | — | — | — | — | — | — |",
    ]


RL_OVERRIDES = {
    "data.train_batch_size": 4,
    "actor_rollout_ref.rollout.n": 2,
    "actor_rollout_ref.actor.ppo_mini_batch_size": 4,
    "actor_rollout_ref.rollout.val_kwargs.temperature": 0,
}


def _rl_stage(stage_dir, accuracies, english, mixing):
    """An RL stage's records: 8 responses a step; validations at steps 0, 2, 4 (accuracy, English share) and
    a digest counting the mixing responses of steps 1-4."""
    _write(stage_dir / "run.json", {"status": "finished", "overrides": RL_OVERRIDES, "seed": 1})
    rows = [{"step": step, "data": {"critic/score/mean": 0.1}} for step in range(1, 5)]
    rows.insert(0, {"step": 0, "data": {}})
    for (step, acc), share in zip(accuracies, english, strict=True):
        rows[step]["data"] |= {"val-core/cd/acc/mean@1": acc, "val-aux/cd/lang_consistency/mean@1": share}
    _write(stage_dir / "metrics.jsonl", rows)
    steps = [{"step": step, "responses": 8, "verifying": 0, "searching": 0, "length_counts": [[10, 8]]}
             for step in range(1, 5)]  # fmt: skip
    for record, mixed in zip(steps, mixing, strict=True):
        record["mixing"] = mixed
    _write(stage_dir / "rollout_digest.json", {"steps": steps})


def _pipeline(root, variant, seed, stages):
    run_id = f"r1__{variant}__s{seed}"
    entries = [
        {"index": i, "name": name, "kind": kind, "dir": f"stages/0{i}-{name}", "status": "finished"}
        for i, (name, kind) in enumerate(stages, start=1)
    ]
    state = {"run_id": run_id, "variant": variant, "seed": seed, "status": "finished", "stages": entries}
    state["reproduce"] = f"python -m launch pipeline r1 --variant {variant} --seed {seed} --device cpu"
    _write(root / "r1" / "runs" / run_id / "pipeline.json", state)
    return root / "r1" / "runs" / run_id / "stages"


def test_the_arms_are_compared_over_seeds_on_the_responses_each_sampled(tmp_path):
    # R1-Zero: RL alone; two seeds, reaching 50% after 16 and 32 responses (validations at steps 2 and 4).
    for seed, late in ((1, 0.6), (2, 0.4)):
        stages = _pipeline(tmp_path, "zero", seed, [("rl", "rl")])
        _rl_stage(stages / "01-rl", [(0, 0.1), (2, 0.5 if seed == 1 else 0.3), (4, late)],
                  [1.0, 0.8, 0.5], [1, 2, 3, 4])  # fmt: skip
    # Cold start: an SFT stage on a file (nothing sampled, greedy eval 40%), then RL.
    stages = _pipeline(tmp_path, "cold", 1, [("cold-start", "sft"), ("rl", "rl")])
    _write(stages / "01-cold-start" / "run.json", {"kind": "distill", "status": "finished"})
    _write(stages / "01-cold-start" / "eval" / "cd.json", {"greedy_acc": 0.4, "n": 4})
    _rl_stage(stages / "02-rl", [(0, 0.4), (2, 0.7), (4, 0.8)], [1.0, 1.0, 1.0], [0, 0, 0, 0])

    paths = build_report("r1", tmp_path)
    summary = paths.summary.read_text()
    assert "Reproduce: `python -m launch pipeline r1 --variant VARIANT --seed SEED --device cpu`" in summary
    rows = [line for line in summary.splitlines() if line.startswith(("| zero |", "| cold |"))]
    assert rows == [  # arms in the order of their run ids
        "| cold | 1 | cold-start 40.0 → rl 80.0 | 80.0 | 32 | 16 (1/1) | 1.00 | 0.0 → 0.0 |",
        "| zero | 1,2 | rl 50.0 ± 14.1 | 50.0 ± 14.1 | 32 | 16 (1/2) | 0.50 ± 0.00 | 12.5 ± 0.0 → 50.0 ± 0.0 |",
    ]
    assert sorted(path.name for path in paths.curves) == ["arms_accuracy.png", "arms_language.png"]
    assert all(path.is_file() for path in paths.curves)
    assert "![arms_accuracy](curves/arms_accuracy.png)" in summary
    assert "| 1. cold-start | sft | `?` | finished | 40.0 (greedy) | — (SFT on a file) |" in summary


def test_an_unfinished_pipeline_is_not_pooled_and_draws_nothing(tmp_path):
    stages = _pipeline(tmp_path, "zero", 1, [("rl", "rl")])
    state_path = stages.parent / "pipeline.json"
    state = json.loads(state_path.read_text())
    _write(state_path, state | {"status": "failed"})
    _rl_stage(stages / "01-rl", [(0, 0.1), (2, 0.5), (4, 0.6)], [1.0, 1.0, 1.0], [0, 0, 0, 0])
    stale = tmp_path / "r1" / "curves" / "arms_accuracy.png"
    _write(stale, {})

    paths = build_report("r1", tmp_path)
    assert "No finished pipeline yet." in paths.summary.read_text()
    assert paths.curves == [] and not stale.exists()
