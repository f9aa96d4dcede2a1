"""Golden cases for Countdown and 24-point through the public compute_score (TinyZero-compatible scores)."""

import numpy as np
import pytest

from rewards import compute_score

COUNTDOWN = {"target": 100, "numbers": [3, 7, 25]}
GAME24 = {"target": 24, "numbers": [3, 3, 8, 8]}
BASE = {"template": "base"}


def countdown(response, ground_truth=COUNTDOWN, source="countdown", **options):
    return compute_score(source, response, ground_truth, BASE, **options)


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("(7 - 3) * 25", 1.0),
        ("25 * (7 - 3)", 1.0),
        ("(7 - 3) * 25 = 100", 1.0),  # restating the target is accepted
        ("(7 - 3) * 25 = 99", 0.1),  # a false claim is not
        ("(7 + 3) * 25", 0.1),  # wrong value
        ("(7 - 3) * 25 * 1", 0.1),  # extra number
        ("(7 - 7) * 25 + 100", 0.1),  # reused and extra numbers
        ("4 * 25", 0.1),  # missing numbers, right value
        ("(7 - 3) * 5 * 5", 0.1),  # a number split into two
        ("100", 0.1),
        ("3 ** 7", 0.1),
        ("(7 - 3) ** 2 * 25 // 4", 0.1),
        ("(7 // 3) * 25", 0.1),
        ("7 ^ 3 * 25", 0.1),
        ("7 % 3 * 25", 0.1),
        ("25 / (7 - 7) * 3", 0.1),  # division by zero
        ("__import__('os').system('echo hacked')", 0.1),
        ("(lambda: 100)()", 0.1),
        ("-(3 - 7) * 25", 0.1),  # unary minus is rejected
        ("(７ - 3) * 25", 0.1),  # fullwidth digit
        ("(7 − 3) × 25", 1.0),  # unicode minus and times are read as - and *
        ("", 0.1),  # an empty block is present but invalid
    ],
)
def test_countdown_answers(answer, score, respond):
    result = countdown(respond(answer))
    assert result["score"] == score
    assert result["acc"] == int(score == 1.0)
    assert result["has_answer"] == 1


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("8/(3-8/3)", 1.0),  # needs exact rationals: 8/3 is not an integer
        ("8 / (3 - 8 / 3) = 24", 1.0),
        ("(8 - 3 - 3) * 8", 0.1),  # 16: wrong value
        ("8 * 3", 0.1),  # 24 with two numbers unused
        ("8 * 3 * (8 - 8)", 0.1),  # 8 reused, 3 missing
        ("8 * 3 + 3 - 3 + 8 - 8", 0.1),  # extra numbers
        ("(3 + 3) ** 8", 0.1),
        ("8 * 3 + 3 // 8", 0.1),
        ("8 / (3 - 3) + 8", 0.1),  # division by zero
        ("8/(3−8÷3)", 1.0),  # unicode operators
    ],
)
def test_game24_answers(answer, score, respond):
    result = countdown(respond(answer), GAME24, source="game24")
    assert (result["score"], result["acc"]) == (score, int(score == 1.0))


def test_no_answer_block_scores_zero():
    for response in ["(7 - 3) * 25", "<answer>(7 - 3) * 25", "(7 - 3) * 25</answer>", ""]:
        result = countdown(response)
        assert (result["score"], result["acc"], result["has_answer"], result["pred"]) == (0.0, 0, 0, "")


def test_last_answer_block_wins():
    two = "</think> <answer>(7 + 3) * 25</answer> no, wait <answer>(7 - 3) * 25</answer>"
    assert countdown(two)["score"] == 1.0
    swapped = "</think> <answer>(7 - 3) * 25</answer> hmm <answer>(7 + 3) * 25</answer>"
    assert countdown(swapped)["score"] == 0.1


def test_text_after_answer_and_multiline_answer(respond):
    assert countdown(respond("(7 - 3) * 25") + "\nSo the answer is 100. Done!")["score"] == 1.0
    assert countdown(respond("\n  (7 - 3)\n  * 25\n"))["score"] == 1.0


def test_pred_is_the_expression(respond):
    assert countdown(respond("  ( 7 - 3 )\n* 25 "))["pred"] == "( 7 - 3 ) * 25"


def test_ground_truth_from_parquet_numpy_arrays(respond):
    ground_truth = {"target": np.int64(100), "numbers": np.array([3, 7, 25])}
    assert countdown(respond("(7 - 3) * 25"), ground_truth)["score"] == 1.0


@pytest.mark.parametrize(
    "ground_truth", [{"numbers": [1, 2]}, {"target": 3}, [1, 2, 3], {"target": "x", "numbers": [1]}]
)
def test_malformed_ground_truth_is_an_error(ground_truth, respond):
    with pytest.raises(ValueError, match="ground_truth"):
        countdown(respond("1 + 2"), ground_truth)


def test_format_score_option(respond):
    assert countdown(respond("(7 + 3) * 25"), format_score=0.0)["score"] == 0.0
    assert countdown(respond("(7 + 3) * 25"), format_score=0.2)["score"] == 0.2
    assert countdown(respond("(7 - 3) * 25"), correct_score=2)["score"] == 2.0
