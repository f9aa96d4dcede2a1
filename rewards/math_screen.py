"""A linear-time screen that refuses math answers no real reference needs and that make sympy explode.

math-verify hands an answer to sympy, which evaluates what it reads: `9^{9^{9}}` or `(10^{10})!` run until
rewards.math_pool's deadline kills the helper (5 s by default, the cost of ~850 honest checks), and
`\\frac` nested hundreds deep recurses through the parser. `refusal(answer)` reads the answer once,
character by character, and names the first bound it breaks (or returns "" when it breaks none); a refused
answer is scored as not verified without ever reaching the helper. The deadline stays as the last line of
defence for whatever this screen lets through.

The bounds come from the gold answers of the real sets, all 12,500 MATH references (train and test),
MATH-500, AIME 2024 and all 8,792 GSM8K answers: tests/rewards/fixtures/gold_answers.json holds each set's
distinct answers (5,623 strings), and tests/rewards/test_math_screen.py checks that none is refused. The costs quoted are of one
math-verify check against the reference "1" in a warm helper on the 2-core development machine:

    bound                    gold needs       refused above   why
    length (characters)      159 (a matrix)   500             a 400-character polynomial already costs 0.9 s
    power depth              1                1               `2^{2^{10}}` costs 1 s, `9^{9^9}` never ends
    digits in an exponent    4 (`2^{2005}`)   5               `9^{99999}` 0.02 s, `9^{999999}` 0.25 s
    digits before `!`        4 (`2004!`)      5               `99999!` 0.14 s; `(10^{10})!` never ends
    bracket nesting depth    3                8               a continued fraction 12 deep costs 2 s, 20 hangs

Power depth counts `^`, `**` and Knuth arrows (`\\uparrow`, `\\Uparrow`) inside the exponent of another
or chained after one (`2^3^4`, `2**3**4`, `3\\uparrow\\uparrow 3`); a factorial of a bracket or of a power
is refused when the bracket holds a power or a long number (`(10^{10})!`, `10^{10}!`). Braces must balance
(no reference leaves one open), and TeX's macro definitions and expansion primitives (`\\def`,
`\\newcommand`, `\\expandafter`, ...) are refused outright: no reference defines a macro.

    python -m pytest tests/rewards/test_math_screen.py -q
"""

from __future__ import annotations

MAX_ANSWER_CHARS = 500
MAX_POWER_DEPTH = 1
MAX_EXPONENT_DIGITS = 5
MAX_FACTORIAL_DIGITS = 5
MAX_NESTING = 8

MACRO_WORDS = frozenset(
    {
        "def", "edef", "gdef", "xdef", "let", "futurelet", "newcommand", "renewcommand", "providecommand",
        "DeclareMathOperator", "newenvironment", "renewenvironment", "csname", "expandafter", "catcode",
        "input", "include", "loop", "repeat", "romannumeral", "uppercase", "lowercase",
    }
)  # fmt: skip
ARROW_WORDS = frozenset({"uparrow", "Uparrow", "upuparrows"})
OPENERS, CLOSERS = "{([", "})]"

# states of the power-chain reader: what the previous token was, as far as powers are concerned
_PLAIN, _AFTER_POWER, _AFTER_EXPONENT = 0, 1, 2


class _Group:
    """One open bracket: the power depth inside it and what it holds (for a factorial applied to it)."""

    __slots__ = ("power_depth", "in_exponent", "is_exponent", "has_power", "max_digits")

    def __init__(self, power_depth: int, in_exponent: bool, is_exponent: bool) -> None:
        self.power_depth, self.in_exponent, self.is_exponent = power_depth, in_exponent, is_exponent
        self.has_power, self.max_digits = False, 0


def refusal(answer: str) -> str:
    """The bound `answer` breaks ("length", "macro", "unbalanced_braces", "nesting", "power_depth",
    "exponent_digits", "factorial_digits"), or "" when it breaks none (module docstring)."""
    if len(answer) > MAX_ANSWER_CHARS:
        return "length"
    stack: list[_Group] = []
    braces = 0
    state, chain_depth = _PLAIN, 0
    closed: _Group | None = None  # the bracket just closed, or None
    digits_before = 0  # length of the digit run just read, 0 if the last token was not one
    index, end = 0, len(answer)
    while index < end:
        char = answer[index]
        index += 1
        if char.isspace():
            continue
        top = stack[-1] if stack else None
        if char == "\\":
            start = index
            while index < end and answer[index].isalpha():
                index += 1
            word = answer[start:index]
            if not word:  # a control symbol (`\!`, `\{`, `\,`): not a bracket, not a factorial
                index = min(index + 1, end)
                state, closed, digits_before = _PLAIN, None, 0
                continue
            if word in MACRO_WORDS:
                return "macro"
            if word not in ARROW_WORDS:
                state = _AFTER_EXPONENT if state == _AFTER_POWER else _PLAIN
                closed, digits_before = None, 0
                continue
            char = "^"  # a Knuth arrow is a power as far as the bound goes
        elif char == "*" and index < end and answer[index] == "*":
            index += 1
            char = "^"
        if char == "^":
            depth = (chain_depth if state != _PLAIN else (top.power_depth if top else 0)) + 1
            if depth > MAX_POWER_DEPTH:
                return "power_depth"
            if top:
                top.has_power = True
            state, chain_depth, closed, digits_before = _AFTER_POWER, depth, None, 0
        elif char.isdigit():
            start = index - 1
            while index < end and answer[index].isdigit():
                index += 1
            run = index - start
            if (state == _AFTER_POWER or (top and top.in_exponent)) and run > MAX_EXPONENT_DIGITS:
                return "exponent_digits"
            if top:
                top.max_digits = max(top.max_digits, run)
            state = _AFTER_EXPONENT if state == _AFTER_POWER else _PLAIN
            closed, digits_before = None, run
        elif char in OPENERS:
            if len(stack) >= MAX_NESTING:
                return "nesting"
            braces += char == "{"
            exponent = state == _AFTER_POWER
            depth = chain_depth if exponent else (top.power_depth if top else 0)
            stack.append(_Group(depth, exponent or bool(top and top.in_exponent), exponent))
            state, closed, digits_before = _PLAIN, None, 0
        elif char in CLOSERS:
            if char == "}":
                braces -= 1
                if braces < 0:
                    return "unbalanced_braces"
            closed = stack.pop() if stack else None  # intervals mix brackets: `[0, 1)` closes `[` with `)`
            if closed and stack:
                stack[-1].has_power |= closed.has_power
                stack[-1].max_digits = max(stack[-1].max_digits, closed.max_digits)
            if closed and closed.is_exponent:
                state, chain_depth = _AFTER_EXPONENT, closed.power_depth
            else:
                state = _PLAIN
            digits_before = 0
        elif char == "!":
            if state == _AFTER_EXPONENT:  # `10^{10}!` is (10^10)!
                return "factorial_digits"
            if digits_before > MAX_FACTORIAL_DIGITS:
                return "factorial_digits"
            if closed and (closed.has_power or closed.max_digits > MAX_FACTORIAL_DIGITS):
                return "factorial_digits"
            state, closed, digits_before = _PLAIN, None, 0
        else:  # a letter is an exponent of its own (`e^x`); anything else ends a power chain
            state = _AFTER_EXPONENT if state == _AFTER_POWER and char.isalpha() else _PLAIN
            closed, digits_before = None, 0
    return "unbalanced_braces" if braces else ""
