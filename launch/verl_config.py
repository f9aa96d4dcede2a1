"""Checks every override ZeroLab passes to verl against the pinned verl's own Hydra schema, offline.

A key verl does not know is an error naming it (with the closest real keys); a key verl 0.9.1 still parses
but silently ignores (the legacy top-level reward blocks, global micro batch sizes, keys the v1 trainer never
reads) is an error naming its replacement; algorithm settings verl would not act on are errors too
(launch.algorithm_checks); then verl's own `validate_config` runs, and the advantage estimator and rollout
names are looked up in verl's registries. Nothing here needs a GPU.

    python -m launch validate            # runs this over every run of every shipped recipe
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

PINNED_VERL_VERSION = "0.9.1"
TRAINER_MODULE = "verl.trainer.main_ppo"
TRAINER_CONFIG_NAME = "ppo_trainer"
# verl's SFT trainer (verl.trainer.sft_trainer) composes its own config; distill.sft checks keys against it.
SFT_CONFIG_NAME = "sft_trainer_engine"

# verl 0.9.1 composes these top-level blocks (legacy_reward_impl.yaml) but main_ppo never reads them.
IGNORED_PREFIXES = {
    "custom_reward_function": "reward.custom_reward_function",
    "reward_model.reward_manager": "reward.reward_manager.name",
    "reward_model": "reward.reward_model",
    "sandbox_fusion": "reward.sandbox_fusion",
}
# Global micro batch sizes are deprecated: verl raises when both spellings are set and ignores them with
# dynamic batch size; per-GPU sizes are the only ones ZeroLab passes.
DEPRECATED_KEYS = {
    "actor_rollout_ref.actor.ppo_micro_batch_size": "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu",
    "actor_rollout_ref.ref.log_prob_micro_batch_size": "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size": (
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu"
    ),
    "critic.ppo_micro_batch_size": "critic.ppo_micro_batch_size_per_gpu",
    "critic.forward_micro_batch_size": "critic.forward_micro_batch_size_per_gpu",
    "data.val_batch_size": "nothing (validation data is sent to the rollout engine whole)",
}
# Keys verl 0.9.1's v1 trainer (trainer.use_v1=true, the default) composes but never reads: setting one
# changes nothing, so each is an error naming what takes effect (trainer/ppo/v1/, workers/engine/).
DEAD_UNDER_V1 = {
    "actor_rollout_ref.rollout.val_kwargs.do_sample": (
        "actor_rollout_ref.rollout.val_kwargs.temperature (the v1 agent loop samples validation with it; 0 is greedy)"
    ),
    "critic.ppo_max_token_len_per_gpu": (
        "+critic.ppo_infer_max_token_len_per_gpu (v1 sizes the critic's training and inference micro batches from it)"
    ),
    "critic.forward_max_token_len_per_gpu": "+critic.ppo_infer_max_token_len_per_gpu",
    "actor_rollout_ref.actor.fsdp_config.seed": (
        "data.seed, actor_rollout_ref.rollout.seed and actor_rollout_ref.actor.data_loader_seed (the engine reads "
        "fsdp_config.seed only with fsdp_config.full_determinism=true)"
    ),
}
# Estimators that normalise within a group of samples of the same prompt: one sample per prompt is no group.
GROUP_ESTIMATORS = {"grpo", "grpo_passk", "grpo_vectorized", "rloo", "rloo_vectorized", "opo", "gpg"}

_BARE_STRING = re.compile(r"[A-Za-z_][A-Za-z0-9_./:@-]*")
_BACKSLASHES_BEFORE_QUOTE = re.compile(r"(\\+)(?=')")
_RESERVED_WORDS = {"true", "false", "null", "none", "nan", "inf", "yes", "no", "on", "off"}


class VerlConfigError(ValueError):
    """An override verl would reject, or silently ignore; the message names the key."""


def verl_config_dir() -> str:
    import verl

    return os.path.join(os.path.dirname(verl.__file__), "trainer", "config")


def check_verl_version() -> str:
    import verl

    if verl.__version__ != PINNED_VERL_VERSION:
        raise VerlConfigError(
            f"verl {verl.__version__} is installed, ZeroLab is pinned to {PINNED_VERL_VERSION} "
            "(requirements/pins.txt): run `make install`"
        )
    return verl.__version__


def format_value(value: Any) -> str:
    """Renders a Python value in Hydra's override grammar so that it composes back to the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VerlConfigError(f"non-finite number {value!r} cannot be passed to verl")
        return repr(value)
    if isinstance(value, str):
        if _BARE_STRING.fullmatch(value) and value.lower() not in _RESERVED_WORDS:
            return value
        # Hydra reads a backslash as an escape only in front of a quote or the closing quote.
        escaped = _BACKSLASHES_BEFORE_QUOTE.sub(lambda run: run.group(1) * 2, value + "'")[:-1]
        return "'" + escaped.replace("'", "\\'") + "'"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    raise VerlConfigError(f"cannot pass a {type(value).__name__} to verl: {value!r}")


