"""Loads a recipe YAML (one recipe = one question), merges it over its base, and checks its schema.

A recipe names the model, task, prompt template, reward options, hardware profile, an optional reference-policy
reset (`ref_reset_every: N` steps, launch/ref_reset.py) and `overrides:` in verl's own dotted keys; `sweep:` holds named variants (small patches), an optional grid and the seeds; `doctor:`
overrides the run doctor's thresholds and names findings that stop the run (launch/doctor/rules.py);
`distill:` makes it a distillation recipe (teacher, filters, verl SFT keys): distill/schema.py checks the
section, distill/recipe.py turns it into runs; `stages:` makes it a multi-stage recipe (DeepSeek-R1's SFT and RL
stages in order): launch/stages/schema.py checks the list, launch/stages/plan.py turns it into pipelines.
Unknown fields and wrong types are errors naming the file and the field.

    python -m launch validate countdown-3b
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from launch.doctor.rules import DoctorSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES_DIR = REPO_ROOT / "recipes"
PROFILES_DIR = RECIPES_DIR / "profiles"

# Recipe fields a variant or grid may change besides verl keys (verl keys always contain a dot).
PATCHABLE_FIELDS = ("model", "template", "reward_kwargs", "task", "val_tasks", "profile", "ref_reset_every")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")

# Hardware profiles may only move memory/throughput knobs, so runs on different GPUs stay comparable.
PROFILE_KNOBS = {
    "n_gpus_per_node",
    "nnodes",
    "ppo_micro_batch_size_per_gpu",
    "log_prob_micro_batch_size_per_gpu",
    "forward_micro_batch_size_per_gpu",
    "ppo_max_token_len_per_gpu",
    "ppo_infer_max_token_len_per_gpu",
    "log_prob_max_token_len_per_gpu",
    "forward_max_token_len_per_gpu",
    "param_offload",
    "optimizer_offload",
    "offload_policy",
    "tensor_model_parallel_size",
    "gpu_memory_utilization",
    "max_num_batched_tokens",
    "max_num_seqs",
    "enforce_eager",
    "free_cache_engine",
    "enable_gradient_checkpointing",
    "ulysses_sequence_parallel_size",
}


class RecipeError(ValueError):
    """A recipe or profile that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sweep(_Strict):
    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"default": {}})
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [1])

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, variants):
        if not variants:
            raise ValueError("a sweep needs at least one variant (`default: {}` runs the recipe as written)")
        for name in variants:
            if not _NAME.fullmatch(name) or "__" in name:
                raise ValueError(f"variant name {name!r}: use lower-case letters, digits, '_', '-', '.'")
        return variants

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds):
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds}")
        return seeds


class RecipeFile(_Strict):
    """One YAML file as written; a base recipe may leave any field unset."""

    base: str | None = None
    question: str | None = None
    model: str | None = None
    task: str | None = None
    val_tasks: list[str] | None = None
    template: str | None = None
    reward_kwargs: dict[str, Any] = Field(default_factory=dict)
    profile: str | None = None
    # Steps between reference-policy resets (launch/ref_reset.py); none: the reference stays the base model.
    ref_reset_every: int | None = Field(default=None, gt=0)
    overrides: dict[str, Any] = Field(default_factory=dict)
    sweep: Sweep | None = None
    doctor: DoctorSettings | None = None
    distill: dict[str, Any] | None = None  # a distillation recipe's section: distill.schema checks it
    stages: list[dict[str, Any]] | None = (
        None  # a multi-stage recipe's stages: launch.stages.schema checks them
    )


class Recipe(_Strict):
    """A recipe merged over its bases, every required field present."""

    name: str
    path: Path
    question: str
    model: str
    task: str
    val_tasks: list[str]
    template: str
    reward_kwargs: dict[str, Any]
    profile: str
    ref_reset_every: int | None = Field(default=None, gt=0)
    overrides: dict[str, Any]
    sweep: Sweep
    doctor: DoctorSettings = Field(default_factory=DoctorSettings)
    distill: dict[str, Any] | None = None  # a distillation recipe's section: distill.schema checks it
    stages: list[dict[str, Any]] | None = (
        None  # a multi-stage recipe's stages: launch.stages.schema checks them
    )
    sha256: str


class Profile(_Strict):
    name: str
    sized_for: str
    # Memory of each GPU the profile is sized for (decimal GB): what the estimate checks a run against and
    # what launch.hardware matches nvidia-smi against. None: not a GPU profile (cpu).
    gpu_memory_gb: float | None = None
    overrides: dict[str, Any]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise RecipeError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping, got {type(data).__name__}")
    return data


def _describe(error: ValidationError, path: Path) -> str:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    return f"{path}: {problems}"


def recipe_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return candidate.resolve()
    path = RECIPES_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise RecipeError(f"no recipe {name_or_path!r}; shipped recipes: {', '.join(list_recipes())}")
    return path


def list_recipes() -> list[str]:
    """Runnable recipes: every YAML in recipes/ that declares a question (bases do not)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml") if "question" in _read_yaml(p))


def _load_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise RecipeError(f"{path}: base chain loops: {' -> '.join(str(p.name) for p in (*seen, path))}")
    raw = _read_yaml(path)
    try:
        RecipeFile.model_validate(raw)
    except ValidationError as error:
        raise RecipeError(_describe(error, path)) from None
    if not raw.get("base"):
        return raw
    parent = _load_chain((path.parent / raw["base"]).resolve(), (*seen, path))
    merged = {**parent, **raw}
    # A child's doctor entry replaces its base's entry of the same name (e.g. all of `no-signal:`).
    for mapping_field in ("overrides", "reward_kwargs", "doctor"):
        merged[mapping_field] = {**parent.get(mapping_field, {}), **raw.get(mapping_field, {})}
    return merged


def load_recipe(name_or_path: str) -> Recipe:
    path = recipe_path(name_or_path)
    merged = _load_chain(path)
    merged.pop("base", None)
    merged.setdefault("val_tasks", [merged.get("task")])
    merged.setdefault("sweep", {})
    digest = hashlib.sha256()
    for file in sorted({path, *_chain_files(path)}):
        digest.update(file.read_bytes())
    try:
        return Recipe.model_validate(
            {**merged, "name": path.stem, "path": path, "sha256": digest.hexdigest()}
        )
    except ValidationError as error:
        raise RecipeError(_describe(error, path)) from None


def _chain_files(path: Path) -> list[Path]:
    files, current = [], path
    while (base := _read_yaml(current).get("base")) is not None:
        current = (current.parent / base).resolve()
        files.append(current)
    return files


def load_profile(name: str) -> Profile:
    path = PROFILES_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise RecipeError(f"no hardware profile {name!r} in {PROFILES_DIR}; known: {known}")
    raw = _read_yaml(path)
    try:
        profile = Profile.model_validate({"name": name, **raw})
    except ValidationError as error:
        raise RecipeError(_describe(error, path)) from None
    for key in profile.overrides:
        if key.rpartition(".")[2] not in PROFILE_KNOBS:
            raise RecipeError(
                f"{path}: '{key}' is not a memory/throughput knob; a profile may only set keys ending in "
                f"{', '.join(sorted(PROFILE_KNOBS))} (results must stay comparable across GPUs)"
            )
    return profile
