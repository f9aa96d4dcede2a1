"""Answer extraction and the lenient / strict format checks for each kind of template."""

import time

import pytest

from data_prep.templates import ANSWER_TAG, BOXED
from rewards.format import (
    AnswerSpec,
    extract_answer,
    format_ok,
    format_strict_ok,
    last_answer_block,
    last_boxed,
)

PREFILLED = AnswerSpec(ANSWER_TAG, prefills_think=True)  # the `base` template
OPENS_THINK = AnswerSpec(ANSWER_TAG, prefills_think=False)  # `instruct`
BOXED_SPEC = AnswerSpec(BOXED, prefills_think=False)
UNKNOWN = AnswerSpec()


def test_last_answer_block():
    assert last_answer_block("<answer>1</answer> x <answer>\n2\n</answer> tail") == "\n2\n"
    assert last_answer_block("<answer>1</answer> <answer>2") == "1"  # an unclosed last block is ignored
    assert last_answer_block("</answer><answer>") is None
    assert last_answer_block("no tags") is None


def test_last_boxed_handles_nesting_and_truncation():
    assert last_boxed(r"\boxed{1} then \boxed{\frac{1}{2}}.") == r"\frac{1}{2}"
    assert last_boxed(r"\boxed{x=3}") == "x=3"
    assert last_boxed(r"\boxed{1} \boxed{\frac{1}{2}") is None  # the last one is cut off
    assert last_boxed("nothing") is None


def test_extraction_follows_the_template():
    text = r"<answer>5</answer> and \boxed{6}"
    assert extract_answer(text, PREFILLED) == "5"
    assert extract_answer(text, BOXED_SPEC) == "6"
    assert extract_answer(text, UNKNOWN) == "5"  # fallback: answer tag first
    assert extract_answer(r"so \boxed{6}", UNKNOWN) == "6"  # then the last \boxed{}
    assert extract_answer(r"so \boxed{6}", PREFILLED) is None  # a template that asks for tags gets tags


@pytest.mark.parametrize(
    ("response", "spec", "lenient", "strict"),
    [
        # the base template pre-fills <think>: the response starts inside the reasoning
        (" 3+4=7 </think> <answer>7</answer>", PREFILLED, True, True),
        ("3+4=7</think>\n<answer>7</answer>\n", PREFILLED, True, True),
        ("<think> 3+4=7 </think> <answer>7</answer>", PREFILLED, True, False),  # a second <think>
        ("<think> 3+4=7 </think> <answer>7</answer>", OPENS_THINK, True, True),
        (" 3+4=7 </think> <answer>7</answer>", OPENS_THINK, False, False),  # instruct must open it
        ("<think> 3+4=7 </think> <answer>7</answer>", UNKNOWN, True, True),
        (" 3+4=7 </think> <answer>7</answer>", UNKNOWN, True, True),
        (" 3+4=7 </think> <answer>7</answer> Hope this helps.", PREFILLED, True, False),
        (" 3+4=7 </think> so: <answer>7</answer>", PREFILLED, True, False),
        (" 3+4=7 </think> <answer>7</answer> <answer>8</answer>", PREFILLED, False, False),
        (" <answer>6</answer> 3+4=7 </think> <answer>7</answer>", PREFILLED, True, False),
        (" a </think> b </think> <answer>7</answer>", PREFILLED, True, False),
        ("  </think> <answer>7</answer>", PREFILLED, False, False),  # no reasoning
        (" 3+4=7 </think> <answer> </answer>", PREFILLED, False, False),  # empty answer
        (" 3+4=7 <answer>7</answer>", PREFILLED, False, False),  # no </think>
        (" 3+4=7 </think> </answer>7<answer>", PREFILLED, False, False),
        (r"Adding, 3+4=7, so \boxed{7}.", BOXED_SPEC, True, True),
        (r"First \boxed{6}, no: \boxed{7}.", BOXED_SPEC, True, False),
        (r"\boxed{}", BOXED_SPEC, False, False),
        ("the answer is 7", BOXED_SPEC, False, False),
        (r"so \boxed{7}", UNKNOWN, True, True),
    ],
)
def test_format(response, spec, lenient, strict):
    assert format_ok(response, spec) is lenient
    assert format_strict_ok(response, spec) is strict


def test_megabyte_responses_are_scanned_fast():
    hostile = [
        "<answer>" * 200_000,
        "</think>" * 150_000 + "<answer>1</answer>",
        "\\boxed{" + "{" * 10**6,
        "x" * 10**6,
    ]
    for response in hostile:
        for spec in (PREFILLED, BOXED_SPEC, UNKNOWN):
            started = time.thread_time()  # this thread's CPU time: immune to a loaded machine's scheduling
            extract_answer(response, spec)
            format_ok(response, spec)
            format_strict_ok(response, spec)
            assert time.thread_time() - started < 0.05