def to_hydra_overrides(overrides: Mapping[str, Any]) -> list[str]:
    return [f"{key}={format_value(value)}" for key, value in overrides.items()]


def reject_ignored_keys(overrides: Mapping[str, Any]) -> None:
    deterministic = overrides.get("actor_rollout_ref.actor.fsdp_config.full_determinism") is True
    for raw_key in overrides:
        key = raw_key.lstrip("+~")
        if key in DEAD_UNDER_V1 and not (deterministic and key.endswith("fsdp_config.seed")):
            raise VerlConfigError(
                f"'{raw_key}' is never read by verl {PINNED_VERL_VERSION}'s v1 trainer; what takes effect: "
                f"{DEAD_UNDER_V1[key]}"
            )
        if key in DEPRECATED_KEYS:
            raise VerlConfigError(
                f"'{raw_key}' is deprecated in verl {PINNED_VERL_VERSION}; use {DEPRECATED_KEYS[key]}"
            )
        for prefix, replacement in IGNORED_PREFIXES.items():
            if key == prefix or key.startswith(prefix + "."):
                raise VerlConfigError(
                    f"'{raw_key}' is parsed but silently ignored by verl {PINNED_VERL_VERSION}'s trainer; "
                    f"use '{replacement}{key[len(prefix) :]}'"
                )


@functools.lru_cache(maxsize=2)
def _default_config(config_name: str = TRAINER_CONFIG_NAME):
    return _compose_strings((), config_name)


def _compose_strings(hydra_overrides: Sequence[str], config_name: str = TRAINER_CONFIG_NAME):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
            return compose(config_name=config_name, overrides=list(hydra_overrides))
    finally:
        GlobalHydra.instance().clear()


def _closest_keys(key: str, config_name: str = TRAINER_CONFIG_NAME) -> list[str]:
    from omegaconf import OmegaConf

    default = _default_config(config_name)
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(default, parent) if parent else default
    if not OmegaConf.is_dict(node):
        return []
    siblings = [str(k) for k in node]
    return [f"{parent}.{k}" if parent else k for k in difflib.get_close_matches(leaf, siblings, n=3)]


def reject_unknown_keys(overrides: Mapping[str, Any], config_name: str = TRAINER_CONFIG_NAME) -> None:
    from omegaconf import OmegaConf

    default = _default_config(config_name)
    for raw_key in overrides:
        if raw_key.startswith(("+", "~")):
            continue  # verl's own grammar: `+key` adds a key its schema leaves open, `~key` deletes one
        parent, _, leaf = raw_key.rpartition(".")
        node = OmegaConf.select(default, parent, default=None) if parent else default
        if not (OmegaConf.is_dict(node) and leaf in node.keys()):  # noqa: SIM118 (`in node` is False for ??? values)
            hint = _closest_keys(raw_key, config_name)
            suggestion = f"; did you mean {' or '.join(hint)}?" if hint else ""
            raise VerlConfigError(
                f"'{raw_key}' is not a key of verl {PINNED_VERL_VERSION}'s {config_name} config{suggestion}"
            )


