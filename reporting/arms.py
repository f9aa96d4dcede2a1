"""A multi-stage recipe's arms side by side: each variant's pipelines pooled over seeds, on one axis of samples.

The arms of countdown-mini-r1 (R1-Zero, + language consistency, cold start then RL, R1's four stages) run
different stages, so the report puts them on the axis they are compared at: responses sampled since the
pipeline began (an SFT stage on a file samples none; a rejection-sampling stage its teacher's samples; an RL
stage its rollouts, train batch x n per step). Along that axis, per pipeline:
- accuracy: an SFT stage's greedy eval after it; an RL stage's validations (`val-core/<source>/acc`), a step-0
  validation replacing the eval of the stage before it at the same point;
- greedy English share: an RL stage's validations of `lang_consistency` (rewards/language.py, for the run's
  target language), the share of the chain of thought's words in the target language, 1.0 for no words;
- sampled mixing: an RL stage's rollout digest (launch/rollout_digest.py), the share of a step's responses
  whose chain of thought is not all in the target language.
Each arm is a table row (mean ± sample std over its finished pipelines) and a line with a min–max band in
curves/arms_accuracy.png and curves/arms_language.png. Exercised by `python -m launch report countdown-mini-r1`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from launch.rollout_digest import read_digest
from reporting.plots import new_figure, variant_colors
from reporting.runs import RunRecord, load_run
from reporting.stats import VAL_ACC, Curve, band, crossing_cell, mean_std, only_key, percent_cell, series
from reporting.students import eval_results, response_counts, rl_compute

Points = list[tuple[int, float]]

PIPELINE_FILE = (
    "pipeline.json"  # launch/stages/state.py writes it (reporting reads records, never the run side)
)

ENGLISH_SHARE = Curve(
    "english_share",
    "Greedy chain of thought's target-language share",
    "share of words",
    r"val-aux/(?P<source>[^/]+)/lang_consistency/mean@(?P<n>\d+)",
)


@dataclass
class PipelineRun:
    """One pipeline's state (its pipeline.json) and its stages in order, each with its record (None before the
    stage wrote one)."""

    state: dict
    stages: list[tuple[dict, RunRecord | None]]
    accuracy: Points = field(default_factory=list)
    english: Points = field(default_factory=list)
    mixing: Points = field(default_factory=list)
    sampled: int = 0
    # (stage name, accuracy after it) for every stage with a measured accuracy
    after: list[tuple[str, float]] = field(default_factory=list)

    @property
    def variant(self) -> str:
        return str(self.state.get("variant", "?"))

    @property
    def seed(self) -> int | None:
        return self.state.get("seed")

    @property
    def finished(self) -> bool:
        return self.state.get("status") == "finished"


def _sft_sampled(run: RunRecord) -> int:
    """The teacher's samples of a rejection-sampling stage; none for SFT on a file."""
    sampled = response_counts(run).get("sampled")
    return sampled if isinstance(sampled, int) else 0


def _walk(pipeline: PipelineRun) -> None:
    """Fill the pipeline's points along the responses sampled since it began."""
    accuracy: dict[int, float] = {}
    before = 0
    for entry, run in pipeline.stages:
        if run is None:
            continue
        name = str(entry.get("name", "?"))
        if entry.get("kind") == "sft":
            before += _sft_sampled(run)
            evals = [result["greedy_acc"] for result in eval_results(run)[:1] if "greedy_acc" in result]
            if evals:
                accuracy[before] = evals[0]
                pipeline.after.append((name, evals[0]))
            continue
        compute = rl_compute(run)
        if compute is None:
            continue
        steps = max(step for step, data in run.metrics.items() if "critic/score/mean" in data)
        per_step = compute[0] // steps
        acc_key, english_key = only_key([run], VAL_ACC), only_key([run], ENGLISH_SHARE)
        if acc_key is not None:
            points = series(run, acc_key)
            accuracy.update((before + step * per_step, value) for step, value in points)
            if points:
                pipeline.after.append((name, points[-1][1]))
        if english_key is not None:
            pipeline.english += [
                (before + step * per_step, value) for step, value in series(run, english_key)
            ]
        digest = read_digest(run.run_dir) if run.run_dir else None
        for record in (digest or {}).get("steps", []):
            if "mixing" in record and record.get("responses"):
                pipeline.mixing.append(
                    (before + record["step"] * per_step, record["mixing"] / record["responses"])
                )
        before += compute[0]
    pipeline.accuracy = sorted(accuracy.items())
    pipeline.sampled = before


def load_pipelines(pipeline_dirs: Sequence[Path], recipe: str) -> list[PipelineRun]:
    pipelines = []
    for run_dir in pipeline_dirs:
        state = json.loads((run_dir / PIPELINE_FILE).read_text(encoding="utf-8"))
        stages = []
        for entry in state.get("stages", []):
            stage_dir = run_dir / str(entry.get("dir", ""))
            stages.append(
                (entry, load_run(stage_dir, recipe) if (stage_dir / "run.json").is_file() else None)
            )
        pipeline = PipelineRun({"run_id": run_dir.name, **state}, stages)
        _walk(pipeline)
        pipelines.append(pipeline)
    return pipelines


def _by_arm(pipelines: Sequence[PipelineRun]) -> dict[str, list[PipelineRun]]:
    arms: dict[str, list[PipelineRun]] = {}
    for pipeline in pipelines:
        if pipeline.finished:
            arms.setdefault(pipeline.variant, []).append(pipeline)
    return arms


