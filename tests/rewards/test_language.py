"""Language consistency: words per script, the chain of thought it reads, hostile text, and the option end to
end through compute_score."""

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards import compute_score
from rewards.language import (
    TARGET_LANGUAGES,
    chain_of_thought,
    cot_language_share,
    language_share,
    word_counts,
)
from rewards.registry import MAX_RESPONSE_CHARS

NONE = {"latin": 0, "han": 0, "kana": 0, "hangul": 0, "other": 0}
COUNTDOWN = {"target": 100, "numbers": [3, 7, 25]}
ANSWER = " </think> <answer>(7 - 3) * 25</answer>"  # correct for COUNTDOWN
BASE = {"template": "base"}


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        # English: Let, me, try, then, Wait, that's, the, target (numbers and operators are no words)
        ("Let me try 9 * 2 = 18, then 18 - 8 = 10. Wait, that's the target.", {"latin": 8}),
        ("don't double-check naïve x-ray", {"latin": 4}),  # joiners join, ï is a letter
        ("nai\u0308ve cafe\u0301", {"latin": 2}),  # decomposed: the combining marks continue the word
        ("well--known, 'tis", {"latin": 3}),  # a double hyphen separates; a leading apostrophe is no letter
        ("x + y = 3, a b, x2y, snake_case", {"latin": 2}),  # lone letters are symbols; digits, _ end words
        (r"\frac{1}{2} + \sqrt{x} so the answer", {"latin": 3}),  # LaTeX commands are no words
        ("我们先试 9 * 2 = 18，再算 18 - 8 = 10。", {"han": 6}),  # each Han character is a word
        ("我们先 try 9 * 2 = 18，然后 check 一下。", {"han": 7, "latin": 2}),
        ("まず 9 * 2 を計算", {"kana": 3, "han": 2}),
        ("か\u3099く", {"kana": 2}),  # a combining voicing mark continues its kana, as any mark does
        ("먼저 9 * 2 를 계산", {"hangul": 3}),  # runs of Hangul: Korean is written with spaces
        ("Сначала try это, π", {"other": 2, "latin": 1}),  # a lone Greek letter is a symbol
        ("abcабв", {"latin": 1, "other": 1}),  # a change of script ends a word
        ("می\u200cخواهم", {"other": 1}),  # a zero-width non-joiner continues a Persian word
        ("9 * 2 = 18 , 18 - 8 = 10 #10", {}),
        ("(25 - 4) × 3 ÷ 7 = 9; 8/(3-8/3) = 24", {}),
        ("", {}),
    ],
)
def test_words_per_script(text, counts):
    assert word_counts(text) == NONE | counts


@pytest.mark.parametrize(
    ("text", "en", "zh"),
    [
        ("Let me try 9 * 2 = 18, then 18 - 8 = 10. Wait, that's the target.", 1.0, 0.0),
        ("我们先试 9 * 2 = 18，再算 18 - 8 = 10。", 0.0, 1.0),
        ("我们先 try 9 * 2 = 18，然后 check 一下。", 2 / 9, 7 / 9),
        ("Let me 想想", 0.5, 0.5),
        ("まず 9 * 2 を計算", 0.0, 0.4),  # kana is in neither target
        ("Сначала try это", 1 / 3, 0.0),
        # a CoT without words scores 1 for every target: nothing in it is off-language
        ("9 * 2 = 18 , 18 - 8 = 10 #10", 1.0, 1.0),
        ("", 1.0, 1.0),
        # the miniature's vocabulary (mini/corpus): its reasoning words are English
        ("try 9 * 2 = 18 , 18 - 8 = 10 #10 yes verify ( 9 * 2 ) - 8 = 10", 1.0, 0.0),
    ],
)
def test_shares(text, en, zh):
    assert language_share(text, "en") == pytest.approx(en)
    assert language_share(text, "zh") == pytest.approx(zh)


@pytest.mark.parametrize(
    ("response", "cot"),
    [
        (" Let me try </think> <answer>(7-3)*25</answer>", " Let me try "),  # template pre-fills <think>
        ("<think> 我们 </think><answer>1</answer>", "  我们 "),
        ("a </think> b </think> <answer>1</answer>", "a   b "),  # up to the last </think>; tags blanked
        ("no close <answer>1</answer>", "no close  1 "),  # no </think>: the whole response
        (r"So $\boxed{\frac{1}{2}}$.", r"So $\boxed{\frac{1}{2}}$."),  # boxed template: no tags at all
    ],
)
def test_chain_of_thought(response, cot):
    assert chain_of_thought(response) == cot


