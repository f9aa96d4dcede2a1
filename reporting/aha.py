"""The "aha moment" view: response lengths, self-verification, search and self-correction shares per step,
from rollout digests.

Reads each run's rollout_digest.json (launch/rollout_digest.py: the per-step digest of verl's rollout or
validation dumps, committed beside run.json, where the counting rules live), never the dumps themselves:
the report draws only from files a fresh clone has. A run with dumps but no digest gets a note naming
`python -m launch digest RUN_DIR`. Length is in characters (dumps hold text, not token ids). Runs of one
variant are pooled per step: shares are over all their responses, length percentiles over the pooled
length histogram.
Writes aha.png and a markdown section with the first step whose share crosses the threshold and
one response from before and one from after it. Self-corrections (a step caught after "wait" and rewritten:
rewards.behaviour) are drawn, tabled and exemplified only when the digests counted them (digests written
before they were counted have no `correcting` field; a group with such a digest shows "—").
Exercised by `python -m launch report RECIPE`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from launch.rollout_digest import DIGEST_FILE, dump_files, example_score, read_digest
from reporting.plots import new_figure, variant_colors
from reporting.runs import RunRecord


@dataclass
class StepStats:
    responses: int = 0
    verifying: int = 0
    searching: int = 0
    correcting: int = 0
    length_counts: dict[int, int] = field(default_factory=dict)
    example_plain: dict | None = None  # a response without self-verification (highest score kept)
    example_verify: dict | None = None
    example_correct: dict | None = None  # a response with a self-correction

    @property
    def share(self) -> float:
        return self.verifying / self.responses

    @property
    def search_share(self) -> float:
        return self.searching / self.responses

    @property
    def correct_share(self) -> float:
        return self.correcting / self.responses

    def lengths(self) -> np.ndarray:
        """Every response's length, sorted (percentiles of these equal those of the raw lengths)."""
        ordered = sorted(self.length_counts)
        return np.repeat(ordered, [self.length_counts[length] for length in ordered])


