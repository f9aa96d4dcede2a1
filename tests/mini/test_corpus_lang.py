"""The language miniature's base kit (mini/base/corpus_lang.py, pretrain_lang.py, gate_lang.py, its card): the
planted mixture measured from the corpus writer and scored by the real rewards, the tokenizer, the build's
place among the priors, the gate's arithmetic.

    python -m pytest tests/mini/test_corpus_lang.py -q
"""

from __future__ import annotations

import random

import pytest

from mini.base import build, card, corpus, corpus_lang, gate_lang, pretrain_lang
from mini.base.vocab import build_tokenizer as build_mini_tokenizer
from rewards.behaviour import count_search_steps, count_verify_phrases
from rewards.language import language_share, word_counts
from rewards.registry import compute_score

EXTRA = {"template": "mini"}
MIXTURE = pretrain_lang.PRIORS["mixed"].mixture()


def _truth(prompt: str) -> dict:
    words = prompt.split()  # numbers a b c target #t <think>
    return {"numbers": [int(n) for n in words[1:4]], "target": int(words[5][1:])}


@pytest.fixture(scope="module")
def planted() -> list[dict]:
    """6,000 corpus examples, the problem ones scored by the real Countdown reward."""
    rng, pool, rows = random.Random(3), corpus.problems(), []
    for _ in range(6000):
        prompt, response = corpus_lang.example(pool, MIXTURE, rng)
        if prompt == "drill":
            continue
        reward = compute_score("countdown", response, _truth(prompt), EXTRA)
        rows.append({"response": response, "acc": reward["acc"], "lang": reward["lang_consistency"]})
    return rows


def test_the_base_mixes_at_a_measurable_rate_and_only_inside_searches(planted):
    mixed = [row for row in planted if row["lang"] < 1]
    # search_share x mixed_share x P(no hit on the first line): about 0.3 x 0.5 x 0.8
    assert 0.08 <= len(mixed) / len(planted) <= 0.16
    assert all(count_search_steps(row["response"]) >= 2 for row in mixed)
    assert all(row["response"].startswith("try ") for row in mixed)  # the first line is always English
    guesses = [row for row in planted if row["response"].startswith("guess ")]
    assert guesses and all(row["lang"] == 1 for row in guesses)


def test_consistency_is_not_free_in_the_corpus_yet_long_english_searches_exist(planted):
    def accuracy(rows):
        return sum(row["acc"] for row in rows) / len(rows)

    mixed = [row for row in planted if row["lang"] < 1]
    english = [row for row in planted if row["lang"] == 1 and count_search_steps(row["response"]) >= 2]
    assert accuracy(mixed) - accuracy(english) >= 0.15  # measured 0.64 vs 0.41 on 18k examples
    long_right = [
        row
        for row in english
        if count_search_steps(row["response"]) > corpus_lang.ENGLISH_SHORT_LINES and row["acc"]
    ]
    assert len(long_right) / len(planted) >= 0.02  # right English searches past the short cap, at a real rate
    assert gate_lang.price_figures(
        [{"acc": r["acc"], "lang": r["lang"], "lines": count_search_steps(r["response"])} for r in planted]
    )["price_of_consistency"] == pytest.approx(accuracy(mixed) - accuracy(english), abs=1e-4)


def test_a_mixed_search_is_scored_by_the_real_language_rule_word_by_word():
    rng = random.Random(0)
    numbers, target = (9, 2, 8), 100  # unreachable: every line is written, then a guess
    response = corpus_lang.write_search(numbers, target, rng, cap=3, mixed=True)
    first, *rest = response.split(" 试 ")
    assert "试" not in first and len(rest) == 2 and "猜" in rest[-1] and "guess" not in response
    english = first.split().count("try") + first.split().count("no")
    chinese = sum(response.count(word) for word in corpus_lang.ZH_WORDS.values())
    counts = word_counts(response.split("</think>")[0])
    assert counts["latin"] == english and counts["han"] == chinese
    reward = compute_score("countdown", response, {"numbers": list(numbers), "target": target}, EXTRA)
    assert reward["lang_consistency"] == pytest.approx(english / (english + chinese))
    assert reward["search_steps"] == 3  # 试 is a search line, as try is
    english_only = corpus_lang.write_search(numbers, target, random.Random(0), cap=3, mixed=False)
    assert language_share(english_only, "en") == 1.0 and count_search_steps(english_only) == 3
    # The same draws in English: the mixed trace is its first line, then the rest word for word in Han words.
    assert response == f"{first} {corpus_lang.in_chinese(english_only[len(first) + 1 :])}"


def test_a_mixed_search_that_hits_on_its_first_line_never_switches():
    for seed in range(200):
        response = corpus_lang.write_search((9, 2, 8), 26, random.Random(seed), cap=5, mixed=True)
        if count_search_steps(response) == 1:
            assert response.endswith("verify ( 9 * 2 ) + 8 = 26 </think> <answer> ( 9 * 2 ) + 8 </answer>")
            assert language_share(response, "en") == 1.0
            return
    pytest.fail("no first-line hit in 200 draws")


