"""A run's rollout dumps in a few kilobytes: rollout_digest.json, committed beside run.json.

verl dumps every sampled response (trainer.rollout_data_dir: rollouts/<step>.jsonl, else
trainer.validation_data_dir: validation/<step>.jsonl; rows {"input", "output", "gts", "score", "step", ...}).
Those dumps stay out of git (megabytes per run); the digest keeps, per step, what the report's aha view
draws from them: how many responses, how many self-verify, search and self-correct, the reward they got, the
histogram of their lengths in characters (so pooled percentiles over seeds stay exact) and, for steps spread
over the run, the best-scored response with and without self-verification, and with a self-correction. It is written at the end of every
attempt (launch.records.finish_attempt) and on demand by `python -m launch digest RUN_DIR`.

Counting rules (the single home of them): a response self-verifies when the row's `has_verify` /
`verify_phrases` reward keys say so, else when the rewards' phrase list (rewards/behaviour.py) finds a
phrase in its text (verl 0.9.1's default trainer dumps rows without reward extra info); it self-corrects
when the `has_self_correct` / `self_corrections` keys say so, else when rewards.behaviour finds a step
caught and rewritten after "wait" in its text; it mixes languages when its `lang_consistency` reward key
(rewards/language.py, for the run's target language) is below 1, else when its chain of thought is not all
English; it searches when it has the word "try" (or 试, the language miniature's:
rewards.behaviour.count_search_steps); its length is `response_chars` when present, else the length of its
text. Digests written before self-corrections were counted have no `correcting` field; the report then shows
no self-correction figures for them. Digests written before mixing was counted have no `mixing` field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewards.behaviour import count_search_steps, count_self_corrections, count_verify_phrases
from rewards.language import cot_language_share

DIGEST_FILE = "rollout_digest.json"
DUMP_FOLDERS = ("rollouts", "validation")  # the first with dumps is digested
EXAMPLE_CHARS = 1200  # an example's text is kept up to here (the report shows no more)
EXAMPLE_STEPS = 32  # steps that keep examples, spread evenly over the run (first and last included)
EXAMPLE_KINDS = ("plain", "verify", "correct")  # without / with self-verification; with a self-correction


def is_verifying(row: dict) -> bool:
    if isinstance(row.get("has_verify"), (bool, int, float)):
        return bool(row["has_verify"])
    if isinstance(row.get("verify_phrases"), (int, float)):
        return row["verify_phrases"] > 0
    return count_verify_phrases(str(row.get("output", ""))) > 0


def is_mixing(row: dict) -> bool:
    """Whether the response's chain of thought is not all in the run's target language: the row's
    `lang_consistency` reward key below 1, else (a row without it) its chain of thought not all English."""
    value = row.get("lang_consistency")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value < 1
    return cot_language_share(str(row.get("output", "")), "en") < 1


def is_self_correcting(row: dict) -> bool:
    if isinstance(row.get("has_self_correct"), (bool, int, float)):
        return bool(row["has_self_correct"])
    if isinstance(row.get("self_corrections"), (int, float)):
        return row["self_corrections"] > 0
    return count_self_corrections(str(row.get("output", ""))) > 0


@dataclass
class StepDigest:
    """One step's responses, counted; `length_counts` maps a length in characters to how many had it."""

    step: int
    responses: int = 0
    verifying: int = 0
    searching: int = 0
    correcting: int = 0
    mixing: int = 0  # language mixing: R1-Zero's flaw that R1's language-consistency reward targets
    rewarded: int = 0  # score > 0 less the language bonus (for a control run: its coin, not correctness)
    score_sum: float = 0.0
    length_counts: dict[int, int] = field(default_factory=dict)
    examples: dict[str, dict] = field(default_factory=dict)  # kind -> {"score", "output", "truncated"}

    def add(self, row: dict) -> None:
        output = str(row.get("output", ""))
        chars = row.get("response_chars")
        length = int(chars) if isinstance(chars, (int, float)) else len(output)
        score = row.get("score") if isinstance(row.get("score"), (int, float)) else None
        self.responses += 1
        self.length_counts[length] = self.length_counts.get(length, 0) + 1
        self.searching += count_search_steps(output) > 0
        self.mixing += is_mixing(row)
        # The language reward (lang_bonus) pays for words, not answers: "rewarded" counts the rest of the score.
        self.rewarded += score is not None and score - float(row.get("lang_bonus") or 0.0) > 0
        self.score_sum += score or 0.0
        verifying = is_verifying(row)
        self.verifying += verifying
        self.keep_example("verify" if verifying else "plain", score, output)
        if is_self_correcting(row):
            self.correcting += 1
            self.keep_example("correct", score, output)

    def keep_example(self, kind: str, score: float | None, output: str) -> None:
        """The highest-scored response of its kind; the first one seen wins a tie."""
        current = self.examples.get(kind)
        if current is None or example_score(score) > example_score(current["score"]):
            self.examples[kind] = {
                "score": score,
                "output": output[:EXAMPLE_CHARS],
                "truncated": len(output) > EXAMPLE_CHARS,
            }

    def as_record(self) -> dict[str, Any]:
        lengths = sorted(self.length_counts)
        return {
            "step": self.step,
            "responses": self.responses,
            "verifying": self.verifying,
            "searching": self.searching,
            "correcting": self.correcting,
            "mixing": self.mixing,
            "rewarded": self.rewarded,
            "score_mean": round(self.score_sum / self.responses, 6),
            "length_mean": round(sum(k * n for k, n in self.length_counts.items()) / self.responses, 2),
            "length_median": median_of_counts(self.length_counts),
            "length_counts": [[length, self.length_counts[length]] for length in lengths],
            "examples": self.examples,
        }


