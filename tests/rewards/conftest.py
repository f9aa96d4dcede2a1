"""Shared fixtures for the reward tests: the tiny local tokenizer and a response builder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    """A Hugging Face tokenizer dir (launch.cpu_backend.tiny_model's local ChatML BPE; no hub)."""
    from launch.cpu_backend.tiny_model import build_tiny_tokenizer

    path = tmp_path_factory.mktemp("tiny_tokenizer")
    build_tiny_tokenizer(path)
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)


def _respond(answer: str, reasoning: str = "Let me try a few combinations.", opened: bool = False) -> str:
    """A well-formed response to a template that pre-fills <think> (opened=True adds the opening tag)."""
    return f"{'<think>' if opened else ''} {reasoning} </think> <answer>{answer}</answer>"


@pytest.fixture
def respond():
    return _respond
