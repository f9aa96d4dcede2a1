"""Batched generation of the CPU backend: batching changes nothing a request can see.

python -m pytest tests/launch/cpu_backend/test_cpu_sampling.py -q
"""

from __future__ import annotations

import pytest
import torch

from launch.cpu_backend.sampling import Sampling, generate_batch
from launch.cpu_backend.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def model_and_tokenizer(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(path))


PROMPTS = ["Using the numbers [3, 7, 25]", "<think> 50 + 25", "Make 24 from 4 7 8 8 with + - * /", "0"]


def _run(model, tokenizer, prompts, samplings, seed=0):
    ids = [tokenizer(p)["input_ids"] for p in prompts]
    return generate_batch(
        model,
        ids,
        samplings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        generator=torch.Generator().manual_seed(seed),
    )


def test_greedy_batch_equals_one_at_a_time(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    budgets = [Sampling(max_tokens=n, temperature=0.0) for n in (12, 5, 20, 1)]
    batched = _run(model, tokenizer, PROMPTS, budgets)
    for prompt, sampling, together in zip(PROMPTS, budgets, batched, strict=True):
        (alone,) = _run(model, tokenizer, [prompt], [sampling])
        assert together.token_ids == alone.token_ids
        assert len(together.token_ids) == sampling.max_tokens  # random weights: eos is not expected early
        assert together.log_probs == pytest.approx(alone.log_probs, abs=1e-4)


def test_log_probs_are_the_models_own(model_and_tokenizer):
    """Scoring prompt + completion in one forward pass (as the actor does) gives the rollout's log-probs."""
    model, tokenizer = model_and_tokenizer
    samplings = [Sampling(max_tokens=10, temperature=0.7)] * len(PROMPTS)
    for prompt, completion in zip(PROMPTS, _run(model, tokenizer, PROMPTS, samplings), strict=True):
        prompt_ids = tokenizer(prompt)["input_ids"]
        full = torch.tensor([prompt_ids + completion.token_ids])
        with torch.no_grad():
            logits = model(full).logits[0, len(prompt_ids) - 1 : -1] / 0.7
        expected = (
            logits.log_softmax(-1).gather(1, torch.tensor(completion.token_ids).unsqueeze(1)).squeeze(1)
        )
        assert completion.log_probs == pytest.approx(expected.tolist(), abs=1e-4)


def test_sampling_is_seeded_and_top_k_one_is_greedy(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    hot = [Sampling(max_tokens=8, temperature=1.0)] * len(PROMPTS)
    first, again = _run(model, tokenizer, PROMPTS, hot, 3), _run(model, tokenizer, PROMPTS, hot, 3)
    other = _run(model, tokenizer, PROMPTS, hot, 4)
    assert [c.token_ids for c in first] == [c.token_ids for c in again]
    assert [c.token_ids for c in first] != [c.token_ids for c in other]
    top1 = _run(model, tokenizer, PROMPTS, [Sampling(max_tokens=8, temperature=1.0, top_k=1)] * len(PROMPTS))
    greedy = _run(model, tokenizer, PROMPTS, [Sampling(max_tokens=8, temperature=0.0)] * len(PROMPTS))
    assert [c.token_ids for c in top1] == [c.token_ids for c in greedy]
    assert all(lp == pytest.approx(0.0, abs=1e-6) for c in top1 for lp in c.log_probs)


def test_stops_at_eos_unless_ignored(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    (probe,) = _run(model, tokenizer, PROMPTS[:1], [Sampling(max_tokens=6, temperature=0.0)])
    eos = probe.token_ids[0]  # pretend the first greedy token is the end of text
    ids = [tokenizer(PROMPTS[0])["input_ids"]] * 2
    stopped, ignored = generate_batch(
        model,
        ids,
        [Sampling(max_tokens=6, temperature=0.0), Sampling(max_tokens=6, temperature=0.0, ignore_eos=True)],
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        generator=torch.Generator().manual_seed(0),
    )
    assert stopped.token_ids == probe.token_ids[:1]
    assert ignored.token_ids == probe.token_ids


def test_bad_requests_are_refused(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match="one Sampling per prompt"):
        _run(model, tokenizer, PROMPTS, [Sampling(max_tokens=1)])
    with pytest.raises(ValueError, match="budget of at least one"):
        _run(model, tokenizer, PROMPTS[:1], [Sampling(max_tokens=0)])
