"""Self-verification / backtracking counters: what counts, what does not, and the bound on hostile input."""

import time

from rewards.behaviour import (
    MAX_SCAN_CHARS,
    VERIFY_PHRASES,
    behaviour_counters,
    count_search_steps,
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
    quiet = {"search_steps": 0, "has_search": 0}
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
