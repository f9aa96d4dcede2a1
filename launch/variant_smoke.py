"""Two real verl steps of every variant of every shipped recipe, on CPU, in one process and one Ray start.

Each variant is compiled like any run and then overlaid with the tiny local model of launch.cpu_backend, a
small split of the miniature's Countdown, 2 prompts x 4 samples and 16-token responses, so what differs between
two runs is what the variant changes in verl's config. Variants that are then the same run once, listed
against the run that covered them: with scope "configs", identical verl configs (a model size, the instruct
model, a hardware profile: the tiny model replaces them all); with scope "code-paths" (what `make test`
runs), configs that differ only in numbers verl reads through the same code (learning rates, coefficients,
clip ratios, KL on or off) or in our reward's options (tested in tests/rewards/). All runs share one Ray
cluster started here and one TaskRunner actor (verl's `run_ppo` does `ray.init` and starts a TaskRunner per
run); each run still starts its own trainer workers, rollout server and reward workers. A run fails when
the trainer raises, when a step's metrics are missing, or when any logged metric is NaN or infinite.

`--rollout vllm` (run with .venv-vllm's python) runs the variants that change what verl's rollout or its weight
sync does (ROLLOUT_TOUCHING: rollout correction reads the rollout's log-probs; LoRA syncs an adapter, unmerged)
through verl's vLLM rollout with the vLLM tier's settings (launch/cpu_backend/vllm_cpu.py).

    python -m launch smoke-variants [--recipe countdown-ablations] [--variants grpo,gspo] [--scope configs]
    .venv-vllm/bin/python -m launch smoke-variants --rollout vllm
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_prep.tasks import build_command
from launch.cpu_backend import CPU_ROLLOUT_NAME, RAY_LOGICAL_CPUS, cpu_env, cpu_overrides
from launch.cpu_backend.vllm_cpu import TINY_MODEL_SHAPE, VLLM_ROLLOUT_NAME, vllm_cpu_env, vllm_cpu_overrides
from launch.plan import SEED_KEYS, Overlay, RunPlan, compile_run, expand
from launch.recipe import REPO_ROOT, list_recipes, load_recipe
from launch.validate import validate_plans

STEPS = 2
TRAIN_PROBLEMS, TEST_PROBLEMS = 16, 4
RESPONSE_TOKENS = 16
TASK, TEMPLATE = "countdown-mini", "mini"
# Samples per prompt (at most): with a fair coin for a reward, 2 prompts x 2 samples left every group without
# signal in both steps for one variant (measured: gspo); with 4, each group is all-equal with chance 1/8.
GROUP_SIZE = 4
# Keys that name a run rather than configure it: two runs equal in everything else train identically.
_NAMING_KEYS = (
    "trainer.project_name",
    "trainer.experiment_name",
    "trainer.default_local_dir",
    "trainer.rollout_data_dir",
    "trainer.validation_data_dir",
    *SEED_KEYS,
)
# Scope "code-paths" (what `make test` runs): settings that change a number, not which code runs, are left out
# of the comparison, so variants that differ only in them share one run. Everything that selects verl code
# (estimator, policy loss, aggregation, DAPO filtering, rollout correction, reward manager, LoRA, critic,
# reference model) still tells runs apart. Reward options select our reward's branches, which its own tests
# cover (tests/rewards/); the verl side of every reward option is the same call.
VALUE_ONLY_SUFFIXES = (
    "optim.lr",
    "kl_loss_coef",
    "kl_ctrl.kl_coef",
    "clip_ratio_low",
    "clip_ratio_high",
    "entropy_coeff",
    "loss_scale_factor",
    "rollout_is_threshold",
    "overlong_buffer_cfg.len",
    "overlong_buffer_cfg.penalty_factor",
    "max_resp_len",
    "lora_rank",
    "lora_alpha",
    "max_actor_ckpt_to_keep",
    "max_critic_ckpt_to_keep",
    "use_kl_loss",
)
VALUE_ONLY_PREFIXES = ("+reward.custom_reward_function.reward_kwargs.",)
SCOPES = ("code-paths", "configs")
ROLLOUTS = (CPU_ROLLOUT_NAME, VLLM_ROLLOUT_NAME)
# A variant setting one of these changes what the rollout or the trainer-to-rollout weight sync does.
ROLLOUT_TOUCHING = ("algorithm.rollout_correction.", "actor_rollout_ref.model.lora_rank")


def variant_overlay(model_dir: Path, steps: int = STEPS, rollout: str = CPU_ROLLOUT_NAME) -> Overlay:
    """The tiny model, Countdown in the base template and smoke-sized batches, on the CPU backend with the
    `rollout` it names."""
    if rollout not in ROLLOUTS:
        raise ValueError(f"rollout must be one of {', '.join(ROLLOUTS)}, got {rollout!r}")
    vllm = rollout == VLLM_ROLLOUT_NAME
    patch: dict[str, Any] = {
        "model": str(model_dir),
        # The miniature's Countdown (3 numbers in 1..9) in its short prompt: a few tokens instead of the
        # base template's ~230 with the tiny tokenizer, and the steps cost a tenth.
        "task": TASK,
        "val_tasks": [TASK],
        "template": TEMPLATE,
        # Memory knobs sized for the CPU backend, whatever GPU the recipe or variant was sized for.
        "profile": "cpu",
        "data.train_batch_size": 2,
        "actor_rollout_ref.actor.ppo_mini_batch_size": 2,
        "data.max_prompt_length": 64,
        "data.max_response_length": RESPONSE_TOKENS,
        "trainer.total_training_steps": steps,
        "trainer.val_before_train": False,
        "trainer.test_freq": steps,  # one validation, at the last step: the validation path runs too
        "trainer.save_freq": -1,
        **(vllm_cpu_overrides(n_ranks=1) if vllm else cpu_overrides(n_ranks=1)),
    }
    return Overlay(
        label=None,
        patch=patch,
        env=vllm_cpu_env() if vllm else cpu_env(),
        extra_rollout_names=() if vllm else (CPU_ROLLOUT_NAME,),
    )


def touches_rollout(plan: RunPlan) -> bool:
    """Whether the run's settings change what verl's rollout or its weight sync does (ROLLOUT_TOUCHING)."""
    return any(
        key.startswith(ROLLOUT_TOUCHING) and value not in (None, 0, False)
        for key, value in plan.overrides.items()
    )


def _scaled_to_overlay(plan: RunPlan, rollout: str = CPU_ROLLOUT_NAME) -> RunPlan:
    """Settings sized against the recipe's scale, cut to the overlay's: DAPO's overlong buffer and response
    budget (16 tokens) and groups of GROUP_SIZE samples; and
    what the tiny model and the CPU backend need: a reward with signal (the seeded-coin control), and a
    merged LoRA adapter. A reference reset is dropped: its segments are relaunches through launch.ref_reset,
    which tests/launch/test_ref_reset.py runs for real; what is left is its verl config (a KL variant's)."""
    scaled = {}
    if "+reward.reward_kwargs.max_resp_len" in plan.overrides:
        scaled["+reward.reward_kwargs.max_resp_len"] = RESPONSE_TOKENS
        scaled["+reward.reward_kwargs.overlong_buffer_cfg.len"] = RESPONSE_TOKENS // 4
    if plan.overrides.get("actor_rollout_ref.rollout.n", 1) > GROUP_SIZE:
        scaled["actor_rollout_ref.rollout.n"] = GROUP_SIZE
    if plan.overrides.get("actor_rollout_ref.model.lora_rank", 0) > 0 and rollout == CPU_ROLLOUT_NAME:
        # The CPU rollout loads full weights and refuses adapter tensors: verl merges the adapter before each
        # sync. vLLM serves the adapter unmerged, as on a GPU: `--rollout vllm` runs that path.
        scaled["actor_rollout_ref.model.lora.merge"] = True
    control = "+reward.custom_reward_function.reward_kwargs.control"
    if control not in plan.overrides:
        # The random tiny model never solves a problem: every reward would be 0, every advantage 0, and a loss
        # that fails only on a real gradient would pass. The seeded-coin control gives groups with signal.
        scaled[control] = "random"
    if plan.overrides.get("algorithm.filter_groups.enable"):
        # DAPO's filter must see the coin (filtering on `acc`, the truth, would drop every group, and verl
        # 0.9.1 refills without a cap, forever).
        scaled["algorithm.filter_groups.metric"] = "score"
    return dataclasses.replace(plan, overrides={**plan.overrides, **scaled}, ref_reset_every=None)


@dataclass
class VariantRun:
    recipe: str
    variant: str
    plan: RunPlan
    covers: list[str] = field(default_factory=list)  # recipe/variant pairs whose config is identical
    status: str = "pending"
    reason: str | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.recipe}/{self.variant}"


