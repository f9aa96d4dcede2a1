"""Aggregation maths of the report: which verl metric feeds which curve, and mean ± std over seeds.

Definitions (also printed under the summary table):
- final accuracy: each seed's last validation `acc` (val-core/<source>/acc/mean@N), then mean ± std.
- best accuracy: the step whose mean over seeds is highest, among steps every seed validated at
  (ties: earliest); reported as mean ± std over seeds at that step. Per-seed maxima are not used:
  picking each seed's luckiest step biases the figure upwards.
- std is the sample standard deviation (n - 1); with one seed there is none and the row is a pilot.
- response length: each seed's mean of response_length/mean (tokens) over its training steps.
- tokens/s/GPU: each seed's median of perf/throughput (median: robust to the warm-up step).
Exercised by tests/reporting/test_report.py.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from reporting.runs import RunRecord


@dataclass(frozen=True)
class Curve:
    name: str  # file stem under curves/
    title: str
    ylabel: str
    pattern: str  # regex over verl metric names; a named group `source` splits panels per data source
    # Left out of the "Not plotted" list when no run logged it: a metric added after runs were recorded.
    optional: bool = False


CURVES = (
    Curve(
        "val_acc",
        "Validation accuracy (acc, not the 0.1-mixed score)",
        "accuracy",
        r"val-core/(?P<source>[^/]+)/acc/mean@(?P<n>\d+)",
    ),
    Curve("train_score", "Training reward (critic/score/mean)", "score", r"critic/score/mean"),
    Curve("response_length", "Response length (response_length/mean)", "tokens", r"response_length/mean"),
    Curve(
        "format_rate",
        "Validation format rate",
        "share well-formatted",
        r"val-aux/(?P<source>[^/]+)/format/mean@(?P<n>\d+)",
    ),
    Curve(
        "verify_rate",
        "Validation self-verification phrase rate",
        "share with phrases",
        r"val-aux/(?P<source>[^/]+)/has_verify/mean@(?P<n>\d+)",
    ),
    Curve(
        "search_rate",
        "Validation search rate (responses with the word 'try')",
        "share searching",
        r"val-aux/(?P<source>[^/]+)/has_search/mean@(?P<n>\d+)",
    ),
    Curve(
        "search_lines",
        "Validation search lines (mean 'try' lines per response)",
        "lines",
        r"val-aux/(?P<source>[^/]+)/search_steps/mean@(?P<n>\d+)",
        optional=True,
    ),
    Curve(
        "self_correction_rate",
        "Validation self-correction rate (a step caught after 'wait' and rewritten)",
        "share self-correcting",
        r"val-aux/(?P<source>[^/]+)/has_self_correct/mean@(?P<n>\d+)",
        optional=True,
    ),
    Curve("entropy", "Policy entropy (actor/entropy)", "nats/token", r"actor/entropy"),
    Curve("kl", "KL to the reference policy (actor/kl_loss)", "KL", r"actor/kl_loss"),
)
VAL_ACC = CURVES[0]


def curve_keys(runs: Sequence[RunRecord], curve: Curve) -> dict[str, str]:
    """{panel label: metric name}; per data source the key with the largest N in mean@N."""
    best: dict[str, tuple[int, str]] = {}
    for run in runs:
        for data in run.metrics.values():
            for key in data:
                match = re.fullmatch(curve.pattern, key)
                if match is None:
                    continue
                groups = match.groupdict()
                source, n = groups.get("source") or "", int(groups.get("n") or 0)
                if source not in best or n > best[source][0]:
                    best[source] = (n, key)
    return {source: key for source, (_, key) in sorted(best.items())}


def only_key(runs: Sequence[RunRecord], curve: Curve) -> str | None:
    """The curve's metric name when the runs logged it for exactly one data source, else None."""
    keys = curve_keys(runs, curve)
    return next(iter(keys.values())) if len(keys) == 1 else None


