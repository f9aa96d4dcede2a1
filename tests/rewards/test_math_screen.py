"""The math screen: no real reference is refused, hostile answers are refused fast, the bounds sit where
the docstring says, and what gets through and hangs still meets the deadline."""

import json
import time
from pathlib import Path

import pytest

from rewards import compute_score
from rewards.math_screen import (
    MAX_ANSWER_CHARS,
    MAX_EXPONENT_DIGITS,
    MAX_FACTORIAL_DIGITS,
    MAX_NESTING,
    refusal,
)
from rewards.registry import MAX_RESPONSE_CHARS

GOLD = json.loads((Path(__file__).parent / "fixtures" / "gold_answers.json").read_text())
SETS = ("gsm8k", "math", "math500", "aime24")


@pytest.mark.parametrize("name", SETS)
def test_no_gold_answer_is_refused(name):
    refused = {answer: refusal(answer) for answer in GOLD[name] if refusal(answer)}
    assert not refused
    assert len(GOLD[name]) > 25  # the fixture is the real sets, not a sample of a few


def nested_frac(depth: int) -> str:
    return "\\frac{1}{" * depth + "2" + "}" * depth


HOSTILE = {  # answer: the bound it breaks
    "9^{9^{9^{9}}}": "power_depth",
    "10^{10^{10^{10}}}": "power_depth",
    "9^{9^9}": "power_depth",
    "2^2^2^2^2": "power_depth",
    "9**9**9**9": "power_depth",
    "9 ** (9 ** 9)": "power_depth",
    "3\\uparrow\\uparrow\\uparrow 3": "power_depth",
    "3 \\Uparrow 3 \\Uparrow 3": "power_depth",
    "e^{e^{e^{e^{e}}}}": "power_depth",
    "\\exp(2)^{e^{10}}": "power_depth",
    "2^{99999999}": "exponent_digits",
    "10^{-1000000}": "exponent_digits",
    "1000000!": "factorial_digits",
    "99999999999 !": "factorial_digits",
    "(10^{10})!": "factorial_digits",
    "10^{10}!": "factorial_digits",
    "(123456789)!!": "factorial_digits",
    nested_frac(40): "nesting",
    nested_frac(300): "length",  # 2,700 characters: the cheaper bound says no first
    "(" * 200 + "1" + ")" * 200: "nesting",
    "{" * 480: "nesting",
    "x" * 1_000_000: "length",
    "1+" * 500_000 + "1": "length",
    "}" * 300: "unbalanced_braces",
    "\\frac{1}{2}}}}": "unbalanced_braces",
    "\\frac{1}{2": "unbalanced_braces",
    "\\def\\a{\\a\\a}\\a": "macro",
    "\\newcommand{\\x}{\\x\\x}\\x": "macro",
    "\\renewcommand\\frac{1}\\frac{1}{2}": "macro",
    "\\expandafter\\a\\csname b\\endcsname": "macro",
    "\\let\\x=\\x \\x": "macro",
}


@pytest.mark.parametrize("answer", HOSTILE, ids=lambda answer: answer[:40])
@pytest.mark.parametrize("source", ["math", "gsm8k"])
def test_hostile_answers_are_refused_in_under_50_ms(answer, source):
    response = f"<think>r</think> <answer>{answer}</answer>"
    started = time.thread_time()  # this thread's CPU time: a refused answer never leaves this thread
    result = compute_score(source, response, "1", {"template": "instruct"})
    assert time.thread_time() - started < 0.05
    assert refusal(answer) == HOSTILE[answer]
    # a response over the registry's cap is rejected unread, before any answer reaches the screen
    read = len(response) <= MAX_RESPONSE_CHARS
    assert (result["acc"], result["timed_out"], result["refused"]) == (0, 0, HOSTILE[answer] if read else "")


def test_what_passes_the_screen_and_hangs_meets_the_deadline():
    answer = "(9999!)^{9999}"  # each piece within bounds; sympy then builds a 356-million-digit integer
    assert refusal(answer) == ""
    result = compute_score("math", f"\\boxed{{{answer}}}", "1", {"template": "boxed"}, math_timeout_s=0.5)
    assert (result["acc"], result["timed_out"], result["refused"]) == (0, 1, "")


@pytest.mark.parametrize(
    ("inside", "outside", "reason"),
    [
        (
            "2^{" + "9" * MAX_EXPONENT_DIGITS + "}",
            "2^{" + "9" * (MAX_EXPONENT_DIGITS + 1) + "}",
            "exponent_digits",
        ),
        ("9" * MAX_FACTORIAL_DIGITS + "!", "9" * (MAX_FACTORIAL_DIGITS + 1) + "!", "factorial_digits"),
        (nested_frac(MAX_NESTING), nested_frac(MAX_NESTING + 1), "nesting"),
        ("1" * MAX_ANSWER_CHARS, "1" * (MAX_ANSWER_CHARS + 1), "length"),
        ("e^{x}", "e^{x^2}", "power_depth"),
    ],
)
def test_each_bound_is_where_the_docstring_puts_it(inside, outside, reason):
    assert (refusal(inside), refusal(outside)) == ("", reason)


@pytest.mark.parametrize(
    "answer",
    [
        "x^2^3",
        "x^{2}^{3}",
        "2**3**4",
        "2^{(3^4)}",
        "2^{3 + 4^{5}}",
        "3\\uparrow\\uparrow 3",
    ],
)
def test_power_depth_counts_chains_and_exponents_of_exponents(answer):
    assert refusal(answer) == "power_depth"


@pytest.mark.parametrize(
    "answer",
    [
        "(x-1)^3(x+1)^3",
        "2^3 \\cdot 4^5",
        "x^2 y^3 + 2^{10}",
        "12^{1/7}",
        "\\frac{1}{2004!}",
        "\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]",
        "[0, 1) \\cup (2, 3]",
        "11,\\! 111,\\! 111,\\! 100",
        "\\{1, 2\\}",
        "5!",
        "(5+5)!",
    ],
)
def test_ordinary_answers_pass(answer):
    assert refusal(answer) == ""


def test_countdown_and_unrefused_math_say_nothing_was_refused():
    assert compute_score("math", "\\boxed{\\frac{1}{2}}", "0.5", {"template": "boxed"})["refused"] == ""
    assert (
        compute_score("countdown", "<answer>1</answer>", {"target": 1, "numbers": [1]}, None)["refused"] == ""
    )
