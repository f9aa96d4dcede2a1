"""The language miniature's corpus (recipes/countdown-mini-r1.yaml): countdown-mini's planted search with a
second "language" for its reasoning words, switched to inside some searches, so that the base mixes languages
as R1-Zero did and consistency has a price.

The second language is Han characters, one per reasoning word (ZH_WORDS: try 试, yes 是, no 否, verify 验,
guess 猜), each one token of the base's tokenizer (pretrain_lang.build_tokenizer). The real language reward
(rewards/language.py) then scores a miniature response exactly as it scores real text: each Latin word of
two or more letters (`try`, `no`, `yes`, `verify`, `guess`) is an English word, each Han character a Chinese
word, and numbers, operators, `#N` targets and the tags are no words. No miniature-only rule.

Problems, prompt, drills, steps and routes are corpus.py's; of the problem examples, `search_share` answer
with a planted search (first steps in random order, one line each, every second step judged against the
target, a `verify` line on a hit, a guess when it gives up, as corpus.py writes it) and the rest with a
direct English `guess`. Each search is one of two kinds:

- **mixed** (`mixed_share` of the searches): its first line is English, every later line and its ending
  (verification or guess) use the Han words: `try 9 * 2 = 18 , 18 + 8 = 26 #10 no , ... 试 9 + 8 = 17 ,
  17 - 2 = 15 #10 否 , ... 验 ( 9 - 8 ) * 2 = 2 ...`. It may write MAX_SEARCH_LINES lines. A mixed search
  that hits on its first line never switches, so it is English throughout: mixing comes with going on.
- **English** (the others): English throughout. `english_long_share` of them may write MAX_SEARCH_LINES
  lines too; the others stop after ENGLISH_SHORT_LINES lines and guess.

So mixing is not free to drop, as in R1 (whose language-consistency reward cost "a slight degradation"):
past its first line a mixed search goes on longer than an English one on average and is right more often
(the gate measures by how much, in the corpus and in the base's hands), while long, right English searches
exist at a real rate (`search_share` x (1 - `mixed_share`) x `english_long_share` of the problems). RL on
accuracy alone has every reason to keep, even grow, the mixing; a language-consistency reward has to buy
English searches that go on as far.

    python -m pytest tests/mini/test_corpus_lang.py -q
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from mini.base.corpus import (
    DRILL_SHARE,
    MAX_SEARCH_LINES,
    Route,
    combine,
    direct_response,
    drill,
    first_steps,
    prompt,
)

# The second language: one Han character per reasoning word (试 try, 是 yes, 否 no, 验 verify, 猜 guess).
ZH_WORDS = {"try": "试", "yes": "是", "no": "否", "verify": "验", "guess": "猜"}
ENGLISH_SHORT_LINES = 2


@dataclass(frozen=True)
class LangMixture:
    """What the language corpus plants: search share, mixed share of the searches, long English share."""

    search_share: float
    mixed_share: float
    english_long_share: float


def in_chinese(text: str) -> str:
    """`text` with every reasoning word (a whole token) replaced by its Han synonym."""
    return " ".join(ZH_WORDS.get(token, token) for token in text.split())


def _answer(expression: str) -> str:
    return f"</think> <answer> {expression} </answer>"


def write_search(numbers: tuple[int, ...], target: int, rng: random.Random, cap: int, mixed: bool) -> str:
    """A planted search of at most `cap` lines; when `mixed`, every line after the first (and what follows
    them) in the Han words."""
    firsts = first_steps(numbers)
    rng.shuffle(firsts)
    lines: list[str] = []

    def written(text: str) -> str:
        return in_chinese(text) if mixed and lines else text

    for first, rest in firsts[:cap]:
        parts = [f"try {first.text()}"]
        for second in combine(first.value, rest):
            if second.value == target:
                expression = Route(first, rest, second).expression()
                parts.append(f", {second.text()} #{target} yes")
                ending = written(f"verify {expression} = {target}")
                lines.append(written(" ".join(parts)))
                return " ".join(lines) + f" {ending} {_answer(expression)}"
            parts.append(f", {second.text()} #{target} no")
        lines.append(written(" ".join(parts)))
    return " ".join(lines) + " " + written(direct_response(numbers, rng))


def search_response(numbers: tuple[int, ...], target: int, rng: random.Random, mixture: LangMixture) -> str:
    """A planted search: mixed (up to MAX_SEARCH_LINES lines) or English (long or short), as the mixture draws."""
    if rng.random() < mixture.mixed_share:
        return write_search(numbers, target, rng, MAX_SEARCH_LINES, mixed=True)
    long = rng.random() < mixture.english_long_share
    return write_search(numbers, target, rng, MAX_SEARCH_LINES if long else ENGLISH_SHORT_LINES, mixed=False)


def example(
    pool: list[tuple[tuple[int, ...], int]], mixture: LangMixture, rng: random.Random
) -> tuple[str, str]:
    """One (prompt, response) pair drawn from the mixture; `pool` holds the problems it may use."""
    if rng.random() < DRILL_SHARE:
        return "drill", drill(rng)
    numbers, target = rng.choice(pool)
    shown = list(numbers)
    rng.shuffle(shown)
    shown = tuple(shown)
    if rng.random() < mixture.search_share:
        return prompt(shown, target), search_response(shown, target, rng, mixture)
    return prompt(shown, target), direct_response(shown, rng)
