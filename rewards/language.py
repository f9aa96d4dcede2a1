"""Language consistency (DeepSeek-R1's stage-2 reward): the share of a chain of thought's words that are in
a target language, R1's "proportion of target language words in the CoT".

What counts as a word, per script (a script test, not a language identifier):

- **Latin** (target en): a run of two or more Latin letters (A-Z, a-z and the letters of Latin-1
  Supplement, Latin Extended-A to E and Additional, IPA extensions, fullwidth A-Z). One apostrophe
  (' or U+2019) or hyphen (- or U+2010) between two letters joins them: "don't", "double-check" and
  "x-ray" are one word each. Digits and underscores end a word ("x2y" has none). A lone letter is a
  symbol, not a word (`x`, `a + b`; English "a" and "I" are lost too, the price of not counting every
  variable). A run right after a backslash is a LaTeX command (`\\frac`, `\\sqrt`), not a word. French or
  German words are Latin words, so they count as en.
- **Han** (target zh): each ideograph is one word (Chinese is written without spaces, so R1's "words"
  can only be characters): CJK Unified Ideographs, Extensions A-H, compatibility ideographs.
- **Kana**: each Hiragana or Katakana character (half-width too) is one word, in no target: a Japanese
  CoT is mixing for en and zh alike (its Han characters count as zh).
- **Hangul** (Korean is written with spaces): each run of Hangul syllables or jamo is one word, in no
  target.
- **Any other letter** (Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, ...): a run of two or more is
  one word, in no target; a lone one (`π`, `α`) is a symbol.

In every script, combining marks (U+0300 and the like), soft hyphens and zero-width (non-)joiners continue
a word and start none ("naïve" with a decomposed ï is one word). Digits, operators, punctuation, spaces,
emoji, control and format characters (RTL marks, NUL, lone surrogates) belong to no word:
`9 * 2 = 18 , 18 - 8 = 10` has no words.

The chain of thought is the text before the response's last `</think>`, or the whole response without one
(chain_of_thought says why); the tags themselves are markup, not words. A CoT without words (empty, or
only arithmetic) scores 1.0: nothing in it is off the target language, and the reward is there to
penalise mixing, not to pay for words (a Countdown CoT that is all arithmetic is perfectly consistent;
scoring it 0 would push the policy to pad its reasoning with filler).

Time is linear in the text: one `str.translate` through a code-point class table built once at import
(about 0.15 s), then a few passes of `bytes.translate`/`replace`/`count` over those class letters and two
regex substitutions that start with a literal and look one character ahead (no backtracking). compute_score
reads no response longer than rewards.registry.MAX_RESPONSE_CHARS; this module reads any length.

    python -m pytest tests/rewards/test_language.py -q
"""

from __future__ import annotations

import re
import unicodedata

from rewards.format import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

# One ASCII class letter per code point, from the table below; anything else maps to a space.
LATIN, HAN, KANA, HANGUL, OTHER, MARK, JOINER, BACKSLASH = "LHKGOMJ\\"
TABLE_SIZE = 0x40000  # planes 0-3 hold every script above; a code point past them is no letter we count

_LATIN_RANGES = (
    (0x41, 0x5A),
    (0x61, 0x7A),
    (0xC0, 0x24F),  # Latin-1 Supplement letters (× and ÷ are symbols, not letters), Extended-A/B
    (0x250, 0x2AF),  # IPA extensions
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x2C60, 0x2C7F),  # Latin Extended-C
    (0xA720, 0xA7FF),  # Latin Extended-D
    (0xAB30, 0xAB6F),  # Latin Extended-E
    (0xFF21, 0xFF3A),  # fullwidth A-Z
    (0xFF41, 0xFF5A),  # fullwidth a-z
)
_HAN_RANGES = (
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x2FA1F),  # Extensions B-F, compatibility supplement
    (0x30000, 0x323AF),  # Extensions G-H
)
_KANA_RANGES = ((0x3041, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9D))
_HANGUL_RANGES = ((0x1100, 0x11FF), (0x3131, 0x318E), (0xA960, 0xA97F), (0xAC00, 0xD7A3), (0xD7B0, 0xD7FF))
_JOINERS = "'\u2019-\u2010"
# Invisible characters that sit inside words (Persian, Indic scripts, hyphenation points): like marks,
# they continue a word and start none.
_IN_WORD_FORMAT = "\u00ad\u200c\u200d"


