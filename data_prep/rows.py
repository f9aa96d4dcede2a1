"""The verl 0.9.1 row contract every ZeroLab data set follows, and its fixed Arrow schemas.

A row is `data_source` (the reward registry keys on it), `prompt` (chat messages), `ability`,
`reward_model: {"style": "rule", "ground_truth": ...}` and `extra_info: {"split", "index", "template", ...}`.
The schemas are written out field by field (never inferred) so the same rows always give the same parquet
bytes, and a task cannot drift from the shape its reward reads.

    python -m data_prep countdown --out data/countdown     # writes rows through these schemas
"""

from __future__ import annotations

import pyarrow as pa

from data_prep.templates import PromptTemplate


class BuildError(ValueError):
    """Bad input for a build: the message names the argument, key or file at fault."""


PROMPT_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
# Countdown and 24-point share one ground truth shape, so their rewards share one arithmetic core.
# Equal to the parquet row group size, so each row group is written from one contiguous slice and the
# bytes depend only on the rows, not on how the table was assembled.
ROWS_PER_SLICE = 65536
ARITHMETIC_TRUTH_TYPE = pa.struct([("target", pa.int64()), ("numbers", pa.list_(pa.int64()))])


def row_schema(ground_truth_type: pa.DataType, extra_fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    extra_info = [("split", pa.string()), ("index", pa.int64()), ("template", pa.string()), *extra_fields]
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", PROMPT_TYPE),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", ground_truth_type)])),
            ("extra_info", pa.struct(extra_info)),
        ]
    )


def make_table(
    schema: pa.Schema,
    *,
    data_source: str,
    ability: str,
    template: PromptTemplate,
    split: str,
    questions: list[str],
    ground_truths: list,
    **extra_columns: list,
) -> pa.Table:
    """The rows of one split, built column by column (several times faster than converting row dicts).

    Row i is `questions[i]` rendered by `template`, with `ground_truths[i]` and, in `extra_info`, the split,
    its index i, the template name and `extra_columns[name][i]` for each task field the schema declares
    (all of them, no others).
    """
    extra_info_type = schema.field("extra_info").type
    declared = [field.name for field in extra_info_type][3:]
    if sorted(declared) != sorted(extra_columns):
        raise ValueError(f"extra_info columns {sorted(extra_columns)} do not match the schema's {declared}")
    roles = [message["role"] for message in template.messages("")]
    batches = []
    # In slices, so the rendered prompt strings of only one slice are alive at a time.
    for start in range(0, len(questions), ROWS_PER_SLICE):
        stop = min(start + ROWS_PER_SLICE, len(questions))
        count = stop - start
        contents = [m["content"] for question in questions[start:stop] for m in template.messages(question)]
        prompt = pa.ListArray.from_arrays(
            pa.array(range(0, count * len(roles) + 1, len(roles)), pa.int32()),
            pa.StructArray.from_arrays(
                [pa.array(roles * count, pa.string()), pa.array(contents, pa.string())],
                fields=list(PROMPT_TYPE.value_type),
            ),
            type=PROMPT_TYPE,
        )
        reward_type = schema.field("reward_model").type
        reward_model = pa.StructArray.from_arrays(
            [
                pa.array(["rule"] * count, pa.string()),
                pa.array(ground_truths[start:stop], reward_type.field("ground_truth").type),
            ],
            fields=list(reward_type),
        )
        fixed = {"split": [split] * count, "index": range(start, stop), "template": [template.name] * count}
        extra_info = pa.StructArray.from_arrays(
            [
                pa.array(fixed[f.name] if f.name in fixed else extra_columns[f.name][start:stop], f.type)
                for f in extra_info_type
            ],
            fields=list(extra_info_type),
        )
        batches.append(
            pa.RecordBatch.from_arrays(
                [
                    pa.array([data_source] * count, pa.string()),
                    prompt,
                    pa.array([ability] * count, pa.string()),
                    reward_model,
                    extra_info,
                ],
                schema=schema,
            )
        )
    return pa.Table.from_batches(batches, schema=schema)


def summarise(values: list[int]) -> dict[str, float | int]:
    """min / max / mean of a non-empty list, for meta.json statistics."""
    return {"min": min(values), "max": max(values), "mean": round(sum(values) / len(values), 3)}
