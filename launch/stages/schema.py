"""A recipe's `stages:`, checked: ordered SFT and RL stages, each starting from the base or an earlier stage.

Each stage has a `name` and a `kind`:
- `rl`: a run as a single-run recipe's, with `overrides:` (verl's dotted keys) and `reward_kwargs:` on top of
  the recipe's;
- `sft`: verl's SFT trainer, written as a distillation recipe's `distill:` section (distill/schema.py: `sft:`
  keys, `eval:`, sampling and filters), its traces from `data:` (an SFT parquet) or sampled from an earlier
  stage's model (`teacher_stage:`, rejection sampling as distill does it). distill checks those fields.
`from:` says which model a stage trains: `previous` (the default: the previous stage's last checkpoint,
converted as `launch eval` converts it; the recipe's model for the first stage), `base` (the recipe's model:
R1's stage 3 trains a fresh copy of the base) or the name of an earlier stage.

A variant may run a subset of the stages, in the recipe's order: `variants: {v: {only_stages: [name, ...]}}`
(R1's arms in one recipe: R1-Zero is the RL stage alone, the full recipe every stage). The selected stages are
numbered in their own order, and `previous` means the previous selected stage (the base for the first); a
`from:` or `teacher_stage:` naming a stage the variant leaves out is an error.
A variant patches a stage by name: `variants: {v: {stages: {stage-name: {key: value}}}}`. For an RL stage the
patch holds verl dotted keys and `reward_kwargs` (applied after the variant's own top-level keys); for an SFT
stage, dotted keys go into its `sft:` keys, `eval` is merged and any other field replaces the stage's. A
variant's top-level `model` is the pipeline's base; its other top-level keys apply to every RL stage.

    python -m pytest tests/launch/test_stages.py -q
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from launch.recipe import Recipe, RecipeError

RL, SFT = "rl", "sft"
KINDS = (RL, SFT)
BASE, PREVIOUS = "base", "previous"
STAGE_FIELDS = ("name", "kind", "from")
RL_FIELDS = ("overrides", "reward_kwargs")
# What a variant may set besides verl keys and reward options in a multi-stage recipe.
VARIANT_FIELDS = ("stages", "model", "template", "only_stages")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


@dataclass(frozen=True)
class Stage:
    index: int  # 1-based position in the recipe
    name: str
    kind: str  # RL or SFT
    start: str  # BASE, or the name of the earlier stage whose model this stage trains
    overrides: Mapping[str, Any] = field(default_factory=dict)  # rl: verl keys over the recipe's
    reward_kwargs: Mapping[str, Any] = field(default_factory=dict)  # rl: reward options over the recipe's
    variant_patch: Mapping[str, Any] = field(default_factory=dict)  # rl: the variant's keys for this stage
    section: Mapping[str, Any] = field(default_factory=dict)  # sft: the stage as a distill section
    teacher_stage: str | None = None  # sft: the earlier stage whose model the traces are sampled from

    @property
    def dir_name(self) -> str:
        """`<nn>-<name>`: the stage's directory under its pipeline's records and checkpoints."""
        return f"{self.index:02d}-{self.name}"

    @property
    def label(self) -> str:
        return f"stage {self.index} {self.name!r} ({self.kind})"


def is_multi_stage(recipe: Recipe) -> bool:
    return recipe.stages is not None


def stages_of(recipe: Recipe, variant: str) -> tuple[Stage, ...]:
    """The recipe's stages for `variant`, every reference checked; RecipeError names the file, stage, field."""
    where = str(recipe.path)
    _check_recipe(recipe)
    if variant not in recipe.sweep.variants:
        raise RecipeError(f"{where}: no variant {variant!r}; variants: {', '.join(recipe.sweep.variants)}")
    patches = _variant_stage_patches(recipe, variant)
    names = [raw.get("name") for raw in recipe.stages if isinstance(raw, dict)]
    selected = _selected_stages(recipe, variant, names)
    run_names = [raw.get("name") for raw in selected]
    stages: list[Stage] = []
    for index, raw in enumerate(selected, start=1):
        stage = _stage(
            where, index, raw, [s.name for s in stages], names, run_names, patches.pop(raw.get("name"), {})
        )
        stages.append(stage)
    if patches:
        raise RecipeError(
            f"{where}: variant {variant!r} patches stage(s) {', '.join(map(repr, patches))} the recipe does not "
            f"have; its stages: {', '.join(s.name for s in stages)}"
        )
    return tuple(stages)


def _check_recipe(recipe: Recipe) -> None:
    where = str(recipe.path)
    if recipe.stages is None:
        raise RecipeError(f"{where}: no stages: list, so not a multi-stage recipe")
    if not recipe.stages:
        raise RecipeError(f"{where}: stages: is empty; a multi-stage recipe lists at least one stage")
    if recipe.distill is not None:
        raise RecipeError(
            f"{where}: has both distill: and stages:; an SFT stage takes the distill fields itself (kind: sft)"
        )
    if recipe.sweep.grid:
        raise RecipeError(f"{where}: a multi-stage recipe runs variants x seeds; sweep.grid is not supported")


