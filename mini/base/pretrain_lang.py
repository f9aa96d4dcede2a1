"""Pre-trains the language miniature's base (recipes/countdown-mini-r1.yaml) on CPU, from corpus_lang.py's mixture.

The same model, optimiser, schedule, packing into ROW_TOKENS-token rows and masking as pretrain.py (its Packer,
drawing examples from corpus_lang instead), with the tokenizer extended by the Han reasoning words
(build_tokenizer). pretrain.py is left as it is: its code is hashed into countdown-mini's committed bases
(build.SHAPING_MODULES), so any change there would make them stale. A Han word is one token, as the English
word it stands for, so a trace is as long in either language: at most 211 tokens with <eos> (five lines of a
first step and four judged second steps, a verification and the answer), which 256-token rows hold.

PRIORS names the base: `mixed` (searches that switch to the Han words after their first line: corpus_lang).

    python -m mini.base --out results/countdown-mini-r1/base/mixed --prior mixed
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from mini.base import corpus_lang, pretrain
from mini.base.pretrain import IGNORE, PretrainConfig, PretrainResult, align_target_embeddings, learning_rate


@dataclass(frozen=True)
class LangPretrainConfig(PretrainConfig):
    """pretrain.PretrainConfig plus what corpus_lang plants; its hash names the build (build.json)."""

    # A little more search than countdown-mini's 25%: a mixed search only mixes once past its first line, and
    # half the searches are English, so about 12% of the corpus's problem examples mix (measured from the
    # writer: tests/mini/test_corpus_lang.py), inside the 10-30% that makes the base's mixing measurable.
    search_share: float = 0.30
    mixed_share: float = 0.5
    # Long English searches at a real rate (6% of the problems): the consistency reward has something to buy.
    english_long_share: float = 0.4

    def mixture(self) -> corpus_lang.LangMixture:
        return corpus_lang.LangMixture(self.search_share, self.mixed_share, self.english_long_share)


def build_tokenizer(out_dir=None):
    """countdown-mini's tokenizer (vocab.py) plus the Han reasoning words, appended after its tokens."""
    from tokenizers import AddedToken

    from mini.base.vocab import build_tokenizer as build_mini_tokenizer

    tokenizer = build_mini_tokenizer()
    tokenizer.add_tokens([AddedToken(word, normalized=False) for word in corpus_lang.ZH_WORDS.values()])
    if out_dir is not None:
        tokenizer.save_pretrained(str(out_dir))
    return tokenizer


class LangPacker(pretrain.Packer):
    """pretrain.Packer's rows and batches of examples drawn from corpus_lang's mixture."""

    def __init__(self, tokenizer, pool, mixture: corpus_lang.LangMixture, rng: random.Random) -> None:
        super().__init__(tokenizer, pool, mixture.search_share, rng)
        self.mixture = mixture

    def _example(self) -> tuple[list[int], list[int]]:
        prompt, response = corpus_lang.example(self.pool, self.mixture, self.rng)
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        response_ids = [*self.tokenizer(response)["input_ids"], self.eos_id]
        return prompt_ids + response_ids, [IGNORE] * len(prompt_ids) + response_ids


def pretrain_lang(
    config: LangPretrainConfig,
    pool: list[tuple[tuple[int, ...], int]],
    progress: Callable[[int, float, float], None] | None = None,
) -> PretrainResult:
    """Train from scratch on problems from `pool`; `progress(step, loss, lr)` is called every 50 steps."""
    from transformers import Qwen2ForCausalLM

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    tokenizer = build_tokenizer()
    packer = LangPacker(tokenizer, pool, config.mixture(), random.Random(f"{config.seed}/corpus"))
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


# prior -> the config its base is built from (build.py).
PRIORS = {"mixed": LangPretrainConfig()}
