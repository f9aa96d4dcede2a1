"""Cold-start traces (DeepSeek-R1's stage 1): a few hundred or thousand consistent, readable chains of thought
for SFT before RL, made from accepted samples by one documented procedure.

The input is a distill build (`python -m launch distill data`): a model's sampled responses that the rule
reward accepted (correct, strictly formatted), one SFT row each (distill.write). The procedure keeps what
R1's report says its cold-start and rejection-sampling data kept, in a fixed order, counting the survivors
of each filter (`counts` in meta.json, printed by the CLI):

    accepted -> consistent -> no_code_block -> short_paragraphs -> reasoned -> summarised -> per_prompt -> kept

- consistent: the chain of thought (rewards.language.chain_of_thought) is all in `target_language`:
  rewards.language.language_share is 1, the language reward's own rule (R1 dropped mixed-language CoTs);
- no_code_block: no ``` fence anywhere in the response (R1 dropped code blocks);
- short_paragraphs: no paragraph of the chain of thought (text between blank lines) longer than
  `max_paragraph_chars` (R1 dropped long paragraphs);
- reasoned: the chain of thought has at least `min_reasoning_chars` characters (R1's cold start is long
  CoT: a bare guess is no reasoning to learn from);
- summarised: the readable format, reasoning then a summary (R1: `|special_token|<reasoning_process>|
  special_token|<summary>`). ZeroLab's templates close the reasoning with `</think>` and the reward reads
  the answer block, and strict format allows nothing between `</think>` and `<answer>`, so the summary is
  the reasoning's last line: the answer set equal to its exact value (rewards.arithmetic), written in the
  template's words (SUMMARY_LINES; the miniature's is its verification line, `verify ( 9 * 2 ) - 8 = 10`).
  A reasoning that already ends with that statement is left as it is. A response whose answer is no
  arithmetic expression gets no summary and is dropped (every accepted Countdown response has one);
- per_prompt: at most `max_per_prompt` traces per prompt, the first sampled;
- kept: the first `max_traces` of them, in the input's order (prompt by prompt).

The output is an SFT build as distill writes one (train.parquet + meta.json through distill.write), ready for
a multi-stage recipe's cold-start stage (`data: <out>/train.parquet`). Pure except for reading and writing
the files; the same input gives the same bytes.

    python -m launch distill cold-start data/countdown-mini-r1/base-samples --out data/countdown-mini-r1/cold-start \\
        --template mini --max-traces 400
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from distill.write import SFT_FILE, SFT_SCHEMA, file_record, write_sft_build
from rewards.arithmetic import InvalidExpression, parse_equation
from rewards.format import THINK_CLOSE, last_answer_block
from rewards.language import TARGET_LANGUAGES, chain_of_thought, language_share

STAGES = (
    "accepted",
    "consistent",
    "no_code_block",
    "short_paragraphs",
    "reasoned",
    "summarised",
    "per_prompt",
    "kept",
)
CODE_FENCE = "```"
# template -> (the summary line, what separates it from the reasoning); other templates: DEFAULT_SUMMARY.
SUMMARY_LINES = {"mini": ("verify {expression} = {value}", " ")}
DEFAULT_SUMMARY = ("Summary: {expression} = {value}.", "\n\n")
VERSION = "cold-start-v1"


@dataclass(frozen=True)
class ColdStartFilters:
    target_language: str = "en"
    max_paragraph_chars: int = 2000
    min_reasoning_chars: int = 1
    max_per_prompt: int = 1
    max_traces: int | None = None  # None: every trace that passes

    def __post_init__(self) -> None:
        if self.target_language not in TARGET_LANGUAGES:
            raise ValueError(
                f"target language {self.target_language!r}: use one of {', '.join(TARGET_LANGUAGES)}"
            )
        if self.max_per_prompt < 1 or (self.max_traces is not None and self.max_traces < 1):
            raise ValueError("max_per_prompt and max_traces must be at least 1")


def longest_paragraph(text: str) -> int:
    """Characters of the longest paragraph (text between blank lines), outer whitespace stripped."""
    paragraphs = "\n".join(line.strip() for line in text.splitlines()).split("\n\n")
    return max((len(paragraph.strip()) for paragraph in paragraphs), default=0)


@dataclass(frozen=True)
class Summary:
    statement: str  # `EXPRESSION = VALUE`, whitespace collapsed
    line: str  # the statement in the template's words
    separator: str  # between the reasoning and the line


def summary_of(response: str, template: str) -> Summary | None:
    """The summary of a response: its answer set equal to its exact value; None when the answer or the end of
    the reasoning is missing, or the answer is no arithmetic expression with a whole value."""
    answer = last_answer_block(response)
    if answer is None or THINK_CLOSE not in response:
        return None
    try:
        value = parse_equation(answer).value
    except InvalidExpression:
        return None
    if Fraction(value).denominator != 1:
        return None
    expression = " ".join(answer.split())
    line, separator = SUMMARY_LINES.get(template, DEFAULT_SUMMARY)
    return Summary(
        f"{expression} = {int(value)}", line.format(expression=expression, value=int(value)), separator
    )


def with_summary(response: str, summary: Summary) -> str:
    """The response with the summary as the last line of its reasoning (before its last `</think>`), unless
    the reasoning already ends with its statement, whitespace aside."""
    end = response.rfind(THINK_CLOSE)
    reasoning, rest = response[:end], response[end:]
    if " ".join(reasoning.split()).endswith(summary.statement):
        return response
    return f"{reasoning.rstrip()}{summary.separator}{summary.line} {rest}"


def cold_start_rows(rows: list[dict], template: str, filters: ColdStartFilters) -> tuple[list[dict], dict]:
    """(the kept rows, reformatted; counts per stage) for the rows of an SFT build, in their order."""
    counts = dict.fromkeys(STAGES, 0)
    per_prompt: dict[int, int] = {}
    kept = []
    for row in rows:
        response = row["messages"][-1]["content"]
        counts["accepted"] += 1
        reasoning = chain_of_thought(response)
        if language_share(reasoning, filters.target_language) < 1:
            continue
        counts["consistent"] += 1
        if CODE_FENCE in response:
            continue
        counts["no_code_block"] += 1
        if longest_paragraph(reasoning) > filters.max_paragraph_chars:
            continue
        counts["short_paragraphs"] += 1
        if len(reasoning.strip()) < filters.min_reasoning_chars:
            continue
        counts["reasoned"] += 1
        summary = summary_of(response, template)
        if summary is None:
            continue
        counts["summarised"] += 1
        prompt_id = row["extra_info"]["index"]
        if per_prompt.get(prompt_id, 0) >= filters.max_per_prompt:
            continue
        per_prompt[prompt_id] = per_prompt.get(prompt_id, 0) + 1
        counts["per_prompt"] += 1
        if filters.max_traces is not None and len(kept) >= filters.max_traces:
            continue
        counts["kept"] += 1
        readable = with_summary(response, summary)
        messages = [*row["messages"][:-1], {**row["messages"][-1], "content": readable}]
        kept.append(
            {
                **row,
                "messages": messages,
                "extra_info": {**row["extra_info"], "response_chars": len(readable)},
            }
        )
    return kept, counts


def build_cold_start(
    accepted_dir: str | Path,
    out_dir: str | Path,
    template: str,
    filters: ColdStartFilters,
    force: bool = False,
) -> dict:
    """Reads `accepted_dir`/train.parquet (a distill build), writes the cold-start build; returns its meta."""
    source = Path(accepted_dir) / SFT_FILE
    rows = pq.read_table(source).to_pylist()
    templates = {row["extra_info"]["template"] for row in rows}
    if templates - {template}:
        raise ValueError(f"{source} holds rows of template(s) {sorted(templates)}, not {template!r}")
    kept, counts = cold_start_rows(rows, template, filters)
    meta = {
        "version": VERSION,
        "procedure": "distill/cold_start.py",
        "template": template,
        "filters": asdict(filters),
        "counts": counts,
        "inputs": {"accepted": file_record(source)},
    }
    return write_sft_build(out_dir, pa.Table.from_pylist(kept, schema=SFT_SCHEMA), meta, force)
