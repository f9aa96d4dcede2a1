"""Curve PNGs of a recipe: one file per metric, variants overlaid, x = training step.

Each variant's cleanly finished seeds draw a mean line with a min–max band; a run that crashed,
ran out of memory or diverged is drawn alone as a thin dashed line labelled with its status, so a
failure stays visible instead of dragging the mean. Uses matplotlib's Agg canvas directly (no
pyplot, no global backend switch). Exercised by `python -m launch report RECIPE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reporting.runs import RunRecord
from reporting.stats import Curve, band, curve_keys, series

# Validation runs every few steps: show the points when there are few of them.
_MARKER_LIMIT = 40


def variant_colors(groups: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {group: palette(index % 10) for index, group in enumerate(groups)}


def new_figure(panels: int) -> tuple[Figure, list]:
    figure = Figure(figsize=(6.4 * panels, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, index + 1) for index in range(panels)]
    for single in axes:
        single.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    return figure, axes


def _draw_panel(axes, runs: Sequence[RunRecord], key: str, colors: dict[str, tuple]) -> bool:
    drawn = False
    for group, color in colors.items():
        members = [run for run in runs if run.group == group]
        clean = [points for points in (series(r, key) for r in members if r.aggregated) if points]
        if clean:
            curve = band(clean)
            marker = "o" if len(curve.steps) <= _MARKER_LIMIT else None
            label = f"{group} (n={len(clean)})" if len(clean) > 1 else f"{group} (pilot, 1 seed)"
            axes.plot(curve.steps, curve.mean, color=color, marker=marker, markersize=3, label=label)
            if len(clean) > 1:
                axes.fill_between(curve.steps, curve.low, curve.high, color=color, alpha=0.2, linewidth=0)
            drawn = True
        for run in members:
            points = series(run, key)
            if run.aggregated or not points:
                continue
            steps, values = zip(*points, strict=True)
            axes.plot(
                steps,
                values,
                color=color,
                linestyle="--",
                linewidth=1,
                marker="x",
                markersize=3,
                label=f"{group} {run.seed_label} ({run.status})",
            )
            drawn = True
    return drawn


def plot_curve(runs: Sequence[RunRecord], curve: Curve, colors: dict[str, tuple], path: Path) -> bool:
    """Write the PNG at `path`; False (nothing written) when no run logged a finite value of the metric."""
    keys = curve_keys(runs, curve)
    if not keys:
        return False
    figure, panels = new_figure(len(keys))
    drawn = False
    for axes, (source, key) in zip(panels, keys.items(), strict=True):
        drawn |= _draw_panel(axes, runs, key, colors)
        axes.set_title(f"{curve.title}\n{source}" if source else curve.title, fontsize=10)
        axes.set_xlabel("training step")
        axes.set_ylabel(curve.ylabel)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
    if drawn:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return drawn


def plot_accuracy_vs_step(curve: dict, png_path: Path, title: str) -> Path:
    """eval-checkpoints' curve (evaluation/sweep.py): per task mean@n, greedy accuracy and maj@n vs step."""
    figure, (axes,) = new_figure(1)
    for task, points in curve["tasks"].items():
        steps = [point["step"] for point in points]
        line = axes.plot(
            steps, [p["mean@n"] for p in points], marker="o", label=f"{task} mean@{points[-1]['n']}"
        )
        color = line[0].get_color()
        if all(p["greedy_acc"] is not None for p in points):
            axes.plot(steps, [p["greedy_acc"] for p in points], "--", color=color, label=f"{task} greedy")
        axes.plot(
            steps, [p["maj@n"] for p in points], ":", color=color, label=f"{task} maj@{points[-1]['n']}"
        )
    axes.set(xlabel="training step", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=120)
    return png_path
