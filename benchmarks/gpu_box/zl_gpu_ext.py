"""Box-only: a packed (variable-length) attention for verl's `use_remove_padding` path where flash-attn's CUDA
build is not installed, registered with transformers as `zl_varlen`.

verl packs a micro-batch's sequences into one row and passes position ids that restart at 0 for each sequence;
flash-attention 2 reads the sequence boundaries from them. `zl_varlen` does the same with torch's own FA2
varlen kernel (torch.nn.attention.varlen), or, with ZL_VARLEN_MODE=loop (and on CPU), with one causal SDPA call
per sequence. Both keep memory linear in the tokens, as production's flash-attn does. transformers builds no
mask for an attention name without a mask function, so none is materialised. verl imports this module in each
process through VERL_USE_EXTERNAL_MODULES=zl_gpu_ext (benchmarks/gpu_box/run_on_box.sh).

    python -m pytest tests/benchmarks/test_gpu_box.py
"""

from __future__ import annotations

import inspect
import os

import torch
import torch.nn.functional as F

NAME = "zl_varlen"
MODE_ENV = "ZL_VARLEN_MODE"  # varlen (default on CUDA) or loop


def boundaries(position_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Cumulative sequence starts (int32, with the total at the end) and the longest sequence of a packed row."""
    flat = position_ids.reshape(-1)
    starts = torch.nonzero(flat == 0).reshape(-1)
    if starts.numel() == 0 or starts[0] != 0:
        starts = torch.cat([starts.new_zeros(1), starts])
    cu = torch.cat([starts, starts.new_tensor([flat.numel()])]).to(torch.int32)
    return cu, int((cu[1:] - cu[:-1]).max())


def _loop(query, key, value, cu, scale):
    """One causal SDPA per sequence; (heads, tokens, dim) in, (tokens, heads, dim) out."""
    outputs = []
    for start, end in zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True):
        q, k, v = (t[:, start:end].unsqueeze(0) for t in (query, key, value))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale, enable_gqa=True)
        outputs.append(out.squeeze(0).transpose(0, 1))
    return torch.cat(outputs, dim=0)


def _varlen(query, key, value, cu, longest, scale):
    from torch.nn.attention.varlen import varlen_attn

    parameters = inspect.signature(varlen_attn).parameters
    q, k, v = (t.transpose(0, 1).contiguous() for t in (query, key, value))  # (tokens, heads, dim)
    options = {"scale": scale}
    if "is_causal" in parameters:
        options["is_causal"] = True
    else:  # causal as a window: everything to the left, nothing to the right
        options["window_size"] = (-1, 0)
    if "enable_gqa" in parameters:
        options["enable_gqa"] = True
    elif k.shape[1] != q.shape[1]:
        repeat = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
    return varlen_attn(q, k, v, cu, cu, longest, longest, **options)


def zl_varlen_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention interface: (batch, heads, tokens, dim) in, (batch, tokens, heads, dim) out."""
    position_ids = kwargs.get("position_ids")
    if query.shape[0] != 1 or position_ids is None:
        raise ValueError(f"{NAME} expects one packed row with position ids (verl's use_remove_padding)")
    cu, longest = boundaries(position_ids.to(query.device))
    mode = os.environ.get(MODE_ENV, "varlen" if query.is_cuda else "loop")
    q, k, v = query[0], key[0], value[0]
    out = _varlen(q, k, v, cu, longest, scaling) if mode == "varlen" else _loop(q, k, v, cu, scaling)
    return out.unsqueeze(0), None


def register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, zl_varlen_attention)


register()
