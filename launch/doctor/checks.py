"""The doctor's checks: one per finding, each judging a run's History against its rule (launch/doctor/rules.py).

Every check has one skeleton: pick a per-step series from the History, find where the rule holds (a
sustained run of steps, or the first step that breaks it), and return a Finding with the evidence and what
to try first, or None. launch/doctor/history.py reads a run's records into the History; the same
`diagnose` serves the offline command, the live check in the attempt wrapper (launch/doctor/live.py) and
the report.

    python -m launch doctor results/countdown-3b/runs/countdown-3b__default__s1 [--json]
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from launch.doctor.rules import CONTROL_EXEMPT, DoctorSettings
from launch.records import Metrics

_NON_FINITE_KEY = re.compile(r"^(actor|critic)/.*(loss|grad_norm|score|reward|kl)")
_VAL_ACC = re.compile(r"^val-core/(?P<source>[^/]+)/acc/mean@\d+$")
_VAL_FORMAT = re.compile(r"^val-aux/(?P<source>[^/]+)/format/mean@\d+$")
_VAL_TIMEOUT = re.compile(r"^val-aux/(?P<source>[^/]+)/timed_out/mean@\d+$")


class DoctorInputError(Exception):
    """A run's records cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class Finding:
    name: str
    first_step: int
    last_step: int
    evidence: str  # the metric values that triggered it
    try_first: str

    def line(self) -> str:
        same = self.first_step == self.last_step
        steps = f"step {self.first_step}" if same else f"steps {self.first_step}-{self.last_step}"
        return f"{self.name}  {steps}: {self.evidence}; try first: {self.try_first}"

    def as_record(self) -> dict:
        return asdict(self)


@dataclass
class History:
    """Everything the checks read, gathered from one run's records."""

    metrics: Metrics
    zero_std_share: dict[int, float] = field(default_factory=dict)
    credit_without_answer: dict[int, float] = field(default_factory=dict)
    # (attempt, exit code or None while it runs, training steps its metrics file logged)
    attempt_steps: list[tuple[int, int | None, set[int]]] = field(default_factory=list)
    planned_steps: int | None = None
    control: bool = False
    response_budget: int | None = None  # data.max_response_length of the run's config (tokens)
    # actor_rollout_ref.actor.loss_agg_mode / loss_scale_factor: verl aggregates `actor/entropy` by them.
    loss_agg_mode: str = "token-mean"
    loss_scale_factor: object = None


def _points(metrics: Metrics, key: str) -> list[tuple[int, float]]:
    return [
        (step, value)
        for step in sorted(metrics)
        if (value := metrics[step].get(key)) is not None and math.isfinite(value)
    ]


def _window(window: int, history: History) -> int:
    return max(1, min(window, history.planned_steps)) if history.planned_steps else window


def _sustained(points: list[tuple[int, float]], holds: Callable[[float], bool], window: int):
    """The first `window` consecutive points where `holds` is true, or None."""
    run: list[tuple[int, float]] = []
    for point in points:
        run = [*run, point] if holds(point[1]) else []
        if len(run) >= window:
            return run
    return None


def _by_source(metrics: Metrics, pattern: re.Pattern) -> dict[str, str]:
    """data source -> its metric key matching `pattern` (the lowest mean@N when several are logged)."""
    keys = sorted({key for data in metrics.values() for key in data if pattern.match(key)})
    return {pattern.match(key)["source"]: key for key in reversed(keys)}


def _spread(values: list[float]) -> str:
    shown = ", ".join(f"{v:.3g}" for v in values[:4])
    return shown + (f", ... ({len(values)} steps)" if len(values) > 4 else "")


def sustained_finding(
    name: str,
    points: list[tuple[int, float]],
    holds: Callable[[float], bool],
    window: int,
    evidence: Callable[[list[tuple[int, float]]], str | None],
    try_first: str,
) -> Finding | None:
    """The skeleton of the sustained checks: the first `window` consecutive points where `holds` is true
    make a Finding whose evidence `evidence(run)` describes (None: the run does not count after all)."""
    run = _sustained(points, holds, window)
    if run is None or (text := evidence(run)) is None:
        return None
    return Finding(name, run[0][0], run[-1][0], text, try_first)


