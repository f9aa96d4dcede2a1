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
