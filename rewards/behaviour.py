"""Behaviour counters: response length, self-verification / backtracking phrases and search attempts.

Every scorer returns these, so verl's validation metrics (`val-aux/<data_source>/verify_phrases/mean@N`,
`has_verify`, `response_chars`) trace R1-Zero's "aha moment": the share of responses that check their own
work or back up, step by step. The phrase list lives here and nowhere else. `search_steps` counts the
word "try" (as in "try 9 * 2 = 18" or "Let's try 25 + 4"): a crude but honest trace of explicit search,
the behaviour Countdown models grow (has_search: the share of responses that search at all).

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


_SEARCH_WORD = re.compile(r"(?<![^\W\d_])try(?![^\W\d_])")


def count_search_steps(response: str) -> int:
    """Occurrences of the whole word "try" in `response` (case-insensitive)."""
    return len(_SEARCH_WORD.findall(response.lower()))


def behaviour_counters(response: str) -> dict[str, int]:
    """The counters every scorer returns: length in characters, self-verification phrases, search steps."""
    scanned = response[:MAX_SCAN_CHARS]
    phrases, searches = count_verify_phrases(scanned), count_search_steps(scanned)
    return {
        "response_chars": len(response),
        "verify_phrases": phrases,
        "has_verify": int(phrases > 0),
        "search_steps": searches,
        "has_search": int(searches > 0),
    }
