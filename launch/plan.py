"""Compiles a recipe into runs: variants x grid x seeds, each one verl invocation with derived names and paths.

Run ids are derived, never typed: `<recipe>__<variant>[__<key><value>]__s<seed>`. Keys the launcher derives
(data files, model path, chat template, reward file, names, logger, checkpoint and dump dirs, seeds) may not
be set by a recipe, so each has one source of truth. Paths stay relative to the repo root in the plan (stable
to print and diff) and are made absolute only when a run is executed.

    python -m launch plan countdown-3b [--variant no_kl] [--seed 1]
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_prep.tasks import split_path
from data_prep.templates import get_template
from launch import verl_config
from launch.hardware import effective_profile, profile_flag
from launch.recipe import PATCHABLE_FIELDS, REPO_ROOT, Profile, Recipe, RecipeError, load_profile

REWARD_FILE = "rewards/verl_reward.py"
REWARD_FUNCTION = "compute_score"
DATA_DIR = "data"
RESULTS_DIR = "results"
CHECKPOINTS_DIR = "checkpoints"
# Every seed a GRPO run draws on under verl's v1 trainer: data order, rollout sampling, mini-batch shuffling.
# (fsdp_config.seed is read only with full determinism: launch.verl_config.DEAD_UNDER_V1.)
SEED_KEYS = (
    "data.seed",
    "actor_rollout_ref.rollout.seed",
    "actor_rollout_ref.actor.data_loader_seed",
)
PATH_KEYS = (
    "data.train_files",
    "data.val_files",
    "reward.custom_reward_function.path",
    "trainer.default_local_dir",
    "trainer.rollout_data_dir",
    "trainer.validation_data_dir",
)
MODEL_KEYS = ("actor_rollout_ref.model.path", "critic.model.path")
DERIVED_KEYS = {
    *PATH_KEYS,
    *SEED_KEYS,
    "actor_rollout_ref.model.path",
    "critic.model.path",
    "actor_rollout_ref.model.custom_chat_template",
    "reward.custom_reward_function.name",
    "trainer.project_name",
    "trainer.experiment_name",
    "trainer.logger",
    "trainer.resume_mode",
}
LOGGERS = ("console", "file", "wandb")


@dataclass(frozen=True)
class Overlay:
    """A patch applied after variant and grid, for a platform rather than a question (the CPU smoke run)."""

    label: str | None  # replaces the variant in the run id; None keeps it
    patch: Mapping[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)
    extra_rollout_names: tuple[str, ...] = ()
    reproduce: str | None = None


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    recipe: Recipe
    variant: str
    seed: int
    grid_point: Mapping[str, Any]
    model: str
    task: str
    val_tasks: tuple[str, ...]
    template: str
    profile: Profile
    overrides: Mapping[str, Any]
    env: Mapping[str, str]
    data_dir: str
    results_root: str
    checkpoints_root: str
    extra_rollout_names: tuple[str, ...] = ()
    reproduce: str | None = None  # the command that re-runs exactly this run
    reward_kwargs: dict[str, Any] = field(
        default_factory=dict
    )  # the reward's options (also in overrides, flattened)
    ref_reset_every: int | None = None  # steps between reference-policy resets (launch/ref_reset.py)

    @property
    def run_dir(self) -> Path:
        return run_dir(self.results_root, self.recipe.name, self.run_id)

    @property
    def checkpoint_dir(self) -> Path:
        return checkpoint_dir(self.checkpoints_root, self.recipe.name, self.run_id)

    def data_files(self) -> list[Path]:
        return [Path(self.overrides["data.train_files"]), *map(Path, self.overrides["data.val_files"])]

    def resolved_overrides(self, root: Path) -> dict[str, Any]:
        """The overrides with repo-relative paths made absolute under `root`, as they are executed."""

        def absolute(value: Any) -> Any:
            if isinstance(value, list):
                return [absolute(v) for v in value]
            return str(root / value)

        resolved = {k: absolute(v) if k in PATH_KEYS else v for k, v in self.overrides.items()}
        for key in MODEL_KEYS:  # a model dir inside the repo (not a hub id) travels as an absolute path
            if key in resolved and (root / resolved[key]).is_dir():
                resolved[key] = str(root / resolved[key])
        return resolved

    def command(
        self, root: Path | None = None, python: str = "python3", extra: Mapping[str, Any] | None = None
    ) -> list[str]:
        """The verl invocation; `extra` adds per-attempt settings that are not part of the plan."""
        overrides = {**(self.resolved_overrides(root) if root else self.overrides), **(extra or {})}
        return [python, "-m", verl_config.TRAINER_MODULE, *verl_config.to_hydra_overrides(overrides)]

    def attempt_command(self, python: str) -> list[str]:
        """`python -m launch attempt ...`: what a SLURM or Ray job runs for this run (one builder for both).

        It carries every dir and the profile the plan was compiled with, so the job compiles the same run and
        its run.json, metrics and logs land where a local run's would. The recipe path is relative to the repo root when the recipe lives in the repo (a
        SLURM job runs from the repo root, a Ray job from its copy of the repo), absolute otherwise."""
        recipe = self.recipe.path.resolve()
        if recipe.is_relative_to(REPO_ROOT):
            recipe = recipe.relative_to(REPO_ROOT)
        return [
            python, "-m", "launch", "attempt", str(recipe), "--run-id", self.run_id,
            "--data-dir", self.data_dir, "--checkpoints-dir", self.checkpoints_root,
            "--results-dir", self.results_root, *profile_flag(self.profile.name),
        ]  # fmt: skip

    def render(self) -> str:
        """The plan a human reads before anything launches: env, then one override per line."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        lines = [f"# {self.run_id}"]
        if self.ref_reset_every:
            lines.append(
                f"# reference reset every {self.ref_reset_every} steps: trained in segments, each resuming "
                "the last with that checkpoint as the reference (launch/ref_reset.py)"
            )
        lines += [f"{env} \\" for _ in [0] if env]
        command = self.command()
        lines.append(" ".join(command[:3]) + " \\")
        lines += [f"    {shlex.quote(arg)} \\" for arg in command[3:]]
        lines[-1] = lines[-1].removesuffix(" \\")
        return "\n".join(lines)