def describe(run: VariantRun) -> dict:
    """One run's line of summary.json."""
    return {
        "run": run.name,
        "covers": run.covers,
        "status": run.status,
        "reason": run.reason,
        "seconds": round(run.seconds, 1),
    }


def shipped_variants(recipes: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(recipe, variant) of every RL recipe shipped in recipes/ (distillation recipes run SFT, not verl PPO; a
    multi-stage recipe's variants patch stages, which launch.stages compiles, not a single run)."""
    pairs = []
    for name in recipes or list_recipes():
        recipe = load_recipe(name)
        if recipe.distill is None and recipe.stages is None:
            pairs += [(name, variant) for variant in recipe.sweep.variants]
    return pairs


def _comparison_key(overrides: dict, scope: str) -> tuple:
    def compared(key: str) -> bool:
        if key in _NAMING_KEYS:
            return False
        if scope == "configs":
            return True
        return not (key.endswith(VALUE_ONLY_SUFFIXES) or key.startswith(VALUE_ONLY_PREFIXES))

    return tuple(sorted((k, repr(v)) for k, v in overrides.items() if compared(k)))


def plan_variants(
    pairs: list[tuple[str, str]],
    model_dir: Path,
    data_dir: Path,
    out: Path,
    scope: str = "configs",
    rollout: str = CPU_ROLLOUT_NAME,
) -> list[VariantRun]:
    """One run per distinct verl config among `pairs` (scope "configs"), or per distinct verl code path
    (scope "code-paths": VALUE_ONLY_SUFFIXES ignored), the first seed of each. With the vLLM rollout, only the
    pairs whose settings touch the rollout (touches_rollout)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    overlay = variant_overlay(model_dir, rollout=rollout)
    runs: dict[tuple, VariantRun] = {}
    for recipe_name, variant in pairs:
        recipe = load_recipe(recipe_name)
        _, point, seed = next(expand(recipe, variant))
        plan = compile_run(
            recipe,
            variant,
            point,
            seed,
            overlay=overlay,
            data_dir=str(data_dir),
            results_root=str(out / "results"),
            checkpoints_root=str(out / "checkpoints"),
        )
        if rollout == VLLM_ROLLOUT_NAME and not touches_rollout(plan):
            continue
        plan = _scaled_to_overlay(plan, rollout)
        key = _comparison_key(plan.overrides, scope)
        if key in runs:
            runs[key].covers.append(f"{recipe_name}/{variant}")
        else:
            runs[key] = VariantRun(recipe_name, variant, plan)
    return list(runs.values())


def build_inputs(out: Path, rollout: str = CPU_ROLLOUT_NAME) -> tuple[Path, Path]:
    """The tiny model (in vLLM's head size for the vLLM rollout) and a small split of the miniature's
    Countdown, under `out`."""
    from launch.cpu_backend.tiny_model import build_tiny_model

    data_dir = out / "data"
    build = build_command(TASK, TEMPLATE, str(data_dir))
    build += ["--train-size", str(TRAIN_PROBLEMS), "--test-size", str(TEST_PROBLEMS), "--if-missing"]
    subprocess.run(build, check=True, timeout=120, cwd=REPO_ROOT, capture_output=True)
    if rollout == VLLM_ROLLOUT_NAME:
        return build_tiny_model(out / "model-vllm", **TINY_MODEL_SHAPE), data_dir
    return build_tiny_model(out / "model"), data_dir


def bad_metrics(metrics_file: Path, steps: int = STEPS) -> str | None:
    """Why a run's file-logger metrics fail the check (a step missing, a NaN or infinite value), or None."""
    if not metrics_file.is_file():
        return f"no metrics written ({metrics_file})"
    rows = {row["step"]: row["data"] for row in map(json.loads, metrics_file.read_text().splitlines())}
    missing = [step for step in range(1, steps + 1) if "actor/pg_loss" not in rows.get(step, {})]
    if missing:
        return f"no actor/pg_loss logged at step(s) {missing}"
    for step, data in sorted(rows.items()):
        for key, value in data.items():
            if isinstance(value, float) and not math.isfinite(value):
                return f"step {step}: {key} = {value}"
    return None


def _ray_env(out: Path, rollout: str) -> dict[str, str]:
    return {
        **(vllm_cpu_env() if rollout == VLLM_ROLLOUT_NAME else cpu_env()),
        "WANDB_MODE": "disabled",
        # One file per run without a per-run environment: <root>/<project>/<experiment>.jsonl.
        "VERL_FILE_LOGGER_ROOT": str(out / "metrics"),
        "TRANSFER_QUEUE_ENABLE": "1",
    }


def metrics_file(out: Path, plan: RunPlan) -> Path:
    return out / "metrics" / plan.recipe.name / f"{plan.run_id}.jsonl"


def run_variants(
    runs: list[VariantRun], out: Path, progress: Callable[[str], None] = lambda _line: None
) -> list[VariantRun]:
    """Runs each variant's trainer in this process on one Ray cluster; returns the runs with their status."""
    import ray
    from omegaconf import OmegaConf

    env = _ray_env(out, runs[0].plan.overrides["actor_rollout_ref.rollout.name"])
    os.environ.update(env)
    configs = {}
    for run in runs:  # validated as any run, with paths absolute (the trainer runs them from any cwd)
        configs[run.name] = validate_plans([run.plan], check_fit=False)[run.plan.run_id]
    # Ray's session dir holds Unix sockets, whose paths may not pass 107 bytes: a deep --out (pytest's tmp_path)
    # made `ray.init` fail, so the session lives in a short dir of its own, removed at the end.
    temp_dir = tempfile.mkdtemp(prefix="zl-", dir="/tmp")
    from verl.trainer.constants_ppo import get_ppo_ray_runtime_env

    # What verl's run_ppo would start for one run (its runtime env, the CPU backend's resources), started once.
    runtime_env = get_ppo_ray_runtime_env(configs[runs[0].name])
    runtime_env["env_vars"].update(env)
    ray.init(
        num_cpus=RAY_LOGICAL_CPUS,
        num_gpus=1,
        include_dashboard=False,
        _temp_dir=temp_dir,
        runtime_env=runtime_env,
    )
    runner_class, runner = _reusable_task_runner(), None
    try:
        for index, run in enumerate(runs, 1):
            also = f" (also {', '.join(run.covers)})" if run.covers else ""
            progress(f"[{index}/{len(runs)}] {run.name}{also}")
            # One TaskRunner for every run: what run_ppo does per run (`runner.run.remote(config)`), without
            # starting (and importing verl in) a new Ray actor each time.
            runner = runner or runner_class.remote()
            started = time.monotonic()
            try:
                ray.get(runner.run_once.remote(OmegaConf.create(OmegaConf.to_container(configs[run.name]))))
                problem = bad_metrics(metrics_file(out, run.plan))
            except ray.exceptions.RayActorError as error:
                problem, runner = f"the trainer process died: {error}"[-1500:], None
            except Exception as error:  # noqa: BLE001 - a variant's crash is its result, reported by name
                problem = f"{type(error).__name__}: {str(error)[-1500:]}"
                # A run that raised leaves actors alive (measured: a named reward worker then refused the next
                # run); the actors a TaskRunner started go with it, so the next run gets a fresh one.
                ray.kill(runner)
                runner = None
            problem = _release_resources() or problem
            run.seconds = time.monotonic() - started
            run.status, run.reason = ("failed", problem) if problem else ("finished", None)
            progress(f"    {run.status} in {run.seconds:.0f} s" + (f": {problem}" if problem else ""))
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return runs


def _reusable_task_runner():
    """verl's TaskRunnerV1 as a Ray actor that can run several configs one after another: after each run it
    drops the run's trainer and agent loop, so the workers, rollout server and reward workers they own go."""
    import gc

    import ray
    from verl.trainer.main_ppo import TaskRunnerV1

    class ReusableTaskRunner(TaskRunnerV1.__ray_actor_class__):
        def run_once(self, config) -> None:
            try:
                self.run(config)
            finally:
                self.trainer = self.agent_loop_manager = self.config = None
                gc.collect()

    return ray.remote(ReusableTaskRunner)


RELEASE_TIMEOUT_S = 60


def _release_resources() -> str | None:
    """Removes the placement groups a finished run leaves (verl creates them per run and never removes them;
    Ray removes them only when the driver exits) and waits for the fake GPU to be free again."""
    import ray
    from ray.util.placement_group import PlacementGroup, remove_placement_group

    for pg_id, entry in ray.util.placement_group_table().items():
        if entry.get("state") != "REMOVED":
            remove_placement_group(PlacementGroup(ray.PlacementGroupID(bytes.fromhex(pg_id))))
    deadline = time.monotonic() + RELEASE_TIMEOUT_S
    while ray.available_resources().get("GPU", 0) < 1:
        if time.monotonic() > deadline:
            return f"the run's actors still hold the GPU bundle {RELEASE_TIMEOUT_S} s after it ended"
        time.sleep(0.5)
    return None
