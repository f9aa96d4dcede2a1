"""Box-only: before the engine check, what only the GPU can show about the bundle, each with its fallback.

1. `zl_varlen` with torch's FA2 varlen kernel against the per-sequence SDPA loop (bf16, GQA 16/2, forward and
   backward): a mismatch or an error switches the check to the loop (ZL_VARLEN_MODE=loop).
2. flash-attn's Triton cross entropy (what verl's log-probs use when it imports) against torch's log_softmax.
3. torch.compile on the image (verl compiles its entropy by default): a failure switches compile off.
Writes the JSON to --out and prints the shell settings the runner sources (benchmarks/gpu_box/run_on_box.sh).

    python benchmarks/gpu_box/selfcheck.py --out $OUT/selfcheck.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zl_gpu_ext  # noqa: E402


def varlen_vs_loop() -> dict:
    torch.manual_seed(0)
    lengths = [700, 300, 1024]
    position_ids = torch.cat([torch.arange(n) for n in lengths]).cuda().unsqueeze(0)
    shape = (1, 16, sum(lengths), 128)
    q = torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    kv_shape = (1, 2, sum(lengths), 128)
    k = torch.randn(kv_shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(kv_shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    results = {}
    for mode in ("varlen", "loop"):
        os.environ[zl_gpu_ext.MODE_ENV] = mode
        out, _ = zl_gpu_ext.zl_varlen_attention(
            None, q, k, v, None, scaling=128**-0.5, position_ids=position_ids
        )
        grads = torch.autograd.grad(out.float().square().sum(), (q, k, v))
        results[mode] = (out.float(), [g.float() for g in grads])
    forward = (results["varlen"][0] - results["loop"][0]).abs().max().item()
    backward = max(
        (a - b).abs().max().item() for a, b in zip(results["varlen"][1], results["loop"][1], strict=True)
    )
    return {
        "max_abs_diff_forward": forward,
        "max_abs_diff_backward": backward,
        "ok": forward < 2e-2 and backward < 0.5,
    }


def flash_cross_entropy() -> dict:
    from flash_attn.ops.triton.cross_entropy import cross_entropy_loss

    torch.manual_seed(0)
    logits = torch.randn(4096, 151936, device="cuda", dtype=torch.bfloat16)
    labels = torch.randint(0, 151936, (4096,), device="cuda")
    losses = cross_entropy_loss(logits, labels)
    losses = losses[0] if isinstance(losses, tuple) else losses
    reference = -torch.log_softmax(logits.float(), dim=-1).gather(1, labels[:, None]).squeeze(1)
    diff = (losses.float() - reference).abs().max().item()
    return {"max_abs_diff": diff, "ok": diff < 5e-2}


def compile_smoke() -> dict:
    compiled = torch.compile(lambda x: torch.logsumexp(x, dim=-1) - (torch.softmax(x, dim=-1) * x).sum(-1))
    x = torch.randn(64, 1024, device="cuda")
    compiled(x).sum().item()
    return {"ok": True}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    report, settings = {}, {"ZL_VARLEN_MODE": "varlen", "ZL_COMPILE": "1"}
    for name, check in (
        ("varlen", varlen_vs_loop),
        ("flash_ce", flash_cross_entropy),
        ("compile", compile_smoke),
    ):
        started = time.perf_counter()
        try:
            report[name] = check()
        except Exception:
            report[name] = {"ok": False, "error": traceback.format_exc()[-2000:]}
        report[name]["seconds"] = round(time.perf_counter() - started, 2)
    if not report["varlen"]["ok"]:
        settings["ZL_VARLEN_MODE"] = "loop"
    if not report["compile"]["ok"]:
        settings["ZL_COMPILE"] = "0"
    report["settings"] = settings
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(" ".join(f"{key}={value}" for key, value in settings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