def compose(overrides: Mapping[str, Any], config_name: str = TRAINER_CONFIG_NAME):
    """verl's full config `config_name` with `overrides` applied, as its trainer would compose it."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    reject_ignored_keys(overrides)
    reject_unknown_keys(overrides, config_name)
    try:
        return _compose_strings(to_hydra_overrides(overrides), config_name)
    except (HydraException, OmegaConfBaseException) as error:
        raise VerlConfigError(f"verl's Hydra config rejected the overrides: {error}") from error


def validate(overrides: Mapping[str, Any], extra_rollout_names: Sequence[str] = ()):
    """Composes and runs verl's own checks; returns the resolved config. Raises VerlConfigError."""
    from omegaconf import OmegaConf

    config = compose(overrides)
    estimator = config.algorithm.adv_estimator
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    try:
        get_adv_estimator_fn(estimator)
    except ValueError:
        raise VerlConfigError(
            f"'algorithm.adv_estimator={estimator}' is not an estimator verl knows"
        ) from None

    rollout = config.actor_rollout_ref.rollout
    known_rollouts = {*_registered_rollout_names(), *extra_rollout_names}
    if OmegaConf.is_missing(rollout, "name") or rollout.name not in known_rollouts:
        name = "???" if OmegaConf.is_missing(rollout, "name") else rollout.name
        raise VerlConfigError(
            f"'actor_rollout_ref.rollout.name={name}' is not a rollout backend; known: {', '.join(sorted(known_rollouts))}"
        )
    if not isinstance(rollout.n, int) or isinstance(rollout.n, bool) or rollout.n < 1:
        raise VerlConfigError(f"'actor_rollout_ref.rollout.n={rollout.n!r}' must be a positive integer")
    if estimator in GROUP_ESTIMATORS and rollout.n < 2:
        raise VerlConfigError(
            f"'actor_rollout_ref.rollout.n={rollout.n}': {estimator} needs a group of at least 2 samples"
        )

    from launch import algorithm_checks

    try:
        algorithm_checks.check(config, overrides)
    except algorithm_checks.Ignored as error:
        raise VerlConfigError(str(error)) from None
    _run_verl_validate_config(config)
    return config


def _registered_rollout_names() -> set[str]:
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY

    return {name for name, _mode in _ROLLOUT_REGISTRY}


def is_available_offline(model: str) -> bool:
    """A local model dir, or a hub id whose config is already in the Hugging Face cache."""
    if os.path.isdir(os.path.expanduser(model)):
        return True
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except ValueError:  # not a valid repo id either
        return False


def _offline_stand_in_model() -> str:
    from launch.cpu_backend.tiny_model import build_tiny_model

    return str(build_tiny_model(os.path.join(tempfile.gettempdir(), "zerolab-offline-stand-in-model")))


# vLLM's allowed LoRA ranks, as verl 0.9.1 falls back to them (workers/rollout/vllm_rollout/utils.py).
VLLM_MAX_LORA_RANK = 512


def _without_vllm_lora_lookup(config):
    """verl's validate_config looks a LoRA rank up in vLLM's own module, which imports vLLM: on a node
    without vLLM (the CPU env) the rank is checked here against the bound verl falls back to, and verl's check
    runs as for a merged adapter (the one difference)."""
    import importlib.util

    from omegaconf import OmegaConf

    model = config.actor_rollout_ref.model
    if config.actor_rollout_ref.rollout.name != "vllm" or model.lora_rank <= 0:
        return config
    if importlib.util.find_spec("vllm") is not None:
        return config
    if model.lora_rank > VLLM_MAX_LORA_RANK:
        raise VerlConfigError(
            f"'actor_rollout_ref.model.lora_rank={model.lora_rank}': vLLM serves LoRA ranks up to {VLLM_MAX_LORA_RANK}"
        )
    return OmegaConf.merge(config, {"actor_rollout_ref": {"model": {"lora": {"merge": True}}}})


def _run_verl_validate_config(config) -> None:
    from omegaconf import OmegaConf
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    # verl prints progress and warns about disabled critics: keep launch output readable.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        use_critic = need_critic(config)
        if use_critic and not is_available_offline(config.critic.model.path):
            # verl's critic check loads the critic model's tokenizer and config. Validation never touches
            # the network: a tiny local stand-in takes the model's place for this check only (it validates
            # batch and optimizer settings); `launch train` checks that the real model is reachable.
            config = OmegaConf.merge(config, {"critic": {"model": {"path": _offline_stand_in_model()}}})
        config = _without_vllm_lora_lookup(config)
        try:
            validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=use_critic)
        except (AssertionError, ValueError, TypeError) as error:
            raise VerlConfigError(f"verl's validate_config rejected the run: {error}") from error
