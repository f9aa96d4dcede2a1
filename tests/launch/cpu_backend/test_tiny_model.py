"""The tiny local model dir loads back with transformers, round-trips text and runs a forward pass."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from launch.cpu_backend.tiny_model import IM_END, build_tiny_model, build_tiny_tokenizer

COUNTDOWN_ANSWER = "<think> 50 - 25 = 25, 25 * (7 - 3) = 100 </think>\n<answer> (50 - 25) * (7 - 3) </answer>"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_tokenizer_round_trips_a_countdown_answer_exactly(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    ids = tokenizer.encode(COUNTDOWN_ANSWER, add_special_tokens=False)
    assert tokenizer.decode(ids) == COUNTDOWN_ANSWER
    assert len(ids) < len(COUNTDOWN_ANSWER)  # BPE merged something: it is not a bare byte tokenizer
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == IM_END
    assert tokenizer.pad_token_id != tokenizer.eos_token_id


def test_chat_template_renders_chatml_with_generation_prompt(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Make 24 from 4 6 1 1."},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nMake 24 from 4 6 1 1.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    default_system = tokenizer.apply_chat_template(messages[1:], tokenize=False, add_generation_prompt=False)
    assert default_system.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert not default_system.endswith("assistant\n")
    # The special tokens are single ids, so the rollout stops on <|im_end|>.
    assert len(tokenizer.encode(IM_END, add_special_tokens=False)) == 1


def test_model_runs_a_forward_pass_in_fp32(model_dir):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert model.dtype == torch.float32
    assert model.config.max_position_embeddings >= 2048
    batch = tokenizer([COUNTDOWN_ANSWER], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(tokenizer))
    assert torch.isfinite(logits).all()
    assert sum(p.numel() for p in model.parameters()) < 300_000


def test_build_is_deterministic_and_reuses_a_complete_dir(model_dir, tmp_path):
    again = build_tiny_model(tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (model_dir / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (model_dir / "tokenizer.json").read_text()
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(model_dir) == model_dir
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


def test_refuses_to_overwrite_an_unrelated_non_empty_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a complete tiny model dir"):
        build_tiny_model(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_tokenizer_alone_can_be_built(tmp_path):
    tokenizer = build_tiny_tokenizer(tmp_path, vocab_size=400)
    assert len(tokenizer) == 400
    assert AutoTokenizer.from_pretrained(tmp_path).encode("(7 - 3) * 25") == tokenizer.encode("(7 - 3) * 25")