def example_score(score: float | None) -> float:
    return float("-inf") if score is None else score


def median_of_counts(counts: dict[int, int]) -> float:
    lengths = sorted(counts)
    return float(np.median(np.repeat(lengths, [counts[length] for length in lengths])))


def dump_files(run_dir: Path) -> tuple[str | None, list[Path]]:
    for folder in DUMP_FOLDERS:
        files = sorted((run_dir / folder).glob("*.jsonl"))
        if files:
            return folder, files
    return None, []


def digest_dumps(run_dir: Path) -> dict[str, Any] | None:
    """The digest of a run dir's dumps (None when it has none): the record written as rollout_digest.json."""
    folder, files = dump_files(run_dir)
    if folder is None:
        return None
    steps: dict[int, StepDigest] = {}
    skipped: list[str] = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:  # streamed: dumps can be large
            for number, line in enumerate(lines, 1):
                try:
                    row = json.loads(line)
                    step = int(row.get("step", path.stem))
                except (ValueError, TypeError, AttributeError):
                    skipped.append(f"{folder}/{path.name} line {number}")
                    continue
                steps.setdefault(step, StepDigest(step)).add(row)
    ordered = [steps[step] for step in sorted(steps)]
    keep = example_steps([digest.step for digest in ordered])
    records = []
    for digest in ordered:
        record = digest.as_record()
        if digest.step not in keep:
            record["examples"] = {}
        records.append(record)
    return {"source": folder, "dump_files": len(files), "skipped_lines": skipped, "steps": records}


def example_steps(steps: list[int]) -> set[int]:
    """Up to EXAMPLE_STEPS of `steps` (sorted), evenly spread, first and last included: all of a short run."""
    if len(steps) <= EXAMPLE_STEPS:
        return set(steps)
    last = len(steps) - 1
    return {steps[round(i * last / (EXAMPLE_STEPS - 1))] for i in range(EXAMPLE_STEPS)}


def write_digest(run_dir: Path) -> Path | None:
    """Writes run_dir/rollout_digest.json from the dumps (one step per line); None when there are none."""
    digest = digest_dumps(run_dir)
    if digest is None:
        return None
    head = {key: value for key, value in digest.items() if key != "steps"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "steps": [']
    lines.append(",\n".join(json.dumps(step, sort_keys=True) for step in digest["steps"]))
    lines.append("]}")
    path = run_dir / DIGEST_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read_digest(run_dir: Path) -> dict[str, Any] | None:
    """The run's rollout_digest.json, or None when it has none."""
    path = run_dir / DIGEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
