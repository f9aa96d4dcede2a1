"""Shared fixtures for tests/launch: one tiny local model per session (no hub)."""

from __future__ import annotations

import pytest

from launch.cpu_backend.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A complete HF model dir: seeded random tiny Qwen2 + ChatML tokenizer (launch/cpu_backend/tiny_model.py)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model") / "model")
