"""24-point: exactly the solvable hands of 1..13, fraction-only hands marked, a deterministic disjoint split."""

from __future__ import annotations

from itertools import combinations_with_replacement

import pytest

from data_prep import game24
from data_prep.rows import BuildError


def _hands(rows):
    return [tuple(row["reward_model"]["ground_truth"]["numbers"]) for row in rows]


def test_exactly_the_solvable_hands_become_problems(game24_build, oracle):
    out, meta = game24_build
    train, test = (oracle.read_rows(out / f"{split}.parquet") for split in ("train", "test"))
    expected = {
        hand
        for hand in combinations_with_replacement(range(1, 14), 4)
        if oracle.reaches_by_brute_force(hand, 24)
    }
    assert set(_hands(train)) | set(_hands(test)) == expected
    assert not set(_hands(train)) & set(_hands(test))
    assert len(train) + len(test) == len(expected) == meta["statistics"]["solvable"]
    assert meta["statistics"]["multisets"] == 1820
    assert meta["statistics"]["unsolvable"] == 1820 - len(expected)


def test_solutions_and_the_needs_fraction_mark_are_right(game24_build, oracle):
    out, _ = game24_build
    rows = oracle.read_rows(out / "train.parquet") + oracle.read_rows(out / "test.parquet")
    for row in rows:
        truth, extra = row["reward_model"]["ground_truth"], row["extra_info"]
        assert truth["target"] == 24 and row["data_source"] == "game24"
        value, intermediates = oracle.evaluate(extra["solution"])
        assert value == 24 and oracle.literals(extra["solution"]) == sorted(truth["numbers"])
        whole_route = oracle.reaches_by_brute_force(truth["numbers"], 24, integer_only=True)
        assert extra["needs_fraction"] == (not whole_route), truth
        # The stored solution uses whole intermediates whenever the hand allows it.
        assert all(v.denominator == 1 for v in intermediates) == whole_route
    marked = {
        tuple(r["reward_model"]["ground_truth"]["numbers"]) for r in rows if r["extra_info"]["needs_fraction"]
    }
    assert {(3, 3, 8, 8), (1, 5, 5, 5), (3, 3, 7, 7), (1, 3, 4, 6)} <= marked


def test_split_is_stratified_deterministic_and_seeded(game24_build, tmp_path):
    out, meta = game24_build
    stats = meta["statistics"]
    hard = stats["train"]["needs_fraction"] + stats["test"]["needs_fraction"]
    assert stats["test"]["needs_fraction"] == round(hard * 0.2)
    assert stats["test"]["problems"] == round((stats["solvable"] - hard) * 0.2) + round(hard * 0.2)
    game24.build(tmp_path / "same")
    for name in ("train.parquet", "test.parquet", "meta.json"):
        assert (tmp_path / "same" / name).read_bytes() == (out / name).read_bytes()
    game24.build(tmp_path / "seed1", seed=1)
    assert (tmp_path / "seed1" / "test.parquet").read_bytes() != (out / "test.parquet").read_bytes()


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.1])
def test_bad_test_fraction_is_refused(tmp_path, fraction):
    with pytest.raises(BuildError, match="--test-fraction"):
        game24.build(tmp_path / "never", test_fraction=fraction)
    assert not (tmp_path / "never").exists()


def test_tiny_test_fraction_that_empties_a_split_is_refused(tmp_path):
    with pytest.raises(BuildError, match="--test-fraction"):
        game24.build(tmp_path / "never", test_fraction=0.0001)
    assert not (tmp_path / "never").exists()
