"""Batched token generation for a causal LM on CPU: many prompts, one KV cache, per-request sampling knobs.

vLLM batches the requests of a rollout step on a GPU; this is the CPU backend's counterpart. Prompts are
left-padded into one batch and decoded together with a transformers KV cache; each request keeps its own
temperature, top-k, top-p and token budget, so the result of a request depends on its own parameters only
(greedy results equal one-at-a-time decoding up to float rounding). Rows that finish are dropped from the
batch and the cache, so a step of mostly short answers does not pay for its longest one at full width.
Log-probs are of the processed (temperature-scaled, truncated) distribution, as vLLM's `processed_logprobs`.

    python -m pytest tests/launch/cpu_backend/test_cpu_sampling.py -q
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Sampling:
    """One request's knobs, with vLLM's meaning: temperature 0 is greedy, top_k <= 0 and top_p 1 are off."""

    max_tokens: int
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    ignore_eos: bool = False


@dataclass(frozen=True)
class Completion:
    token_ids: list[int]
    log_probs: list[float]


def _truncate(logits: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Mask to -inf what top-k (per row, <= 0 off) and top-p (per row, 1 off) leave out."""
    vocab = logits.shape[-1]
    ranked, order = logits.sort(dim=-1, descending=True)
    keep = torch.ones_like(ranked, dtype=torch.bool)
    k = torch.where(top_k > 0, top_k.clamp(max=vocab), torch.full_like(top_k, vocab))
    keep &= torch.arange(vocab).unsqueeze(0) < k.unsqueeze(1)
    probs = ranked.masked_fill(~keep, float("-inf")).softmax(dim=-1)
    # Keep the smallest prefix whose mass reaches top_p: a token stays if the mass before it is below top_p.
    before = probs.cumsum(dim=-1) - probs
    keep &= before < top_p.unsqueeze(1)
    masked = ranked.masked_fill(~keep, float("-inf"))
    return torch.empty_like(logits).scatter_(-1, order, masked)


@torch.no_grad()
def generate_batch(
    model: torch.nn.Module,
    prompts: list[list[int]],
    samplings: list[Sampling],
    *,
    eos_token_id: int | None,
    pad_token_id: int,
    generator: torch.Generator,
) -> list[Completion]:
    """Complete every prompt; returns one Completion per prompt, in order."""
    from transformers import DynamicCache

    if len(prompts) != len(samplings) or not prompts:
        raise ValueError(f"need one Sampling per prompt and at least one prompt, got {len(prompts)} prompts")
    if any(not prompt for prompt in prompts) or any(s.max_tokens < 1 for s in samplings):
        raise ValueError("every prompt needs at least one token and every request a budget of at least one")
    count, width = len(prompts), max(len(prompt) for prompt in prompts)
    input_ids = torch.full((count, width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((count, width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
        attention[row, width - len(prompt) :] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    temperature = torch.tensor([s.temperature for s in samplings], dtype=torch.float32)
    greedy = temperature <= 0
    temperature = torch.where(greedy, torch.ones_like(temperature), temperature)
    top_k = torch.tensor([s.top_k for s in samplings], dtype=torch.long)
    top_p = torch.tensor([s.top_p for s in samplings], dtype=torch.float32)
    truncating = bool((top_k > 0).any() or (top_p < 1).any())
    budget = torch.tensor([s.max_tokens for s in samplings])
    stops = torch.tensor([not s.ignore_eos and eos_token_id is not None for s in samplings])

    tokens: list[list[int]] = [[] for _ in prompts]
    log_probs: list[list[float]] = [[] for _ in prompts]
    active = torch.arange(count)  # original row of each row still in the batch
    cache = DynamicCache()
    output = model(
        input_ids=input_ids, attention_mask=attention, position_ids=positions, past_key_values=cache
    )
    next_position = positions[:, -1] + 1
    for step in range(int(budget.max())):
        logits = output.logits[:, -1, :].float() / temperature[active].unsqueeze(1)
        if truncating:
            logits = _truncate(logits, top_k[active], top_p[active])
        logp = logits.log_softmax(dim=-1)
        sampled = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
        choice = torch.where(greedy[active], logits.argmax(dim=-1), sampled)
        chosen = logp.gather(1, choice.unsqueeze(1)).squeeze(1)
        for row, token, value in zip(active.tolist(), choice.tolist(), chosen.tolist(), strict=True):
            tokens[row].append(token)
            log_probs[row].append(value)
        finished = (step + 1 >= budget[active]) | (stops[active] & (choice == eos_token_id))
        if finished.all():
            break
        if finished.any():
            keep = (~finished).nonzero().squeeze(1)
            cache.reorder_cache(keep)
            active, choice, attention = active[keep], choice[keep], attention[keep]
            next_position = next_position[keep]
        attention = torch.cat([attention, torch.ones((len(active), 1), dtype=torch.long)], dim=1)
        output = model(
            input_ids=choice.unsqueeze(1),
            attention_mask=attention,
            position_ids=next_position.unsqueeze(1),
            past_key_values=cache,
        )
        next_position = next_position + 1
    return [Completion(t, lp) for t, lp in zip(tokens, log_probs, strict=True)]
