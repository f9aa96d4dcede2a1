"""Reject: keep a teacher's response only if the rule reward accepts it, then pick at most m per prompt.

The filters run in a fixed order and each one's survivors are counted, so a build says where its traces
were lost: `sampled` -> `correct` (the reward's `acc` is 1) -> `strict_format` (the reward's
`format_strict` is 1; on by default: a student copies the format it is shown) -> `consistent` (with a
`target_language`, only chains of thought whose every word is in it, rewards.language's count: R1 dropped
mixed-language CoTs from its rejection-sampled data; off by default, when every trace passes) -> `unique` (exact duplicates
of a prompt's responses dropped, after stripping outer whitespace) -> `kept` (at most `max_per_prompt`,
chosen `shortest` first, Kimi k1.5's long2short, or at `random` with a seed). Pure: no I/O, no global
randomness, the same inputs give the same choice.

    python -m pytest tests/distill/test_reject.py -q
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rewards.language import TARGET_LANGUAGES, cot_language_share

CHOICES = ("shortest", "random")
STAGES = ("sampled", "correct", "strict_format", "consistent", "unique", "kept")


@dataclass(frozen=True)
class Filters:
    strict_format: bool = True
    dedup: bool = True
    max_per_prompt: int | None = None  # None: every accepted response
    choice: str = "shortest"
    seed: int = 0
    target_language: str | None = None  # None: no language filter

    def __post_init__(self) -> None:
        if self.choice not in CHOICES:
            raise ValueError(f"--choice {self.choice!r}: use one of {', '.join(CHOICES)}")
        if self.target_language is not None and self.target_language not in TARGET_LANGUAGES:
            raise ValueError(
                f"--target-language {self.target_language!r}: use one of {', '.join(TARGET_LANGUAGES)}"
            )
        if self.max_per_prompt is not None and self.max_per_prompt < 1:
            raise ValueError(f"--max-per-prompt must be at least 1, got {self.max_per_prompt}")

    def as_record(self) -> dict:
        record = asdict(self)
        if self.target_language is None:
            # Builds made before the language filter recorded no such key: they stay the same build.
            del record["target_language"]
        return record

    def consistent(self, candidate: Candidate) -> bool:
        if self.target_language is None:
            return True
        return cot_language_share(candidate.response, self.target_language) == 1.0


@dataclass(frozen=True)
class Candidate:
    """One sampled response of one prompt with the reward's components for it."""

    prompt_id: int
    sample: int
    response: str
    reward: dict


def _choose(candidates: list[Candidate], filters: Filters) -> list[Candidate]:
    if filters.choice == "shortest":
        # Sample index breaks ties, so equal lengths keep sampling order.
        ordered = sorted(candidates, key=lambda c: (len(c.response), c.sample))
    else:
        ordered = list(candidates)
        if ordered:
            # Seeded per prompt, so a prompt's choice does not depend on which other prompts are in the build.
            random.Random(f"{filters.seed}:{ordered[0].prompt_id}").shuffle(ordered)
    return ordered if filters.max_per_prompt is None else ordered[: filters.max_per_prompt]


def reject(groups: Sequence[Sequence[Candidate]], filters: Filters) -> tuple[list[Candidate], dict]:
    """(kept candidates, prompt by prompt in input order; counts) for one prompt's candidates per group.

    counts: {"responses": {stage: n}, "prompts": {stage: prompts with at least one left}} over STAGES.
    """
    responses = dict.fromkeys(STAGES, 0)
    prompts = dict.fromkeys(STAGES, 0)
    kept: list[Candidate] = []
    for group in groups:
        stages = {"sampled": list(group)}
        stages["correct"] = [c for c in stages["sampled"] if c.reward.get("acc") == 1]
        stages["strict_format"] = [
            c for c in stages["correct"] if not filters.strict_format or c.reward.get("format_strict") == 1
        ]
        stages["consistent"] = [c for c in stages["strict_format"] if filters.consistent(c)]
        unique, seen = [], set()
        for candidate in stages["consistent"]:
            text = candidate.response.strip()
            if filters.dedup and text in seen:
                continue
            seen.add(text)
            unique.append(candidate)
        stages["unique"] = unique
        stages["kept"] = _choose(unique, filters)
        for stage in STAGES:
            responses[stage] += len(stages[stage])
            prompts[stage] += bool(stages[stage])
        kept += stages["kept"]
    return kept, {"responses": responses, "prompts": prompts}


def acceptance(counts: dict) -> dict:
    """Shares of sampled responses and of prompts that survived to `kept`."""
    responses, prompts = counts["responses"], counts["prompts"]
    return {
        "responses": round(responses["kept"] / responses["sampled"], 4) if responses["sampled"] else 0.0,
        "prompts": round(prompts["kept"] / prompts["sampled"], 4) if prompts["sampled"] else 0.0,
    }
