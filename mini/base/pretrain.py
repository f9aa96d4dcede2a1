"""Pre-trains the miniature's base model on CPU: a ~2M-parameter Qwen2 on the planted corpus (corpus.py).

Examples are drawn on the fly from the mixture and packed into rows of ROW_TOKENS tokens; position ids
restart at every example and an explicit block-diagonal causal mask keeps examples from seeing each other
(transformers 5 does not infer one from the position ids on the sdpa path; a model trained without it
attends across examples and behaves differently alone at inference). Length-sorted batches would make batches all-search or all-direct and distort the planted share:
../shared/MINI_NOTES.md). The loss covers response tokens only. Warm-up then cosine decay of the learning
rate, AdamW, gradient clipping at 1. Everything is seeded; on the same torch build and thread count a
rebuild gives the same weights.

    python -m mini.base --out models/mini-base
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mini.base import corpus
from mini.base.vocab import EOS, INTEGERS, PAD, TARGETS, build_tokenizer

ROW_TOKENS = 256
IGNORE = -100


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that decides the weights; its hash names the build (build.json)."""

    search_share: float = 0.25
    steps: int = 2000
    rows_per_step: int = 16
    peak_lr: float = 1.5e-3
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    intermediate_size: int = 512
    seed: int = 0
    threads: int = 2
    aligned_targets: bool = True


def model_config(config: PretrainConfig, vocab_size: int, pad_id: int, eos_id: int):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        dtype="float32",
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        attn_implementation="sdpa",
    )


class Packer:
    """Yields (input_ids, position_ids, labels) batches of packed examples drawn from the corpus."""

    def __init__(self, tokenizer, pool, search_share: float, rng: random.Random) -> None:
        self.tokenizer, self.pool, self.search_share, self.rng = tokenizer, pool, search_share, rng
        self.eos_id = tokenizer.convert_tokens_to_ids(EOS)
        self.pad_id = tokenizer.convert_tokens_to_ids(PAD)
        self._pending: tuple[list[int], list[int]] | None = None

    def _example(self) -> tuple[list[int], list[int]]:
        prompt, response = corpus.example(self.pool, self.search_share, self.rng)
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        response_ids = [*self.tokenizer(response)["input_ids"], self.eos_id]
        ids = prompt_ids + response_ids
        # labels[t] is the token at t; transformers shifts them, so prompt tokens are never predicted.
        return ids, [IGNORE] * len(prompt_ids) + response_ids

    def row(self) -> tuple[list[int], list[int], list[int], list[int]]:
        ids, positions, labels, segments = [], [], [], []
        while True:
            example = self._pending or self._example()
            self._pending = None
            if len(ids) + len(example[0]) > ROW_TOKENS:
                self._pending = example
                break
            segments += [segments[-1] + 1 if segments else 0] * len(example[0])
            ids += example[0]
            positions += range(len(example[0]))
            labels += example[1]
        pad = ROW_TOKENS - len(ids)
        # The padding is one more segment, so it attends only to itself.
        segments += [(segments[-1] + 1 if segments else 0)] * pad
        return ids + [self.pad_id] * pad, positions + list(range(pad)), labels + [IGNORE] * pad, segments

    def batch(self, rows: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input_ids, position_ids, labels, 4-D boolean attention mask: same example and not in the future)."""
        ids, positions, labels, segments = (
            torch.tensor(column, dtype=torch.long)
            for column in zip(*(self.row() for _ in range(rows)), strict=True)
        )
        causal = torch.ones(ROW_TOKENS, ROW_TOKENS, dtype=torch.bool).tril()
        mask = (segments.unsqueeze(2) == segments.unsqueeze(1)) & causal
        return ids, positions, labels, mask.unsqueeze(1)


def align_target_embeddings(model: torch.nn.Module, tokenizer) -> None:
    """Start each target token #N at integer N's embedding plus one offset shared by all targets.

    Deciding "is this result the target?" then needs one generic comparison (same number, one side marked
    as the target) instead of 730 separately learned pairs, most of them rare targets: bases initialised at
    random learned the pairs for some targets only (v6: P(yes) about 0.49 at a hit).
    """
    weights = model.get_input_embeddings().weight
    integers = tokenizer.convert_tokens_to_ids(list(INTEGERS))
    targets = tokenizer.convert_tokens_to_ids(list(TARGETS))
    with torch.no_grad():
        offset = torch.randn(weights.shape[1]) * weights.std()
        weights[targets] = weights[integers] + offset


def learning_rate(config: PretrainConfig, step: int) -> float:
    if step < config.warmup_steps:
        return config.peak_lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    floor = config.min_lr_ratio
    return config.peak_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class PretrainResult:
    model: torch.nn.Module
    tokenizer: object
    parameters: int
    tokens_seen: int
    response_tokens: int
    final_loss: float
    seconds: float


def pretrain(
    config: PretrainConfig,
    pool: list[tuple[tuple[int, ...], int]],
    progress: Callable[[int, float, float], None] | None = None,
) -> PretrainResult:
    """Train from scratch on problems from `pool`; `progress(step, loss, lr)` is called every 50 steps."""
    from transformers import Qwen2ForCausalLM

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    tokenizer = build_tokenizer()
    packer = Packer(tokenizer, pool, config.search_share, random.Random(f"{config.seed}/corpus"))
    model = Qwen2ForCausalLM(model_config(config, len(tokenizer), packer.pad_id, packer.eos_id))
    if config.aligned_targets:
        align_target_embeddings(model, tokenizer)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.peak_lr, betas=(0.9, 0.95), weight_decay=config.weight_decay
    )
    started, seen, trained, smoothed = time.monotonic(), 0, 0, float("nan")
    model.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        input_ids, position_ids, labels, mask = packer.batch(config.rows_per_step)
        loss = model(input_ids=input_ids, position_ids=position_ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        seen += input_ids.numel()
        trained += int((labels != IGNORE).sum())
        value = loss.item()
        smoothed = value if math.isnan(smoothed) else 0.95 * smoothed + 0.05 * value
        if progress is not None and (step % 50 == 0 or step == config.steps - 1):
            progress(step, smoothed, learning_rate(config, step))
    model.eval()
    return PretrainResult(
        model=model,
        tokenizer=tokenizer,
        parameters=sum(p.numel() for p in model.parameters()),
        tokens_seen=seen,
        response_tokens=trained,
        final_loss=smoothed,
        seconds=time.monotonic() - started,
    )
