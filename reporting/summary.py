"""summary.md of a recipe: the reproduce command, one row per variant, a row per failed run, links.

Rows aggregate a variant's cleanly finished seeds (mean ± std, maths in reporting/stats.py);
every run that crashed, ran out of memory, diverged, is still running or has no metrics keeps its
own row with that status, so negative results stay in the table. The doctor's findings (launch/doctor/)
stand in the status cell of the row holding the run, so a row with findings never reads as a clean result.
Exercised by `python -m launch report RECIPE`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

from launch.doctor.checks import Finding
from reporting.runs import RunRecord
from reporting.stats import (
    CURVES,
    TARGET_ACC,
    VAL_ACC,
    AccuracyStats,
    accuracy_stats,
    curve_keys,
    per_seed_mean,
    percent_cell,
    series,
    steps_reached,
    steps_to_cell,
)
from reporting.students import is_distill

STATS_NOTES = [
    "- **final**: each seed's last validation `acc`, mean ± sample std over seeds. **best**: the step whose "
    "mean over seeds is highest among steps every seed validated at, mean ± std there (not per-seed maxima). "
    "**steps to 50%**: each seed's first validation step at or above 50%, mean ± std over the seeds that got "
    "there (k/n: how many of the n seeds did).",
    "- **resp. len**: mean of `response_length/mean` (tokens) over training steps, averaged over seeds. "
    "**tokens/s/GPU**: median of `perf/throughput` per seed, averaged over seeds. "
    "**GPU-h**: sum over the row's runs.",
    "- A row with one seed is a **pilot**: no claim rests on it (claims need ≥ 3 seeds).",
    "- Status `diverged`: a null/NaN/inf loss, score, entropy or grad norm in the metrics.",
    "- **doctor**: findings of `python -m launch doctor` (thresholds in launch/doctor/rules.py), by seed, in "
    "the status cell; such seeds stay in the mean ± std (dropping them would flatter the variant). "
    "The Doctor section below and `make doctor RUN_DIR=...` give them in full.",
]


def _number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _unique(values) -> str:
    return ", ".join(sorted({str(v) for v in values if v})) or "—"


def _hardware(run: RunRecord) -> str:
    hardware = run.meta.get("hardware") or {}
    if hardware.get("device") == "cpu" or not hardware.get("gpu_model"):
        return hardware.get("device") or ""
    return f"{hardware.get('gpu_count', '?')}× {hardware['gpu_model']}"


def _wandb(run: RunRecord) -> str:
    wandb = run.meta.get("wandb") or {}
    if wandb.get("url"):
        return f"[{run.seed_label}]({wandb['url']})"
    offline = wandb.get("offline_dir")
    if not offline:
        return ""
    # recorded relative to the run dir: shown relative to summary.md, beside runs/
    shown = offline if Path(offline).is_absolute() else f"runs/{run.run_id}/{offline}"
    return f"{run.seed_label}: `{shown}`"


def _row(label: str, seeds: str, status: str, runs: Sequence[RunRecord], acc_keys: dict[str, str]) -> str:
    cells = [label, seeds, status]
    for key in acc_keys.values():
        stats = accuracy_stats(runs, key) if runs else AccuracyStats(None, None, None, None)
        best = "—" if stats.best is None else f"{percent_cell(stats.best)} @ {stats.best_step}"
        cells += [percent_cell(stats.first), percent_cell(stats.final), best, steps_to_cell(runs, key)]
    gpu_hours = [
        run.meta.get("gpu_hours") for run in runs if isinstance(run.meta.get("gpu_hours"), (int, float))
    ]
    cells += [
        steps_reached(runs),
        _number(per_seed_mean(runs, "response_length/mean")),
        _number(sum(gpu_hours), 2) if gpu_hours else "—",
        _number(per_seed_mean(runs, "perf/throughput", reduce=statistics.median)),
        _unique(_hardware(run) for run in runs),
        _unique(run.commit_label for run in runs),
        " ".join(filter(None, (_wandb(run) for run in runs))) or "—",
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _doctor_cell(runs: Sequence[RunRecord], findings: Mapping[str, Sequence[Finding]]) -> str:
    """`doctor: s2 val-collapse @ 2-4, ...` for the row's runs with findings; "" when there are none."""
    named = []
    for run in runs:
        for f in findings.get(run.run_id, ()):
            steps = f"{f.first_step}" if f.first_step == f.last_step else f"{f.first_step}-{f.last_step}"
            named.append(f"{run.seed_label if len(runs) > 1 else ''} {f.name} @ {steps}".strip())
    return f"; doctor: {', '.join(named)}" if named else ""


