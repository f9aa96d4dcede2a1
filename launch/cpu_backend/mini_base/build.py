"""Builds (or reuses) a miniature base model dir: pre-train, save as a Hugging Face dir, gate, model card.

The build is named by a content hash of its config, the test split it must never see and BUILD_VERSION,
which a change to the corpus, tokenizer or training code that moves the weights must bump; a dir whose build.json carries the same hash is reused as it
is, a dir holding a different build is refused unless `force` (nothing is overwritten silently). The dir
is written beside its target and renamed into place, so an interrupted build leaves nothing half-written.

    python -m launch.cpu_backend.mini_base --out models/mini-base [--prior none]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from launch.cpu_backend.mini_base import corpus, pretrain

PRIORS = {"search": 0.25, "none": 0.0}  # planted search share of the problems, per base
BUILD_FILE = "build.json"
BUILD_VERSION = (
    "mini-base-v7"  # v2 masks examples; v3 verl tokens; v4 yes/no; v5 #targets; v6 copied; v7 aligned
)


def test_keys(test_split: str | os.PathLike) -> set[tuple[tuple[int, ...], int]]:
    """(sorted numbers, target) of every row of a data_prep Countdown split."""
    import pyarrow.parquet as pq

    truths = pq.read_table(test_split, columns=["reward_model"]).column("reward_model").to_pylist()
    return {(tuple(sorted(t["ground_truth"]["numbers"])), int(t["ground_truth"]["target"])) for t in truths}


def build_hash(config: pretrain.PretrainConfig, held_out: set) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    digest.update(json.dumps(sorted(held_out)).encode())
    digest.update(BUILD_VERSION.encode())
    return digest.hexdigest()


def read_build(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / BUILD_FILE).read_text())
    except (OSError, ValueError):
        return None


def build_base(
    out_dir: str | os.PathLike,
    test_split: str | os.PathLike,
    prior: str = "search",
    steps: int | None = None,
    force: bool = False,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[Path, dict, bool]:
    """(model dir, its build record, whether it was built now rather than reused)."""
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; known: {', '.join(PRIORS)}")
    out_dir = Path(out_dir)
    config = pretrain.PretrainConfig(search_share=PRIORS[prior])
    if steps is not None:
        config = replace(config, steps=steps)
    held_out = test_keys(test_split)
    digest = build_hash(config, held_out)
    existing = read_build(out_dir)
    if existing is not None and existing["hash"] == digest:
        return out_dir, existing, False
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise FileExistsError(
            f"{out_dir} holds another build ({'hash ' + existing['hash'][:12] if existing else 'no build.json'}); "
            "pass --force to replace it or choose another --out"
        )
    pool = [problem for problem in corpus.problems() if problem not in held_out]
    result = pretrain.pretrain(config, pool, progress)
    record = {
        "hash": digest,
        "version": BUILD_VERSION,
        "prior": prior,
        "config": asdict(config),
        "pool_problems": len(pool),
        "held_out_problems": len(held_out),
        "test_split": str(test_split),
        "parameters": result.parameters,
        "tokens_seen": result.tokens_seen,
        "response_tokens": result.response_tokens,
        "final_loss": round(result.final_loss, 4),
        "pretrain_seconds": round(result.seconds, 1),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)
    try:
        save(result, staging)
        (staging / BUILD_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir, record, True


def save(result: pretrain.PretrainResult, out_dir: Path) -> None:
    from transformers import GenerationConfig

    config = result.model.config
    result.model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )
    result.model.save_pretrained(str(out_dir))
    result.tokenizer.save_pretrained(str(out_dir))
    make_tokenizer_auto_loadable(out_dir)


def make_tokenizer_auto_loadable(model_dir: Path) -> None:
    """Make AutoTokenizer (and so verl) load the saved word-level tokenizer as it is.

    transformers 5 maps model type qwen2 to Qwen2Tokenizer and rebuilds it as byte-level BPE from the
    vocabulary whenever tokenizer_config.json names a class, which splits every number into digits. With no
    class there and `tokenizer_class` in config.json, AutoTokenizer loads tokenizer.json unchanged.
    """
    tokenizer_config = model_dir / "tokenizer_config.json"
    settings = json.loads(tokenizer_config.read_text())
    settings.pop("tokenizer_class", None)
    tokenizer_config.write_text(json.dumps(settings, indent=2) + "\n")
    model_config = model_dir / "config.json"
    settings = json.loads(model_config.read_text())
    settings["tokenizer_class"] = "PreTrainedTokenizerFast"
    model_config.write_text(json.dumps(settings, indent=2) + "\n")


def record_gate(out_dir: Path, gate: dict) -> dict:
    """Adds the gate's figures to build.json (they do not change the hash) and returns the record."""
    record = read_build(out_dir) or {}
    record["gate"] = gate
    (out_dir / BUILD_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return record
