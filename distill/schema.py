"""A recipe's `distill:` section, checked: the teacher, the sampling and filters, the student's SFT keys, the eval.

launch's recipe loader keeps the section as written (a recipe with one is a distillation recipe); distill
reads it through `section_of`, so a missing field, an unknown one or a wrong type is an error naming the
recipe file and the field, as for any recipe field.

    python -m distill validate countdown-distill
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from launch.recipe import Recipe, RecipeError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistillEval(_Strict):
    n: int
    temperature: float
    top_p: float
    max_tokens: int


class DistillSection(_Strict):
    """A recipe's `distill:` section; distill/recipe.py turns it into runs."""

    teacher: str | None = None
    teacher_run: str | None = None
    k: int
    temperature: float
    top_p: float
    max_tokens: int
    strict_format: bool
    dedup: bool
    max_per_prompt: int | None
    choice: str
    # Keep only chains of thought all in this language (distill.reject's `consistent` filter); None: no filter.
    target_language: str | None = None
    max_prompts: int | None = None
    sft: dict[str, Any] = Field(default_factory=dict)
    eval: DistillEval

    @model_validator(mode="after")
    def _one_teacher(self):
        if (self.teacher is None) == (self.teacher_run is None):
            raise ValueError(
                "name exactly one of teacher (a model or checkpoint) and teacher_run (an RL run id)"
            )
        return self


class SftDataSection(_Strict):
    """SFT on traces already written (a multi-stage recipe's cold-start stage, launch/stages/): no teacher to
    sample. `data` is an SFT parquet as distill.write writes it (`<build>/train.parquet`: rows holding a
    `messages` list), relative to the repo root or absolute."""

    data: str
    sft: dict[str, Any] = Field(default_factory=dict)
    eval: DistillEval


def section_of(recipe: Recipe) -> DistillSection:
    """The recipe's checked `distill:` section; RecipeError when it has none or it does not check."""
    if recipe.distill is None:
        raise RecipeError(f"{recipe.path}: no distill: section, so not a distillation recipe")
    try:
        return DistillSection.model_validate(recipe.distill)
    except ValidationError as error:
        problems = "; ".join(
            f"distill.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise RecipeError(f"{recipe.path}: {problems}") from None