def series(run: RunRecord, key: str) -> list[tuple[int, float]]:
    """(step, value) pairs with a finite value, in step order."""
    points = [(step, data.get(key)) for step, data in sorted(run.metrics.items())]
    return [(step, value) for step, value in points if value is not None and math.isfinite(value)]


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else None


def percent_cell(value: tuple[float, float | None] | None) -> str:
    """A (mean, std) share as a table cell: `61.6 ± 7.5`, `9.8` without a std, `—` without a value."""
    if value is None:
        return "—"
    mean, std = value
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


@dataclass(frozen=True)
class Band:
    steps: list[int]
    mean: list[float]
    low: list[float]
    high: list[float]


def band(all_series: Sequence[list[tuple[int, float]]]) -> Band:
    """Mean line and min–max band over seeds at every step any seed logged."""
    by_step: dict[int, list[float]] = {}
    for points in all_series:
        for step, value in points:
            by_step.setdefault(step, []).append(value)
    steps = sorted(by_step)
    return Band(
        steps,
        [statistics.fmean(by_step[s]) for s in steps],
        [min(by_step[s]) for s in steps],
        [max(by_step[s]) for s in steps],
    )


@dataclass(frozen=True)
class AccuracyStats:
    first: tuple[float, float | None] | None  # each seed's first validation (step 0 with val_before_train)
    final: tuple[float, float | None] | None
    best: tuple[float, float | None] | None
    best_step: int | None


def accuracy_stats(runs: Sequence[RunRecord], key: str) -> AccuracyStats:
    per_seed = [dict(series(run, key)) for run in runs]
    per_seed = [points for points in per_seed if points]
    if not per_seed:
        return AccuracyStats(None, None, None, None)
    first = mean_std([points[min(points)] for points in per_seed])
    final = mean_std([points[max(points)] for points in per_seed])
    common = set.intersection(*(set(points) for points in per_seed))
    if not common:
        return AccuracyStats(first, final, None, None)
    best_step = max(sorted(common), key=lambda step: statistics.fmean(p[step] for p in per_seed))
    return AccuracyStats(first, final, mean_std([points[best_step] for points in per_seed]), best_step)


# The accuracy whose first crossing the summary reports per variant ("steps to 50%").
TARGET_ACC = 0.5


def steps_to_cell(runs: Sequence[RunRecord], key: str, target: float = TARGET_ACC) -> str:
    """Each seed's first validation step at or above `target`, as `mean ± std (k/n)` over the k seeds that got
    there out of the n with validations; `— (0/n)` when none did."""
    return crossing_cell([series(run, key) for run in runs], target)


def crossing_cell(per_seed: Sequence[Sequence[tuple[int, float]]], target: float = TARGET_ACC) -> str:
    """Each seed's first x (a step, or responses sampled) whose value is at or above `target`, as
    `mean ± std (k/n)` over the k seeds that got there out of the n with points; `— (0/n)` when none did."""
    per_seed = [points for points in per_seed if points]
    if not per_seed:
        return "—"
    reached = [next(x for x, value in points if value >= target) for points in per_seed
               if any(value >= target for _, value in points)]  # fmt: skip
    share = f"({len(reached)}/{len(per_seed)})"
    if not reached:
        return f"— {share}"
    mean, std = mean_std(reached)
    return f"{mean:,.0f} {share}" if std is None else f"{mean:,.0f} ± {std:,.0f} {share}"


def per_seed_mean(runs: Sequence[RunRecord], key: str, reduce=statistics.fmean) -> float | None:
    """Reduce each seed's series (mean by default), then average over seeds; None when no data."""
    reduced = [reduce([value for _, value in points]) for points in (series(r, key) for r in runs) if points]
    return statistics.fmean(reduced) if reduced else None


def steps_reached(runs: Sequence[RunRecord]) -> str:
    last = sorted({max(run.metrics) for run in runs if run.metrics})
    if not last:
        return "—"
    return str(last[0]) if len(last) == 1 else f"{last[0]}–{last[-1]}"
