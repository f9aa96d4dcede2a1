"""Behaviour counters: response length, self-verification / backtracking phrases, search attempts and
self-corrections.

Every scorer returns these, so verl's validation metrics (`val-aux/<data_source>/verify_phrases/mean@N`,
`has_verify`, `response_chars`) trace R1-Zero's "aha moment": the share of responses that check their own
work or back up, step by step. The phrase list lives here and nowhere else. `search_steps` counts the
word "try" (as in "try 9 * 2 = 18" or "Let's try 25 + 4"), or 试 standing alone (the language miniature's Chinese
"try", mini/base/corpus_lang.py): a crude but honest trace of explicit search, the behaviour Countdown models
grow (has_search: the share of responses that search at all).
`self_corrections` counts a step caught and rewritten: an equation `a op b = v` (optionally judged against
the target, `#t yes|no`), then the word "wait", then the same `a op b` written again with another value or
another judgement, as the long miniature's corpus plants it (mini/base/corpus_long.py:
`18 + 8 = 27 #10 no wait 18 + 8 = 26 #10 no`); has_self_correct: the share of responses with one. Whether
the rewrite is right is the reward's business, not the counter's. A "wait" is a verify phrase as well.

    python -m pytest tests/rewards/test_behaviour.py -q
"""

from __future__ import annotations

import re

# Lower-case; matched case-insensitively where a word starts, so "verify" also counts "Verifying" and
# "verified" but "wait" does not count "await". No phrase overlaps another (tests/rewards/test_behaviour.py
# checks), so no occurrence is counted twice.
VERIFY_PHRASES: tuple[str, ...] = (
    "wait",
    "hmm",
    "let me check",
    "let's check",
    "double-check",
    "double check",
    "recheck",
    "re-check",
    "verify",
    "verification",
    # Chinese "check" (验证, 验算; the language miniature's "verify"); in running Chinese it counts only after a
    # non-letter, as every phrase does.
    "验",
    "try again",
    "another approach",
    "different approach",
    "start over",
    "reconsider",
    "re-evaluate",
    "mistake",
    "not correct",
)
MAX_SCAN_CHARS = 256_000  # phrases past this are not counted, so a hostile megabyte stays fast


# Per phrase: the phrase, then a look back that it was not preceded by a letter ([^\W\d_] is a letter in
# any script). Starting with the literal keeps the regex engine's fast substring search.
_AT_WORD_START = {
    phrase: re.compile(re.escape(phrase) + r"(?<![^\W\d_]" + re.escape(phrase) + ")")
    for phrase in VERIFY_PHRASES
}


def count_verify_phrases(response: str) -> int:
    """Occurrences of VERIFY_PHRASES in `response` that start a word (case-insensitive)."""
    # A C-speed substring test per phrase is faster than one regex alternation, which stops at every
    # character that could start a phrase; the word-start regex runs only for the phrases present.
    text = response.lower()
    return sum(len(_AT_WORD_START[phrase].findall(text)) for phrase in VERIFY_PHRASES if phrase in text)


_SEARCH_WORD = re.compile(r"(?<![^\W\d_])(?:try|试)(?![^\W\d_])")


def count_search_steps(response: str) -> int:
    """Occurrences of the whole word "try" (case-insensitive), or of 试 with no letter beside it, in `response`."""
    return len(_SEARCH_WORD.findall(response.lower()))


# A step and its judgement if any, "wait", then (looked ahead, so that it can be the next match's step) the
# same operands and operator written again, with its value and judgement. Digit runs are bounded and
# anchored at their start, so the engine tries each run once: linear time on any string.
_CORRECTION = re.compile(
    r"(?<!\d)(\d{1,9}) ?([-+*/×÷]) ?(\d{1,9}) ?= ?(\d{1,9})(?: ?#?\d{1,9} (yes|no))?"
    r"[ ,.:;!]{0,4}(?<![^\W\d_])wait(?![^\W\d_])[ ,.:;!]{0,4}"
    r"(?=\1 ?\2 ?\3 ?= ?(\d{1,9})(?!\d)(?: ?#?\d{1,9} (yes|no))?)"
)


def count_self_corrections(response: str) -> int:
    """Steps written, then "wait", then the same step rewritten with another value, or another judgement
    where both writings are judged (case-insensitive)."""
    return sum(
        value != again or (verdict != verdict_again and "" not in (verdict, verdict_again))
        for _, _, _, value, verdict, again, verdict_again in _CORRECTION.findall(response.lower())
    )


def behaviour_counters(response: str) -> dict[str, int]:
    """The counters every scorer returns: length in characters, self-verification phrases, search steps,
    self-corrections."""
    scanned = response[:MAX_SCAN_CHARS]
    phrases, searches = count_verify_phrases(scanned), count_search_steps(scanned)
    corrections = count_self_corrections(scanned)
    return {
        "response_chars": len(response),
        "verify_phrases": phrases,
        "has_verify": int(phrases > 0),
        "search_steps": searches,
        "has_search": int(searches > 0),
        "self_corrections": corrections,
        "has_self_correct": int(corrections > 0),
    }