def test_a_mixed_hit_verifies_in_the_second_language_and_counts_as_verification():
    for seed in range(200):
        response = corpus_lang.write_search((9, 2, 8), 10, random.Random(seed), cap=5, mixed=True)
        if count_search_steps(response) >= 2 and "<answer>" in response and "是" in response:
            assert " 验 " in response and "verify" not in response
            assert count_verify_phrases(response) == 1
            truth = {"numbers": [9, 2, 8], "target": 10}
            assert compute_score("countdown", response, truth, EXTRA)["acc"] == 1
            return
    pytest.fail("no mixed hit in 200 draws")


def test_the_tokenizer_adds_each_han_word_as_one_token_and_keeps_every_other_id():
    tokenizer, mini = pretrain_lang.build_tokenizer(), build_mini_tokenizer()
    assert len(tokenizer) == len(mini) + len(corpus_lang.ZH_WORDS)
    text = "try 9 * 2 = 18 , 18 + 8 = 26 #10 no 试 9 + 8 = 17 , 17 - 2 = 15 #10 否 猜 </think> <answer> 9 + 2 + 8 </answer>"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text.split()) and tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text
    english = "try 9 * 2 = 18 , 18 + 8 = 26 #10 no guess </think>"
    assert tokenizer(english)["input_ids"] == mini(english)["input_ids"]


def test_the_mixed_prior_is_a_build_of_its_own_and_leaves_countdown_minis_hash_alone():
    config = build.prior_config("mixed")
    assert isinstance(config, pretrain_lang.LangPretrainConfig) and config.mixture() == MIXTURE
    assert build.shaping_modules(config) == (*build.SHAPING_MODULES, corpus_lang, pretrain_lang)
    assert build.shaping_modules(build.prior_config("search")) == build.SHAPING_MODULES
    assert build.record_config({"prior": "mixed", "config": build.asdict(config)}) == config
    assert "mixed" in build.KNOWN_PRIORS and not build.falls_short(
        {"prior": "mixed", "gate": {"passed": True}}
    )


def test_a_tiny_mixed_build_saves_a_tokenizer_that_loads_unchanged(tmp_path):
    from transformers import AutoTokenizer

    config = pretrain_lang.LangPretrainConfig(
        steps=1, warmup_steps=1, hidden_size=12, num_heads=2, num_layers=1, intermediate_size=16
    )
    result = pretrain_lang.pretrain_lang(config, corpus.problems()[:5])
    build.save(result, tmp_path)
    text = "numbers 9 2 8 target #10 <think> try 9 * 2 = 18 , 18 + 8 = 26 #10 否"
    assert (
        AutoTokenizer.from_pretrained(str(tmp_path))(text)["input_ids"]
        == pretrain_lang.build_tokenizer()(text)["input_ids"]
    )


def test_price_figures_leave_one_line_searches_out_of_both_sides():
    rows = [
        {"acc": 1, "lang": 1.0, "lines": 1},  # a first-line hit: never mixes, so not compared
        {"acc": 0, "lang": 1.0, "lines": 2},
        {"acc": 1, "lang": 1.0, "lines": 5},
        {"acc": 1, "lang": 0.3, "lines": 4},
        {"acc": 1, "lang": 0.2, "lines": 5},
    ]
    figures = gate_lang.price_figures(rows)
    assert figures["acc_mixed"] == 1.0 and figures["acc_english_2plus_lines"] == 0.5
    assert figures["price_of_consistency"] == 0.5 and figures["mixing_rate"] == 0.4
    assert gate_lang.price_figures([{"acc": 1, "lang": 1.0, "lines": 1}])["price_of_consistency"] is None


def test_the_card_documents_the_mixture_and_how_a_word_is_counted(tmp_path):
    config = build.prior_config("mixed")
    record = {
        "prior": "mixed",
        "config": build.asdict(config),
        "hash": "0" * 64,
        "sources": "1" * 64,
        "parameters": 2_000_000,
        "tokens_seen": 1,
        "response_tokens": 1,
        "final_loss": 0.2,
        "pretrain_seconds": 1.0,
        "pool_problems": 1889,
        "held_out_problems": 256,
        "test_split": "data/countdown-mini/mini/test.parquet",
        "gate": {"sampled_mixing_rate": 0.12, "checks": {"x": True}, "passed": True},
    }
    text = card.write_card(tmp_path, record).read_text()
    assert "`try` 试" in text and "`guess` 猜" in text and "mini/base/corpus_lang.py" in text
    assert "50% of the searches are **mixed**" in text and "40% of them may write 5 lines" in text
    assert "each Han character a Chinese word" in text and "recipes/countdown-mini-r1.yaml" in text