def _short_key(key: str) -> str:
    return key.lstrip("+~").rpartition(".")[2]


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(value)).strip("-") or "none"


def _split_patch(patch: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    fields, verl_keys = {}, {}
    for key, value in patch.items():
        if "." in key:
            verl_keys[key] = value
        elif key in PATCHABLE_FIELDS:
            fields[key] = value
        else:
            raise RecipeError(
                f"{where}: '{key}' is neither a verl dotted key nor a recipe field ({', '.join(PATCHABLE_FIELDS)})"
            )
    return fields, verl_keys


def _reject_derived(overrides: Mapping[str, Any], where: str) -> None:
    for key in overrides:
        if key.lstrip("+") in DERIVED_KEYS or key.startswith("+reward.custom_reward_function.reward_kwargs"):
            raise RecipeError(f"{where}: '{key}' is set by the launcher from the recipe's fields; remove it")


def expand(recipe: Recipe, variant: str | None = None, seed: int | None = None):
    """(variant, grid point, seed) triples of a recipe, optionally narrowed."""
    variants = recipe.sweep.variants
    if variant is not None and variant not in variants:
        raise RecipeError(f"{recipe.path}: no variant {variant!r}; variants: {', '.join(variants)}")
    # Any seed may be asked for (an extra seed needs no edit of the recipe, whose hash records name): the run
    # id carries it. sweep.seeds is what a whole sweep runs.
    if seed is not None and seed < 0:
        raise RecipeError(f"{recipe.path}: seed {seed} is negative; seeds are whole numbers >= 0")
    grid_keys = list(recipe.sweep.grid)
    grid_points = [
        dict(zip(grid_keys, values, strict=True)) for values in itertools.product(*recipe.sweep.grid.values())
    ]
    for name in [variant] if variant else variants:
        for point in grid_points:
            for run_seed in [seed] if seed is not None else recipe.sweep.seeds:
                yield name, point, run_seed


def select_variants(recipe: Recipe, names: str | Sequence[str] | None) -> list[str | None]:
    """The variants `names` picks (comma-separated or a list), in the order given; [None] (all) when empty.
    An unknown name is an error listing the recipe's variants."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    if not names:
        return [None]
    if unknown := [name for name in names if name not in recipe.sweep.variants]:
        raise RecipeError(
            f"{recipe.path}: no variant {', '.join(map(repr, unknown))}; variants: {', '.join(recipe.sweep.variants)}"
        )
    return list(dict.fromkeys(names))


def compile_run(
    recipe: Recipe,
    variant: str,
    grid_point: Mapping[str, Any],
    seed: int,
    overlay: Overlay | None = None,
    data_dir: str = DATA_DIR,
    results_root: str = RESULTS_DIR,
    checkpoints_root: str = CHECKPOINTS_DIR,
    profile: str | None = None,
) -> RunPlan:
    """One run of a recipe: its fields and overrides after every patch, its derived names and paths.

    `profile` replaces the recipe's hardware profile (launch.hardware.choose); run ids stay the same."""
    fields, verl_patches = _patched_fields(recipe, variant, grid_point, overlay)
    recipe_profile = fields["profile"]
    profile = load_profile(effective_profile(recipe_profile, profile))
    overrides = _merged_overrides(recipe, verl_patches, profile)
    template = get_template(fields["template"])
    label = overlay.label if overlay and overlay.label else variant
    run_id = _run_id(recipe.name, label, grid_point, seed)
    dirs = {"data_dir": data_dir, "results_root": results_root, "checkpoints_root": checkpoints_root}
    return RunPlan(
        run_id=run_id,
        recipe=recipe,
        variant=label,
        seed=seed,
        grid_point=dict(grid_point),
        model=fields["model"],
        task=fields["task"],
        val_tasks=tuple(fields["val_tasks"]),
        template=template.name,
        profile=profile,
        overrides={**overrides, **_derived_overrides(recipe, run_id, seed, fields, template, **dirs)},
        env=_run_env(recipe, label, seed, overlay),
        **dirs,
        extra_rollout_names=overlay.extra_rollout_names if overlay else (),
        reward_kwargs=dict(fields["reward_kwargs"]),
        ref_reset_every=_steps_between_resets(
            fields["ref_reset_every"], f"{recipe.path} variant {variant!r}"
        ),
        reproduce=overlay.reproduce
        if overlay
        else _make_train_command(
            recipe.name, variant, seed, grid_point, profile.name if profile.name != recipe_profile else None
        ),
    )


def _steps_between_resets(value: Any, where: str) -> int | None:
    """A patched `ref_reset_every` (the recipe's own is checked on load): a whole number of steps >= 1, or None."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise RecipeError(
        f"{where}: ref_reset_every must be a whole number of steps >= 1 (or null), got {value!r}"
    )


def _patched_fields(
    recipe: Recipe, variant: str, grid_point: Mapping[str, Any], overlay: Overlay | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The recipe's fields after variant, grid and overlay patches, and each patch's verl keys in order."""
    fields = recipe.model_dump(include=set(PATCHABLE_FIELDS))
    _reject_derived(recipe.overrides, str(recipe.path))
    patches = [
        (f"{recipe.path} variant {variant!r}", recipe.sweep.variants[variant]),
        (f"{recipe.path} grid", grid_point),
    ]
    verl_patches = []
    for where, patch in [*patches, *([(f"overlay {overlay.label!r}", overlay.patch)] if overlay else [])]:
        patch_fields, patch_overrides = _split_patch(patch, where)
        _reject_derived(patch_overrides, where)
        reward_kwargs = {**fields["reward_kwargs"], **patch_fields.pop("reward_kwargs", {})}
        fields.update(patch_fields, reward_kwargs=reward_kwargs)
        verl_patches.append(patch_overrides)
    return fields, verl_patches


def _merged_overrides(recipe: Recipe, verl_patches: list[dict[str, Any]], profile: Profile) -> dict[str, Any]:
    """Order: recipe, variant, grid, hardware profile, then a platform overlay (which replaces the hardware)."""
    overrides = dict(recipe.overrides)
    for patch_overrides in [*verl_patches[:2], profile.overrides, *verl_patches[2:]]:
        overrides.update(patch_overrides)
    overrides.update(_epochs_covering_steps(overrides))
    return overrides


def _run_id(recipe: str, label: str, grid_point: Mapping[str, Any], seed: int) -> str:
    """`<recipe>__<variant>[__<key><value>]__s<seed>`."""
    return "__".join(
        [recipe, label, *(f"{_short_key(k)}{_slug(v)}" for k, v in grid_point.items()), f"s{seed}"]
    )


def run_id(recipe: str, variant: str, seed: int, grid_point: Mapping[str, Any] | None = None) -> str:
    """A run's id, RL or distillation: `<recipe>__<variant>[__<key><value>]__s<seed>`."""
    return _run_id(recipe, variant, grid_point or {}, seed)


def run_dir(results_root: str | Path, recipe: str, run_id: str) -> Path:
    """Where a run's records live: <results>/<recipe>/runs/<run-id>/."""
    return Path(results_root) / recipe / "runs" / run_id


def checkpoint_dir(checkpoints_root: str | Path, recipe: str, run_id: str) -> Path:
    """Where a run's checkpoints live: <checkpoints>/<recipe>/<run-id>/."""
    return Path(checkpoints_root) / recipe / run_id


def _derived_overrides(
    recipe: Recipe,
    run_id: str,
    seed: int,
    fields: Mapping[str, Any],
    template,
    data_dir: str,
    results_root: str,
    checkpoints_root: str,
) -> dict[str, Any]:
    """The keys the launcher derives (DERIVED_KEYS): data files, model, template, reward, names, dirs, seeds."""
    run_dir = f"{results_root}/{recipe.name}/runs/{run_id}"
    return {
        "data.train_files": str(split_path(data_dir, fields["task"], template.name, "train")),
        "data.val_files": [
            str(split_path(data_dir, task, template.name, "test")) for task in fields["val_tasks"]
        ],
        "actor_rollout_ref.model.path": fields["model"],
        "critic.model.path": fields["model"],
        "actor_rollout_ref.model.custom_chat_template": template.chat_template,
        "reward.custom_reward_function.path": REWARD_FILE,
        "reward.custom_reward_function.name": REWARD_FUNCTION,
        **{
            f"+reward.custom_reward_function.reward_kwargs.{k}": v for k, v in fields["reward_kwargs"].items()
        },
        "trainer.project_name": recipe.name,
        "trainer.experiment_name": run_id,
        "trainer.logger": list(LOGGERS),
        "trainer.default_local_dir": f"{checkpoints_root}/{recipe.name}/{run_id}",
        "trainer.resume_mode": "auto",
        "trainer.rollout_data_dir": f"{run_dir}/rollouts",
        "trainer.validation_data_dir": f"{run_dir}/validation",
        **dict.fromkeys(SEED_KEYS, seed),
    }


def _run_env(recipe: Recipe, label: str, seed: int, overlay: Overlay | None) -> dict[str, str]:
    return {
        "WANDB_RUN_GROUP": recipe.name,
        "WANDB_TAGS": f"{label},s{seed}",
        **(overlay.env if overlay else {}),
    }


def _epochs_covering_steps(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """verl's loop runs `while epoch < total_epochs and step <= total_training_steps`: a step budget beyond
    one epoch of data stops silently at the epoch bound (no final validation, no final checkpoint). With a step
    budget, the steps are the limit: as many epochs as steps covers any data set of at least one batch."""
    steps = overrides.get("trainer.total_training_steps")
    if steps is None:
        return {}
    return {"trainer.total_epochs": max(int(overrides.get("trainer.total_epochs", 1)), int(steps))}


def _make_train_command(
    recipe: str, variant: str, seed: int, grid_point: Mapping[str, Any], profile: str | None = None
) -> str:
    chosen = f" PROFILE={profile}" if profile else ""
    if grid_point:  # `make train` selects by variant and seed only; a grid point runs within its sweep
        return f"make sweep RECIPE={recipe}{chosen}  # includes {variant}, grid point {dict(grid_point)}, seed {seed}"
    return f"make train RECIPE={recipe} VARIANT={variant} SEED={seed}{chosen}"


def compile_recipe(
    recipe: Recipe, variant: str | None = None, seed: int | None = None, **kwargs: Any
) -> list[RunPlan]:
    plans = [compile_run(recipe, v, point, s, **kwargs) for v, point, s in expand(recipe, variant, seed)]
    ids = [plan.run_id for plan in plans]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise RecipeError(f"{recipe.path}: grid values collapse to the same run id: {', '.join(duplicates)}")
    return plans


def render_plans(plans: Sequence[RunPlan]) -> str:
    header = f"# {len(plans)} run(s) of recipe {plans[0].recipe.name}; paths are relative to the repo root"
    return "\n\n".join([header, *(plan.render() for plan in plans)]) + "\n"
