"""The exact arithmetic core shared by Countdown and 24-point: what it accepts, rejects, and how fast."""

import time
from fractions import Fraction

import pytest

from rewards.arithmetic import MAX_EXPRESSION_CHARS, InvalidExpression, parse_equation


@pytest.mark.parametrize(
    ("text", "value", "literals"),
    [
        ("1 + 2", 3, (1, 2)),
        ("8/(3-8/3)", 24, (8, 3, 8, 3)),
        ("(7 - 3) * 25", 100, (7, 3, 25)),
        ("1/3 + 1/3 + 1/3", 1, (1, 3, 1, 3, 1, 3)),
        ("2 / 4", Fraction(1, 2), (2, 4)),
        ("10 - 20", -10, (10, 20)),
        ("0 * 5", 0, (0, 5)),
        ("3 × 8", 24, (3, 8)),
        ("48 ÷ 2", 24, (48, 2)),
        ("30 − 6", 24, (30, 6)),
        ("(1 +\n 2)\n* 8", 24, (1, 2, 8)),
        ("((((4))))*6", 24, (4, 6)),
        ("(" * 60 + "4*6" + ")" * 60, 24, (4, 6)),  # parentheses alone add no depth
    ],
)
def test_exact_values_and_literals(text, value, literals):
    equation = parse_equation(text)
    assert equation.value == value
    assert equation.literals == literals
    assert equation.claimed is None


def test_value_is_exact_not_float():
    # 0.1 + 0.2 != 0.3 in floats; with rationals 1/10 + 2/10 - 3/10 is exactly 0
    assert parse_equation("1/10 + 2/10 - 3/10").value == 0
    assert parse_equation("8/(3-8/3)").value == 24  # float evaluation gives 23.999999999999996


def test_trailing_equals_is_returned_separately():
    equation = parse_equation("(1 + 2) * 8 = 24")
    assert (equation.value, equation.literals, equation.claimed) == (24, (1, 2, 8), 24)


@pytest.mark.parametrize(
    "text",
    [
        "2**3",  # power: TinyZero's regex let this through
        "9**9**9",
        "8//3",
        "8 % 3",
        "3^2",
        "-3 + 27",  # unary minus is not a game move
        "+3",
        "1 + -2",
        "1.5 * 16",
        "1e3",
        "0x10",
        "1_000",
        "007 + 1",
        "00 + 24",
        "1/0",
        "5/(3-3)",
        "__import__('os').system('true')",
        "abs(24)",
        "x + 1",
        "(1).real",
        "[24][0]",
        "lambda: 24",
        "24 if 1 else 0",
        "1 < 2",
        "1 == 1",
        "(1, 2)",
        "",
        "   ",
        "= 24",
        "1 + 2 = 3 = 3",
        "1 + 2 = 1 + 2",
        "1 + ",
        "()",
        "1 2",
        "٣ + 21",  # Arabic-Indic digit
        "３ + 21",  # fullwidth digit
        "3² + 15",  # superscript: NFKC would read it as 32
        "24\x00",
        "9" * 13,  # longer than MAX_LITERAL_DIGITS
        "(" * 300 + "1" + ")" * 300,
    ],
)
def test_rejected(text):
    with pytest.raises(InvalidExpression):
        parse_equation(text)


def test_huge_intermediate_values_are_rejected():
    text = "*".join(["999999999999"] * 8)  # about 10^96 > 2^256
    assert len(text) < MAX_EXPRESSION_CHARS
    with pytest.raises(InvalidExpression, match="bits"):
        parse_equation(text)


@pytest.mark.parametrize(
    "text",
    [
        "1+" * 10**6 + "1",
        "(" * 10**6 + "1" + ")" * 10**6,
        "1+" * 127 + "1",  # within the length bound, but 127 nested operations
        "(1+" * 40 + "1" + ")" * 40,  # 40 nested operations
    ],
)
def test_long_and_deep_inputs_fail_fast(text):
    started = time.thread_time()  # this thread's CPU time: immune to a loaded machine's scheduling
    with pytest.raises(InvalidExpression):
        parse_equation(text)
    assert time.thread_time() - started < 0.05
