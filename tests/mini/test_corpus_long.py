"""The long miniature's corpus and its build: the documented line-cap distribution, exhaustive traces that try
every first step, slips whose correction leaves a right trace, the `wait` token, the response budget.

python -m pytest tests/mini/test_corpus_long.py -q
"""

from __future__ import annotations

import math
import random
import re

import pytest

from launch.recipe import load_recipe
from mini.base import build, corpus, corpus_long, gate, gate_long, pretrain_long
from mini.base.vocab import build_tokenizer as build_mini_tokenizer
from rewards.behaviour import count_self_corrections
from rewards.registry import compute_score

EXTRA = {"template": "mini"}
LONG = pretrain_long.PRIORS["long"].mixture()
_SLIP = re.compile(r", [^,]*? wait ")


def score(response: str, numbers, target: int) -> dict:
    return compute_score("countdown", response, {"target": target, "numbers": list(numbers)}, EXTRA)


def tried_first_steps(response: str) -> list[str]:
    return re.findall(r"try (\d+ [-+*/] \d+ = \d+)", response)


def test_line_caps_follow_the_documented_power_law():
    shares = corpus_long.line_cap_shares()
    assert len(shares) == corpus_long.MAX_FIRST_STEPS and math.isclose(sum(shares), 1)
    assert [round(s, 3) for s in shares[:3]] == [0.608, 0.152, 0.068] and round(shares[-1], 3) == 0.053
    rng, draws = random.Random(0), 40_000
    counts = [0] * corpus_long.MAX_FIRST_STEPS
    for _ in range(draws):
        counts[corpus_long.draw_line_cap(rng, corpus_long.MAX_FIRST_STEPS) - 1] += 1
    for count, share in zip(counts, shares, strict=True):
        assert abs(count / draws - share) < 4 * math.sqrt(share * (1 - share) / draws) + 1e-9
    assert corpus_long.line_cap_shares(3) == pytest.approx([shares[0], shares[1], 1 - shares[0] - shares[1]])


def test_no_problem_has_more_first_steps_than_the_largest_cap():
    assert (
        max(len(corpus.first_steps(numbers)) for numbers, _ in corpus.problems())
        == corpus_long.MAX_FIRST_STEPS
    )


def test_an_exhaustive_trace_tries_every_first_step_and_always_hits():
    rng = random.Random(2)
    for numbers, target in rng.sample(corpus.problems(), 200):
        order = corpus.first_steps(numbers)
        rng.shuffle(order)
        # An unreachable target (no value is 0): the trace must try every first step, then give up.
        missed = corpus_long.write_search(numbers, order, 0, corpus_long.MAX_FIRST_STEPS, None, rng)
        assert sorted(tried_first_steps(missed)) == sorted(first.text() for first, _ in order)
        assert " guess " in missed
        hit = corpus_long.write_search(numbers, order, target, corpus_long.MAX_FIRST_STEPS, None, rng)
        assert score(hit, numbers, target)["acc"] == 1 and "guess" not in hit


def test_a_planted_search_tries_the_first_steps_in_their_fixed_order():
    rng, pool = random.Random(6), corpus.problems()
    for numbers, target in rng.sample(pool, 300):
        tried = tried_first_steps(corpus_long.search_response(numbers, target, rng, LONG))
        listed = [first.text() for first, _ in corpus.first_steps(numbers)]
        # Without the slip's rewritten step (a `wait` line repeats no first step) the lines are a prefix.
        assert tried and tried == listed[: len(tried)]


def test_short_caps_stop_early_and_most_planted_searches_are_short():
    rng, pool = random.Random(3), corpus.problems()
    lines = []
    for _ in range(3000):
        numbers, target = rng.choice(pool)
        lines.append(corpus_long.search_response(numbers, target, rng, LONG).split().count("try"))
    assert sum(n == 1 for n in lines) / len(lines) > 0.6  # most are short
    assert sum(n >= 8 for n in lines) / len(lines) > 0.01  # a few go far
    short = pretrain_long.PRIORS["short"].mixture()
    assert all(
        corpus_long.search_response(numbers, target, rng, short).split().count("try") <= 3
        for numbers, target in rng.sample(pool, 500)
    )


def test_a_caught_slip_leaves_the_right_trace_once_cut_out():
    rng = random.Random(4)
    for numbers, target in rng.sample(corpus.problems(), 300):
        order = corpus.first_steps(numbers)
        rng.shuffle(order)
        cap = corpus_long.MAX_FIRST_STEPS
        steps = corpus_long.clean_judged_steps(order, target, cap)
        slip = corpus_long.Slip(rng.randrange(steps), corrected=True)
        caught = corpus_long.write_search(numbers, order, target, cap, slip, random.Random(0))
        clean = corpus_long.write_search(numbers, order, target, cap, None, random.Random(0))
        assert caught.count(" wait ") == 1 and count_self_corrections(caught) == 1
        (slipped,) = _SLIP.findall(caught)
        assert _SLIP.sub(", ", caught) == clean
        right, total = gate.arithmetic_right([clean])
        assert right == total and score(caught, numbers, target)["acc"] == 1
        # The slip itself is wrong: a wrong value, or the target judged `no`.
        value_right = gate.arithmetic_right([slipped]) == (1, 1)
        assert not value_right or f"= {target} #{target} no" in slipped


