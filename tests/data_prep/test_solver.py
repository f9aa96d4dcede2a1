"""The exact solver agrees with an independent brute force and its expressions evaluate to the target."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from data_prep.solver import solve


def test_fraction_route_counts_and_integer_only_refuses_it(oracle):
    expression = solve([3, 3, 8, 8], 24)
    value, intermediates = oracle.evaluate(expression)
    assert value == 24 and oracle.literals(expression) == [3, 3, 8, 8]
    assert any(v.denominator != 1 for v in intermediates)
    assert solve([3, 3, 8, 8], 24, integer_only=True) is None


def test_unsolvable_hands_return_none():
    assert solve([1, 1, 1, 1], 24) is None
    assert solve([1, 1, 1], 100) is None


def test_every_number_must_be_used(oracle):
    # 25 * 4 = 100 but the 7 must be used too, and no route with it reaches 100; the two 1s can be absorbed.
    assert solve([25, 4, 7], 100) is None
    assert not oracle.reaches_by_brute_force([25, 4, 7], 100)
    assert oracle.evaluate(solve([25, 4, 1, 1], 100))[0] == 100


def test_small_inputs_and_a_zero_target():
    assert solve([7], 7) == "7" and solve([7], 8) is None
    assert solve([], 0) is None
    zero = solve([5, 5], 0)
    assert zero is not None and zero.replace(" ", "") == "5-5"


def test_whole_24_point_deck_matches_the_published_count():
    from itertools import combinations_with_replacement

    solvable = [h for h in combinations_with_replacement(range(1, 14), 4) if solve(h, 24) is not None]
    assert len(solvable) == 1362  # the well-known count of solvable hands out of 1,820


@settings(max_examples=150, deadline=None)
@given(
    numbers=st.lists(st.integers(min_value=1, max_value=20), min_size=2, max_size=4),
    target=st.integers(min_value=1, max_value=60),
    integer_only=st.booleans(),
)
def test_agrees_with_brute_force(oracle, numbers, target, integer_only):
    expression = solve(numbers, target, integer_only=integer_only)
    expected = oracle.reaches_by_brute_force(numbers, target, integer_only)
    assert (expression is not None) == expected
    if expression is not None:
        value, intermediates = oracle.evaluate(expression)
        assert value == target
        assert oracle.literals(expression) == sorted(numbers)
        if integer_only:
            assert all(v.denominator == 1 for v in intermediates)
