"""The group-size arithmetic `make plan` prints: how many GRPO groups carry no learning signal.

A group of G samples of one prompt teaches nothing when all G rewards are equal: with a 0/1 reward and a pass
rate p, that happens with probability p^G + (1-p)^G (all right or all wrong). p is given (`--pass-rate`), or
read from the step-0 validation of committed runs of the same model on the same data (their run.json and
metrics.jsonl under results/). Validation there is greedy (val_kwargs.temperature 0) and training samples at
temperature 1, so a p read that way is the greedy pass rate: a guide to the order of magnitude.

    python -m launch plan countdown-mini [--pass-rate 0.1]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from launch.plan import RunPlan

SIZES = (2, 4, 8, 16, 32)
CONTROL_KEY = "+reward.custom_reward_function.reward_kwargs.control"


def no_signal_share(pass_rate: float, group_size: int) -> float:
    """The chance that G samples of a prompt solved with probability p are all right or all wrong."""
    if not 0.0 <= pass_rate <= 1.0:
        raise ValueError(f"a pass rate is a probability in [0, 1], got {pass_rate}")
    if group_size < 1:
        raise ValueError(f"a group has at least one sample, got {group_size}")
    return pass_rate**group_size + (1.0 - pass_rate) ** group_size


@dataclass(frozen=True)
class PassRate:
    value: float
    source: str  # where it came from, for the printed table
    # The share of groups the same runs actually had without signal at step 1, sampled at the training
    # temperature (run.json's doctor.zero_std_group_share), with their group size: the check on the arithmetic.
    observed: tuple[float, ...] = ()
    observed_group_size: int | None = None


def measured_pass_rate(plan: RunPlan, results_root: Path) -> PassRate | None:
    """The mean step-0 validation accuracy of committed runs that start from the plan's model on its data."""
    values, runs, observed, sizes = [], [], [], set()
    for record_path in sorted(results_root.glob("*/runs/*/run.json")):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("model") != plan.model or _data(record.get("overrides", {})) != _data(plan.overrides):
            continue
        accuracy = _step0_accuracy(record_path.parent / "metrics.jsonl")
        if accuracy is not None:
            values.append(accuracy)
            runs.append(record_path.parent.name)
            share = record.get("doctor", {}).get("zero_std_group_share", {}).get("1")
            control = record.get("overrides", {}).get(CONTROL_KEY, "none")
            if isinstance(share, int | float) and control == "none":  # a control's reward ignores correctness
                observed.append(float(share))
                sizes.add(record.get("overrides", {}).get("actor_rollout_ref.rollout.n"))
    if not values:
        return None
    shown = ", ".join(runs[:3]) + (f" and {len(runs) - 3} more" if len(runs) > 3 else "")
    size = sizes.pop() if len(sizes) == 1 else None
    return PassRate(
        sum(values) / len(values),
        f"step-0 greedy validation of {len(runs)} run(s): {shown}",
        tuple(observed) if size else (),
        size,
    )


def _data(overrides: dict) -> str | None:
    """The training split's task/template/file tail, so runs built under other data dirs still match."""
    train = overrides.get("data.train_files")
    return "/".join(Path(train).parts[-3:]) if isinstance(train, str) else None


def _step0_accuracy(metrics_path: Path) -> float | None:
    try:
        lines = metrics_path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        row = json.loads(line)
        if row.get("step") != 0:
            continue
        for key, value in row.get("data", {}).items():
            if key.startswith("val-core/") and key.endswith("/acc/mean@1") and isinstance(value, int | float):
                return float(value)
    return None


def group_sizes(plans: Iterable[RunPlan], sizes: Sequence[int] = SIZES) -> list[int]:
    """The standard sizes plus every rollout.n the recipe's runs use."""
    own = {int(plan.overrides.get("actor_rollout_ref.rollout.n", 1)) for plan in plans}
    return sorted({*sizes, *own})


def render(pass_rate: PassRate | None, sizes: Sequence[int], recipe_sizes: Iterable[int]) -> str:
    header = (
        "# Group-size arithmetic: share of GRPO groups with no signal (all G rewards equal) = p^G + (1-p)^G"
    )
    if pass_rate is None:
        return (
            f"{header}\n# no pass rate: give one with --pass-rate P (e.g. a quick eval of the base), or commit a "
            "run of this model and data whose step-0 validation gives it"
        )
    own = set(recipe_sizes)
    lines = [header, f"# p = {pass_rate.value:.3f} ({pass_rate.source})"]
    for size in sizes:
        mark = "  <- this recipe" if size in own else ""
        lines.append(
            f"#   G = {size:>3}: {no_signal_share(pass_rate.value, size):7.1%} of groups without signal{mark}"
        )
    if pass_rate.observed:
        shares = ", ".join(f"{share:.1%}" for share in pass_rate.observed)
        lines.append(
            f"# observed at step 1 of those runs (G = {pass_rate.observed_group_size}, sampled at the training "
            f"temperature): {shares}. Greedy validation is not the sampled pass rate: where the two differ, "
            "these are what the runs saw"
        )
    return "\n".join(lines)
