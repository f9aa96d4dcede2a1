"""distill.reject: the filters' order, their counts, dedup, and the seeded shortest / random choice."""

from __future__ import annotations

import pytest

from distill.reject import STAGES, Candidate, Filters, acceptance, reject


def _c(prompt: int, sample: int, response: str, acc: int = 1, strict: int = 1) -> Candidate:
    return Candidate(prompt, sample, response, {"acc": acc, "format_strict": strict})


GROUPS = [
    [
        _c(0, 0, "wrong", acc=0),
        _c(0, 1, "a long correct trace"),
        _c(0, 2, "short one"),
        _c(0, 3, " short one "),  # a duplicate once outer whitespace is stripped
        _c(0, 4, "sloppy", strict=0),
    ],
    [_c(1, 0, "nope", acc=0), _c(1, 1, "nope again", acc=0)],
    [_c(2, 0, "bb"), _c(2, 1, "aa"), _c(2, 2, "cccc")],
]


def test_counts_per_stage_for_responses_and_prompts():
    kept, counts = reject(GROUPS, Filters())
    assert list(counts["responses"]) == list(STAGES)
    assert counts["responses"] == {
        "sampled": 10, "correct": 7, "strict_format": 6, "consistent": 6, "unique": 5, "kept": 5
    }  # fmt: skip
    assert counts["prompts"] == {
        "sampled": 3, "correct": 2, "strict_format": 2, "consistent": 2, "unique": 2, "kept": 2
    }  # fmt: skip
    assert acceptance(counts) == {"responses": 0.5, "prompts": 0.6667}
    assert {c.prompt_id for c in kept} == {0, 2}


def test_lenient_format_and_duplicates_kept_on_request():
    _, counts = reject(GROUPS, Filters(strict_format=False, dedup=False))
    assert counts["responses"]["strict_format"] == counts["responses"]["correct"] == 7
    assert counts["responses"]["unique"] == 7


def test_shortest_keeps_the_shortest_m_ties_in_sampling_order():
    kept, _ = reject(GROUPS, Filters(max_per_prompt=1))
    assert [(c.prompt_id, c.response) for c in kept] == [(0, "short one"), (2, "bb")]


def test_random_choice_is_seeded_and_independent_of_other_prompts():
    filters = Filters(max_per_prompt=2, choice="random", seed=3)
    first, _ = reject(GROUPS, filters)
    again, _ = reject(GROUPS, filters)
    alone, _ = reject(GROUPS[2:], filters)
    assert first == again
    assert [c for c in first if c.prompt_id == 2] == alone
    seeds = {
        tuple(c.sample for c in reject(GROUPS[2:], Filters(choice="random", seed=s))[0]) for s in range(8)
    }
    assert len(seeds) > 1, "the seed never changes the order"


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="--choice"):
        Filters(choice="longest")
    with pytest.raises(ValueError, match="--max-per-prompt"):
        Filters(max_per_prompt=0)
    with pytest.raises(ValueError, match="--target-language"):
        Filters(target_language="fr")


MIXED = "try 9 + 2 = 11 , 11 * 2 = 22 #20 否 试 9 - 2 = 7 </think> <answer> ( 9 - 2 ) </answer>"
ENGLISH = "try 9 + 2 = 11 , 11 * 2 = 22 #20 no </think> <answer> ( 9 * 2 ) + 2 </answer>"
WORDLESS = "9 * 2 = 18 , 18 + 2 = 20 </think> <answer> ( 9 * 2 ) + 2 </answer>"


def test_a_target_language_keeps_only_chains_of_thought_all_in_it():
    groups = [[_c(0, 0, MIXED), _c(0, 1, ENGLISH)], [_c(1, 0, MIXED)], [_c(2, 0, WORDLESS)]]
    kept, counts = reject(groups, Filters(target_language="en"))
    assert [c.response for c in kept] == [ENGLISH, WORDLESS]  # a CoT without words is consistent
    assert counts["responses"]["strict_format"] == 4 and counts["responses"]["consistent"] == 2
    assert counts["prompts"]["consistent"] == 2
    # zh keeps the one whose words are all Han characters: none here; the wordless CoT passes either way.
    assert [c.response for c in reject(groups, Filters(target_language="zh"))[0]] == [WORDLESS]
    # Without a target every trace passes, and the build's recorded filters are what they were before.
    assert reject(groups, Filters())[1]["responses"]["consistent"] == 4
    assert "target_language" not in Filters().as_record()
    assert Filters(target_language="en").as_record()["target_language"] == "en"