def test_an_uncaught_slip_carries_on_as_written():
    rng = random.Random(5)
    missed_hits = 0
    for numbers, target in rng.sample(corpus.problems(), 300):
        order = corpus.first_steps(numbers)
        rng.shuffle(order)
        steps = corpus_long.clean_judged_steps(order, target, 3)
        slip = corpus_long.Slip(steps - 1, corrected=False)  # the last step: the hit, when there is one
        trace = corpus_long.write_search(numbers, order, target, 3, slip, rng)
        assert "wait" not in trace and count_self_corrections(trace) == 0
        verdicts = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+) #(\d+) (yes|no)", trace)
        wrong = [v for v in verdicts if (v[3] == v[4]) != (v[5] == "yes")] + [
            v for v in verdicts if gate.arithmetic_right([f"{v[0]} {v[1]} {v[2]} = {v[3]}"]) == (0, 1)
        ]
        assert len(wrong) == 1
        missed_hits += f"= {target} #{target} no" in trace
    assert missed_hits > 50


def test_planted_correction_rate_is_the_documented_one():
    rng, pool = random.Random(6), corpus.problems()
    searches = [
        response
        for _, response in (corpus_long.example(pool, LONG, rng) for _ in range(20_000))
        if response.startswith("try ")
    ]
    planted = LONG.slip_share * LONG.corrected_share
    assert planted == 0.05
    share = sum(count_self_corrections(r) > 0 for r in searches) / len(searches)
    assert abs(share - planted) < 4 * math.sqrt(planted * (1 - planted) / len(searches))
    assert abs(len(searches) / 20_000 - 0.9 * LONG.search_share) < 0.02
    short = pretrain_long.PRIORS["short"].mixture()
    text = " ".join(corpus_long.example(pool, short, rng)[1] for _ in range(3000))
    assert "wait" not in text and gate.arithmetic_right([text])[0] == gate.arithmetic_right([text])[1]


def test_the_tokenizer_adds_wait_as_one_token_and_keeps_every_other_id():
    tokenizer, mini = pretrain_long.build_tokenizer(), build_mini_tokenizer()
    assert len(tokenizer) == len(mini) + 1
    text = "try 9 * 2 = 18 , 18 + 8 = 27 #10 no wait 18 + 8 = 26 #10 no guess </think> <answer> 9 + 2 + 8 </answer>"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text.split()) and ids[14] == len(mini)
    assert ids[:14] == mini(" ".join(text.split()[:14]))["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer("await waiting")["input_ids"] == mini("await waiting")["input_ids"]  # whole word only


def test_the_response_budget_holds_the_longest_trace():
    longest = gate_long.longest_search_tokens(corpus.problems())
    assert longest == 469
    recipe = load_recipe("countdown-mini-long")
    assert recipe.overrides["data.max_response_length"] == gate_long.MAX_NEW_TOKENS >= longest
    assert gate_long.MAX_NEW_TOKENS + recipe.overrides["data.max_prompt_length"] <= 512  # model positions
    assert gate_long.MAX_NEW_TOKENS + 16 <= pretrain_long.ROW_TOKENS
    tokenizer, rng = pretrain_long.build_tokenizer(), random.Random(7)
    mixture = corpus_long.Mixture(1.0, corpus_long.MAX_FIRST_STEPS, 1.0, 1.0)
    for numbers, target in rng.sample(corpus.problems(), 400):
        response = corpus_long.search_response(numbers, target, rng, mixture)
        assert len(tokenizer(response)["input_ids"]) + 1 <= longest


def test_long_bases_hash_their_own_code_and_the_committed_ones_still_match():
    long_config = build.prior_config("long")
    assert build.is_long(long_config) and not build.is_long(build.prior_config("search"))
    assert build.shaping_modules(long_config) == build.LONG_SHAPING_MODULES
    assert build.sources_digest(build.LONG_SHAPING_MODULES) != build.sources_digest()
    assert build.build_hash(long_config, set()) != build.build_hash(build.prior_config("short"), set())
    with pytest.raises(ValueError, match="unknown prior 'longer'; known: search, none, long, short"):
        build.prior_config("longer")


def test_exhaustive_search_goes_on_wherever_a_real_base_gives_up():
    """On countdown-mini's committed base (its search gives up after at most 5 lines, with `guess`)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from launch.recipe import REPO_ROOT
    from mini import BASES

    model_dir = str(REPO_ROOT / BASES["search"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    numbers = [(9, 2, 8), (3, 7, 5), (4, 4, 6)]
    truths = [{"numbers": list(n), "target": 1 + sum(n) * 7 % 97} for n in numbers]
    prompts = [corpus.prompt(tuple(t["numbers"]), t["target"]) for t in truths]
    forced = gate_long.complete(model, tokenizer, [f"{p} try" for p in prompts], 0.0, 0)
    searched = gate_long.exhaustive(model, tokenizer, prompts, truths, 0)
    gave_up = 0
    for first, last, truth in zip(forced, searched, truths, strict=True):
        words = f"try {first}".split()
        if "guess" in words:
            gave_up += 1
            assert last.startswith(" ".join(words[: words.index("guess")]) + " try ")
        limit = len(corpus.first_steps(tuple(truth["numbers"])))
        assert "guess" not in last.split() or last.count("try") >= limit or len(last.split()) >= 472
    assert gave_up > 0  # the case under test happened
    assert gate.accuracy(searched, truths) >= gate.accuracy([f"try {f}" for f in forced], truths)