def _after_cell(members: Sequence[PipelineRun]) -> str:
    names = list(dict.fromkeys(name for member in members for name, _ in member.after))
    cells = []
    for name in names:
        values = [value for member in members for stage, value in member.after if stage == name]
        cells.append(f"{name} {percent_cell(mean_std(values))}")
    return " → ".join(cells) or "—"


def _share_cell(values: Sequence[float]) -> str:
    if not values:
        return "—"
    mean, std = mean_std(values)
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def _mixing_cell(members: Sequence[PipelineRun]) -> str:
    """Sampled mixing at the first and at the last RL step with a digest, pooled over the arm's seeds."""
    firsts = [member.mixing[0][1] for member in members if member.mixing]
    lasts = [member.mixing[-1][1] for member in members if member.mixing]
    if not firsts:
        return "—"
    return f"{percent_cell(mean_std(firsts))} → {percent_cell(mean_std(lasts))}"


ARM_HEADER = [
    "arm",
    "seeds",
    "accuracy after each stage %",
    "final accuracy %",
    "sampled",
    "sampled to 50%",
    "greedy English share, end",
    "sampled mixing %, first → last RL step",
]

ARM_NOTES = [
    "- **arms**: the recipe's variants, each a pipeline of some of its stages; only finished pipelines are "
    "pooled (mean ± sample std over seeds). **accuracy**: an SFT stage's greedy eval, an RL stage's last "
    "validation (greedy on the same test problems).",
    "- **sampled**: responses generated since the pipeline began (an SFT stage on a file: none, whatever "
    "making the file cost; a rejection-sampling stage: its teacher's samples; an RL stage: its rollouts). "
    "**sampled to 50%**: the "
    "responses sampled by the first accuracy point at or above 50%, with k/n seeds reaching it.",
    "- **greedy English share**: the last validation's mean share of the chain of thought's words in the "
    "target language (`lang_consistency`, rewards/language.py; 1.00 = no mixing). **sampled mixing**: share "
    "of a training step's sampled responses whose chain of thought is not all in the target language "
    "(rollout_digest.json).",
]


def arms_table(pipelines: Sequence[PipelineRun]) -> list[str]:
    arms = _by_arm(pipelines)
    if not arms:
        return ["No finished pipeline yet."]
    lines = ["| " + " | ".join(ARM_HEADER) + " |", "|" + "---|" * len(ARM_HEADER)]
    for arm, members in arms.items():
        finals = [member.after[-1][1] for member in members if member.after]
        englishes = [member.english[-1][1] for member in members if member.english]
        cells = [
            arm,
            ",".join(str(member.seed) for member in members),
            _after_cell(members),
            percent_cell(mean_std(finals) if finals else None),
            f"{sum(member.sampled for member in members) / len(members):,.0f}",
            crossing_cell([member.accuracy for member in members]),
            _share_cell(englishes),
            _mixing_cell(members),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", *ARM_NOTES]


def _draw(axes, arms: dict[str, list[PipelineRun]], attribute: str, colors: dict[str, tuple]) -> None:
    for arm, members in arms.items():
        per_seed = [getattr(member, attribute) for member in members if getattr(member, attribute)]
        if not per_seed:
            continue
        curve = band(per_seed)
        label = f"{arm} (n={len(per_seed)})" if len(per_seed) > 1 else f"{arm} (pilot, 1 seed)"
        axes.plot(curve.steps, curve.mean, color=colors[arm], marker="o", markersize=2, label=label)
        if len(per_seed) > 1:
            axes.fill_between(curve.steps, curve.low, curve.high, color=colors[arm], alpha=0.2, linewidth=0)


PANELS = {
    "arms_accuracy": [("accuracy", "Held-out accuracy (SFT evals and RL validations)", "accuracy")],
    "arms_language": [
        ("mixing", "Sampled responses that mix languages (per RL step)", "share mixing"),
        ("english", "Greedy chain of thought's target-language share (validations)", "share of words"),
    ],
}


def plot_arms(pipelines: Sequence[PipelineRun], out: Path) -> list[Path]:
    """curves/arms_accuracy.png and curves/arms_language.png; a figure with nothing to draw is not written
    (and a stale one is removed, so the pictures never contradict the table)."""
    arms = _by_arm(pipelines)
    colors = variant_colors(list(arms))
    written = []
    for name, panels in PANELS.items():
        path = out / "curves" / f"{name}.png"
        if not any(
            getattr(m, attribute) for members in arms.values() for m in members for attribute, *_ in panels
        ):
            path.unlink(missing_ok=True)
            continue
        figure, axes_list = new_figure(len(panels))
        for axes, (attribute, title, ylabel) in zip(axes_list, panels, strict=True):
            _draw(axes, arms, attribute, colors)
            axes.set_title(title, fontsize=10)
            axes.set_xlabel("responses sampled since the pipeline began")
            axes.set_ylabel(ylabel)
            axes.set_ylim(-0.02, 1.02)
            axes.grid(alpha=0.3)
            axes.legend(fontsize=7, loc="best")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
        written.append(path)
    return written


def reproduce_commands(recipe: str, pipelines: Sequence[PipelineRun]) -> list[str]:
    """The pipelines' own commands with the variant and seed left open, each once."""
    commands = []
    for pipeline in pipelines:
        command = str(pipeline.state.get("reproduce") or f"python -m launch pipeline {recipe}")
        command = re.sub(r"--variant \S+", "--variant VARIANT", command)
        commands.append(re.sub(r"--seed \S+", "--seed SEED", command))
    return list(dict.fromkeys(commands))
