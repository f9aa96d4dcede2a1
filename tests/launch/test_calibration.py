"""A calibration file measured on a GPU model replaces exactly the constants it names in the estimate, only for
that GPU and only when measured on CUDA; measured records turn into constants by the slopes between budgets."""

import dataclasses

import pytest
import yaml

from launch import calibration, engine_check, estimate
from launch.model_configs import KNOWN
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, load_recipe

P_3B = KNOWN["Qwen/Qwen2.5-3B"].parameters()
VOCAB = KNOWN["Qwen/Qwen2.5-3B"].vocab


def _plan():
    return compile_recipe(load_recipe("countdown-3b"), variant="default", profile="1x80gb")[0]


def _write(directory, name="nvidia-h200.yaml", **fields):
    data = {
        "gpu": "NVIDIA H200",
        "device": "cuda",
        "constants": {"runtime_overhead_gb": 3.0, "logit_bytes_forward": 2.0, "train_mfu": 0.5},
        **fields,
    }
    (directory / name).write_text(yaml.safe_dump(data))
    return directory / name


def test_a_calibration_file_changes_the_estimate_by_exactly_the_constants_it_measured(tmp_path):
    _write(tmp_path)
    found = calibration.find("NVIDIA H200", tmp_path)
    assert found.calibrated and "nvidia-h200.yaml" in found.source
    assert found.logit_bytes_update == calibration.ARITHMETIC.logit_bytes_update  # not measured: arithmetic
    plan = _plan()
    before = estimate.estimate(plan, constants=calibration.ARITHMETIC)
    after = estimate.estimate(plan, constants=found)
    phases_before = {p.name: p.peak_gb for p in before.phases}
    phases_after = {p.name: p.peak_gb for p in after.phases}
    # Log-prob (the reference's pass, 32,768 tokens): 2 B less per token and vocabulary entry, 1 GB more overhead.
    assert phases_after["log-prob"] - phases_before["log-prob"] == pytest.approx(
        32_768 * VOCAB * -2 / 1e9 + 1
    )
    # Update: only the overhead (its logit bytes stay arithmetic).
    assert phases_after["update"] - phases_before["update"] == pytest.approx(1.0)
    # Time: training at 50% instead of 35% of the peak; rollout unchanged.
    assert after.train_s == pytest.approx(before.train_s * 0.35 / 0.5)
    assert after.rollout_s == pytest.approx(before.rollout_s)
    # What `make plan` prints says which constants it used.
    assert "calibrated on NVIDIA H200" in estimate.assumptions(found)
    assert "arithmetic constants" in estimate.assumptions(calibration.ARITHMETIC)


def test_a_calibration_is_used_only_for_its_own_gpu_and_only_when_measured_on_cuda(tmp_path):
    _write(tmp_path)
    _write(tmp_path, name="cpu.yaml", gpu="NVIDIA H100 80GB HBM3", device="cpu")
    assert calibration.find("NVIDIA H100 80GB HBM3", tmp_path) is None
    assert calibration.find("NVIDIA A100-SXM4-80GB", tmp_path) is None


def test_a_peak_in_the_file_replaces_the_memory_class_peak(tmp_path):
    _write(tmp_path, peak_tflops=500.0)
    found = calibration.find("NVIDIA H200", tmp_path)
    plan = _plan()
    after = estimate.estimate(plan, constants=found)
    without_peak = estimate.estimate(plan, constants=dataclasses.replace(found, peak_tflops=None))
    assert after.train_s == pytest.approx(without_peak.train_s * 989 / 500)


@pytest.mark.parametrize(
    ("constants", "message"),
    [({"train_mfu": -0.1}, "train_mfu must be a positive number"), ({"mfu": 0.3}, "unknown constants")],
)
def test_a_malformed_calibration_names_the_field(tmp_path, constants, message):
    _write(tmp_path, constants=constants)
    with pytest.raises(calibration.CalibrationError, match=message):
        calibration.find("NVIDIA H200", tmp_path)