def test_a_responses_consistency_reads_its_chain_of_thought_only():
    # The answer's words are not reasoning; the chain of thought here is 3 English words and 1 Han one.
    response = "<think> try it twice 试 </think> <answer> 答案 </answer>"
    assert cot_language_share(response, "en") == 0.75 and cot_language_share(response, "zh") == 0.25


def test_tags_are_no_words():
    assert word_counts(chain_of_thought("<think> 想想 </think> <answer> 1 </answer>")) == NONE | {"han": 2}
    assert word_counts(chain_of_thought("<think> 想想 <answer>1</answer>")) == NONE | {"han": 2}


# Hostile text: each must return the exact result, whatever it costs (timing: benchmarks/bench_rewards.py).
def every_code_point_spaced() -> str:
    return " ".join(chr(point) for point in range(sys.maxunicode + 1))


def test_every_code_point_alone_is_a_word_only_in_the_scripts_without_spaces():
    counts = word_counts(every_code_point_spaced())
    # lone letters of alphabetic scripts are symbols; one Han / kana character or Hangul syllable is a word
    assert counts["latin"] == counts["other"] == 0
    assert counts["han"] > 90_000 and counts["hangul"] > 11_000 and counts["kana"] > 150


def test_every_unicode_category_through_compute_score():
    by_category: dict[str, str] = {}
    for point in range(sys.maxunicode + 1):
        by_category.setdefault(unicodedata.category(chr(point)), chr(point))
    assert len(by_category) == 30  # every general category, Cs (lone surrogates) and Cn included
    text = "".join(by_category.values())
    for cot in (text, text * 8000):  # the second is 240,000 characters, just under the cap
        result = compute_score("countdown", cot + ANSWER, COUNTDOWN, BASE, language_consistency=1.0)
        assert 0.0 <= result["lang_consistency"] <= 1.0 and result["acc"] == 1
        assert result["score"] == pytest.approx(1.0 + result["lang_consistency"])


@pytest.mark.parametrize(
    ("cot", "en"),
    [
        ("\x00" * 1000 + "ok\x00ok", 1.0),  # NUL splits words: two words
        ("\u200f\u202e ok \u202c عربي", 0.5),  # RTL marks are no words; the Arabic word is not en
        ("\ud800\udfff ok \udc00", 1.0),  # lone surrogates
        ("a" + "\u0301" * 100_000, 1.0),  # a lone letter under 10^5 combining marks: no word at all
        ("ab" + "\u0301" * 100_000 + " 想", 0.5),
        ("\u0301" * 100_000, 1.0),  # marks alone start no word
        ("想" * 100_000, 0.0),  # 10^5 CJK characters, 10^5 words
        ("a'" * 100_000, 1.0),  # one word 200,000 characters long
        ("\\ab" * 80_000, 1.0),  # 80,000 LaTeX commands: no words
        ("ok 想 " * 48_000, 0.5),  # 240,000 characters, just under the cap
    ],
)
def test_hostile_text_scores_exactly(cot, en):
    assert language_share(cot, "en") == pytest.approx(en)
    result = compute_score("countdown", cot + ANSWER, COUNTDOWN, BASE, language_consistency=0.5)
    assert result["lang_consistency"] == pytest.approx(en)
    assert result["score"] == pytest.approx(1.0 + 0.5 * en)
    assert result["lang_bonus"] == pytest.approx(0.5 * en)  # the part of the score the words earned


