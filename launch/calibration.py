"""The estimate's constants (launch.estimate) and their measured replacements, one committed file per GPU model.

The arithmetic constants are guesses: CUDA/NCCL overhead, the bytes per token and vocabulary entry the logits
take in a forward pass and in an update, and the fraction of the GPU's dense bf16 peak reached in training and
in generation. `make gpu-check` (benchmarks/gpu_check.py, launch.engine_check) measures verl's own actor and
reference engines on a GPU and writes what it measured to `recipes/calibration/<gpu>.yaml`; the estimate uses
that file when the GPU `nvidia-smi` lists here has the same name, each constant the file lacks staying
arithmetic (launch.engine_check.derive turns measurements into constants). Only files measured on CUDA count: a `--dry-cpu` run's file says `device: cpu` and is never used.

    python -m launch plan countdown-3b          # says which constants it used
    python -m pytest tests/launch/test_calibration.py
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.recipe import RECIPES_DIR

CALIBRATION_DIR = RECIPES_DIR / "calibration"
MEASURED_DEVICE = "cuda"
# The constants a calibration file may set (each one optional).
CONSTANT_NAMES = (
    "runtime_overhead_gb",
    "logit_bytes_forward",
    "logit_bytes_update",
    "train_mfu",
    "rollout_mfu",
)


@dataclass(frozen=True)
class Constants:
    """What the estimate assumes; the defaults are the arithmetic guesses."""

    # CUDA context, NCCL buffers, allocator fragmentation.
    runtime_overhead_gb: float = 2.0
    # Per token and vocabulary entry: bf16 logits + one bf16 working copy (temperature, entropy) in a forward
    # pass; an update adds the logits' bf16 gradient. (verl's log-probs use flash-attn's fused cross entropy.)
    logit_bytes_forward: float = 4.0
    logit_bytes_update: float = 6.0
    # Fraction of the GPU's dense bf16 peak: training is compute-bound, decoding memory-bound.
    train_mfu: float = 0.35
    rollout_mfu: float = 0.10
    # The GPU's dense bf16 peak (TFLOPS) the fractions refer to; None: the class of the profile's memory.
    peak_tflops: float | None = None
    source: str = "arithmetic"  # what a plan prints: arithmetic, or the calibration file and GPU

    @property
    def calibrated(self) -> bool:
        return self.source != "arithmetic"


ARITHMETIC = Constants()


class CalibrationError(ValueError):
    """A calibration file that cannot be read; the message names the file and the field."""


def slug(gpu_name: str) -> str:
    """`NVIDIA H200` -> `nvidia-h200`: the file name of a GPU model's calibration."""
    return re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "unknown"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise CalibrationError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def read(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise CalibrationError(f"{path}: cannot read: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("gpu"), str):
        raise CalibrationError(f"{path}: expected a mapping with a `gpu` name")
    unknown = set(data.get("constants") or {}) - set(CONSTANT_NAMES)
    if unknown:
        raise CalibrationError(
            f"{path}: unknown constants {sorted(unknown)}; known: {', '.join(CONSTANT_NAMES)}"
        )
    return data


def constants_from(data: Mapping[str, Any], path: Path) -> Constants:
    """The arithmetic constants with every one the file measured replaced."""
    measured = {
        name: _number(value, f"{path}: constants.{name}")
        for name, value in (data.get("constants") or {}).items()
        if value is not None
    }
    peak = data.get("peak_tflops")
    names = ", ".join(sorted(measured)) or "none"
    return dataclasses.replace(
        ARITHMETIC,
        **measured,
        peak_tflops=_number(peak, f"{path}: peak_tflops") if peak is not None else None,
        source=f"calibrated on {data['gpu']} ({_shown(path)}; measured: {names})",
    )


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(RECIPES_DIR.parent))
    except ValueError:
        return str(path)


def find(gpu_name: str, directory: Path = CALIBRATION_DIR) -> Constants | None:
    """The constants measured on a CUDA GPU named `gpu_name`, or None when no file matches."""
    for path in sorted(directory.glob("*.yaml")):
        data = read(path)
        if data["gpu"] == gpu_name and data.get("device") == MEASURED_DEVICE:
            return constants_from(data, path)
    return None


@functools.lru_cache(maxsize=1)
def for_this_node(directory: Path = CALIBRATION_DIR) -> Constants:
    """The constants for the first GPU nvidia-smi lists here: calibrated when a file matches, else arithmetic."""
    from launch.hardware import detect_gpus

    gpus = detect_gpus()
    if not gpus:
        return ARITHMETIC
    return find(gpus[0].name, directory) or ARITHMETIC


def write(path: Path, data: Mapping[str, Any]) -> Path:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path
