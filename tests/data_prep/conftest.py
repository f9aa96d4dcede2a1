"""Shared fixtures for data_prep tests: an independent exact evaluator and brute-force solver (the oracles the
builders are checked against), and small builds made once per session."""

from __future__ import annotations

import ast
import operator
from fractions import Fraction
from functools import cache
from itertools import combinations

import pyarrow.parquet as pq
import pytest

from data_prep import countdown, game24

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _walk(node: ast.AST, values: list[Fraction]) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    assert isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS, ast.dump(node)
    left, right = _walk(node.left, values), _walk(node.right, values)
    value = _OPERATORS[type(node.op)](left, right)
    values.append(value)
    return value


def evaluate(expression: str) -> tuple[Fraction, list[Fraction]]:
    """(exact value, every intermediate value) of an expression of integers, + - * / and parentheses."""
    intermediates: list[Fraction] = []
    return _walk(ast.parse(expression, mode="eval").body, intermediates), intermediates


def literals(expression: str) -> list[int]:
    return sorted(
        node.value for node in ast.walk(ast.parse(expression, mode="eval")) if isinstance(node, ast.Constant)
    )


@cache
def _reaches(values: tuple[Fraction, ...], target: Fraction, integer_only: bool) -> bool:
    if len(values) == 1:
        return values[0] == target
    for i, j in combinations(range(len(values)), 2):
        a, b = values[i], values[j]
        rest = [v for k, v in enumerate(values) if k not in (i, j)]
        results = {a + b, a - b, b - a, a * b}
        results |= {a / b} if b else set()
        results |= {b / a} if a else set()
        for result in results:
            if integer_only and result.denominator != 1:
                continue
            if _reaches(tuple(sorted([*rest, result])), target, integer_only):
                return True
    return False


def reaches_by_brute_force(numbers, target: int, integer_only: bool = False) -> bool:
    """Whether `target` is reachable by repeatedly replacing two of the numbers with a combination of them:
    a different algorithm from data_prep.solver's split-and-look-up, so the two check each other."""
    return _reaches(tuple(sorted(Fraction(n) for n in numbers)), Fraction(target), integer_only)


def read_rows(path) -> list[dict]:
    return pq.read_table(path).to_pylist()


@pytest.fixture(scope="session")
def oracle():
    """The independent helpers, as one namespace for the test modules."""

    class Oracle:
        pass

    for function in (evaluate, literals, reaches_by_brute_force, read_rows):
        setattr(Oracle, function.__name__, staticmethod(function))
    return Oracle


SMALL_COUNTDOWN = {"train_size": 3000, "test_size": 300, "seed": 0}


@pytest.fixture(scope="session")
def small_countdown(tmp_path_factory):
    out = tmp_path_factory.mktemp("countdown") / "build"
    meta = countdown.build(out, **SMALL_COUNTDOWN)
    return out, meta


@pytest.fixture(scope="session")
def game24_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("game24") / "build"
    return out, game24.build(out)
