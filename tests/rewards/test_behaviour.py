"""Self-verification / backtracking counters: what counts, what does not, and the bound on hostile input."""

import time

from rewards.behaviour import (
    MAX_SCAN_CHARS,
    VERIFY_PHRASES,
    behaviour_counters,
    count_search_steps,
    count_self_corrections,
    count_verify_phrases,
)


def test_counts_phrases_at_word_starts_case_insensitively():
    text = "Wait, 3*8=24. Let me check: yes. Verifying again... Hmm. Let's try again."
    assert count_verify_phrases(text) == 5  # wait, let me check, verify(ing), hmm, try again


def test_ignores_phrases_inside_words():
    assert count_verify_phrases("We await the result; the unverifiable claim; shmm.") == 0


def test_every_phrase_counts_once():
    for phrase in VERIFY_PHRASES:
        assert count_verify_phrases(f"... {phrase.upper()} ...") == 1, phrase


def test_no_phrase_overlaps_another_at_a_word_start():
    # an overlap ("try another" + "another approach") would count one occurrence twice
    for first in VERIFY_PHRASES:
        for second in VERIFY_PHRASES:
            for start in range(1 if first == second else 0, len(first)):
                at_word_start = start == 0 or not first[start - 1].isalpha()
                overlaps = first[start:] == second[: len(first) - start] or first[start:].startswith(second)
                assert not (at_word_start and overlaps), (first, second)


def test_counters():
    quiet = {"search_steps": 0, "has_search": 0, "self_corrections": 0, "has_self_correct": 0}
    assert behaviour_counters("") == {"response_chars": 0, "verify_phrases": 0, "has_verify": 0, **quiet}
    assert behaviour_counters("wait wait") == {
        "response_chars": 9,
        "verify_phrases": 2,
        "has_verify": 1,
        **quiet,
    }


def test_hostile_input_is_bounded():
    text = "wait " * 400_000  # 2 MB of matches
    started = time.thread_time()  # this thread's CPU time: immune to a loaded machine's scheduling
    counters = behaviour_counters(text)
    assert time.thread_time() - started < 0.05
    assert counters["response_chars"] == len(text)
    assert counters["verify_phrases"] == MAX_SCAN_CHARS // 5


def test_search_steps_count_the_whole_word_try():
    assert count_search_steps("try 9 * 2 = 18 , 18 - 8 = 10 no try 9 + 8 = 17") == 2
    assert count_search_steps("Let's TRY again; I tried, it's a retry, trying entry") == 1
    assert behaviour_counters("try 1 + 2 = 3 yes")["has_search"] == 1
    assert behaviour_counters("guess </think>")["has_search"] == 0


def test_the_language_miniatures_chinese_try_and_verify_count_standing_alone():
    mixed = "try 9 - 4 = 5 , 5 + 5 = 10 #10 yes 试 9 + 8 = 17 , 17 - 2 = 15 #15 是 验 9 + 8 - 2 = 15"
    assert count_search_steps(mixed) == 2 and count_verify_phrases(mixed) == 1
    # Inside running Chinese (尝试, 试验, 经验) neither is a search line nor a check.
    assert count_search_steps("我们尝试一下, 试验") == 0 and count_verify_phrases("我的经验") == 0


CAUGHT_VALUE = "try 9 * 2 = 18 , 18 + 8 = 27 #10 no wait 18 + 8 = 26 #10 no , 18 - 8 = 10 #10 yes"
CAUGHT_HIT = "try 9 * 2 = 18 , 18 - 8 = 10 #10 no wait 18 - 8 = 10 #10 yes verify ( 9 * 2 ) - 8 = 10"


def test_self_corrections_count_a_step_caught_after_wait_and_rewritten():
    assert count_self_corrections(CAUGHT_VALUE) == 1  # a wrong value rewritten
    assert count_self_corrections(CAUGHT_HIT) == 1  # a missed hit judged again
    assert count_self_corrections("18 + 8 = 27. Wait, 18 + 8 = 26.") == 1  # prose punctuation, any case
    assert count_self_corrections("18+8=27 wait 18+8=26") == 1
    # a rewrite can be caught again
    assert count_self_corrections("1 + 1 = 3 wait 1 + 1 = 4 wait 1 + 1 = 2") == 2
    counters = behaviour_counters(CAUGHT_VALUE)
    assert counters["self_corrections"] == counters["has_self_correct"] == counters["has_verify"] == 1


def test_self_corrections_need_the_same_step_rewritten_with_a_change():
    for text in [
        ", 18 - 8 = 10 #10 no wait 18 - 8 = 10 #10 no",  # rewritten unchanged: a re-check, not a correction
        "18 + 8 = 26 wait 18 + 8 = 26 #10 no",  # only the rewrite is judged: nothing changed that both say
        "18 + 8 = 27 wait 18 - 8 = 10",  # another operator
        "18 + 8 = 27 wait 180 + 8 = 188",  # other operands that begin alike
        "18 + 8 = 27 wait 18 + 80 = 98",
        "118 + 8 = 27 wait 18 + 8 = 26",
        "18 + 8 = 27 await 18 + 8 = 26",  # "wait" inside a word
        "18 + 8 = 27 waiting 18 + 8 = 26",
        "18 + 8 = 27 , 3 * 3 = 9 wait 18 + 8 = 26",  # not the step just written
        "wait 18 + 8 = 26",
    ]:
        assert count_self_corrections(text) == 0, text


def test_self_corrections_are_bounded_on_hostile_input():
    for text in [
        "1" * 1_000_000,
        "1 + 1 = 3 wait " * 100_000,
        "1 + 1 = 3 wait 1 + 1 = 2 " * 40_000,
        "9" * 9 + " + " + "9" * 9 + " = 1 wait " * 50_000,
        "1 + 1 = " * 200_000,
        "12345678901234567890 + 1 = 2 wait " * 20_000,
    ]:
        started = time.thread_time()
        counters = behaviour_counters(text)
        assert time.thread_time() - started < 0.5
        assert 0 <= counters["self_corrections"] <= MAX_SCAN_CHARS // 10
    assert (
        behaviour_counters("1 + 1 = 3 wait 1 + 1 = 2 " * 40_000)["self_corrections"] == MAX_SCAN_CHARS // 25
    )
    for hostile in [
        "\x00wait\udcff",
        "= wait =",
        "#10 yes wait",
        "1 + = 2 wait 1 + = 3",
        "٣ + ٣ = ٧ wait ٣ + ٣ = ٦",
    ]:
        assert count_self_corrections(hostile) in (0, 1)