def _record(allocated_extra_gb, logit_bytes, outside_gb, cache_gb):
    """An engine-check record for countdown-3b's default at both profiles whose allocated peaks are the
    estimate's own arithmetic with `logit_bytes` per phase plus `allocated_extra_gb` the estimate misses."""
    model = KNOWN["Qwen/Qwen2.5-3B"]
    config = {
        "num_hidden_layers": model.layers, "hidden_size": model.hidden, "num_attention_heads": model.heads,
        "num_key_value_heads": model.kv_heads, "intermediate_size": model.intermediate,
        "vocab_size": model.vocab, "tie_word_embeddings": True, "model_type": "qwen2",
    }  # fmt: skip
    recipe = load_recipe("countdown-3b")
    plans = {p: compile_recipe(recipe, variant="default", profile=p)[0] for p in ("1xh200", "1x80gb")}
    estimates = {p: engine_check._estimate_figures(plan, model, True, REPO_ROOT) for p, plan in plans.items()}
    steps = []
    for number, (profile, steady) in enumerate([("1xh200", False), ("1xh200", True), ("1x80gb", True)], 1):
        for phase, key in engine_check.PHASE_BUDGET_KEYS.items():
            figures = estimates[profile]["phases"][engine_check._estimated_phase({"phase": phase})]
            bytes_per = logit_bytes["update" if phase == "update" else "log-prob"]
            allocated = figures["without_overhead_and_logits_gb"] + bytes_per * figures["gb_per_logit_byte"]
            allocated = (allocated + allocated_extra_gb + (0 if steady else 9.0)) * 1e9  # step 1: no Adam yet
            steps.append({
                "step": number, "profile": profile, "phase": phase, "steady": steady,
                "tokens_per_micro_batch": int(plans[profile].overrides[key]),
                "tflops_per_s": 400.0 if (phase == "update" and profile == "1xh200") else 300.0,
                "peak_allocated_bytes": allocated, "peak_reserved_bytes": allocated + cache_gb * 1e9,
                "peak_device_used_bytes": allocated + (cache_gb + outside_gb) * 1e9,
            })  # fmt: skip
    return {
        "model": "Qwen/Qwen2.5-3B", "model_config": config, "parameters": model.parameters(),
        "gradient_checkpointing": True, "peak_tflops": 989.0, "estimates": estimates, "steps": steps,
    }  # fmt: skip


def test_measured_records_become_constants_that_cover_every_measured_phase():
    # Logits measured at 1.5 B (forward) and 2.5 B (update) per token and vocabulary entry; 2 GB of state the
    # estimate misses; 1.2 GB outside torch's allocator; 40 GB of allocator cache left by the larger profile.
    record = _record(2.0, {"log-prob": 1.5, "update": 2.5}, outside_gb=1.2, cache_gb=40.0)
    raw = engine_check.derive([record])
    assert raw["logit_bytes_forward"] == pytest.approx(1.5, abs=1e-3)
    assert raw["logit_bytes_update"] == pytest.approx(2.5, abs=1e-3)
    # The missed state and the memory outside the allocator; the allocator's cache is not overhead.
    assert raw["runtime_overhead_gb"] == pytest.approx(3.2, abs=2e-3)
    assert raw["train_mfu"] == pytest.approx(400 / 989, abs=1e-4)
    assert raw["rollout_mfu"] is None  # generation is not measured by the engine check
    fit = engine_check.memory_fit([record], engine_check.usable(raw))
    assert len(fit) == 6 and all(r["estimated_gb"] >= r["measured_gb"] - 1e-3 for r in fit)
    # The re-made figures are the estimator's own with the derived constants.
    measured = {name: value for name, value in engine_check.usable(raw).items() if value is not None}
    constants = dataclasses.replace(calibration.ARITHMETIC, **measured, source="test")
    found = estimate.estimate(_plan(), constants=constants)
    for row in (r for r in fit if r["profile"] == "1x80gb"):
        phase = engine_check._estimated_phase(row)
        assert row["estimated_gb"] == pytest.approx(
            next(p.peak_gb for p in found.phases if p.name == phase), abs=2e-3
        )
    # A slope below the estimate's activations alone is not a usable constant.
    assert engine_check.usable({**raw, "logit_bytes_update": -0.2})["logit_bytes_update"] is None


def test_the_committed_h200_calibration_is_what_its_committed_records_derive(tmp_path):
    import subprocess
    import sys

    records = REPO_ROOT / "results" / "gpu-check" / "nvidia-h200"
    command = [sys.executable, "benchmarks/gpu_check.py", "--from-records", str(records.relative_to(REPO_ROOT)),
               "--calibration-dir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    derived = yaml.safe_load((tmp_path / "nvidia-h200.yaml").read_text())
    committed = yaml.safe_load((calibration.CALIBRATION_DIR / "nvidia-h200.yaml").read_text())
    for data in (derived, committed):
        data.pop("derived_by")
    assert derived == committed
    assert calibration.find("NVIDIA H200").calibrated
