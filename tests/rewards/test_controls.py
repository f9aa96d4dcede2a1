"""The control rewards (reward option `control`): each replaces `score` only, and `acc` stays the truth."""

import numpy as np
import pytest

from rewards import compute_score
from rewards.controls import SHUFFLED_TARGETS, shuffled_truth

COUNTDOWN = {"target": 24, "numbers": [2, 3, 4]}
RIGHT = " ok </think> <answer>( 2 * 3 ) * 4</answer>"
WRONG = " ok </think> <answer>( 2 + 3 ) * 4</answer>"  # 20
NO_ANSWER = "I give up"


def score(response, ground_truth=COUNTDOWN, source="countdown", template="base", **options):
    return compute_score(source, response, ground_truth, {"template": template}, **options)


def test_random_control_is_a_seeded_coin_independent_of_correctness():
    responses = [f" try {n} </think> <answer>( 2 * 3 ) * 4</answer>" for n in range(200)]
    first = [score(r, control="random")["score"] for r in responses]
    assert first == [score(r, control="random")["score"] for r in responses]  # reproducible
    assert set(first) == {0.0, 1.0} and 70 < sum(first) < 130  # a fair coin, though every answer is right
    assert first != [score(r, control="random", control_seed=1)["score"] for r in responses]
    assert all(score(r, control="random")["acc"] == 1 for r in responses)


def test_format_only_control_pays_the_format_whatever_the_answer():
    assert score(WRONG, control="format_only")["score"] == 1.0
    assert score(RIGHT, control="format_only")["score"] == 1.0
    assert score(NO_ANSWER, control="format_only")["score"] == 0.0
    assert score(WRONG, control="format_only")["acc"] == 0


def test_shuffled_truth_is_keyed_and_never_the_true_one():
    targets = {shuffled_truth(0, {"target": t, "numbers": [1, 2, 3]})["target"] for t in range(1, 101)}
    assert len(targets) > 40  # spread over the range, not one constant
    for t in range(1, 101):
        truth = {"target": t, "numbers": [1, 2, 3]}
        wrong = shuffled_truth(0, truth)
        assert wrong == shuffled_truth(0, truth) and wrong["numbers"] == [1, 2, 3]
        assert 1 <= wrong["target"] <= SHUFFLED_TARGETS and wrong["target"] != t
    assert all(shuffled_truth(s, "42") != "42" for s in range(300))
    assert shuffled_truth(0, {"target": np.int64(24), "numbers": np.array([2, 3, 4])})["target"] != 24


def test_shuffled_control_rewards_the_wrong_target_and_reports_the_truth():
    wrong_target = shuffled_truth(0, COUNTDOWN)["target"]
    # An answer that hits the shuffled target: the numbers 2 3 4 reach every value in this list.
    reachable = {
        2 + 3 + 4: "2 + 3 + 4",
        2 * 3 + 4: "2 * 3 + 4",
        2 * 3 * 4: "2 * 3 * 4",
        4 * 3 - 2: "4 * 3 - 2",
    }
    seed = next(s for s in range(500) if shuffled_truth(s, COUNTDOWN)["target"] in reachable)
    hit = reachable[shuffled_truth(seed, COUNTDOWN)["target"]]
    result = score(f" ok </think> <answer>{hit}</answer>", control="shuffled", control_seed=seed)
    assert result["score"] == 1.0 and result["acc"] == 0
    right = score(RIGHT, control="shuffled", control_seed=seed)
    assert right["score"] == 0.1 and right["acc"] == 1  # the true answer earns only the format credit
    assert score(NO_ANSWER, control="shuffled")["score"] == 0.0
    assert wrong_target != COUNTDOWN["target"]


def test_shuffled_control_on_math_scores_against_a_wrong_number():
    wrong = shuffled_truth(0, "72")
    assert score(r"so \boxed{" + wrong + "}", "72", "gsm8k", "boxed", control="shuffled")["score"] == 1.0
    right = score(r"so \boxed{72}", "72", "gsm8k", "boxed", control="shuffled")
    assert right["acc"] == 1 and right["score"] == 0.1


@pytest.mark.parametrize("bad", ["shuffle", "", "Random"])
def test_unknown_control_is_an_error_naming_the_choices(bad):
    with pytest.raises(ValueError, match="control must be one of none, random, format_only, shuffled"):
        score(RIGHT, control=bad)
