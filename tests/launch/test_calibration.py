"""A calibration file measured on a GPU model replaces exactly the constants it names in the estimate, only for
that GPU and only when measured on CUDA; measured records turn into constants by the slopes between budgets."""

import dataclasses

import pytest
import yaml

from launch import calibration, engine_check, estimate
from launch.model_configs import KNOWN
from launch.plan import compile_recipe
from launch.recipe import load_recipe

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


def test_measured_records_become_constants_by_the_slope_between_budgets():
    model = KNOWN["Qwen/Qwen2.5-3B"]
    config = {
        "num_hidden_layers": model.layers, "hidden_size": model.hidden, "num_attention_heads": model.heads,
        "num_key_value_heads": model.kv_heads, "intermediate_size": model.intermediate,
        "vocab_size": model.vocab, "tie_word_embeddings": True, "model_type": "qwen2",
    }  # fmt: skip
    forward_rest = estimate.forward_bytes_per_token(model, False, calibration.ARITHMETIC)
    update_rest = estimate.update_bytes_per_token(model, True, False, calibration.ARITHMETIC)
    base = 40e9

    def step(phase, tokens, per_token, steady=True, tflops=100.0):
        return {
            "phase": phase, "steady": steady, "tokens_per_micro_batch": tokens, "tflops_per_s": tflops,
            "peak_allocated_bytes": base + per_token * tokens, "peak_device_used_bytes": base + per_token * tokens + 1.5e9,
        }  # fmt: skip

    # Logits measured at 1.5 B (forward) and 2.5 B (update) per token and vocabulary entry.
    record = {
        "model_config": config,
        "parameters": model.parameters(),
        "gradient_checkpointing": True,
        "peak_tflops": 989.0,
        "steps": [
            step("log-prob", 65_280, forward_rest + 9 * VOCAB, steady=False),  # Adam not yet created: ignored
            step("log-prob", 65_280, forward_rest + 1.5 * VOCAB),
            step("log-prob", 32_000, forward_rest + 1.5 * VOCAB),
            step("update", 32_000, update_rest + 2.5 * VOCAB, tflops=400.0),
            step("update", 15_360, update_rest + 2.5 * VOCAB, tflops=380.0),
        ],
    }
    raw = engine_check.derive([record])
    assert raw["logit_bytes_forward"] == pytest.approx(1.5, abs=1e-3)
    assert raw["logit_bytes_update"] == pytest.approx(2.5, abs=1e-3)
    assert raw["runtime_overhead_gb"] == pytest.approx(1.5)
    assert raw["train_mfu"] == pytest.approx(400 / 989, abs=1e-4)
    assert raw["rollout_mfu"] is None  # generation is not measured by the engine check
    # A slope below the estimate's activations alone is not a usable constant.
    assert engine_check.usable({**raw, "logit_bytes_update": -0.2})["logit_bytes_update"] is None
