"""Pre-trains the long miniature's bases (recipes/countdown-mini-long.yaml) on CPU, from corpus_long.py's mixture.

The same model, optimiser, schedule, packing and masking as pretrain.py, with three differences: the
examples come from corpus_long (long-tailed searches, slips and `wait`), the tokenizer has the word `wait`
(build_tokenizer), and rows are ROW_TOKENS = 512 long, as the longest trace (469 tokens with the prompt's
7, corpus_long.longest_search_tokens) would never fit pretrain.py's 256-token rows. pretrain.py itself is
left as it is: its code is hashed into countdown-mini's committed bases (build.SHAPING_MODULES), so any
change there would make them stale.

PRIORS names the two bases: `long` (the planted mixture) and `short`, the control built the same way
without long searches or slips (caps folded into 3 lines, no slip).

    python -m mini.base --out results/countdown-mini-long/base/long --prior long
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mini.base import corpus_long, pretrain
from mini.base.pretrain import IGNORE, PretrainConfig, PretrainResult, align_target_embeddings, learning_rate
from mini.base.vocab import EOS, PAD

ROW_TOKENS = 512


@dataclass(frozen=True)
class LongPretrainConfig(PretrainConfig):
    """pretrain.PretrainConfig plus what corpus_long plants; its hash names the build (build.json).
    Rows are twice as long and half as many per step: the same 4,096 tokens a step as countdown-mini's."""

    rows_per_step: int = 8
    max_lines: int = corpus_long.MAX_FIRST_STEPS
    # One search in ten slips once and half of the slips are caught: 5% of the searches plant a correction,
    # 1.1% of the problem examples (25% search, 90% problems). Rare, and yet a few thousand caught slips.
    slip_share: float = 0.10
    corrected_share: float = 0.5

    def mixture(self) -> corpus_long.Mixture:
        return corpus_long.Mixture(self.search_share, self.max_lines, self.slip_share, self.corrected_share)


def build_tokenizer(out_dir=None):
    """countdown-mini's tokenizer (vocab.py) plus the whole word `wait`, appended after its tokens."""
    from tokenizers import AddedToken

    from mini.base.vocab import build_tokenizer as build_mini_tokenizer

    tokenizer = build_mini_tokenizer()
    tokenizer.add_tokens([AddedToken(corpus_long.CORRECTION_WORD, single_word=True, normalized=False)])
    if out_dir is not None:
        tokenizer.save_pretrained(str(out_dir))
    return tokenizer


class LongPacker:
    """Yields (input_ids, position_ids, labels, mask) batches of ROW_TOKENS-token rows of packed examples."""

    def __init__(self, tokenizer, pool, mixture: corpus_long.Mixture, rng: random.Random) -> None:
        self.tokenizer, self.pool, self.mixture, self.rng = tokenizer, pool, mixture, rng
        self.eos_id = tokenizer.convert_tokens_to_ids(EOS)
        self.pad_id = tokenizer.convert_tokens_to_ids(PAD)
        self._pending: tuple[list[int], list[int]] | None = None

    def _example(self) -> tuple[list[int], list[int]]:
        prompt, response = corpus_long.example(self.pool, self.mixture, self.rng)
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        response_ids = [*self.tokenizer(response)["input_ids"], self.eos_id]
        return prompt_ids + response_ids, [IGNORE] * len(prompt_ids) + response_ids

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
        segments += [(segments[-1] + 1 if segments else 0)] * pad
        return ids + [self.pad_id] * pad, positions + list(range(pad)), labels + [IGNORE] * pad, segments

    def batch(self, rows: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, positions, labels, segments = (
            torch.tensor(column, dtype=torch.long)
            for column in zip(*(self.row() for _ in range(rows)), strict=True)
        )
        causal = torch.ones(ROW_TOKENS, ROW_TOKENS, dtype=torch.bool).tril()
        mask = (segments.unsqueeze(2) == segments.unsqueeze(1)) & causal
        return ids, positions, labels, mask.unsqueeze(1)


def pretrain_long(
    config: LongPretrainConfig,
    pool: list[tuple[tuple[int, ...], int]],
    progress: Callable[[int, float, float], None] | None = None,
) -> PretrainResult:
    """Train from scratch on problems from `pool`; `progress(step, loss, lr)` is called every 50 steps."""
    from transformers import Qwen2ForCausalLM

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    tokenizer = build_tokenizer()
    packer = LongPacker(tokenizer, pool, config.mixture(), random.Random(f"{config.seed}/corpus"))
    model = Qwen2ForCausalLM(pretrain.model_config(config, len(tokenizer), packer.pad_id, packer.eos_id))
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


# prior -> the config its base is built from (build.py); `short` is the control without long searches or slips.
PRIORS = {
    "long": LongPretrainConfig(),
    "short": LongPretrainConfig(max_lines=3, slip_share=0.0),
}
