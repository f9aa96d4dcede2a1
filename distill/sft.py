"""Fine-tune: the student on a distill build with verl 0.9.1's own SFT trainer, keys checked first.

`sft_overrides` turns a build (distill.write) and a student into verl's dotted keys for
`verl.trainer.sft_trainer` (Hydra config `sft_trainer_engine`); `validate_sft` checks every key against that
config exactly as launch.verl_config checks the RL keys (an unknown key is an error naming the closest real
ones), rejects keys verl 0.9.1's SFT path composes but never reads and spellings of the old
`fsdp_sft_trainer`, then builds verl's own config dataclasses (their checks run) and the batch arithmetic.
`run_sft` starts the trainer under torchrun and returns the last `global_step_N` checkpoint, which
`launch eval` (evaluation.checkpoint) converts like an RL checkpoint. On CPU the device choices come from
launch.cpu_backend (`cpu_sft_overrides`, `cpu_env`).

    python -m launch distill sft data/distill/mini --student STUDENT_DIR --out checkpoints/distill/mini --device cpu
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evaluation.checkpoint import STEP_PATTERN
from evaluation.generate import run_logged
from launch import verl_config

SFT_MODULE = "verl.trainer.sft_trainer"
# Composed by verl 0.9.1's sft_trainer_engine.yaml, read by nothing on its SFT path
# (trainer/sft_trainer.py, utils/dataset/multiturn_sft_dataset.py, workers/engine_workers.py).
DEAD_SFT_KEYS = {
    "data.balance_dp_token": "nothing (marked 'to be implement' in verl 0.9.1)",
    "trainer.balance_batch": "nothing (the SFT trainer never balances batches)",
    "data.use_shm": "model.use_shm (the dataset never reads data.use_shm)",
    # So every seed of an SFT run (a pipeline's SFT stage on a file, for one) trains on one data order.
    "trainer.seed": "nothing: the trainer's DistributedSampler shuffles with its default seed, 0, whatever the "
    "run's seed (engine.seed seeds only engine.full_determinism)",
}
# The pre-0.9 `fsdp_sft_trainer` spellings that blog posts and old examples still show.
LEGACY_SFT_KEYS = {
    "model.partial_pretrain": "model.path",
    "data.prompt_key": "data.messages_key (rows hold a `messages` list)",
    "data.response_key": "data.messages_key (rows hold a `messages` list)",
    "data.micro_batch_size": "data.micro_batch_size_per_gpu",
    "data.chat_template": "model.custom_chat_template",
    "model.fsdp_config": "engine.* (engine.param_offload, engine.strategy, ...)",
    "model.strategy": "engine.strategy",
    "optim.warmup_steps_ratio": "optim.lr_warmup_steps_ratio",
    "ulysses_sequence_parallel_size": "engine.ulysses_sequence_parallel_size",
    "use_remove_padding": "model.use_remove_padding",
}


def sft_overrides(
    build_dir: str | Path, student: str, out_dir: str | Path, chat_template: str | None, name: str
) -> dict[str, Any]:
    """The keys every distillation run sets; recipe or command-line keys are applied over them."""
    overrides: dict[str, Any] = {
        "data.train_files": str((Path(build_dir) / "train.parquet").absolute()),
        "data.messages_key": "messages",
        # verl renders each turn alone and concatenates the ids; a BPE tokenizer may merge the text across the
        # prompt/response seam when the whole conversation is rendered at once. The concatenation is what the
        # model meets at inference (prompt tokenized alone, then its own tokens), so it is the one to keep.
        "data.ignore_input_ids_mismatch": True,
        "model.path": str(Path(student).absolute()) if Path(student).exists() else student,
        "trainer.default_local_dir": str(Path(out_dir).absolute()),
        "trainer.project_name": "zerolab-distill",
        "trainer.experiment_name": name,
        # console + verl's JSONL file logger (VERL_FILE_LOGGER_PATH, set by run_sft); wandb is the user's choice.
        "trainer.logger": ["console", "file"],
        # A fresh run every time: a rerun into the same directory must not resume a different build's run.
        "trainer.resume_mode": "disable",
        # Full Hugging Face weights beside the shards: `launch eval` then loads global_step_N/huggingface/
        # directly (evaluation.checkpoint), with no merge step.
        "checkpoint.save_contents": ["model", "optimizer", "extra", "hf_model"],
    }
    if chat_template is not None:
        overrides["model.custom_chat_template"] = chat_template
    return overrides


def reject_dead_keys(overrides: Mapping[str, Any]) -> None:
    for raw_key in overrides:
        key = raw_key.lstrip("+~")
        if key in DEAD_SFT_KEYS:
            raise verl_config.VerlConfigError(
                f"'{raw_key}' is never read by verl {verl_config.PINNED_VERL_VERSION}'s SFT trainer; what takes "
                f"effect: {DEAD_SFT_KEYS[key]}"
            )
        for legacy, replacement in LEGACY_SFT_KEYS.items():
            if key == legacy or key.startswith(legacy + "."):
                raise verl_config.VerlConfigError(
                    f"'{raw_key}' is the old fsdp_sft_trainer spelling; verl {verl_config.PINNED_VERL_VERSION}'s "
                    f"SFT trainer uses {replacement}"
                )


def validate_sft(overrides: Mapping[str, Any]):
    """verl's composed SFT config with `overrides`, after every check; raises VerlConfigError."""
    from hydra.errors import HydraException
    from verl.utils.config import omega_conf_to_dataclass

    reject_dead_keys(overrides)
    config = verl_config.compose(overrides, verl_config.SFT_CONFIG_NAME)
    world = config.trainer.nnodes * config.trainer.n_gpus_per_node
    data = config.data
    if data.train_batch_size % world:
        raise verl_config.VerlConfigError(
            f"'data.train_batch_size={data.train_batch_size}' must be a multiple of the {world} ranks"
        )
    if not data.use_dynamic_bsz and (data.train_batch_size // world) % data.micro_batch_size_per_gpu:
        raise verl_config.VerlConfigError(
            f"'data.micro_batch_size_per_gpu={data.micro_batch_size_per_gpu}' must divide the per-rank batch "
            f"{data.train_batch_size // world}"
        )
    # The trainer's own first step (SFTTrainer._build_config): verl's dataclasses run their checks. The model
    # section loads the model's config and tokenizer, so it is built only when the model is here already.
    sections = ["engine", "optim", "checkpoint"]
    if verl_config.is_available_offline(config.model.path):
        sections.append("model")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for section in sections:
            try:
                omega_conf_to_dataclass(config[section])
            except (AssertionError, ValueError, TypeError, HydraException) as error:
                cause = error.__cause__ or error  # Hydra wraps the dataclass's own message
                raise verl_config.VerlConfigError(f"verl rejected the {section} section: {cause}") from error
    return config


def sft_command(overrides: Mapping[str, Any], config) -> list[str]:
    """torchrun (the venv's own) over the ranks the config names, then the SFT trainer with the keys; Hydra's
    run dir beside the checkpoints, not outputs/<date>/<time>/ in the working directory."""
    ranks = [f"--nnodes={config.trainer.nnodes}", f"--nproc_per_node={config.trainer.n_gpus_per_node}"]
    standalone = ["--standalone"] if config.trainer.nnodes == 1 else []
    hydra_dir = Path(config.trainer.default_local_dir) / "hydra"
    return [
        sys.executable,
        *("-m", "torch.distributed.run", *standalone, *ranks),
        *("-m", SFT_MODULE, *verl_config.to_hydra_overrides(overrides), f"hydra.run.dir={hydra_dir}"),
    ]


def last_checkpoint(out_dir: str | Path) -> Path:
    steps = [p for p in Path(out_dir).iterdir() if p.is_dir() and STEP_PATTERN.fullmatch(p.name)]
    if not steps:
        raise RuntimeError(f"{SFT_MODULE} finished but saved no global_step_N under {out_dir}")
    return max(steps, key=lambda p: int(STEP_PATTERN.fullmatch(p.name).group(1)))


def check_enough_traces(config) -> None:
    """verl's SFT trainer divides by the steps per epoch (rows // data.train_batch_size) before training:
    fewer kept traces than one batch dies there with a ZeroDivisionError, so refuse it first."""
    import pyarrow.parquet as pq

    files = config.data.train_files
    paths = [files] if isinstance(files, str) else list(files)
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    if rows < config.data.train_batch_size:
        raise verl_config.VerlConfigError(
            f"{rows} SFT row(s) in {', '.join(map(str, paths))} is less than one batch "
            f"('data.train_batch_size={config.data.train_batch_size}'): keep more traces or lower the batch"
        )


def run_sft(
    overrides: Mapping[str, Any],
    log_path: str | Path,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Validate, run the SFT trainer (output to `log_path` and, line by line, to `echo`), return its last
    checkpoint dir."""
    config = validate_sft(overrides)
    check_enough_traces(config)
    out_dir = Path(config.trainer.default_local_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_env = {"VERL_FILE_LOGGER_PATH": str(out_dir / "metrics.jsonl"), **(env or {})}
    returncode = run_logged(sft_command(overrides, config), log_path, run_env, echo)
    if returncode != 0:
        raise RuntimeError(f"{SFT_MODULE} exited with {returncode}; see {log_path}")
    return last_checkpoint(out_dir)
