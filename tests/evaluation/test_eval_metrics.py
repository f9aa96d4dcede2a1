"""pass@k against brute-force enumeration, maj@k with ties, aggregated metrics on hand-checked cases."""

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.metrics import ScoredSample, aggregate, k_values, maj_at_k, majority_vote, pass_at_k


def brute_force_pass_at_k(correct: list[bool], k: int) -> float:
    subsets = list(itertools.combinations(correct, k))
    return sum(any(subset) for subset in subsets) / len(subsets)


def sample(
    pred: str,
    acc: bool,
    *,
    formatted: bool = True,
    chars: int = 10,
    verify: bool = False,
    search: bool = False,
) -> ScoredSample:
    return ScoredSample(
        acc=acc, pred=pred, formatted=formatted, response_chars=chars, has_verify=verify, has_search=search
    )


@given(st.lists(st.booleans(), min_size=1, max_size=9), st.data())
def test_pass_at_k_equals_enumeration_over_all_subsets(correct, data):
    k = data.draw(st.integers(1, len(correct)))
    assert pass_at_k(len(correct), sum(correct), k) == pytest.approx(
        brute_force_pass_at_k(correct, k), abs=1e-12
    )


def test_pass_at_k_known_values_and_edges():
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(4, 1, 2) == 0.5  # 3 of the 6 pairs hold the correct sample
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 1, 10) == 1.0


def test_pass_at_k_stays_exact_for_large_n():
    # 1 - C(999, 1)/C(1000, 1) = 1/1000; a float product of near-1 factors would drift.
    assert pass_at_k(1000, 1, 1) == 0.001
    assert pass_at_k(1024, 3, 512) == pytest.approx(1 - math.comb(1021, 512) / math.comb(1024, 512))


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(n, c, k)


def test_majority_vote_breaks_ties_by_earliest_first_occurrence():
    assert majority_vote(["7", "3", "3", "7"]) == 0  # 2-2 tie: "7" was seen first
    assert majority_vote(["3", "7", "7", "3"]) == 0
    assert majority_vote(["1", "2", "2"]) == 1  # clear majority wins whatever comes first
    assert majority_vote([" 5 ", "5", "6"]) == 0  # surrounding space is not part of the answer


def test_majority_vote_ignores_empty_preds():
    assert majority_vote(["", "", "4"]) == 2  # two non-votes do not outvote one answer
    assert majority_vote(["", "  "]) is None
    assert majority_vote([]) is None


def test_maj_at_k_uses_the_first_k_samples():
    samples = [
        sample("1", False),
        sample("2", True),
        sample("2", True),
        sample("1", False),
        sample("1", False),
    ]
    assert maj_at_k(samples, 1) is False  # only "1"
    assert maj_at_k(samples, 2) is False  # 1-1 tie, "1" first
    assert maj_at_k(samples, 3) is True  # "2" twice
    assert maj_at_k(samples, 4) is False  # 2-2 tie, "1" first
    assert maj_at_k(samples, 5) is False  # "1" three times


def test_maj_at_k_without_votes_is_wrong():
    assert maj_at_k([sample("", False), sample("", False)], 2) is False
    with pytest.raises(ValueError, match="maj@k"):
        maj_at_k([sample("1", True)], 2)


def test_k_values_are_powers_of_two_and_n():
    assert k_values(1) == [1]
    assert k_values(16) == [1, 2, 4, 8, 16]
    assert k_values(12) == [1, 2, 4, 8, 12]


def test_aggregate_hand_checked():
    prompt_a = [
        sample("4", True, chars=10, verify=True, search=True),
        sample("5", False, chars=20, search=True),
        sample("4", True, chars=30),
    ]
    prompt_b = [
        sample("", False, formatted=False, chars=40),
        sample("9", False, chars=50),
        sample("8", True, chars=60),
    ]
    greedy = [sample("4", True, search=True), sample("9", False)]
    metrics = aggregate([prompt_a, prompt_b], greedy=greedy)
    assert metrics["n"] == 3
    assert metrics["num_prompts"] == 2
    assert metrics["mean@n"] == pytest.approx(3 / 6)
    # a: c=2 of 3 -> pass@1 2/3, pass@2 1; b: c=1 -> pass@1 1/3, pass@2 1 - C(2,2)/C(3,2) = 2/3
    assert metrics["pass@k"] == pytest.approx({"1": 0.5, "2": (1 + 2 / 3) / 2, "3": 1.0})
    # a: first sample "4" correct at every k; b: k=1 no vote, k=2 "9" wrong, k=3 "9"/"8" tie -> "9" wrong
    assert metrics["maj@k"] == {"1": 0.5, "2": 0.5, "3": 0.5}
    assert metrics["format_rate"] == pytest.approx(5 / 6)
    assert metrics["mean_response_length"] == 35.0
    assert metrics["verification_rate"] == pytest.approx(1 / 6)
    assert metrics["search_rate"] == pytest.approx(2 / 6)
    assert metrics["greedy_acc"] == metrics["greedy_search_rate"] == 0.5


def test_aggregate_rejects_ragged_and_mismatched_inputs():
    with pytest.raises(ValueError, match="row 1 has 1"):
        aggregate([[sample("1", True), sample("1", True)], [sample("1", True)]])
    with pytest.raises(ValueError, match="greedy pass has 2 prompts"):
        aggregate([[sample("1", True)]], greedy=[sample("1", True), sample("2", True)])
    with pytest.raises(ValueError, match="no prompts"):
        aggregate([])
