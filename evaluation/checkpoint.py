"""Turns what a user hands to `launch eval` into a Hugging Face model dir vLLM can load.

Accepted: a Hugging Face dir or hub id (passed through), or a verl FSDP checkpoint (`global_step_N/actor`,
or `global_step_N` holding one). A checkpoint is converted once with
`python -m verl.model_merger merge --backend fsdp` into `global_step_N/actor_hf/` and reused while the
checkpoint's files are unchanged (the cache key is their names, sizes and mtimes). A checkpoint that was
saved with `checkpoint.save_contents` including `hf_model` already holds full weights in
`actor/huggingface/` and needs no merge. The merged dir keeps the tokenizer files the trainer saved in
`actor/huggingface/` verbatim: the merger's own reload-and-save of them can change the tokenizer.

    python -m launch eval checkpoints/countdown-3b/<run-id>/global_step_100/actor --task countdown
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MERGED_DIR_NAME = "actor_hf"
CACHE_KEY_FILE = "zerolab_merge.json"
STEP_PATTERN = re.compile(r"global_step_(\d+)")
HUB_ID_PATTERN = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
MODEL_FILES = ("config.json", "generation_config.json", *WEIGHT_FILES)


class CheckpointError(ValueError):
    """A path that is neither a model nor a verl checkpoint, or a failed conversion; the message says which."""


@dataclass(frozen=True)
class ResolvedModel:
    path: str  # what vLLM loads: a local HF dir or a hub id
    checkpoint_step: int | None  # N of global_step_N when the model came from a verl checkpoint
    checkpoint_dir: str | None  # the actor dir it was converted from


def checkpoint_step(path: str | Path) -> int | None:
    """N from the last `global_step_N` component of `path`, if any."""
    steps = [int(match.group(1)) for part in Path(path).parts if (match := STEP_PATTERN.fullmatch(part))]
    return steps[-1] if steps else None


def is_fsdp_actor_dir(path: Path) -> bool:
    return (path / "fsdp_config.json").is_file() and any(path.glob("model_world_size_*_rank_0.pt"))


def has_hf_weights(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / name).is_file() for name in WEIGHT_FILES)


def cache_key(actor_dir: Path) -> str:
    """Fingerprint of the files the merger reads: model shards, fsdp_config.json and huggingface/."""
    inputs = [*sorted(actor_dir.glob("model_world_size_*_rank_*.pt")), actor_dir / "fsdp_config.json"]
    inputs += sorted(path for path in (actor_dir / "huggingface").rglob("*") if path.is_file())
    digest = hashlib.sha256(str(actor_dir.resolve()).encode())
    for path in inputs:
        stat = path.stat()
        digest.update(f"{path.relative_to(actor_dir)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def restore_saved_tokenizer(actor_dir: Path, model_dir: Path) -> None:
    """Put the tokenizer files the trainer saved in `actor_dir/huggingface/` into the merged `model_dir`.

    verl's merger reloads them with AutoTokenizer and saves them again; transformers 5 rebuilds a qwen2
    model's tokenizer as byte-level BPE on that reload, so the CPU miniature's word-level tokenizer came
    back splitting every prompt wrongly (its RL teacher answered 0.4% instead of 67%). The saved files are
    the tokenizer the run trained with; the model's own files (config, weights) stay the merger's."""
    saved = actor_dir / "huggingface"
    for path in sorted(saved.iterdir()) if saved.is_dir() else []:
        if path.is_file() and path.name not in MODEL_FILES:
            shutil.copy2(path, model_dir / path.name)
    keep_declared_tokenizer(model_dir)


def keep_declared_tokenizer(model_dir: Path) -> None:
    """A model whose config.json declares its tokenizer class (the CPU miniature's word-level tokenizer) must
    load with that class. verl saves the tokenizer again with each checkpoint, and transformers 5 then names
    a class in tokenizer_config.json ("TokenizersBackend"), which makes AutoTokenizer rebuild a qwen2
    model's tokenizer as byte-level BPE: every prompt tokenized wrongly. Hub models declare no class in
    config.json and are left as they are."""
    try:
        declared = json.loads((model_dir / "config.json").read_text()).get("tokenizer_class")
        tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return
    if declared and tokenizer_config.pop("tokenizer_class", None) is not None:
        (model_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")


def merge_checkpoint(actor_dir: str | Path, target_dir: str | Path | None = None) -> Path:
    """HF model dir for a verl FSDP actor checkpoint, merging only when no up-to-date conversion exists."""
    actor_dir = Path(actor_dir)
    if not is_fsdp_actor_dir(actor_dir):
        raise CheckpointError(
            f"{actor_dir} is not a verl FSDP actor checkpoint (no fsdp_config.json + model shards)"
        )
    target = Path(target_dir) if target_dir else actor_dir.parent / MERGED_DIR_NAME
    key = cache_key(actor_dir)
    if _cached_key(target) == key and has_hf_weights(target):
        restore_saved_tokenizer(actor_dir, target)  # conversions made before the restore get it too
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Merge into a sibling temp dir and rename: an interrupted merge never looks like a finished one.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model dir is meant to be shared
    try:
        _run_merger(actor_dir, staging)
        (staging / CACHE_KEY_FILE).write_text(
            json.dumps({"actor_dir": str(actor_dir.resolve()), "key": key}) + "\n"
        )
        restore_saved_tokenizer(actor_dir, staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(model: str, merge_dir: str | Path | None = None) -> ResolvedModel:
    """A model id/dir or verl checkpoint -> what vLLM loads, converting a checkpoint when needed."""
    path = Path(model)
    if not path.exists():
        if not HUB_ID_PATTERN.fullmatch(model):
            raise CheckpointError(
                f"model {model!r} is neither an existing path nor a Hugging Face id (org/name)"
            )
        return ResolvedModel(path=model, checkpoint_step=None, checkpoint_dir=None)
    actor_dir = path / "actor" if (path / "actor").is_dir() else path
    if is_fsdp_actor_dir(actor_dir):
        step = checkpoint_step(actor_dir.resolve())
        saved_hf = actor_dir / "huggingface"
        if has_hf_weights(saved_hf):
            keep_declared_tokenizer(saved_hf)  # e.g. a miniature student saved by verl's SFT trainer
            hf_dir = saved_hf
        else:
            hf_dir = merge_checkpoint(actor_dir, merge_dir)
        return ResolvedModel(path=str(hf_dir), checkpoint_step=step, checkpoint_dir=str(actor_dir))
    if has_hf_weights(path):
        return ResolvedModel(
            path=str(path), checkpoint_step=checkpoint_step(path.resolve()), checkpoint_dir=None
        )
    raise CheckpointError(
        f"{path} holds neither Hugging Face weights (config.json + {WEIGHT_FILES[0]}) nor a verl FSDP checkpoint "
        "(global_step_N/actor with fsdp_config.json)"
    )


def _cached_key(target: Path) -> str | None:
    try:
        return json.loads((target / CACHE_KEY_FILE).read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def _run_merger(actor_dir: Path, target: Path) -> None:
    command = [sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp"]
    command += ["--local_dir", str(actor_dir), "--target_dir", str(target)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise CheckpointError(f"verl.model_merger failed on {actor_dir} (exit {result.returncode}):\n{tail}")
