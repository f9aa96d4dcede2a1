"""Math sets in verl's row format: GSM8K, MATH, MATH-500, AIME 2024 and AIME 2025.

Read from the hub with `datasets` (online), or from a local copy in the hub's own column layout given by
--source: one file (taken as the test split) or a directory of files named like the hub's splits
(`train-*.parquet`, `test.jsonl`, ...). The reference answer becomes the ground truth string: GSM8K's text
after `####` with thousands commas removed, MATH's last `\\boxed{...}` (nested braces kept), the `answer`
column for MATH-500 and AIME. Rows without an answer are left out and counted in meta.json; the hub's row id
(or split/row number where it has none) is kept as `extra_info.source_id`.

    python -m data_prep math --dataset gsm8k --out data/gsm8k
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from tqdm import tqdm

from data_prep.rows import BuildError, make_table, row_schema
from data_prep.sources import column, load_hub, read_source
from data_prep.templates import get_template, require_sentence_questions
from data_prep.writer import skip_if_complete, write_build

CONVERTER_VERSION = "math-v1"
ABILITY = "math"
SCHEMA = row_schema(
    pa.string(),
    [("source_id", pa.string()), ("question", pa.string()), ("level", pa.string()), ("subject", pa.string())],
)


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}) in `text`, nested braces kept; None if none."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start + len("\\boxed" if text.startswith("\\boxed", start) else "\\fbox") :]
    if rest.startswith(" "):  # MATH occasionally writes `\boxed 5$`
        token = rest.split("$", 1)[0].split()
        return token[0] if token else None
    if not rest.startswith("{"):
        return None
    depth = 0
    for position, character in enumerate(rest):
        depth += {"{": 1, "}": -1}.get(character, 0)
        if depth == 0:
            return rest[1:position].strip()
    return None


def gsm8k_answer(record: dict, origin: str) -> str | None:
    text = str(column(record, ("answer",), origin))
    return text.split("####")[-1].strip().replace(",", "") if "####" in text else None


def math_answer(record: dict, origin: str) -> str | None:
    return last_boxed(str(column(record, ("solution",), origin)))


def answer_column(record: dict, origin: str) -> str | None:
    answer = column(record, ("answer", "Answer"), origin)
    return None if answer is None or str(answer).strip() == "" else str(answer).strip()


@dataclass(frozen=True)
class MathSet:
    hub: str
    config: str | None
    splits: dict[str, str]  # our split -> the hub's split name (also the prefix of its files in --source)
    answer: Callable[[dict, str], str | None]
    id_columns: tuple[str, ...] = ()  # empty: the id is "<hub split>/<row number>"
    level_column: str | None = None
    subject_column: str | None = None


QUESTION_COLUMNS = ("problem", "question", "Problem", "Question")
SETS: dict[str, MathSet] = {
    "gsm8k": MathSet("openai/gsm8k", "main", {"train": "train", "test": "test"}, gsm8k_answer),
    "math": MathSet(
        # The original hendrycks/competition_math is gone from the hub; this is the copy verl's examples use.
        "DigitalLearningGmbH/MATH-lighteval",
        "default",
        {"train": "train", "test": "test"},
        math_answer,
        level_column="level",
        subject_column="type",
    ),
    "math500": MathSet(
        "HuggingFaceH4/MATH-500",
        None,
        {"test": "test"},
        answer_column,
        ("unique_id",),
        level_column="level",
        subject_column="subject",
    ),
    "aime24": MathSet("HuggingFaceH4/aime_2024", None, {"test": "train"}, answer_column, ("id", "ID")),
    "aime25": MathSet("math-ai/aime25", None, {"test": "test"}, answer_column, ("id", "ID")),
}


def _optional(record: dict, name: str | None) -> str | None:
    value = record.get(name) if name else None
    return None if value is None else str(value)


def convert(dataset: str, split: str, records: list[dict], origin: str) -> tuple[dict, dict]:
    """(columns for make_table, statistics) of one split's source records."""
    spec = SETS[dataset]
    columns: dict[str, list] = {
        key: [] for key in ("questions", "ground_truths", "source_id", "level", "subject")
    }
    skipped = 0
    for number, record in enumerate(tqdm(records, desc=f"{dataset} {split}", disable=None)):
        answer = spec.answer(record, origin)
        if answer is None:
            skipped += 1
            continue
        source_id = (
            column(record, spec.id_columns, origin) if spec.id_columns else f"{spec.splits[split]}/{number}"
        )
        columns["questions"].append(str(column(record, QUESTION_COLUMNS, origin)))
        columns["ground_truths"].append(answer)
        columns["source_id"].append(str(source_id))
        columns["level"].append(_optional(record, spec.level_column))
        columns["subject"].append(_optional(record, spec.subject_column))
    statistics = {
        "source_rows": len(records),
        "skipped_without_answer": skipped,
        "levels": dict(sorted(Counter(v for v in columns["level"] if v is not None).items())),
        "subjects": dict(sorted(Counter(v for v in columns["subject"] if v is not None).items())),
    }
    return columns, statistics


def build(
    out_dir: str | os.PathLike,
    *,
    dataset: str,
    source: str | None = None,
    template: str = "base",
    force: bool = False,
    if_missing: bool = False,
) -> dict:
    """Convert one math set (from the hub, or `source`) and write it to `out_dir`; returns the meta written."""
    arguments = {"dataset": dataset, "source": source, "template": template}
    if if_missing and (existing := skip_if_complete(out_dir, arguments)):
        return existing
    if dataset not in SETS:
        raise BuildError(f"--dataset {dataset!r} is unknown; known: {', '.join(SETS)}")
    try:
        prompt = require_sentence_questions(get_template(template), "the math sets")
    except ValueError as error:
        raise BuildError(f"--template: {error}") from None
    spec = SETS[dataset]
    if source is None:
        records = {
            split: load_hub(spec.hub, spec.config, hub_split) for split, hub_split in spec.splits.items()
        }
        origin = spec.hub
    else:
        records = read_source(source, spec.splits, file_split="test")
        origin = f"--source {source}"
    tables, statistics = {}, {}
    for split in [split for split in ("train", "test") if split in records]:
        columns, statistics[split] = convert(dataset, split, records[split], origin)
        if not columns["questions"]:
            raise BuildError(f"{origin}: no {split} row has a reference answer")
        # The raw problem is kept in extra_info too, for graders and for reading rollouts back.
        tables[split] = make_table(
            SCHEMA,
            data_source=dataset,
            ability=ABILITY,
            template=prompt,
            split=split,
            question=columns["questions"],
            **columns,
        )
    meta = {
        "task": dataset,
        "generator_version": CONVERTER_VERSION,
        "method": f"converted from {origin} ({spec.hub} column layout)",
        "arguments": arguments,
        "seed": None,
        "pyarrow": pa.__version__,
        "statistics": statistics,
    }
    return write_build(out_dir, tables, meta, force)