@dataclass
class AhaGroup:
    group: str
    steps: dict[int, StepStats] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    corrections_counted: bool = True  # every digest of the group counted self-corrections

    def first_crossing(self, threshold: float) -> int | None:
        return next((step for step in sorted(self.steps) if self.steps[step].share >= threshold), None)

    def corrections_by_half(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(self-correcting, all) responses pooled over the first and over the second half of the dumped
        steps: a rare behaviour's trend, which one step's share (often 0 of 128) cannot show."""
        ordered = sorted(self.steps)
        halves = ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]
        return tuple(  # type: ignore[return-value]
            (sum(self.steps[s].correcting for s in half), sum(self.steps[s].responses for s in half))
            for half in halves
        )


def _better(current: dict | None, candidate: dict | None, step: int) -> dict | None:
    """The higher-scored example; the earlier run's wins a tie (as if their dumps were read in run order)."""
    if candidate is None:
        return current
    if current is None or example_score(candidate["score"]) > example_score(current["score"]):
        return {**candidate, "step": step}
    return current


def add_digest(group: AhaGroup, run_id: str, digest: dict) -> None:
    for record in digest["steps"]:
        stats = group.steps.setdefault(record["step"], StepStats())
        stats.responses += record["responses"]
        stats.verifying += record["verifying"]
        stats.searching += record["searching"]
        if "correcting" in record:
            stats.correcting += record["correcting"]
        else:
            group.corrections_counted = False
        for length, count in record["length_counts"]:
            stats.length_counts[length] = stats.length_counts.get(length, 0) + count
        examples = record.get("examples") or {}
        stats.example_plain = _better(stats.example_plain, examples.get("plain"), record["step"])
        stats.example_verify = _better(stats.example_verify, examples.get("verify"), record["step"])
        stats.example_correct = _better(stats.example_correct, examples.get("correct"), record["step"])
    group.notes += [f"{run_id}/{line} unreadable" for line in digest.get("skipped_lines", [])]


def collect(runs: Sequence[RunRecord]) -> tuple[list[AhaGroup], list[str]]:
    """Every run's digest pooled per variant group (groups without one are left out), and a note per run
    whose dumps were never digested."""
    groups: dict[str, AhaGroup] = {}
    undigested = []
    for run in runs:
        if run.run_dir is None:
            continue
        digest = read_digest(run.run_dir)
        if digest is None:
            if dump_files(run.run_dir)[0] is not None:
                undigested.append(run.run_id)
            continue
        add_digest(groups.setdefault(run.group, AhaGroup(run.group)), run.run_id, digest)
    notes = [
        f"`{run_id}` has generation dumps but no {DIGEST_FILE}: `python -m launch digest RUN_DIR` writes it."
        for run_id in undigested
    ]
    return [group for group in groups.values() if group.steps], notes


def corrections_shown(groups: Sequence[AhaGroup]) -> bool:
    """Whether the view shows self-corrections: some group's digests all counted them."""
    return any(group.corrections_counted for group in groups)


def plot_aha(groups: Sequence[AhaGroup], threshold: float, path: Path) -> None:
    figure, (lengths_axes, share_axes) = new_figure(2)
    colors = variant_colors([group.group for group in groups])
    for group in groups:
        steps = sorted(group.steps)
        color = colors[group.group]
        quantiles = np.array([np.percentile(group.steps[s].lengths(), [10, 25, 50, 75, 90]) for s in steps])
        lengths_axes.plot(steps, quantiles[:, 2], color=color, marker="o", markersize=3, label=group.group)
        lengths_axes.fill_between(
            steps, quantiles[:, 1], quantiles[:, 3], color=color, alpha=0.25, linewidth=0
        )
        lengths_axes.fill_between(
            steps, quantiles[:, 0], quantiles[:, 4], color=color, alpha=0.1, linewidth=0
        )
        share_axes.plot(
            steps,
            [group.steps[s].share for s in steps],
            color=color,
            marker="o",
            markersize=3,
            label=group.group,
        )
        share_axes.plot(
            steps, [group.steps[s].search_share for s in steps], color=color, linestyle="--", linewidth=1
        )
        if group.corrections_counted:
            share_axes.plot(
                steps, [group.steps[s].correct_share for s in steps], color=color, linestyle="-.", linewidth=1
            )
        crossing = group.first_crossing(threshold)
        if crossing is not None:
            share_axes.axvline(crossing, color=color, linestyle=":", linewidth=1)
    share_axes.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    lengths_axes.set_title("Response length per step: median, 25–75% and 10–90% bands", fontsize=10)
    lengths_axes.set_ylabel("characters")
    shares = "self-verify (solid), search (dashed) and self-correct (dash-dot)"
    if not corrections_shown(groups):
        shares = "self-verify (solid) and search (dashed)"
    share_axes.set_title(f"Share of responses that {shares}", fontsize=10)
    share_axes.set_ylabel("share")
    share_axes.set_ylim(-0.02, 1.02)
    for axes in (lengths_axes, share_axes):
        axes.set_xlabel("training step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def _fenced(text: str, truncated: bool = False) -> str:
    shown = text + (" […]" if truncated else "")
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{shown}\n{fence}"


def _examples(group: AhaGroup, crossing: int | None) -> tuple[dict | None, dict | None]:
    steps = sorted(group.steps)
    before_steps = [s for s in steps if crossing is None or s < crossing] or steps[:1]
    after_steps = [s for s in steps if crossing is not None and s >= crossing] or steps[-1:]
    before = next((group.steps[s].example_plain for s in before_steps if group.steps[s].example_plain), None)
    after = next((group.steps[s].example_verify for s in after_steps if group.steps[s].example_verify), None)
    return before, after


def _latest_correction(group: AhaGroup) -> dict | None:
    """The best-scored self-correcting response of the latest step that has one."""
    return next(
        (
            group.steps[s].example_correct
            for s in sorted(group.steps, reverse=True)
            if group.steps[s].example_correct
        ),
        None,
    )


def aha_markdown(groups: Sequence[AhaGroup], threshold: float, undigested: Sequence[str] = ()) -> list[str]:
    corrections = corrections_shown(groups)
    lines = [
        "## Aha moment",
        "",
        "![aha](aha.png)",
        "",
        f"Share of sampled responses containing self-verification phrases per step; threshold {threshold:g}. "
        "First and last dumped step: share that verifies, share that searches (the word `try`), "
        + (
            "share that self-corrects (a step caught after `wait` and rewritten; beside it, self-correcting "
            "out of all responses pooled over the first and the second half of the dumped steps), "
            if corrections
            else ""
        )
        + "median length in characters.",
        "",
        "| variant | steps with dumps | responses | first step ≥ threshold | verify | search | "
        + ("self-correct | " if corrections else "")
        + "median length |",
        "|---|---|---|---|---|---|" + ("---|" if corrections else "") + "---|",
    ]
    for group in groups:
        crossing = group.first_crossing(threshold)
        first = min(group.steps)
        shown = "not reached" if crossing is None else str(crossing)
        if crossing == first:
            shown += " (already at the first dumped step)"
        total = sum(stats.responses for stats in group.steps.values())
        start, end = group.steps[first], group.steps[max(group.steps)]
        verify = f"{start.share:.0%} → {end.share:.0%}"
        search = f"{start.search_share:.0%} → {end.search_share:.0%}"
        length = f"{np.median(start.lengths()):.0f} → {np.median(end.lengths()):.0f}"
        correct = ""
        if corrections:
            (early, early_total), (late, late_total) = group.corrections_by_half()
            shares = (
                f"{start.correct_share:.1%} → {end.correct_share:.1%} "
                f"(halves: {early:,} of {early_total:,} → {late:,} of {late_total:,})"
            )
            correct = (shares if group.corrections_counted else "—") + " | "
        lines.append(
            f"| {group.group} | {len(group.steps)} | {total} | {shown} | {verify} | {search} | {correct}{length} |"
        )
    for group in groups:
        crossing = group.first_crossing(threshold)
        before, after = _examples(group, crossing)
        heading = (
            "before and after the crossing" if crossing is not None else "earliest and latest (no crossing)"
        )
        lines += ["", f"### {group.group}: responses {heading}"]
        labels = ("Without self-verification", "With self-verification")
        for label, example in zip(labels, (before, after), strict=True):
            lines.append("")
            if example is None:
                lines.append(f"{label}: none in the dumps.")
            else:
                lines += [
                    f"{label}, step {example['step']}, score {example_score(example['score']):g}:",
                    "",
                    _fenced(example["output"], example.get("truncated", False)),
                ]
        if group.corrections_counted:
            example = _latest_correction(group)
            lines.append("")
            if example is None:
                lines.append("With a self-correction: none in the dumps.")
            else:
                lines += [
                    f"With a self-correction (the latest), step {example['step']}, "
                    f"score {example_score(example['score']):g}:",
                    "",
                    _fenced(example["output"], example.get("truncated", False)),
                ]
    notes = [note for group in groups for note in group.notes]
    if notes:
        lines += ["", "Dump lines skipped: " + "; ".join(notes[:10]) + (" …" if len(notes) > 10 else "")]
    return lines + [line for note in undigested for line in ("", note)]
