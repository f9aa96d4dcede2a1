"""The "aha moment" view: response lengths, self-verification and search shares per step, from rollout dumps.

Reads verl's generation dumps in each run directory (rollouts/<step>.jsonl from
trainer.rollout_data_dir, else validation/<step>.jsonl from trainer.validation_data_dir; rows
{"input", "output", "gts", "score", "step", ...reward extra info}). verl 0.9.1's default (v1)
trainer dumps rollouts without reward extra info, so a response counts as self-verifying when
the row's `has_verify` / `verify_phrases` reward keys say so, else when the rewards' own phrase
list (rewards/behaviour.py, the single home of that list) finds a phrase in its text. Length is
in characters (`response_chars` when present): dumps hold text, not token ids. A response searches when
it has the word "try" (rewards.behaviour.count_search_steps).
Writes aha.png and a markdown section with the first step whose share crosses the threshold and
one response from before and one from after it. Exercised by `python -m launch report RECIPE`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from reporting.plots import new_figure, variant_colors
from reporting.runs import RunRecord
from rewards.behaviour import count_search_steps, count_verify_phrases

_EXAMPLE_CHARS = 1200


@dataclass
class StepStats:
    lengths: list[int] = field(default_factory=list)
    verifying: int = 0
    searching: int = 0
    example_plain: dict | None = None  # a response without self-verification (highest score kept)
    example_verify: dict | None = None

    @property
    def share(self) -> float:
        return self.verifying / len(self.lengths)

    @property
    def search_share(self) -> float:
        return self.searching / len(self.lengths)


@dataclass
class AhaGroup:
    group: str
    steps: dict[int, StepStats] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def first_crossing(self, threshold: float) -> int | None:
        return next((step for step in sorted(self.steps) if self.steps[step].share >= threshold), None)


def is_verifying(row: dict) -> bool:
    if isinstance(row.get("has_verify"), (bool, int, float)):
        return bool(row["has_verify"])
    if isinstance(row.get("verify_phrases"), (int, float)):
        return row["verify_phrases"] > 0
    return count_verify_phrases(str(row.get("output", ""))) > 0


def _keep_example(current: dict | None, row: dict) -> dict:
    score = row.get("score") if isinstance(row.get("score"), (int, float)) else float("-inf")
    if current is None or score > current["score"]:
        return {
            "score": score,
            "step": row.get("step"),
            "output": str(row.get("output", "")),
        }
    return current


def add_dump_file(group: AhaGroup, path: Path) -> None:
    with path.open(encoding="utf-8", errors="replace") as lines:  # streamed: rollout dumps can be large
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
                step = int(row.get("step", path.stem))
            except (ValueError, TypeError, AttributeError):
                group.notes.append(
                    f"{path.parent.parent.name}/{path.parent.name}/{path.name} line {number} unreadable"
                )
                continue
            stats = group.steps.setdefault(step, StepStats())
            chars = row.get("response_chars")
            output = str(row.get("output", ""))
            stats.lengths.append(int(chars) if isinstance(chars, (int, float)) else len(output))
            stats.searching += count_search_steps(output) > 0
            if is_verifying(row):
                stats.verifying += 1
                stats.example_verify = _keep_example(stats.example_verify, row)
            else:
                stats.example_plain = _keep_example(stats.example_plain, row)


def collect(runs: Sequence[RunRecord]) -> list[AhaGroup]:
    """Pool every run's dumps per variant group (rollouts/, else validation/); skip groups without dumps."""
    groups: dict[str, AhaGroup] = {}
    work: list[tuple[AhaGroup, Path]] = []
    for run in runs:
        if run.run_dir is None:
            continue
        for folder in ("rollouts", "validation"):
            files = sorted((run.run_dir / folder).glob("*.jsonl"))
            if files:
                group = groups.setdefault(run.group, AhaGroup(run.group))
                work += [(group, path) for path in files]
                break
    for group, path in tqdm(work, desc="generation dumps", unit="file", disable=len(work) < 50):
        add_dump_file(group, path)
    return [group for group in groups.values() if group.steps]


def plot_aha(groups: Sequence[AhaGroup], threshold: float, path: Path) -> None:
    figure, (lengths_axes, share_axes) = new_figure(2)
    colors = variant_colors([group.group for group in groups])
    for group in groups:
        steps = sorted(group.steps)
        color = colors[group.group]
        quantiles = np.array([np.percentile(group.steps[s].lengths, [10, 25, 50, 75, 90]) for s in steps])
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
        crossing = group.first_crossing(threshold)
        if crossing is not None:
            share_axes.axvline(crossing, color=color, linestyle=":", linewidth=1)
    share_axes.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    lengths_axes.set_title("Response length per step: median, 25–75% and 10–90% bands", fontsize=10)
    lengths_axes.set_ylabel("characters")
    share_axes.set_title("Share of responses that self-verify (solid) and search (dashed)", fontsize=10)
    share_axes.set_ylabel("share")
    share_axes.set_ylim(-0.02, 1.02)
    for axes in (lengths_axes, share_axes):
        axes.set_xlabel("training step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def _fenced(text: str) -> str:
    shown = text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + " […]"
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


def aha_markdown(groups: Sequence[AhaGroup], threshold: float) -> list[str]:
    lines = [
        "## Aha moment",
        "",
        "![aha](aha.png)",
        "",
        f"Share of sampled responses containing self-verification phrases per step; threshold {threshold:g}. "
        "First and last dumped step: share that verifies, share that searches (the word `try`), median length "
        "in characters.",
        "",
        "| variant | steps with dumps | responses | first step ≥ threshold | verify | search | median length |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in groups:
        crossing = group.first_crossing(threshold)
        first = min(group.steps)
        shown = "not reached" if crossing is None else str(crossing)
        if crossing == first:
            shown += " (already at the first dumped step)"
        total = sum(len(stats.lengths) for stats in group.steps.values())
        start, end = group.steps[first], group.steps[max(group.steps)]
        verify = f"{start.share:.0%} → {end.share:.0%}"
        search = f"{start.search_share:.0%} → {end.search_share:.0%}"
        length = f"{np.median(start.lengths):.0f} → {np.median(end.lengths):.0f}"
        lines.append(
            f"| {group.group} | {len(group.steps)} | {total} | {shown} | {verify} | {search} | {length} |"
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
                    f"{label}, step {example['step']}, score {example['score']:g}:",
                    "",
                    _fenced(example["output"]),
                ]
    notes = [note for group in groups for note in group.notes]
    if notes:
        lines += ["", "Dump lines skipped: " + "; ".join(notes[:10]) + (" …" if len(notes) > 10 else "")]
    return lines
