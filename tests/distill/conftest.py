"""Shared fixtures for tests/distill: the miniature's data split and a tiny fresh student (no hub)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from data_prep.tasks import build_command

REPO = Path(__file__).resolve().parents[2]
TEACHER = REPO / "results" / "countdown-mini" / "base" / "search"  # the committed tiny base
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


@pytest.fixture(scope="session")
def mini_data(tmp_path_factory) -> Path:
    """data/countdown-mini/mini/{train,test}.parquet built as the mini recipe builds them."""
    out = tmp_path_factory.mktemp("data")
    subprocess.run(build_command("countdown-mini", "mini", str(out)), check=True, capture_output=True)
    return out / "countdown-mini" / "mini"


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory) -> Path:
    """A fresh seeded Qwen2 (hidden 32, 1 layer, ~50k parameters) with the teacher's word-level tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    out = tmp_path_factory.mktemp("student") / "model"
    out.mkdir()
    for name in TOKENIZER_FILES:
        shutil.copy(TEACHER / name, out / name)
    config = AutoConfig.from_pretrained(TEACHER)
    config.update({"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1})
    config.update({"layer_types": ["full_attention"]})
    config.update({"num_attention_heads": 2, "num_key_value_heads": 2})
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(out)
    GenerationConfig.from_pretrained(TEACHER).save_pretrained(out)
    return out
