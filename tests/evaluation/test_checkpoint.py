"""Checkpoint -> HF model conversion on a REAL verl FSDP checkpoint, written on CPU by verl's own manager.

The fixture wraps the tiny Qwen2 in FSDP2 inside a one-process gloo group and saves it with
`verl.utils.checkpoint.fsdp_checkpoint_manager.FSDPCheckpointManager`, the class verl's FSDP engine saves
`global_step_N/actor` with; `evaluation.checkpoint` then converts it with `python -m verl.model_merger`.
"""

import os
import shutil
from pathlib import Path

import pytest

from evaluation.checkpoint import (
    CACHE_KEY_FILE,
    MERGED_DIR_NAME,
    CheckpointError,
    checkpoint_step,
    resolve_model,
)
from launch.cpu_backend.tiny_model import build_tiny_model


def save_verl_checkpoint(
    model_dir, actor_dir, store_path, save_contents=("model", "optimizer", "extra")
) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from verl.utils.checkpoint.fsdp_checkpoint_manager import FSDPCheckpointManager

    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=0, world_size=1)
    try:
        mesh = init_device_mesh("cpu", (1,), mesh_dim_names=("fsdp",))
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        manager = FSDPCheckpointManager(
            model,
            optimizer,
            processing_class=AutoTokenizer.from_pretrained(model_dir),
            checkpoint_config={"save_contents": list(save_contents)},
        )
        manager.save_checkpoint(str(actor_dir), global_step=3)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


@pytest.fixture(scope="module")
def verl_checkpoint(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpt")
    actor_dir = root / "run" / "global_step_3" / "actor"
    save_verl_checkpoint(tiny_model, actor_dir, root / "pg_store")
    return actor_dir


def state_dict(model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).state_dict()


def test_checkpoint_step_is_parsed_from_the_path():
    assert checkpoint_step("checkpoints/r/global_step_120/actor") == 120
    assert checkpoint_step("global_step_7") == 7
    assert checkpoint_step("models/tiny") is None


def test_verl_checkpoint_merges_to_the_saved_weights_once(tiny_model, verl_checkpoint, tmp_path):
    step_dir = tmp_path / "global_step_3"
    shutil.copytree(verl_checkpoint.parent, step_dir)
    resolved = resolve_model(str(step_dir))  # the step dir is accepted as well as its actor/ dir
    assert resolved.checkpoint_step == 3
    assert resolved.checkpoint_dir == str(step_dir / "actor")
    assert resolved.path == str(step_dir / MERGED_DIR_NAME)
    original, merged = state_dict(tiny_model), state_dict(resolved.path)
    assert sorted(merged) == sorted(original)
    for name, tensor in original.items():  # the merger writes bf16: equal up to that rounding
        assert merged[name].equal(tensor.bfloat16().float()), name
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    assert tokenizer.chat_template == AutoTokenizer.from_pretrained(tiny_model).chat_template

    weights = step_dir / MERGED_DIR_NAME / "model.safetensors"
    first = weights.stat().st_mtime_ns
    assert resolve_model(str(step_dir / "actor")).path == resolved.path
    assert weights.stat().st_mtime_ns == first  # reused, not merged again
    shard = step_dir / "actor" / "model_world_size_1_rank_0.pt"
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    resolve_model(str(step_dir))
    assert weights.stat().st_mtime_ns != first  # the checkpoint changed: merged again
    assert (weights.parent / CACHE_KEY_FILE).is_file()


def test_full_hf_weights_saved_by_the_trainer_need_no_merge(tiny_model, verl_checkpoint, tmp_path):
    actor_dir = tmp_path / "global_step_5" / "actor"
    shutil.copytree(verl_checkpoint, actor_dir)
    shutil.copy(tiny_model / "model.safetensors", actor_dir / "huggingface" / "model.safetensors")
    resolved = resolve_model(str(actor_dir))
    assert resolved.path == str(actor_dir / "huggingface")
    assert resolved.checkpoint_step == 5
    assert not (actor_dir.parent / MERGED_DIR_NAME).exists()


def test_hf_dirs_and_hub_ids_pass_through(tiny_model):
    assert resolve_model(str(tiny_model)).path == str(tiny_model)
    hub = resolve_model("Qwen/Qwen2.5-3B")
    assert (hub.path, hub.checkpoint_step) == ("Qwen/Qwen2.5-3B", None)


def test_unusable_paths_are_errors_naming_them(tmp_path):
    with pytest.raises(CheckpointError, match="neither Hugging Face weights"):
        resolve_model(str(tmp_path))
    with pytest.raises(CheckpointError, match="neither an existing path"):
        resolve_model("./no/such/model")


def test_a_failed_merge_leaves_no_model_behind(verl_checkpoint, tmp_path):
    actor_dir = tmp_path / "global_step_9" / "actor"
    shutil.copytree(verl_checkpoint, actor_dir)
    (actor_dir / "model_world_size_1_rank_0.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="verl.model_merger failed"):
        resolve_model(str(actor_dir))
    assert sorted(path.name for path in actor_dir.parent.iterdir()) == ["actor"]


def test_a_converted_checkpoint_keeps_the_tokenizer_class_its_config_declares(tmp_path):
    import json

    from evaluation.checkpoint import keep_declared_tokenizer

    def model_dir(name, declared):
        path = tmp_path / name
        path.mkdir()
        (path / "config.json").write_text(json.dumps({"model_type": "qwen2", **declared}))
        (path / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "TokenizersBackend", "x": 1})
        )
        return path

    mini = model_dir("mini", {"tokenizer_class": "PreTrainedTokenizerFast"})
    keep_declared_tokenizer(mini)
    assert json.loads((mini / "tokenizer_config.json").read_text()) == {"x": 1}
    hub = model_dir("hub", {})
    keep_declared_tokenizer(hub)
    assert json.loads((hub / "tokenizer_config.json").read_text())["tokenizer_class"] == "TokenizersBackend"


MINI_BASE = Path(__file__).resolve().parents[2] / "results" / "countdown-mini" / "base" / "search"


@pytest.mark.parametrize("save_contents", [("model",), ("model", "hf_model")], ids=["merged", "saved-hf"])
def test_a_checkpoint_tokenizes_as_the_run_trained(save_contents, tmp_path):
    # verl's merger reloads the saved tokenizer with AutoTokenizer and saves it again. The miniature's
    # word-level tokenizer came back as a byte-level BPE that splits every prompt wrongly: the merged RL
    # teacher answered 0.4% where its own weights answer 67%. A checkpoint that holds full HF weights (verl's
    # SFT trainer saves them) names a tokenizer class that rebuilds it the same way.
    from transformers import AutoTokenizer

    actor_dir = tmp_path / "run" / "global_step_2" / "actor"
    save_verl_checkpoint(MINI_BASE, actor_dir, tmp_path / "pg_store", save_contents)
    resolved = resolve_model(str(actor_dir))
    merged = "hf_model" not in save_contents
    assert resolved.path == str(actor_dir.parent / MERGED_DIR_NAME if merged else actor_dir / "huggingface")
    text = "numbers 7 4 3 target #8 <think> 7 + 4 = 11 , 11 - 3 = 8 </think> <answer> 7 + 4 - 3 </answer>"
    trained_with = AutoTokenizer.from_pretrained(MINI_BASE)(text)["input_ids"]
    tokenizer = AutoTokenizer.from_pretrained(resolved.path)
    assert tokenizer(text)["input_ids"] == trained_with
    assert tokenizer.decode(trained_with) == text