def _class_table() -> str:
    """The class letter of every code point below TABLE_SIZE (index = code point)."""
    table = [" "] * TABLE_SIZE
    for point in range(TABLE_SIZE):
        category = unicodedata.category(chr(point))
        if category[0] == "L":
            table[point] = OTHER
        elif category[0] == "M":
            table[point] = MARK
    scripts = ((_LATIN_RANGES, LATIN), (_HAN_RANGES, HAN), (_KANA_RANGES, KANA), (_HANGUL_RANGES, HANGUL))
    for ranges, letter in scripts:
        for first, last in ranges:
            for point in range(first, last + 1):
                # only the letters of a block: not ×, ÷, unassigned points or combining (kana voicing) marks
                if table[point] == OTHER:
                    table[point] = letter
    for joiner in _JOINERS:
        table[ord(joiner)] = JOINER
    for invisible in _IN_WORD_FORMAT:
        table[ord(invisible)] = MARK
    table[ord("\\")] = BACKSLASH
    return "".join(table)


# str.translate looks each code point up here; past the end (IndexError) it leaves the character as it is,
# which is never an ASCII class letter (every code point from TABLE_SIZE on is outside ASCII) and becomes
# "?" when the class string is encoded to bytes.
_CLASSES = _class_table()

# Over the class bytes, marks are dropped (they only continue a word) and each joiner between two letters of
# one class becomes that letter; the patterns start with a literal and look ahead one character, so the
# engine never backtracks.
_LATIN_JOINER = re.compile(rb"LJ(?=L)")
_OTHER_JOINER = re.compile(rb"OJ(?=O)")


def _keeping(kept: str) -> bytes:
    """A bytes.translate table that keeps the class letters `kept` and turns every other byte into '.'."""
    return bytes(byte if chr(byte) in kept else ord(".") for byte in range(256))


# Then a word of a class is a run of its letters after a '.': two or more for the alphabetic classes. The
# Latin table keeps backslashes, so a run right after one (a LaTeX command) has no '.' before it.
_LATIN_ONLY, _OTHER_ONLY, _HANGUL_ONLY = _keeping(LATIN + BACKSLASH), _keeping(OTHER), _keeping(HANGUL)

# A target language is the script class whose words are its words.
TARGET_SCRIPT = {"en": "latin", "zh": "han"}
TARGET_LANGUAGES = tuple(TARGET_SCRIPT)
MARKUP = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def word_counts(text: str) -> dict[str, int]:
    """Words of `text` per script: latin, han, kana, hangul, other (see the module docstring)."""
    classes = text.translate(_CLASSES).encode("ascii", "replace").replace(MARK.encode(), b"")
    classes = _OTHER_JOINER.sub(b"OO", _LATIN_JOINER.sub(b"LL", classes))
    edged = b"." + classes  # a run at the very start has a '.' before it too
    return {
        "latin": edged.translate(_LATIN_ONLY).count(b".LL"),
        "han": classes.count(HAN.encode()),
        "kana": classes.count(KANA.encode()),
        "hangul": edged.translate(_HANGUL_ONLY).count(b".G"),
        "other": edged.translate(_OTHER_ONLY).count(b".OO"),
    }


def language_share(text: str, target: str) -> float:
    """The share of `text`'s words in `target` (en: Latin words; zh: Han characters); 1.0 without words."""
    counts = word_counts(text)
    total = sum(counts.values())
    return counts[TARGET_SCRIPT[target]] / total if total else 1.0


def chain_of_thought(response: str) -> str:
    """The reasoning of a response: the text before its last `</think>` (where rewards.format ends the
    reasoning), with the tags (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE) blanked: markup, not words.

    Without `</think>` the whole response is the chain of thought: a response cut at the token budget is
    all reasoning, and one that never closes its think block must not escape the check (its answer, if
    any, comes along: arithmetic or a number, no words, in every task so far). A template that pre-fills
    `<think>` (rewards.format.AnswerSpec) changes only whether a leading `<think>` is expected, and a tag
    counts for nothing either way, so the same reading serves every template, `boxed` (no tags) included.
    """
    end = response.rfind(THINK_CLOSE)
    reasoning = response if end < 0 else response[:end]
    for tag in MARKUP:
        reasoning = reasoning.replace(tag, " ")
    return reasoning


def cot_language_share(response: str, target: str) -> float:
    """R1's language consistency of a response: the share of its chain of thought's words in `target`."""
    return language_share(chain_of_thought(response), target)
