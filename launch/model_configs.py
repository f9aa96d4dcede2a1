"""The architecture figures the estimate needs (launch.estimate), offline: a table of the models the shipped
recipes use, else the model's own config.json (a local model dir, or the Hugging Face cache).

The table holds each model's config.json values (huggingface.co/Qwen/<model>/blob/main/config.json);
`parameters()` rebuilds the parameter count from them, which tests/launch/test_estimate.py checks against the
published counts.

    python -m pytest tests/launch/test_estimate.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.recipe import REPO_ROOT


@dataclass(frozen=True)
class ModelConfig:
    layers: int  # num_hidden_layers
    hidden: int  # hidden_size
    heads: int  # num_attention_heads
    kv_heads: int  # num_key_value_heads
    intermediate: int  # intermediate_size
    vocab: int  # vocab_size
    tied_embeddings: bool  # tie_word_embeddings: the output head shares the input embedding
    qkv_bias: bool = True  # Qwen2 projects q, k and v with a bias, o without

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def parameters(self) -> int:
        h, kv = self.hidden, self.kv_dim
        attention = h * h + 2 * h * kv + h * h + ((h + 2 * kv) if self.qkv_bias else 0)
        mlp = 3 * h * self.intermediate  # gate, up, down
        layer = attention + mlp + 2 * h  # two RMSNorm weights
        embeddings = self.vocab * h * (1 if self.tied_embeddings else 2)
        return self.layers * layer + embeddings + h  # + the final norm


_QWEN25_05B = ModelConfig(24, 896, 14, 2, 4864, 151936, tied_embeddings=True)
_QWEN25_15B = ModelConfig(28, 1536, 12, 2, 8960, 151936, tied_embeddings=True)
_QWEN25_3B = ModelConfig(36, 2048, 16, 2, 11008, 151936, tied_embeddings=True)
_QWEN25_7B = ModelConfig(28, 3584, 28, 4, 18944, 152064, tied_embeddings=False)
_QWEN25_14B = ModelConfig(48, 5120, 40, 8, 13824, 152064, tied_embeddings=False)

KNOWN = {
    "Qwen/Qwen2.5-0.5B": _QWEN25_05B,
    "Qwen/Qwen2.5-0.5B-Instruct": _QWEN25_05B,
    "Qwen/Qwen2.5-1.5B": _QWEN25_15B,
    "Qwen/Qwen2.5-1.5B-Instruct": _QWEN25_15B,
    "Qwen/Qwen2.5-Math-1.5B": _QWEN25_15B,
    "Qwen/Qwen2.5-3B": _QWEN25_3B,
    "Qwen/Qwen2.5-3B-Instruct": _QWEN25_3B,
    "Qwen/Qwen2.5-7B": _QWEN25_7B,
    "Qwen/Qwen2.5-7B-Instruct": _QWEN25_7B,
    "Qwen/Qwen2.5-Math-7B": _QWEN25_7B,
    "Qwen/Qwen2.5-14B": _QWEN25_14B,
}


def from_config_json(config: dict[str, Any]) -> ModelConfig:
    heads = config["num_attention_heads"]
    return ModelConfig(
        layers=config["num_hidden_layers"],
        hidden=config["hidden_size"],
        heads=heads,
        kv_heads=config.get("num_key_value_heads") or heads,
        intermediate=config["intermediate_size"],
        vocab=config["vocab_size"],
        tied_embeddings=bool(config.get("tie_word_embeddings", False)),
        qkv_bias=bool(config.get("attention_bias", str(config.get("model_type", "")).startswith("qwen2"))),
    )


def _config_file(model: str, root: Path) -> Path | None:
    for directory in (Path(model), root / model):
        if (directory / "config.json").is_file():
            return directory / "config.json"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # not a hub id (e.g. a path that does not exist): nothing cached under it
        return None
    return Path(cached) if isinstance(cached, str) else None


def lookup(model: str, root: Path = REPO_ROOT) -> ModelConfig | None:
    """The model's figures: the table first, then a local or cached config.json; None when neither has it."""
    if model in KNOWN:
        return KNOWN[model]
    path = _config_file(model, root)
    if path is None:
        return None
    try:
        return from_config_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError):
        return None
