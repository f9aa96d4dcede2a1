"""A tiny random-weight Qwen2 model with a locally trained ChatML tokenizer, for CPU tests (no hub).

The tokenizer is a byte-level BPE trained here on a small built-in corpus (arithmetic, the <think>/<answer>
tags, prompt words), so every string round-trips exactly; the model is a seeded ~100k-parameter
Qwen2ForCausalLM in fp32 (bf16 Linear layers crash some CPUs). Both are saved in one Hugging Face dir that
`AutoTokenizer` / `AutoModelForCausalLM.from_pretrained` and verl load like any checkpoint.

    python -m launch.cpu_backend.tiny_model models/tiny-qwen2      # reuses the dir when it is already complete
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPECIAL_TOKENS = [END_OF_TEXT, IM_START, IM_END]

# ChatML as Qwen2.5 renders it: a default system turn when none is given, each turn closed by <|im_end|>,
# and an open assistant turn when add_generation_prompt is set.
CHATML_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "Using the numbers [3, 7, 25, 50], create an equation that equals 100.",
    "You can use basic arithmetic operations (+, -, *, /) and each number can only be used once.",
    "Make 24 from 4 7 8 8 with + - * / and parentheses; use every number exactly once.",
    "<think> 50 + 25 = 75, 75 + 7 = 82, 82 + 3 = 85. Not 100. Try (7 - 3) * 25 = 100. </think>",
    "<answer> (7 - 3) * 25 </answer>",
    "<think> 8 / (3 - 8 / 3) = 24 </think> <answer> 8 / (3 - 8 / 3) </answer>",
    "You are a careful problem solver. First reason step by step inside <think> </think> tags, "
    "then state only the final answer inside <answer> </answer> tags.",
    "A dialogue between a User and an Assistant. The User poses a problem; the Assistant reasons "
    "about it privately and then answers. The final answer is the equation.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May? The answer is 72.",
    "Reason step by step, and put your final answer within \\boxed{72}.",
    "Let me solve this step by step. I will check the result: 12 * 2 = 24, 96 / 4 = 24, 30 - 6 = 24.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 19 24 36 48 64 72 81 99 100 = ( ) + - * /",
    "user assistant system You are a helpful assistant. Assistant: I will work through this carefully.",
]


def build_tiny_tokenizer(out_dir: str | os.PathLike, vocab_size: int = 512):
    """Train the byte-level BPE tokenizer and save it as a transformers fast tokenizer in `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    # Digits one per token, as Qwen2 splits them, so numbers are spelled out digit by digit.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=END_OF_TEXT,
        additional_special_tokens=[IM_START, IM_END],
        chat_template=CHATML_TEMPLATE,
        model_max_length=2048,
    )
    fast.save_pretrained(str(out_dir))
    return fast


def _is_complete(model_dir: Path) -> bool:
    names = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
    return all((model_dir / name).is_file() for name in names)


def build_tiny_model(
    out_dir: str | os.PathLike,
    *,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    seed: int = 0,
) -> Path:
    """Write a complete HF model dir (seeded random Qwen2 + tokenizer) to `out_dir`; reuse it if complete.

    The dir is built in a sibling temp dir and renamed into place, so a concurrent or interrupted build
    never leaves a half-written model behind.
    """
    out_dir = Path(out_dir)
    if _is_complete(out_dir):
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(
            f"{out_dir} exists but is not a complete tiny model dir; remove it or pick another"
        )

    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model dir is meant to be shared
    try:
        tokenizer = build_tiny_tokenizer(staging)
        eos_id, pad_id = tokenizer.convert_tokens_to_ids([IM_END, END_OF_TEXT])
        special_ids = {"bos_token_id": pad_id, "eos_token_id": eos_id, "pad_token_id": pad_id}
        config = Qwen2Config(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_kv_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max_position_embeddings,
            tie_word_embeddings=True,
            dtype="float32",
            **special_ids,
        )
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
        model.generation_config = GenerationConfig(**special_ids)
        model.save_pretrained(str(staging))
        try:
            if out_dir.exists():
                out_dir.rmdir()  # empty (checked above); a non-empty dir cannot be replaced
            os.replace(staging, out_dir)
        except OSError:
            if not _is_complete(out_dir):  # else a concurrent build finished first: use its result
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m launch.cpu_backend.tiny_model", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out_dir", help="directory to write the model + tokenizer to (reused if complete)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed for the random weights")
    args = parser.parse_args(argv)
    path = build_tiny_model(args.out_dir, seed=args.seed)
    print(f"tiny model ready: {path}")  # noqa: T201 - this is the CLI's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
