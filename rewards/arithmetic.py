"""Exact, bounded evaluation of the arithmetic answers of Countdown and 24-point.

The accepted language, decided here once for both games:
- non-negative decimal integer literals (no signs, no leading zeros, no decimals), the binary operators
  `+ - * /` and parentheses; whitespace (newlines included) anywhere;
- the glyphs `×`, `÷` and `−` (U+2212) stand for `*`, `/` and `-`; every other non-ASCII character is
  rejected (NFKC folding would turn a superscript `3²` into `32`, a reward hack);
- unary minus and unary plus are rejected: the games combine the given numbers with binary operations;
- an optional single trailing `= <integer>` (the model restating the target) is accepted and returned
  separately; it is not one of the literals.

Parsing uses `ast.parse` on text that already passed a character whitelist, and the tree is walked with
exact rational arithmetic (ints, and `fractions.Fraction` once a division leaves a remainder). Nothing is
ever `eval`ed, `exec`ed or `compile`d to code. Anything else (`**`, `//`, `%`, `^`, names, calls, ...),
division by zero, over-long text, deep nesting and huge values raise `InvalidExpression` quickly.

    python -m pytest tests/rewards/test_arithmetic.py -q
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction
from typing import NamedTuple

MAX_EXPRESSION_CHARS = 256  # a 6-number Countdown answer with spaces and parentheses is under 60
MAX_LITERAL_DIGITS = 12
MAX_VALUE_BITS = 256  # bound on numerator and denominator of every intermediate value
MAX_DEPTH = 32  # operator nesting (a 6-number answer needs at most 5); parentheses alone add none

_GLYPHS = str.maketrans({"×": "*", "÷": "/", "−": "-"})
_ALLOWED = re.compile(r"[0-9+\-*/()=\s]*")
_LEADING_ZERO = re.compile(r"(?<![0-9])0[0-9]")  # Python accepts "00"; the games' numbers never look so
_LITERAL_LIMIT = 10**MAX_LITERAL_DIGITS
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: None}
_UNSUPPORTED = object()


class InvalidExpression(ValueError):
    """The answer is not an expression of the accepted language (see the module docstring)."""


class Equation(NamedTuple):  # a NamedTuple: built per response, and ~3x cheaper than a frozen dataclass
    value: Fraction | int
    literals: tuple[int, ...]  # in the order written
    claimed: int | None  # the integer after a trailing "=", if any
    text: str  # the expression with whitespace collapsed


def parse_equation(answer: str) -> Equation:
    """Evaluate an answer exactly; raise InvalidExpression when it is outside the accepted language."""
    if len(answer) > MAX_EXPRESSION_CHARS:
        raise InvalidExpression(f"longer than {MAX_EXPRESSION_CHARS} characters")
    text = answer.translate(_GLYPHS)
    if not _ALLOWED.fullmatch(text):
        raise InvalidExpression("characters other than digits, + - * / ( ) = and whitespace")
    text = " ".join(text.split())
    if _LEADING_ZERO.search(text):
        raise InvalidExpression("integer literal with a leading zero")
    expression, equals, claimed_text = text.partition("=")
    claimed = None
    if equals:
        claimed_text = claimed_text.strip()
        if not claimed_text.isdigit() or len(claimed_text) > MAX_LITERAL_DIGITS:
            raise InvalidExpression("only a single integer may follow '='")
        claimed = int(claimed_text)
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise InvalidExpression(f"not an arithmetic expression: {type(error).__name__}") from None
    literals: list[int] = []
    value = _evaluate(tree.body, literals, 0)
    return Equation(value=value, literals=tuple(literals), claimed=claimed, text=text)


def _evaluate(node: ast.AST, literals: list[int], depth: int) -> Fraction | int:
    if type(node) is ast.Constant and type(node.value) is int:  # bools and floats cannot pass the whitelist
        if node.value >= _LITERAL_LIMIT:
            raise InvalidExpression(f"literal longer than {MAX_LITERAL_DIGITS} digits")
        literals.append(node.value)
        return node.value
    if type(node) is not ast.BinOp:
        raise InvalidExpression(f"{type(node).__name__} is not allowed (only + - * / on integer literals)")
    operation = _OPERATORS.get(type(node.op), _UNSUPPORTED)
    if operation is _UNSUPPORTED:
        raise InvalidExpression(f"operator {type(node.op).__name__} is not allowed (only + - * /)")
    if depth >= MAX_DEPTH:
        raise InvalidExpression(f"operations nested deeper than {MAX_DEPTH}")
    left = _evaluate(node.left, literals, depth + 1)
    right = _evaluate(node.right, literals, depth + 1)
    result = _divide(left, right) if operation is None else operation(left, right)
    if type(result) is int:
        if result.bit_length() > MAX_VALUE_BITS:
            raise InvalidExpression(f"intermediate value beyond {MAX_VALUE_BITS} bits")
        return result
    if result.denominator == 1:
        return result.numerator
    if max(result.numerator.bit_length(), result.denominator.bit_length()) > MAX_VALUE_BITS:
        raise InvalidExpression(f"intermediate value beyond {MAX_VALUE_BITS} bits")
    return result


def _divide(left: Fraction | int, right: Fraction | int) -> Fraction | int:
    if right == 0:
        raise InvalidExpression("division by zero")
    if type(left) is int and type(right) is int and left % right == 0:
        return left // right  # exact: no remainder, and ints are much faster than Fractions
    return Fraction(left) / right