def runs_table(
    runs: Sequence[RunRecord], findings: Mapping[str, Sequence[Finding]] | None = None
) -> list[str]:
    """The table; `findings` maps a run id to the doctor's findings for it, shown in the status cell."""
    findings = findings or {}
    acc_keys = curve_keys(runs, VAL_ACC)
    header = ["variant", "seeds", "status"]
    for source in acc_keys:
        header += [f"first acc % ({source})", f"final acc % ({source})", f"best acc % @ step ({source})"]
        header.append(f"steps to {TARGET_ACC:.0%} ({source})")
    header += ["steps", "resp. len (tok)", "GPU-h", "tokens/s/GPU", "hardware", "commit", "wandb"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in dict.fromkeys(run.group for run in runs):
        clean = [run for run in runs if run.group == group and run.aggregated]
        if clean:
            seeds = ",".join(str(run.seed) for run in clean)
            label = f"{len(clean)} ({seeds})" if len(clean) > 1 else f"1 ({seeds}) pilot"
            # A seed with findings stays in the mean (dropping it would flatter the variant), flagged here.
            lines.append(_row(group, label, "finished" + _doctor_cell(clean, findings), clean, acc_keys))
        for run in (run for run in runs if run.group == group and not run.aggregated):
            status = run.status + (f" ({'; '.join(run.notes)})" if run.notes else "")
            lines.append(_row(group, run.seed_label, status + _doctor_cell([run], findings), [run], acc_keys))
    if not acc_keys:
        lines += ["", "No validation accuracy (`val-core/<source>/acc/mean@N`) in any run's metrics."]
    return lines


# The behaviours whose first and final validation the behaviour table gives (curve name, column, as a share).
BEHAVIOURS = (
    ("search_rate", "search %", True),
    ("search_lines", "search lines", False),
    ("verify_rate", "verify %", True),
    ("self_correction_rate", "self-correct %", True),
)


def _first_final_cell(runs: Sequence[RunRecord], key: str, share: bool) -> str:
    """`first → final ± std` over the seeds that validated `key` (each seed's first and last validation)."""
    per_seed = [points for points in (series(run, key) for run in runs) if points]
    if not per_seed:
        return "—"
    first = statistics.fmean(points[0][1] for points in per_seed)
    final = _mean_std_cell([points[-1][1] for points in per_seed], share)
    cell = f"{100 * first:.1f} → {final}" if share else f"{first:.2f} → {final}"
    # Records older than a key lack it: say how many seeds the figure rests on.
    return cell if len(per_seed) == len(runs) else f"{cell} ({len(per_seed)}/{len(runs)} seeds)"


def _mean_std_cell(values: Sequence[float], share: bool) -> str:
    scale, digits = (100, 1) if share else (1, 2)
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def behaviour_table(runs: Sequence[RunRecord]) -> list[str]:
    """Per variant, the behaviours the reward logs on held-out validation (rewards.behaviour: responses that
    search, their mean number of search lines, responses that verify or correct a step), each seed's first
    and final validation, mean (± std) over the cleanly finished seeds; [] when no run logged search lines."""
    curves = {curve.name: curve for curve in CURVES}
    clean = [run for run in runs if run.aggregated]
    columns = [
        (label, share, keys) for name, label, share in BEHAVIOURS if (keys := curve_keys(clean, curves[name]))
    ]
    if not any(label == "search lines" for label, _, _ in columns):
        return []
    header = ["variant", "seeds"] + [f"{label} ({source})" for label, _, keys in columns for source in keys]
    lines = [
        "## Behaviour on held-out validation",
        "",
        "Each seed's first → final validation, the final as mean ± std over seeds (rewards/behaviour.py counts "
        "them: a response searches when it writes a `try` line; search lines are its `try` lines, 0 when it "
        "does not search).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for group in dict.fromkeys(run.group for run in clean):
        seeds = [run for run in clean if run.group == group]
        cells = [group, ",".join(str(run.seed) for run in seeds)]
        cells += [_first_final_cell(seeds, key, share) for _, share, keys in columns for key in keys.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def reproduce_lines(recipe: str, runs: Sequence[RunRecord]) -> list[str]:
    # CPU-miniature runs are launched by `make mini` (which also builds their base), not by a GPU sweep.
    on_cpu = runs and all(str(run.meta.get("reproduce", "")).startswith("make mini") for run in runs)
    # `make mini [RECIPE=...]`: the runs' own command up to the variant they pick.
    mini = {str(run.meta.get("reproduce", "")).split(" VARIANT=")[0] for run in runs}
    whole = (mini.pop() if len(mini) == 1 else "make mini") if on_cpu else f"make sweep RECIPE={recipe}"
    if runs and all(map(is_distill, runs)):
        device = " --device cpu" if all(run.meta.get("device") == "cpu" for run in runs) else ""
        whole = f"python -m launch distill run {recipe}{device}"
    lines = [
        f"Reproduce the whole table (all variants and seeds): `{whole}`",
        "",
        "One run at a time:",
        "",
        "```bash",
    ]
    for run in runs:
        if run.meta.get("reproduce"):  # the launcher knows best (e.g. `make smoke` is not a variant)
            lines.append(run.meta["reproduce"])
            continue
        variant = run.meta.get("variant") or run.group
        grid = run.meta.get("grid") or {}
        comment = f"  # grid point {grid}: run through `make sweep`" if grid else ""
        seed = run.seed if run.seed is not None else run.meta.get("seed", "")
        lines.append(f"make train RECIPE={recipe} VARIANT={variant} SEED={seed}{comment}")
    return lines + ["```"]


def doctor_lines(runs: Sequence[RunRecord], findings: Mapping[str, Sequence[Finding]]) -> list[str]:
    """The doctor's section: every finding of every run, in full, or a line saying there were none."""
    lines = ["## Doctor", ""]
    flagged = [run for run in runs if findings.get(run.run_id)]
    if not flagged:
        return [*lines, f"No findings in {len(runs)} run(s) (`python -m launch doctor RUN_DIR`)."]
    for run in flagged:
        lines += [f"- `{run.run_id}`:", *(f"  - {finding.line()}" for finding in findings[run.run_id])]
    return lines


def notes_on_runs(runs: Sequence[RunRecord]) -> list[str]:
    """Per-run notes for runs that are aggregated but carry a warning (e.g. truncated metrics)."""
    flagged = [run for run in runs if run.aggregated and run.notes]
    return [f"- `{run.run_id}`: {'; '.join(run.notes)}" for run in flagged]
