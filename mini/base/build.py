"""Builds (or reuses) a miniature base model dir: pre-train, save as a Hugging Face dir, gate, model card.

The build is named by a content hash of its config, the test split it must never see, the problem size
(data_prep.tasks.MINI_SIZE) and the code of the modules that shape the weights (SHAPING_MODULES: corpus,
tokenizer, training loop; LONG_SHAPING_MODULES for the long miniature's bases, which add corpus_long and
pretrain_long; LANG_SHAPING_MODULES for the language miniature's, which add corpus_lang and pretrain_lang):
any change to that code makes a new build, while a moved file, a reworded docstring or a comment keeps it.
The priors name the bases: countdown-mini's `search` and `none` (PRIORS), the long miniature's `long` and
`short` (pretrain_long.PRIORS) and the language miniature's `mixed` (pretrain_lang.PRIORS). A dir whose
build.json carries the same hash is reused as it is, a dir holding a different build is refused unless
`force` (nothing is overwritten silently). The dir is written beside its target and renamed into place, so
an interrupted build leaves nothing half-written.

    python -m mini.base --out models/mini-base [--prior none]
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from data_prep.tasks import MINI_SIZE
from launch.recipe import REPO_ROOT
from mini.base import corpus, corpus_lang, corpus_long, pretrain, pretrain_lang, pretrain_long, vocab

PRIORS = {"search": 0.25, "none": 0.0}  # countdown-mini's bases: planted search share of the problems
KNOWN_PRIORS = (*PRIORS, *pretrain_long.PRIORS, *pretrain_lang.PRIORS)
CONTROL_PRIORS = ("none", "short")  # controls built without (some of) the planted behaviour
BUILD_FILE = "build.json"
SHAPING_MODULES = (corpus, vocab, pretrain)
LONG_SHAPING_MODULES = (*SHAPING_MODULES, corpus_long, pretrain_long)
LANG_SHAPING_MODULES = (*SHAPING_MODULES, corpus_lang, pretrain_lang)


def prior_config(prior: str) -> pretrain.PretrainConfig:
    """The config a prior's base is built from (its class picks the corpus and training loop)."""
    if prior in PRIORS:
        return pretrain.PretrainConfig(search_share=PRIORS[prior])
    if prior in pretrain_long.PRIORS:
        return pretrain_long.PRIORS[prior]
    if prior in pretrain_lang.PRIORS:
        return pretrain_lang.PRIORS[prior]
    raise ValueError(f"unknown prior {prior!r}; known: {', '.join(KNOWN_PRIORS)}")


def is_long(config: pretrain.PretrainConfig) -> bool:
    return isinstance(config, pretrain_long.LongPretrainConfig)


def record_config(record: dict) -> pretrain.PretrainConfig:
    """The config a build record was built from."""
    return type(prior_config(record["prior"]))(**record["config"])


def is_lang(config: pretrain.PretrainConfig) -> bool:
    return isinstance(config, pretrain_lang.LangPretrainConfig)


def shaping_modules(config: pretrain.PretrainConfig) -> tuple:
    if is_lang(config):
        return LANG_SHAPING_MODULES
    return LONG_SHAPING_MODULES if is_long(config) else SHAPING_MODULES


def test_keys(test_split: str | os.PathLike) -> set[tuple[tuple[int, ...], int]]:
    """(sorted numbers, target) of every row of a data_prep Countdown split."""
    import pyarrow.parquet as pq

    truths = pq.read_table(test_split, columns=["reward_model"]).column("reward_model").to_pylist()
    return {(tuple(sorted(t["ground_truth"]["numbers"])), int(t["ground_truth"]["target"])) for t in truths}


def code_of(source: str) -> str:
    """A module's code without its prose: docstrings, comments and import lines dropped, layout normalised.

    Imports go because where a shaping module lives is not what it computes; the modules it imports that
    shape the weights are hashed themselves (SHAPING_MODULES, MINI_SIZE)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and (
            body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        ):
            body = body[1:] or [ast.Pass()]
        node.body = [child for child in body if not isinstance(child, ast.Import | ast.ImportFrom)]
    return ast.unparse(tree)


def sources_digest(modules: tuple = SHAPING_MODULES) -> str:
    """sha256 of the code of `modules` (code_of), in their order."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(code_of(inspect.getsource(module)).encode())
    return digest.hexdigest()


def build_hash(config: pretrain.PretrainConfig, held_out: set) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    digest.update(json.dumps(sorted(held_out)).encode())
    digest.update(json.dumps(asdict(MINI_SIZE), sort_keys=True).encode())
    digest.update(sources_digest(shaping_modules(config)).encode())
    return digest.hexdigest()


def shown_path(path: str | os.PathLike) -> str:
    """A path as a record shows it: relative to the repository when inside it (no machine paths)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


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
    out_dir = Path(out_dir)
    config = prior_config(prior)
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
    train = pretrain_long.pretrain_long if is_long(config) else pretrain.pretrain
    if is_lang(config):
        train = pretrain_lang.pretrain_lang
    result = train(config, pool, progress)
    record = {
        "hash": digest,
        "sources": sources_digest(shaping_modules(config)),
        "prior": prior,
        "config": asdict(config),
        "pool_problems": len(pool),
        "held_out_problems": len(held_out),
        "test_split": shown_path(test_split),
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


def ensure_base(
    out_dir: str | os.PathLike,
    test_split: str | os.PathLike,
    prior: str = "search",
    steps: int | None = None,
    force: bool = False,
    gate: bool = True,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[Path, dict, bool]:
    """build_base, then the gate and the model card (a reused build keeps the gate it passed or failed when
    built); (model dir, its build record with its gate, whether it was built now)."""
    out_dir, record, built = build_base(out_dir, test_split, prior, steps, force, progress)
    if gate and (built or "gate" not in record):
        from mini.base.card import write_card

        config = record_config(record)
        if is_long(config):
            from mini.base.gate_long import run_gate as run_long_gate

            gated = run_long_gate(out_dir, test_split, config.mixture())
        elif is_lang(config):
            from mini.base.gate_lang import run_gate as run_lang_gate

            gated = run_lang_gate(out_dir, test_split, config.mixture())
        else:
            from mini.base.gate import run_gate

            gated = run_gate(out_dir, test_split)
        record = record_gate(out_dir, gated)
        write_card(out_dir, record)
    return out_dir, record, built


def falls_short(record: dict) -> bool:
    """Whether a gated base failed a gate it is meant to pass: the controls (CONTROL_PRIORS) fail some checks
    by design (no search; no long search nor correction), which is not a shortfall."""
    return not record["gate"]["passed"] and record["prior"] not in CONTROL_PRIORS
