"""Answer extraction and format checks, driven by the prompt template's declared answer format.

A template (data_prep.templates) says where the answer goes (`answer_tag`: the last `<answer>...</answer>`
block; `boxed`: the last `\\boxed{...}`) and whether its prompt pre-fills `<think>` (then the response
starts inside the reasoning and carries no opening tag). Without a template (`spec` is None) the answer is
the last answer block, else the last `\\boxed{}`, and an opening `<think>` is optional.

Format, for answer-tag templates:
- lenient (`format`, R1-Zero's structure): some reasoning, then `</think>`, then exactly one complete
  non-empty answer block after the last `</think>`; text after `</answer>` is allowed. The reasoning opens
  with `<think>` unless the template pre-fills it (optional when the template is unknown).
- strict (`format_strict`, for ablations): the whole response is `[<think>] reasoning </think> <answer>
  answer </answer>` with each tag exactly once (no `<think>` when pre-filled), only whitespace between
  `</think>` and `<answer>` and after `</answer>`, reasoning and answer non-empty.
For `boxed` templates: lenient = a complete non-empty `\\boxed{}` exists; strict = exactly one `\\boxed`.

All functions are linear-time string scans (str.find / rfind / count), so megabyte inputs stay fast.

    python -m pytest tests/rewards/test_format.py -q
"""

from __future__ import annotations

from dataclasses import dataclass

from data_prep.templates import ANSWER_TAG, BOXED

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
BOXED_OPEN = "\\boxed"
MAX_BOXED_CHARS = 4096  # brace matching gives up beyond this: no real final answer is that long


@dataclass(frozen=True)
class AnswerSpec:
    """What the reward needs from a prompt template; None fields mean "unknown, accept either"."""

    answer_format: str | None = None
    prefills_think: bool | None = None


def last_answer_block(response: str) -> str | None:
    """Content of the last complete `<answer>...</answer>` block, or None."""
    end = response.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = response.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return response[start + len(ANSWER_OPEN) : end]


def last_boxed(response: str) -> str | None:
    """Content of the last complete `\\boxed{...}` (nested braces allowed), or None."""
    start = response.rfind(BOXED_OPEN + "{")
    if start < 0:
        return None
    open_brace = start + len(BOXED_OPEN)
    depth = 0
    for index in range(open_brace, min(len(response), open_brace + MAX_BOXED_CHARS)):
        char = response[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return response[open_brace + 1 : index]
    return None


def extract_answer(response: str, spec: AnswerSpec) -> str | None:
    """The final answer text the template asks for (see the module docstring), or None."""
    if spec.answer_format == BOXED:
        return last_boxed(response)
    answer = last_answer_block(response)
    if answer is None and spec.answer_format != ANSWER_TAG:
        answer = last_boxed(response)
    return answer


def _uses_boxed(response: str, spec: AnswerSpec) -> bool:
    if spec.answer_format is None:
        return ANSWER_CLOSE not in response and BOXED_OPEN in response
    return spec.answer_format == BOXED


def _reasoning_ok(reasoning: str, prefills_think: bool | None) -> bool:
    stripped = reasoning.lstrip()
    opened = stripped.startswith(THINK_OPEN)
    if prefills_think is False and not opened:
        return False
    body = stripped[len(THINK_OPEN) :] if opened else stripped
    return bool(body.strip())


def format_ok(response: str, spec: AnswerSpec) -> bool:
    """Lenient R1-Zero structure (module docstring)."""
    if _uses_boxed(response, spec):
        boxed = last_boxed(response)
        return boxed is not None and bool(boxed.strip())
    think_end = response.rfind(THINK_CLOSE)
    if think_end < 0 or not _reasoning_ok(response[:think_end], spec.prefills_think):
        return False
    tail = response[think_end + len(THINK_CLOSE) :]
    if tail.count(ANSWER_OPEN) != 1 or tail.count(ANSWER_CLOSE) != 1:
        return False
    start, end = tail.find(ANSWER_OPEN), tail.find(ANSWER_CLOSE)
    return start < end and bool(tail[start + len(ANSWER_OPEN) : end].strip())


def format_strict_ok(response: str, spec: AnswerSpec) -> bool:
    """Strict variant (module docstring)."""
    if _uses_boxed(response, spec):
        return response.count(BOXED_OPEN) == 1 and format_ok(response, spec)
    think_opens = response.count(THINK_OPEN)
    allowed_opens = {True: (0,), False: (1,), None: (0, 1)}[spec.prefills_think]
    if think_opens not in allowed_opens or think_opens and not response.lstrip().startswith(THINK_OPEN):
        return False
    if any(response.count(tag) != 1 for tag in (THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)):
        return False
    reasoning, _, rest = response.partition(THINK_CLOSE)
    between, _, rest = rest.partition(ANSWER_OPEN)
    answer, _, after = rest.partition(ANSWER_CLOSE)
    body = reasoning.lstrip()[len(THINK_OPEN) :] if think_opens else reasoning
    return bool(body.strip()) and not between.strip() and bool(answer.strip()) and not after.strip()