def check_no_signal(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.no_signal
    return sustained_finding(
        "no-signal",
        sorted(history.zero_std_share.items()),
        lambda share: share >= rule.share,
        _window(rule.window, history),
        lambda run: (
            f"share of groups with zero reward variance {_spread([v for _, v in run])} (>= {rule.share})"
        ),
        "read a few rollouts (samples.jsonl) and check the reward scores them; easier problems, partial "
        "credit (reward_kwargs.format_score), a larger rollout.n or a higher temperature",
    )


def check_format_hacking(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.format_hacking
    accuracy = _by_source(history.metrics, _VAL_ACC)
    for source, format_key in _by_source(history.metrics, _VAL_FORMAT).items():
        formats = _points(history.metrics, format_key)
        accs = dict(_points(history.metrics, accuracy[source])) if source in accuracy else {}
        if len(formats) < 2 or not accs:
            continue
        first_step, first_format = formats[0]
        first_acc = accs[min(accs)]
        for step, value in formats[1:]:
            best_acc = max((a for s, a in accs.items() if s <= step), default=first_acc)
            rose = value - first_format >= rule.format_rise and value - best_acc >= rule.format_rise
            if rose and best_acc - first_acc < rule.acc_rise_max:
                return Finding(
                    "format-hacking",
                    first_step,
                    step,
                    f"{source}: validation format {first_format:.2f} -> {value:.2f} while accuracy "
                    f"{first_acc:.2f} -> at most {best_acc:.2f}",
                    "score answers, not structure: lower reward_kwargs.format_score (0 turns it off) or "
                    "use strict_format; read rollouts that get format credit",
                )
    return None


def truncated_shares(history: History) -> list[tuple[int, float]]:
    """Per training step, the share of responses that reached the configured budget (data.max_response_length).

    verl's `response_length/clip_ratio` is the share of responses as long as the padded response tensor,
    whose width is the longest response of the step when that is shorter than the budget: a step whose
    responses all have one length reads 1.0 without truncating anything. A response reached the budget only
    when the step's `response_length/max` did; then the tensor is as wide as the budget and verl's share is
    the truncated share. Without a known budget nothing can be judged."""
    if history.response_budget is None:
        return []
    shares = []
    for step, ratio in _points(history.metrics, "response_length/clip_ratio"):
        longest = history.metrics[step].get("response_length/max")
        if longest is not None and math.isfinite(longest):
            shares.append((step, ratio if longest >= history.response_budget else 0.0))
    return shares


def check_truncation(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.truncation
    verl_ratio = dict(_points(history.metrics, "response_length/clip_ratio"))
    return sustained_finding(
        "truncation",
        truncated_shares(history),
        lambda share: share >= rule.clip_ratio,
        _window(rule.window, history),
        lambda run: (
            f"share of responses at the {history.response_budget}-token budget "
            f"{_spread([v for _, v in run])} (>= {rule.clip_ratio}); verl's response_length/clip_ratio "
            f"{_spread([verl_ratio[step] for step, _ in run])}"
        ),
        "raise data.max_response_length, or penalise overlong responses (reward manager dapo)",
    )


def _latest_accuracy(metrics: Metrics, until: int) -> float | None:
    latest = []
    for key in _by_source(metrics, _VAL_ACC).values():
        points = [value for step, value in _points(metrics, key) if step <= until]
        latest += points[-1:]
    return max(latest) if latest else None


def per_token_entropy(history: History) -> list[tuple[int, float]]:
    """`actor/entropy` per token. verl 0.9.1 aggregates it with the actor's loss_agg_mode
    (v1/trainer_base.py), so under Dr. GRPO's seq-mean-token-sum-norm it is a per-sequence entropy sum over
    loss_scale_factor (or the response budget), not a per-token mean; rescaled here by the step's mean response
    length: exact when every response has that length, close otherwise."""
    points = _points(history.metrics, "actor/entropy")
    mode = history.loss_agg_mode
    if mode in ("token-mean", "seq-mean-token-mean"):
        return points
    scale = history.loss_scale_factor if mode == "seq-mean-token-sum-norm" else 1
    scale = scale or history.response_budget
    lengths = dict(_points(history.metrics, "response_length/mean"))
    if not isinstance(scale, int | float) or scale <= 0:
        return []
    return [(step, value * scale / lengths[step]) for step, value in points if lengths.get(step, 0) > 0]


def check_entropy_collapse(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.entropy_collapse

    def evidence(run: list[tuple[int, float]]) -> str | None:
        accuracy = _latest_accuracy(history.metrics, run[-1][0])
        if accuracy is not None and accuracy >= rule.acc_near_one:
            return None  # a solved task may be deterministic
        shown = "no validation accuracy" if accuracy is None else f"validation accuracy {accuracy:.2f}"
        per_token = (
            "" if history.loss_agg_mode == "token-mean" else f" per token ({history.loss_agg_mode} rescaled)"
        )
        return f"actor/entropy{per_token} {_spread([v for _, v in run])} (<= {rule.entropy}) with {shown}"

    return sustained_finding(
        "entropy-collapse",
        per_token_entropy(history),
        lambda entropy: entropy <= rule.entropy,
        _window(rule.window, history),
        evidence,
        "raise the rollout temperature, widen the upper clip (actor.clip_ratio_high, DAPO) or add a small "
        "actor.entropy_coeff",
    )


def check_kl_blowup(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.kl_blowup
    for key, floor in (("actor/kl_loss", rule.kl_floor), ("actor/pg_clipfrac", rule.clipfrac_floor)):
        points = [point for point in _points(history.metrics, key) if point[0] > 0]
        if len(points) <= rule.baseline_steps:
            continue
        early = statistics.median(value for _, value in points[: rule.baseline_steps])
        limit = max(rule.factor * early, floor)
        finding = sustained_finding(
            "kl-blowup",
            points[rule.baseline_steps :],
            lambda v, limit=limit: v > limit,
            rule.window,
            lambda run, key=key, early=early, limit=limit: (
                f"{key} {_spread([v for _, v in run])} against an "
                f"early level of {early:.3g} (limit {limit:.3g})"
            ),
            "lower the actor learning rate, raise actor.kl_loss_coef, or check the rollout and "
            "actor log-probs agree (training/rollout_probs_diff_mean)",
        )
        if finding is not None:
            return finding
    return None


def check_non_finite(history: History, settings: DoctorSettings) -> Finding | None:
    bad = [
        (step, key)
        for step in sorted(history.metrics)
        for key, value in sorted(history.metrics[step].items())
        if _NON_FINITE_KEY.match(key) and (value is None or not math.isfinite(value))
    ]
    if not bad:
        return None
    keys = list(dict.fromkeys(key for _, key in bad))
    shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return Finding(
        "non-finite",
        bad[0][0],
        bad[-1][0],
        f"NaN/inf/null in {shown}",
        "resume from the last checkpoint before the first bad step with a lower learning rate; check the "
        "reward returns finite numbers",
    )


def check_no_progress(history: History, settings: DoctorSettings) -> Finding | None:
    before: set[int] = set()
    for attempt, exit_code, steps in history.attempt_steps:
        last_before = max(before, default=0)
        if exit_code == 0 and not steps - before:
            return Finding(
                "no-progress",
                last_before,
                last_before,
                f"attempt {attempt} exited 0 but logged no new training step (last step before it: "
                f"{last_before})",
                "compare trainer.total_training_steps and total_epochs with the checkpoint's step; a resume "
                "at the end of an epoch or past the step budget trains nothing",
            )
        before |= steps
    # Only once the last attempt has ended: a running one has not reached its last step yet.
    finished = history.attempt_steps and history.attempt_steps[-1][1] == 0
    reached = max(before, default=0)
    if finished and history.planned_steps and reached < history.planned_steps:
        return Finding(
            "no-progress",
            reached,
            reached,
            f"the run exited 0 at training step {reached} of {history.planned_steps} planned",
            "read the end of the last stdout.attempt-*.log; a data set smaller than the step budget "
            "ends the run early",
        )
    return None


def check_val_collapse(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.val_collapse
    for source, key in _by_source(history.metrics, _VAL_ACC).items():
        best_step, best = None, -1.0
        for step, value in _points(history.metrics, key):
            if value > best:
                best_step, best = step, value
            elif best >= rule.min_best and value <= best - rule.drop:
                return Finding(
                    "val-collapse",
                    best_step,
                    step,
                    f"{source}: validation accuracy {best:.3f} at step {best_step} -> {value:.3f}",
                    f"keep the checkpoint near step {best_step}; lower the learning rate or raise the KL "
                    "coefficient, and read validation dumps from both steps",
                )
    return None


def check_reward_parse(history: History, settings: DoctorSettings) -> Finding | None:
    rule = settings.reward_parse
    problems: list[tuple[int, str]] = []
    for source, key in _by_source(history.metrics, _VAL_TIMEOUT).items():
        for step, rate in _points(history.metrics, key):
            if rate > rule.timeout_rate:
                problems.append((step, f"{source}: {rate:.1%} of validation answers timed out"))
    for step, rate in sorted(history.credit_without_answer.items()):
        if rate > rule.credit_without_answer_rate:
            problems.append((step, f"{rate:.1%} of responses without a readable answer got credit"))
    if not problems:
        return None
    problems.sort()
    return Finding(
        "reward-parse",
        problems[0][0],
        problems[-1][0],
        "; ".join(dict.fromkeys(text for _, text in problems[:3])),
        "score the dumped responses by hand (python -m launch score) and fix the answer extraction or "
        "raise reward_kwargs.math_timeout_s",
    )


CHECKS: dict[str, Callable[[History, DoctorSettings], Finding | None]] = {
    "no-signal": check_no_signal,
    "format-hacking": check_format_hacking,
    "truncation": check_truncation,
    "entropy-collapse": check_entropy_collapse,
    "kl-blowup": check_kl_blowup,
    "non-finite": check_non_finite,
    "no-progress": check_no_progress,
    "val-collapse": check_val_collapse,
    "reward-parse": check_reward_parse,
}


def diagnose(history: History, settings: DoctorSettings | None = None) -> list[Finding]:
    settings = settings or DoctorSettings()
    skipped = CONTROL_EXEMPT if history.control else ()
    found = (check(history, settings) for name, check in CHECKS.items() if name not in skipped)
    return [finding for finding in found if finding is not None]
