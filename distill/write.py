"""Write: the kept traces as an SFT parquet verl 0.9.1's SFT trainer reads, plus `meta.json`.

Each row is one trace: `messages` = the student's prompt messages (the student split's row with the same
`extra_info.index`) followed by `{"role": "assistant", "content": <teacher response>}`, the column
`verl.utils.dataset.multiturn_sft_dataset.MultiTurnSFTDataset` reads (`data.messages_key: messages`). It
renders each message with the tokenizer's chat template and trains on the assistant turn only. A plain-text
template's pass-through would render no end of sequence, and a student that never saw one never stops:
SFT_PASS_THROUGH_CHAT_TEMPLATE renders the same text and closes the assistant turn with `eos_token`.

The build goes through data_prep.writer: byte-identical for the same traces, `train.parquet` and
`meta.json` (teacher, k, decoding, filters, counts per stage, acceptance rate, sha256 of every input and
output), and a directory holding a different build is never replaced without `force`.

    python -m pytest tests/distill/test_write.py -q
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_prep.rows import PROMPT_TYPE
from data_prep.templates import PASS_THROUGH_CHAT_TEMPLATE, get_template
from data_prep.writer import sha256, write_build
from distill.reject import Candidate

SFT_FILE = "train.parquet"
# The pass-through (data_prep.templates) plus an end of sequence after each assistant turn: what a
# plain-text student must learn to emit, as its generation stops there.
SFT_PASS_THROUGH_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
)
SFT_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("messages", PROMPT_TYPE),
        (
            "extra_info",
            pa.struct(
                [
                    ("split", pa.string()),
                    ("index", pa.int64()),
                    ("sample", pa.int64()),
                    ("template", pa.string()),
                    ("response_chars", pa.int64()),
                ]
            ),
        ),
    ]
)


def sft_chat_template(template_name: str) -> str | None:
    """`model.custom_chat_template` for SFT on rows of `template_name`; None: the tokenizer's own."""
    chat_template = get_template(template_name).chat_template
    if chat_template is None:
        return None
    if chat_template != PASS_THROUGH_CHAT_TEMPLATE:
        raise ValueError(f"template {template_name!r} has a chat template SFT does not know how to close")
    return SFT_PASS_THROUGH_CHAT_TEMPLATE


def check_templates_compatible(teacher_template: str, student_template: str) -> None:
    """A teacher's response continues the student's prompt only if both open the answer the same way."""
    teacher, student = get_template(teacher_template), get_template(student_template)
    if (teacher.prefills_think, teacher.answer_format) != (student.prefills_think, student.answer_format):
        raise ValueError(
            f"teacher template {teacher.name!r} (prefills <think>: {teacher.prefills_think}, answer "
            f"{teacher.answer_format}) and student template {student.name!r} (prefills <think>: "
            f"{student.prefills_think}, answer {student.answer_format}) disagree: the teacher's responses "
            "would not continue the student's prompts"
        )


def student_prompts(student_split: str | Path) -> tuple[str, dict[int, dict]]:
    """(template, {extra_info.index: row}) of the split whose prompts the student is trained on."""
    rows = pq.read_table(student_split, columns=["data_source", "prompt", "extra_info"]).to_pylist()
    templates = {row["extra_info"]["template"] for row in rows}
    if len(templates) != 1:
        raise ValueError(f"{student_split} rows must name one prompt template; found {sorted(templates)}")
    return templates.pop(), {row["extra_info"]["index"]: row for row in rows}


def sft_table(kept: Sequence[Candidate], prompts: dict[int, dict], template: str) -> pa.Table:
    """One row per kept trace, in the order given (prompt by prompt)."""
    rows = []
    for candidate in kept:
        if candidate.prompt_id not in prompts:
            raise ValueError(f"the student split has no row with extra_info.index {candidate.prompt_id}")
        row = prompts[candidate.prompt_id]
        rows.append(
            {
                "data_source": row["data_source"],
                "messages": [*row["prompt"], {"role": "assistant", "content": candidate.response}],
                "extra_info": {
                    "split": row["extra_info"]["split"],
                    "index": candidate.prompt_id,
                    "sample": candidate.sample,
                    "template": template,
                    "response_chars": len(candidate.response),
                },
            }
        )
    return pa.Table.from_pylist(rows, schema=SFT_SCHEMA)


def file_record(path: str | Path) -> dict:
    return {"path": str(path), "sha256": sha256(Path(path).read_bytes())}


def write_sft_build(out_dir: str | Path, table: pa.Table, meta: dict, force: bool) -> dict:
    """train.parquet + meta.json through data_prep.writer (identical: no-op; different: needs force)."""
    if table.num_rows == 0:
        raise ValueError("no response passed the filters: nothing to fine-tune on (see the counts above)")
    return write_build(out_dir, {"train": table}, meta, force)