def test_word_counts_of_10_5_cjk_and_of_the_cap():
    assert word_counts("想" * 100_000) == NONE | {"han": 100_000}
    near_cap = "ok 想 " * (MAX_RESPONSE_CHARS // 5)
    assert word_counts(near_cap) == NONE | {"latin": MAX_RESPONSE_CHARS // 5, "han": MAX_RESPONSE_CHARS // 5}


@settings(max_examples=300, deadline=None)
@given(left=st.text(max_size=300), right=st.text(max_size=300), target=st.sampled_from(TARGET_LANGUAGES))
def test_any_text_gets_a_share_and_words_add_up_across_a_space(left, right, target):
    assert 0.0 <= language_share(left, target) <= 1.0
    joined = word_counts(left + " " + right)
    assert joined == {key: word_counts(left)[key] + word_counts(right)[key] for key in NONE}
    assert word_counts(left + " 9 * 2 = 18, 18 - 8 = 10 ") == word_counts(left)  # arithmetic adds none


# The option end to end: score = the accuracy part + language_consistency x lang_consistency.
MIXED = " 我们先算 7 - 3 = 4 then" + ANSWER  # 4 Han words, 1 Latin word: zh 0.8, en 0.2
WRONG = " 我们先算 7 + 3 then </think> <answer>(7 + 3) * 25</answer>"


@pytest.mark.parametrize(
    ("response", "kwargs", "score", "share"),
    [
        (MIXED, {}, 1.0, 0.2),  # off by default, and still reported (against en)
        (MIXED, {"language_consistency": 0.0, "target_language": "zh"}, 1.0, 0.8),
        (MIXED, {"language_consistency": 1.0}, 1.2, 0.2),
        (MIXED, {"language_consistency": 1.0, "target_language": "zh"}, 1.8, 0.8),
        (MIXED, {"language_consistency": 0.5, "target_language": "zh", "correct_score": 2.0}, 2.4, 0.8),
        (WRONG, {"language_consistency": 1.0, "target_language": "zh"}, 0.1 + 0.8, 0.8),  # format credit
        (WRONG, {"language_consistency": 1.0, "format_score": 0.0, "target_language": "zh"}, 0.8, 0.8),
        (" 9 * 2 = 18" + ANSWER, {"language_consistency": 1.0, "target_language": "zh"}, 2.0, 1.0),
        ("no answer, no close", {"language_consistency": 1.0}, 1.0, 1.0),  # no answer: the bonus alone
    ],
)
def test_the_option_through_compute_score(response, kwargs, score, share):
    result = compute_score("countdown", response, COUNTDOWN, BASE, **kwargs)
    assert result["lang_consistency"] == pytest.approx(share)
    assert result["score"] == pytest.approx(score)


def test_strict_format_gate_withholds_the_bonus():
    lenient_only = MIXED + " Done."
    options = {"language_consistency": 1.0, "target_language": "zh", "strict_format": True}
    gated = compute_score("countdown", lenient_only, COUNTDOWN, BASE, **options)
    assert (gated["score"], gated["acc"], gated["lang_consistency"]) == (0.0, 1, pytest.approx(0.8))
    assert compute_score("countdown", MIXED, COUNTDOWN, BASE, **options)["score"] == pytest.approx(1.8)


@pytest.mark.parametrize("control", ["random", "format_only", "shuffled"])
def test_under_a_control_the_bonus_is_added_to_the_controls_score(control):
    options = {"control": control, "target_language": "zh"}
    for response in (MIXED, WRONG, "我们 no answer"):
        plain = compute_score("countdown", response, COUNTDOWN, BASE, **options)
        summed = compute_score("countdown", response, COUNTDOWN, BASE, language_consistency=0.5, **options)
        assert summed["score"] == pytest.approx(plain["score"] + 0.5 * plain["lang_consistency"])
        assert summed["acc"] == plain["acc"]  # acc stays the truth


def test_oversized_response_is_not_read():
    response = MIXED + " " * MAX_RESPONSE_CHARS
    result = compute_score("countdown", response, COUNTDOWN, BASE, language_consistency=1.0)
    assert (result["score"], result["lang_consistency"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"target_language": "english"},
            "reward option target_language must be one of en, zh, got 'english'",
        ),
        ({"target_language": "EN"}, "reward option target_language must be one of en, zh"),
        ({"language_consistency": -0.5}, "reward option language_consistency must be 0 or more"),
        ({"language_consistency": "0.5"}, "reward option language_consistency must be a number"),
        ({"language_consistency": True}, "reward option language_consistency must be a number"),
        ({"language_consistancy": 0.5}, "unknown reward option.*language_consistancy"),
    ],
)
def test_bad_language_options_are_errors_naming_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compute_score("countdown", MIXED, COUNTDOWN, BASE, **kwargs)