def _selected_stages(recipe: Recipe, variant: str, names: list) -> list:
    """The recipe's stages the variant runs (its `only_stages`, all by default), in the recipe's order."""
    only = recipe.sweep.variants[variant].get("only_stages")
    if only is None:
        return list(recipe.stages)
    where = f"{recipe.path} variant {variant!r}"
    if not isinstance(only, list) or not only or not all(isinstance(name, str) for name in only):
        raise RecipeError(f"{where}: only_stages: lists stage names, got {only!r}")
    unknown = [name for name in only if name not in names]
    if unknown or len(set(only)) != len(only):
        raise RecipeError(
            f"{where}: only_stages: {', '.join(map(repr, unknown)) or 'a name twice'}; the stages are "
            f"{', '.join(map(str, names))}"
        )
    return [raw for raw in recipe.stages if isinstance(raw, dict) and raw.get("name") in only]


def _variant_stage_patches(recipe: Recipe, variant: str) -> dict[str, dict[str, Any]]:
    patch = recipe.sweep.variants[variant]
    where = f"{recipe.path} variant {variant!r}"
    for key in patch:
        if "." not in key and key not in (*VARIANT_FIELDS, "reward_kwargs"):
            raise RecipeError(
                f"{where}: '{key}' is neither a verl dotted key nor one of {', '.join((*VARIANT_FIELDS, 'reward_kwargs'))}"
            )
    stage_patches = patch.get("stages") or {}
    if not isinstance(stage_patches, dict) or not all(isinstance(v, dict) for v in stage_patches.values()):
        raise RecipeError(f"{where}: stages: maps a stage name to a patch dict, got {stage_patches!r}")
    return {name: dict(p) for name, p in stage_patches.items()}


def _stage(
    where: str,
    index: int,
    raw: Any,
    earlier: list[str],
    all_names: list,
    run_names: list,
    patch: dict[str, Any],
) -> Stage:
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: stage {index} must be a mapping with name: and kind:, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or "__" in name:
        raise RecipeError(
            f"{where}: stage {index} name {name!r}: use lower-case letters, digits, '_' and '-'"
        )
    label = f"{where}: stage {index} {name!r}"
    if name in earlier:
        raise RecipeError(f"{label}: another stage already has this name")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RecipeError(f"{label}: kind {kind!r}: use one of {', '.join(KINDS)}")
    names = (all_names, run_names)
    start = _reference(label, "from", raw.get("from", PREVIOUS), earlier, names, base_ok=True)
    body = {key: value for key, value in raw.items() if key not in STAGE_FIELDS}
    if kind == RL:
        return _rl_stage(label, index, name, start, body, patch)
    body = _patched_sft(label, body, patch)
    teacher_stage = body.pop("teacher_stage", None)
    if teacher_stage is not None:
        _reference(label, "teacher_stage", teacher_stage, earlier, names, base_ok=False)
    return Stage(index, name, SFT, start, section=body, teacher_stage=teacher_stage)


def _reference(
    label: str, key: str, value: Any, earlier: list[str], names: tuple[list, list], base_ok: bool
) -> str:
    """A stage's `from:` or `teacher_stage:` resolved to BASE or an earlier stage's name; `names`: the
    recipe's stage names and those the variant runs."""
    if base_ok and value == PREVIOUS:
        return earlier[-1] if earlier else BASE
    if base_ok and value == BASE:
        return BASE
    if value in earlier:
        return value
    allowed = ([BASE, PREVIOUS] if base_ok else []) + earlier
    all_names, run_names = names
    why = "no stage has that name"
    if value in run_names:
        why = "it comes at or after this stage"
    elif value in all_names:
        why = "this variant's only_stages leaves it out"
    raise RecipeError(
        f"{label}: {key}: {value!r} must name an earlier stage, whose last checkpoint it reads ({why}); "
        f"allowed: {', '.join(allowed) or 'none (this is the first stage)'}"
    )


def _rl_stage(label: str, index: int, name: str, start: str, body: dict, patch: dict) -> Stage:
    extra = sorted(set(body) - set(RL_FIELDS))
    if extra:
        raise RecipeError(
            f"{label}: an rl stage takes {', '.join(RL_FIELDS)} (verl keys and reward options), not {', '.join(extra)}"
        )
    overrides, reward_kwargs = body.get("overrides") or {}, body.get("reward_kwargs") or {}
    for key, value in (("overrides", overrides), ("reward_kwargs", reward_kwargs)):
        if not isinstance(value, dict):
            raise RecipeError(f"{label}: {key}: must be a mapping, got {value!r}")
    undotted = [key for key in overrides if "." not in key]
    if undotted:
        raise RecipeError(f"{label}: overrides: '{undotted[0]}' is not a verl dotted key")
    bad = [key for key in patch if "." not in key and key != "reward_kwargs"]
    if bad:
        raise RecipeError(
            f"{label}: a variant's patch of an rl stage holds verl dotted keys and reward_kwargs, not '{bad[0]}'"
        )
    return Stage(index, name, RL, start, dict(overrides), dict(reward_kwargs), variant_patch=patch)


def _patched_sft(label: str, body: dict, patch: dict) -> dict:
    """An SFT stage's section with a variant's patch: dotted keys into `sft:`, `eval` merged, the rest replaced."""
    section = {**body, "sft": dict(body.get("sft") or {})}
    for key, value in patch.items():
        if "." in key:
            section["sft"][key] = value
        elif key == "eval" and isinstance(value, dict) and isinstance(section.get("eval"), dict):
            section["eval"] = {**section["eval"], **value}
        else:
            section[key] = value
    return section
