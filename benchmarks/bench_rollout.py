"""Rollout tokens/s of the CPU backend: concurrent requests decoded as one batch vs one at a time.

Uses the CPU miniature's base model (results/countdown-mini/base/search) on its real prompts (the
countdown-mini test split), each request sampled at temperature 1 with the recipe's response budget, as a
GRPO step asks. Prints both rates and their ratio (target: >= 10x at 64 concurrent requests).

    python benchmarks/bench_rollout.py [--requests 64] [--model results/countdown-mini/base/search]
"""

import argparse
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from launch.cpu_backend.sampling import Sampling, generate_batch  # noqa: E402
from mini.base.gate import load_split  # noqa: E402


def rate(model, tokenizer, prompts, batched: bool, budget: int) -> tuple[float, int]:
    ids = [tokenizer(p)["input_ids"] for p in prompts]
    sampling = Sampling(max_tokens=budget, temperature=1.0)
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    groups = [ids] if batched else [[one] for one in ids]
    tokens = 0
    for group in groups:
        out = generate_batch(
            model,
            group,
            [sampling] * len(group),
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            generator=generator,
        )
        tokens += sum(len(c.token_ids) for c in out)
    return tokens / (time.perf_counter() - started), tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--model", default=str(REPO / "results/countdown-mini/base/search"))
    parser.add_argument("--split", default=str(REPO / "data/countdown-mini/mini/test.parquet"))
    parser.add_argument("--budget", type=int, default=224, help="max new tokens per request (the recipe's)")
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    prompts = [p for p, _ in load_split(args.split)][: args.requests]
    batched, batched_tokens = rate(model, tokenizer, prompts, True, args.budget)
    single, single_tokens = rate(model, tokenizer, prompts, False, args.budget)
    print(f"{len(prompts)} requests, temperature 1, budget {args.budget} tokens, 2 threads")
    print(f"  one at a time: {single:8.0f} tokens/s ({single_tokens} tokens)")
    print(f"  batched:       {batched:8.0f} tokens/s ({batched_tokens} tokens)")
    print(f"  ratio:         {batched / single:8.1f}x (target >= 10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
