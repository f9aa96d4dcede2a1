"""Exact arithmetic solver: can these numbers, each used exactly once, make the target with + - * / and ( )?

Values are Python ints while they stay whole and `fractions.Fraction` otherwise, so `8 / (3 - 8 / 3)` is
24 exactly, never 23.999... The solver splits the multiset of numbers into two non-empty parts, gets every
value each part can make (memoised per sub-multiset), and at the top level looks the missing operand up
instead of enumerating both sides. With `integer_only=True` every intermediate result must be whole, which
tells apart 24-point hands that need a fraction on the way.

    python -m data_prep game24 --out data/game24     # enumerates all 1,820 hands through this solver
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from itertools import product

Value = int | Fraction

# Operator precedence for printing with the fewest parentheses that keep the value.
_ATOM, _PRODUCT, _SUM = 3, 2, 1
_PRECEDENCE = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}


def normalise(value: Value) -> Value:
    """A whole Fraction becomes an int, so integers have one representation."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def is_whole(value: Value) -> bool:
    return isinstance(value, int) or value.denominator == 1


def apply(op: str, left: Value, right: Value) -> Value | None:
    """`left op right` exactly; None for division by zero."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    return normalise(Fraction(left) / right)


def join(op: str, left: tuple[str, int], right: tuple[str, int]) -> tuple[str, int]:
    """Print `left op right`; each operand is (text, precedence). Parentheses only where the value needs them."""
    precedence = _PRECEDENCE[op]
    left_text = f"({left[0]})" if left[1] < precedence else left[0]
    # a - (b + c) and a / (b * c) need their parentheses; a + (b - c) and a * (b / c) do not.
    tight_right = right[1] < precedence or (right[1] == precedence and op in "-/")
    right_text = f"({right[0]})" if tight_right else right[0]
    return f"{left_text} {op} {right_text}", precedence


def leaf(number: int) -> tuple[str, int]:
    return str(number), _ATOM


def _splits(numbers: tuple[int, ...]) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every way to cut the multiset in two non-empty parts, once each (the first number stays left)."""
    count = len(numbers)
    seen = set()
    for mask in range(1, 1 << count, 2):
        if mask == (1 << count) - 1:
            continue
        left = tuple(n for i, n in enumerate(numbers) if mask >> i & 1)
        right = tuple(n for i, n in enumerate(numbers) if not mask >> i & 1)
        if (left, right) not in seen:
            seen.add((left, right))
            yield left, right


def _combinations(a: Value, b: Value) -> Iterator[tuple[Value, str, bool]]:
    """(value, op, swapped) for every way to combine a and b; swapped means the result is `b op a`."""
    yield a + b, "+", False
    yield a * b, "*", False
    yield a - b, "-", False
    yield b - a, "-", True
    if b != 0:
        yield apply("/", a, b), "/", False
    if a != 0:
        yield apply("/", b, a), "/", True


# Bounded: a 3-number part can make ~100 values; 4,096 cached parts stay near 64 MB.
@lru_cache(maxsize=4096)
def reachable(numbers: tuple[int, ...], integer_only: bool = False) -> dict[Value, tuple[str, int]]:
    """Every value that uses all of `numbers` (sorted tuple) exactly once, with one expression for each."""
    if len(numbers) == 1:
        return {numbers[0]: leaf(numbers[0])}
    values: dict[Value, tuple[str, int]] = {}
    for left, right in _splits(numbers):
        for (a, a_expr), (b, b_expr) in product(
            reachable(left, integer_only).items(), reachable(right, integer_only).items()
        ):
            for value, op, swapped in _combinations(a, b):
                if value in values or (integer_only and not is_whole(value)):
                    continue
                values[value] = join(op, b_expr, a_expr) if swapped else join(op, a_expr, b_expr)
    return values


def _partners(x: Value, target: Value) -> Iterator[tuple[Value, str, bool]]:
    """(y, op, x_on_left) such that `x op y` (x_on_left) or `y op x` equals target.

    The target is non-zero, so with x != 0 no divisor y below can be zero.
    """
    yield target - x, "+", True
    yield x - target, "-", True
    yield target + x, "-", False
    if x != 0:
        yield normalise(Fraction(target) / x), "*", True
        yield normalise(Fraction(target) * x), "/", False
        yield normalise(Fraction(x) / target), "/", True


def solve(numbers: list[int] | tuple[int, ...], target: int, integer_only: bool = False) -> str | None:
    """One expression using every number exactly once whose exact value is `target`, or None if none exists."""
    key = tuple(sorted(numbers))
    if len(key) < 2 or target == 0:
        found = reachable(key, integer_only).get(target) if key else None
        return found[0] if found else None
    for left, right in _splits(key):
        small, large = reachable(left, integer_only), reachable(right, integer_only)
        if len(small) > len(large):
            small, large = large, small
        for x, x_expr in small.items():
            for y, op, x_on_left in _partners(x, target):
                y_expr = large.get(y)
                if y_expr is not None:
                    return (join(op, x_expr, y_expr) if x_on_left else join(op, y_expr, x_expr))[0]
    return None
