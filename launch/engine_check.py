"""Measure verl 0.9.1's own actor and reference engines on this node against launch.estimate, in-process.

For each model shape (random weights from its config, no hub), the shipped `countdown-3b` recipe is compiled by
launch.plan at each hardware profile and composed by launch.verl_config exactly as a training run would be; verl's
`ActorRolloutRefWorker` is built twice in this process, with role `ref` and role `actor` (no rollout, no Ray:
one FSDP2 rank), and runs steps of [old log-prob with entropy, ref log-prob, actor update] on batches of
full-length sequences that fill two micro-batches per phase to the profile's token budget. Step 1 creates Adam's
state; later steps are steady state, one per profile (the budgets travel with the data, as verl lets them).
Each phase records seconds, tokens/s, TFLOP/s and peak memory (allocated / reserved by torch, and the device's
used memory as nvidia-smi counts it), beside the estimate's figures for the same run.

On CPU (`dry_cpu`), the same path runs with the tiny local model, budgets scaled down, the CPU backend's platform
and fp32, and the process's resident memory in place of the allocator's peaks.

    python benchmarks/gpu_check.py [--dry-cpu] --out outputs/gpu-check        (make gpu-check)
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launch import estimate as estimate_module
from launch.calibration import ARITHMETIC
from launch.model_configs import KNOWN, ModelConfig, from_config_json
from launch.plan import Overlay, RunPlan, compile_run
from launch.recipe import REPO_ROOT, load_recipe
from launch.record_paths import portable_text

RECIPE = "countdown-3b"
VARIANT = "default"
# Smallest first: a failure shows up cheaply; 3B before 1.5B so the largest shape runs within the time budget.
SHAPES = ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-1.5B")
PROFILES = ("1xh200", "1x80gb")
MICRO_BATCHES = 2
PHASE_BUDGET_KEYS = {
    "log-prob": "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu",
    "ref log-prob": "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu",
    "update": "actor_rollout_ref.actor.ppo_max_token_len_per_gpu",
}
# Keys a later profile may change against the first one's workers: they travel with each batch.
PER_BATCH_KEYS = set(PHASE_BUDGET_KEYS.values())
ENGINE_PREFIXES = ("actor_rollout_ref.actor.", "actor_rollout_ref.ref.", "actor_rollout_ref.model.", "data.")
# Dense bf16 TFLOPS from NVIDIA's data sheets (without sparsity), by a substring of the name nvidia-smi reports;
# the more specific names first.
DATASHEET_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("A10", 125.0),
    ("L4", 121.0),
)
GB = 1e9
# --dry-cpu: one tiny model, sequences and budgets small enough for a 2-core CPU, in the profiles' proportions.
DRY_SHAPE = "tiny"
DRY_PROMPT, DRY_RESPONSE, DRY_BUDGET_DIVISOR = 16, 48, 256


def datasheet_tflops(gpu_name: str) -> float | None:
    for fragment, tflops in DATASHEET_TFLOPS:
        if fragment in gpu_name:
            return tflops
    return None


@dataclass(frozen=True)
class CheckOptions:
    out: Path
    models_dir: Path  # the random-weight model dirs (GBs for 3B: keep them out of what travels back)
    dry_cpu: bool = False
    shapes: Sequence[str] = SHAPES
    profiles: Sequence[str] = PROFILES
    steady_steps: int = 1  # steady-state steps at the first profile (after the one that creates Adam)
    attn_implementation: str | None = None  # e.g. sdpa where flash-attn is not installed
    compile: bool = True
    peak_tflops: float | None = None  # the device's dense bf16 peak; default: DATASHEET_TFLOPS by its name
    seed: int = 0


@dataclass
class MemoryProbe:
    """Peak memory over a phase: torch's allocator peaks and the device's used memory (sampled), on CUDA; the
    process's resident set (sampled), on CPU, in place of the allocator's peak."""

    device: str
    interval_s: float = 0.005
    _peak_used: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _used(self) -> int:
        import torch

        if self.device == "cuda":
            free, total = torch.cuda.mem_get_info()
            return total - free
        import psutil

        return psutil.Process().memory_info().rss

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak_used = max(self._peak_used, self._used())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> MemoryProbe:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._baseline = self._used()
        self._peak_used = self._baseline
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
        self._stop.set()
        self._thread.join()
        self._peak_used = max(self._peak_used, self._used())

    def peaks(self) -> dict[str, int | None]:
        import torch

        if self.device == "cuda":
            return {
                "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
                "peak_reserved_bytes": torch.cuda.max_memory_reserved(),
                "peak_device_used_bytes": self._peak_used,
            }
        # CPU: resident-set growth over the phase's start stands in for the allocator's peak.
        return {
            "peak_allocated_bytes": self._peak_used,
            "peak_reserved_bytes": None,
            "peak_device_used_bytes": None,
        }


def allocated_now(device: str) -> int | None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()
    import psutil

    return psutil.Process().memory_info().rss


def _dry_overlay_patch() -> dict[str, Any]:
    from launch.cpu_backend import cpu_overrides

    patch = {
        key: value for key, value in cpu_overrides().items() if not key.split(".")[0].endswith("ray_kwargs")
    }
    patch.update({"data.max_prompt_length": DRY_PROMPT, "data.max_response_length": DRY_RESPONSE})
    return patch


def compile_check_run(model: str, profile: str, options: CheckOptions) -> RunPlan:
    """The shipped recipe's run at `profile`, with `model` (a local dir) and the check's device choices."""
    recipe = load_recipe(RECIPE)
    patch: dict[str, Any] = {"model": model}
    if options.dry_cpu:
        patch.update(_dry_overlay_patch())
        base = compile_run(recipe, VARIANT, {}, recipe.sweep.seeds[0], profile=profile)
        patch.update(
            {key: int(base.overrides[key]) // DRY_BUDGET_DIVISOR for key in PHASE_BUDGET_KEYS.values()}
        )
    if options.attn_implementation:
        patch["+actor_rollout_ref.model.override_config.attn_implementation"] = options.attn_implementation
    if not options.compile:
        for key in (
            "actor_rollout_ref.actor.use_torch_compile",
            "actor_rollout_ref.actor.fsdp_config.use_torch_compile",
            "actor_rollout_ref.ref.fsdp_config.use_torch_compile",
        ):
            patch[key] = False
    overlay = Overlay(label=None, patch=patch)
    return compile_run(recipe, VARIANT, {}, recipe.sweep.seeds[0], overlay=overlay, profile=profile)


def build_random_model(out_dir: Path, shape: ModelConfig, device: str, seed: int) -> Path:
    """A Qwen2 model dir with `shape`'s architecture, random bf16 weights and the tiny local tokenizer (only
    token ids matter here)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from launch.cpu_backend.tiny_model import END_OF_TEXT, IM_END, build_tiny_tokenizer

    if (out_dir / "config.json").is_file() and any(out_dir.glob("*.safetensors")):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(out_dir)
    eos_id, pad_id = tokenizer.convert_tokens_to_ids([IM_END, END_OF_TEXT])
    config = Qwen2Config(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        intermediate_size=shape.intermediate,
        tie_word_embeddings=shape.tied_embeddings,
        # Qwen2.5's own values (config.json of each base model).
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        bos_token_id=pad_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        dtype="bfloat16",
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(out_dir))
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out_dir


def _padded_batch(sequences: int, prompt: int, response: int, vocab: int, generator) -> Any:
    """Full-length left/right-padded sequences (no padding at all), as the trainer hands them to the workers."""
    import torch
    from tensordict import TensorDict

    prompts = torch.randint(0, vocab, (sequences, prompt), generator=generator)
    responses = torch.randint(0, vocab, (sequences, response), generator=generator)
    length = prompt + response
    return TensorDict(
        {
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": torch.ones(sequences, length, dtype=torch.int64),
            "position_ids": torch.arange(length).expand(sequences, length).clone(),
            "response_mask": torch.ones(sequences, response, dtype=torch.int64),
        },
        batch_size=[sequences],
    )


def _numbers(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """verl's metrics, JSON-safe: numbers and lists of numbers."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        value = getattr(value, "value", value)
        if hasattr(value, "item") and getattr(value, "numel", lambda: 0)() == 1:
            value = value.item()
        if isinstance(value, int | float):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(getattr(v, "value", v), int | float) for v in value):
            out[key] = [getattr(v, "value", v) for v in value]
    return out


@dataclass
class _Workers:
    actor: Any
    ref: Any
    config: Any  # the composed actor_rollout_ref block
    # Each engine's whole-model forward calls: one per micro-batch verl formed (gradient checkpointing
    # recomputes layers, not the whole model).
    forwards: dict[str, int] = field(default_factory=lambda: {"actor": 0, "ref": 0})


def _build_workers(actor_rollout_ref) -> _Workers:
    from verl.workers.engine_workers import ActorRolloutRefWorker

    # The reference first, as the trainer's colocated worker does, then the actor.
    ref = ActorRolloutRefWorker(actor_rollout_ref, role="ref")
    ref.init_model()
    actor = ActorRolloutRefWorker(actor_rollout_ref, role="actor")
    actor.init_model()
    workers = _Workers(actor=actor, ref=ref, config=actor_rollout_ref)
    for name in workers.forwards:
        training_worker = getattr(getattr(workers, name), name)  # ActorRolloutRefWorker.actor / .ref

        def hook(_module, _args, name=name):
            workers.forwards[name] += 1

        training_worker.engine.module.register_forward_pre_hook(hook)
    return workers


def _estimate_figures(plan: RunPlan, model: ModelConfig, checkpointing: bool, root: Path) -> dict[str, Any]:
    found = estimate_module.estimate(plan, root=root, constants=ARITHMETIC)
    # The estimate is linear in the overhead and the logit bytes: its value with both at zero, and its growth per
    # logit byte, let derive() re-estimate every phase with measured constants.
    bare = dataclasses.replace(
        ARITHMETIC, runtime_overhead_gb=0.0, logit_bytes_forward=0.0, logit_bytes_update=0.0
    )
    unit = dataclasses.replace(bare, logit_bytes_forward=1.0, logit_bytes_update=1.0)
    without = {p.name: p.peak_gb for p in estimate_module.estimate(plan, root=root, constants=bare).phases}
    per_byte = {p.name: p.peak_gb for p in estimate_module.estimate(plan, root=root, constants=unit).phases}
    phases = {
        p.name: {
            "peak_gb": round(p.peak_gb, 3),
            "engine": p.engine,
            "without_overhead_and_logits_gb": round(without[p.name], 3),
            "gb_per_logit_byte": round(per_byte[p.name] - without[p.name], 4),
        }
        for p in found.phases
    }
    state = estimate_module._TrainingState(plan.overrides, model.parameters())
    return {
        "constants": ARITHMETIC.source,
        "phases": phases,
        "resident_gb": round((state.actor + state.ref) / GB, 3),
        "per_token_bytes": {
            "forward": estimate_module.forward_bytes_per_token(model, True, ARITHMETIC),
            "forward_logits": ARITHMETIC.logit_bytes_forward * model.vocab,
            "update": estimate_module.update_bytes_per_token(model, checkpointing, True, ARITHMETIC),
            "update_logits": ARITHMETIC.logit_bytes_update * model.vocab,
        },
        "peak_tflops": estimate_module.peak_flops(plan.profile.gpu_memory_gb, ARITHMETIC) / 1e12,
        "train_mfu": ARITHMETIC.train_mfu,
    }


def _check_profiles_compatible(first: RunPlan, other: RunPlan) -> None:
    """A later profile reuses the first one's workers: only per-batch keys may differ among those the actor and
    reference engines read (the rollout's and the critic's do not matter here)."""
    keys = {k for k in {*first.overrides, *other.overrides} if k.startswith(ENGINE_PREFIXES)}
    differing = sorted(
        k for k in keys if first.overrides.get(k) != other.overrides.get(k) and k not in PER_BATCH_KEYS
    )
    if differing:
        raise ValueError(
            f"profiles {first.profile.name} and {other.profile.name} differ in {differing}: one set of workers "
            "cannot measure both"
        )


def run_model(
    shape_name: str, options: CheckOptions, device: str, progress: Callable[[str], None], root: Path
) -> dict[str, Any]:
    """Build the workers for one model shape and run every step; returns the model's record."""
    import torch

    from launch import verl_config

    if options.dry_cpu:
        from launch.cpu_backend.tiny_model import build_tiny_model

        model_dir = build_tiny_model(options.models_dir / "tiny-qwen2", seed=options.seed)
    else:
        model_dir = build_random_model(
            options.models_dir / shape_name.replace("/", "--"), KNOWN[shape_name], device, options.seed
        )
    model_json = json.loads((model_dir / "config.json").read_text())
    model = from_config_json(model_json)
    plans = [compile_check_run(str(model_dir), profile, options) for profile in options.profiles]
    for later in plans[1:]:
        _check_profiles_compatible(plans[0], later)
    composed = verl_config.compose(plans[0].overrides)
    block = composed.actor_rollout_ref
    checkpointing = bool(block.model.enable_gradient_checkpointing)
    progress(f"{shape_name}: building the ref and actor workers (profile {plans[0].profile.name})")
    # Another model's leftovers would inflate every figure: the record says what was allocated at the start.
    allocated_at_start = allocated_now(device)
    started = time.perf_counter()
    workers = _build_workers(block)
    init_s = time.perf_counter() - started

    prompt = int(composed.data.max_prompt_length)
    response = int(composed.data.max_response_length)
    sequence = prompt + response
    temperature = float(block.rollout.temperature)
    params = model.parameters()
    peak_tflops = options.peak_tflops or (
        datasheet_tflops(torch.cuda.get_device_name()) if device == "cuda" else None
    )
    generator = torch.Generator().manual_seed(options.seed)
    schedule = (
        [(plans[0], False)] + [(plans[0], True)] * options.steady_steps + [(p, True) for p in plans[1:]]
    )
    steps, resident, placement = [], None, None
    for number, (plan, steady) in enumerate(schedule, start=1):
        o = plan.overrides
        budgets = {phase: int(o[key]) for phase, key in PHASE_BUDGET_KEYS.items()}
        for phase, budget in budgets.items():
            if budget < sequence:
                raise ValueError(
                    f"{plan.profile.name}: {phase} budget {budget} is below one sequence ({sequence})"
                )
        progress(f"{shape_name}: step {number} ({plan.profile.name}{'' if steady else ', creates Adam'})")
        steps += _run_step(
            workers, number, plan.profile.name, steady, budgets, prompt, response, temperature, params,
            checkpointing, generator, device, peak_tflops,
        )  # fmt: skip
        if number == 2:
            resident = allocated_now(device)
            placement = state_placement(workers)
    record = {
        "model": shape_name,
        "model_dir": portable_text(str(model_dir), root),
        "model_config": {k: model_json[k] for k in _CONFIG_KEYS if k in model_json},
        "parameters": params,
        "gradient_checkpointing": checkpointing,
        "sequence_tokens": sequence,
        "peak_tflops": peak_tflops,
        "init_s": round(init_s, 3),
        "allocated_at_start_bytes": allocated_at_start,
        "resident_after_step2_bytes": resident,
        "state_after_step2": placement,
        "steps": steps,
        "estimates": {
            plan.profile.name: _estimate_figures(plan, model, checkpointing, root) for plan in plans
        },
    }
    record["summary"] = summarise(record)
    del workers
    # The workers hold reference cycles: collect them before the next model is built.
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return record


_CONFIG_KEYS = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "tie_word_embeddings",
    "model_type",
)


def _tensor_bytes(tensor, into: dict[str, int]) -> None:
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor  # FSDP2 shards are DTensors
    into[local.device.type] = into.get(local.device.type, 0) + local.numel() * local.element_size()


def state_placement(workers: _Workers) -> dict[str, Any]:
    """Per engine, the bytes of its parameters, gradients and optimizer state on each device type: whether the
    profile's offload settings (e.g. the reference's param_offload) kept the state off the GPU between phases."""
    import torch

    placement: dict[str, Any] = {}
    for name in workers.forwards:
        engine = getattr(getattr(workers, name), name).engine
        params: dict[str, int] = {}
        grads: dict[str, int] = {}
        optimizer: dict[str, int] = {}
        for parameter in engine.module.parameters():
            _tensor_bytes(parameter.data, params)
            if parameter.grad is not None:
                _tensor_bytes(parameter.grad, grads)
        for state in getattr(getattr(engine, "optimizer", None), "state", {}).values():
            for value in state.values():
                if torch.is_tensor(value) and value.numel() > 1:
                    _tensor_bytes(value, optimizer)
        placement[name] = {"parameter_bytes": params, "gradient_bytes": grads, "optimizer_bytes": optimizer}
    return placement


def _run_step(
    workers: _Workers,
    number: int,
    profile: str,
    steady: bool,
    budgets: Mapping[str, int],
    prompt: int,
    response: int,
    temperature: float,
    params: int,
    checkpointing: bool,
    generator,
    device: str,
    peak_tflops: float | None,
) -> list[dict[str, Any]]:
    import torch
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

    sequence = prompt + response
    per_micro = {phase: budget // sequence for phase, budget in budgets.items()}
    log_prob_rows = MICRO_BATCHES * max(per_micro["log-prob"], per_micro["ref log-prob"])
    update_rows = MICRO_BATCHES * per_micro["update"]
    vocab_ids = 512  # the local tokenizer's ids; the model's vocabulary is the full one
    padded = _padded_batch(max(log_prob_rows, update_rows), prompt, response, vocab_ids, generator)
    records = []

    def measure(phase: str, rows: int, call: Callable[[], Any], flops_per_token: int) -> Any:
        tokens = rows * sequence
        engine = "ref" if phase == "ref log-prob" else "actor"
        forwards_before = workers.forwards[engine]
        with MemoryProbe(device) as probe:
            started = time.perf_counter()
            output = call()
            if device == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - started
        metrics = tu.get(output, "metrics") if output is not None else {}
        micro_batches = workers.forwards[engine] - forwards_before
        tflops = flops_per_token * params * tokens / seconds / 1e12
        records.append(
            {
                "step": number,
                "profile": profile,
                "phase": phase,
                "steady": steady,
                "sequences": rows,
                "tokens": tokens,
                "budget_tokens": budgets[phase],
                "micro_batches": micro_batches,
                "tokens_per_micro_batch": tokens // micro_batches if micro_batches else None,
                "seconds": round(seconds, 4),
                "tokens_per_s": round(tokens / seconds, 1),
                "tflops_per_s": round(tflops, 4),
                "mfu": round(tflops / peak_tflops, 4) if peak_tflops else None,
                **probe.peaks(),
                "verl_metrics": _numbers(metrics or {}),
            }
        )
        return output

    def infer_batch(rows: int, phase: str, entropy: bool):
        batch = left_right_2_no_padding(padded[:rows].clone())
        tu.assign_non_tensor(
            batch,
            calculate_entropy=entropy,
            compute_loss=False,
            temperature=temperature,
            max_token_len_per_gpu=budgets[phase],
            global_token_num=[sequence] * rows,
        )
        return batch

    old_batch = infer_batch(log_prob_rows, "log-prob", True)
    old = measure("log-prob", log_prob_rows, lambda: workers.actor.compute_log_prob(old_batch), 2)
    old_log_probs = no_padding_2_padding(tu.get(old, "log_probs"), old_batch).float()
    ref_batch = infer_batch(log_prob_rows, "ref log-prob", False)
    ref = measure("ref log-prob", log_prob_rows, lambda: workers.ref.compute_ref_log_prob(ref_batch), 2)
    ref_log_probs = no_padding_2_padding(tu.get(ref, "log_probs"), ref_batch).float()

    update = padded[:update_rows].clone()
    update["old_log_probs"] = old_log_probs[:update_rows]
    update["ref_log_prob"] = ref_log_probs[:update_rows]
    update["advantages"] = torch.randn(update_rows, response, generator=generator)
    update = left_right_2_no_padding(update)
    actor = workers.config.actor
    tu.assign_non_tensor(
        update,
        calculate_entropy=bool(actor.calculate_entropy or actor.entropy_coeff != 0.0),
        distillation_use_topk=False,
        distillation_only=False,
        global_batch_size=update_rows,
        mini_batch_size=update_rows,
        epochs=1,
        seed=int(actor.data_loader_seed or 0),
        dataloader_kwargs={"shuffle": False},
        compute_loss=True,
        temperature=temperature,
        max_token_len_per_gpu=budgets["update"],
    )
    # FLOPs counted as 2 per parameter and token forward, 4 backward, and 2 more for a recomputed forward.
    measure("update", update_rows, lambda: workers.actor.update_actor(update), 8 if checkpointing else 6)
    return records


def summarise(record: Mapping[str, Any]) -> dict[str, Any]:
    """Per profile and phase, measured peak GB beside the estimate's, and the throughput, for the table."""
    summary: dict[str, Any] = {}
    for profile, figures in record["estimates"].items():
        steps = [s for s in record["steps"] if s["profile"] == profile and s["steady"]]
        if not steps:
            continue
        last = max(s["step"] for s in steps)
        rows = {}
        for step in (s for s in steps if s["step"] == last):
            measured = (
                measured_peak_bytes(step, record.get("allocated_at_start_bytes"))
                if step["peak_allocated_bytes"] is not None
                else None
            )
            estimated_phase = _estimated_phase(step)
            rows[step["phase"]] = {
                "measured_gb": round(measured / GB, 3) if measured is not None else None,
                "measured_as": "allocated + outside the allocator"
                if step["peak_device_used_bytes"]
                else "allocated (CPU: resident)",
                "estimated_gb": figures["phases"][estimated_phase]["peak_gb"],
                "seconds": step["seconds"],
                "tokens_per_s": step["tokens_per_s"],
                "tflops_per_s": step["tflops_per_s"],
                "estimated_tflops_per_s": round(figures["peak_tflops"] * figures["train_mfu"], 1),
            }
        summary[profile] = {
            "step": last,
            "phases": rows,
            "resident": {
                "measured_gb": round(
                    (record["resident_after_step2_bytes"] - (record.get("allocated_at_start_bytes") or 0))
                    / GB,
                    3,
                )
                if record["resident_after_step2_bytes"] is not None
                else None,
                "estimated_gb": figures["resident_gb"],
            },
        }
    return summary


def prepare_process(dry_cpu: bool) -> str:
    """Environment for verl in this process (before verl is imported): one rank, and the CPU platform when dry.
    Returns the device name."""
    import socket

    if dry_cpu:
        from launch.cpu_backend import cpu_env

        env = cpu_env()
        for key in ("RAY_ADDRESS",):
            env.pop(key)
        os.environ.update(env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }.items():
        os.environ.setdefault(key, value)
    return "cpu" if dry_cpu else "cuda"


def environment(device: str) -> dict[str, Any]:
    import platform

    import torch
    import transformers
    import verl

    env = {
        "device": device,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "transformers": transformers.__version__,
        "verl": verl.__version__,
        "hostname": platform.node(),
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gb=round(props.total_memory / GB, 1))
        from launch.hardware import detect_gpus

        try:
            import subprocess

            driver = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout.split("\n")[0].strip()  # fmt: skip
        except OSError:
            driver = None
        env["driver"] = driver or None
        env["cuda"] = torch.version.cuda
        gpus = detect_gpus()
        if gpus:
            env["nvidia_smi_name"] = gpus[0].name
    return env


def calibration_record(models: Sequence[Mapping[str, Any]], env: Mapping[str, Any], command: str) -> dict:
    """The calibration file's content: the GPU, how it was measured, and the derived constants."""
    from launch.provenance import git_state

    raw = derive(models)
    commit, dirty = git_state(REPO_ROOT)
    return {
        "gpu": env.get("nvidia_smi_name") or env.get("gpu") or "cpu dry run, not a GPU calibration",
        "device": env["device"],
        "driver": env.get("driver"),
        "peak_tflops": next((m["peak_tflops"] for m in models if m.get("peak_tflops")), None),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit,
        "dirty": dirty,
        "versions": {k: str(env[k]) for k in ("torch", "transformers", "verl", "cuda") if env.get(k)},
        "command": portable_text(command, REPO_ROOT),
        "models": [m["model"] for m in models],
        "constants": usable(raw),
        "derived": raw,
        "memory_fit": memory_fit(models, usable(raw)),
    }


def _slope(points: Sequence[tuple[int, float]]) -> float | None:
    """Bytes per token between the largest and smallest token counts measured (None with one count)."""
    ordered = sorted(points)
    (low_tokens, low_bytes), (high_tokens, high_bytes) = ordered[0], ordered[-1]
    if high_tokens == low_tokens:
        return None
    return (high_bytes - low_bytes) / (high_tokens - low_tokens)


def measured_peak_bytes(step: Mapping[str, Any], allocated_at_start: int | None = None) -> int:
    """What a phase needed of the GPU: torch's allocated peak, less what was allocated before this model's
    workers were built (an earlier model's leftovers), plus what lies outside torch's allocator (CUDA context,
    cuBLAS workspaces, NCCL). The allocator's cache (reserved, not allocated) is left out: torch frees it and
    retries before it raises out-of-memory, and it carries over from an earlier, larger profile."""
    outside = 0
    if step.get("peak_device_used_bytes") is not None and step.get("peak_reserved_bytes") is not None:
        outside = max(0, step["peak_device_used_bytes"] - step["peak_reserved_bytes"])
    return step["peak_allocated_bytes"] - (allocated_at_start or 0) + outside


def _estimated_phase(step: Mapping[str, Any]) -> str:
    return "update" if step["phase"] == "update" else "log-prob"


def memory_fit(models: Iterable[Mapping[str, Any]], constants: Mapping[str, float | None]) -> list[dict]:
    """Per model, profile and phase (steady steps), the measured peak beside the estimate re-made with
    `constants` (the arithmetic's value where one is None)."""
    rows = []
    for record in models:
        for step in record["steps"]:
            if not step.get("steady") or step.get("peak_allocated_bytes") is None:
                continue
            phase = _estimated_phase(step)
            figures = record["estimates"][step["profile"]]["phases"][phase]
            logit_name = "logit_bytes_update" if phase == "update" else "logit_bytes_forward"
            logit_bytes = constants.get(logit_name) or getattr(ARITHMETIC, logit_name)
            overhead = constants.get("runtime_overhead_gb")
            overhead = ARITHMETIC.runtime_overhead_gb if overhead is None else overhead
            estimated = figures["without_overhead_and_logits_gb"] + logit_bytes * figures["gb_per_logit_byte"]
            rows.append(
                {
                    "model": record["model"],
                    "profile": step["profile"],
                    "step": step["step"],
                    "phase": step["phase"],
                    "measured_gb": round(
                        measured_peak_bytes(step, record.get("allocated_at_start_bytes")) / GB, 3
                    ),
                    "estimated_gb": round(estimated + overhead, 3),
                    "arithmetic_gb": figures["peak_gb"],
                }
            )
    return rows


def derive(models: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Constants from engine-check records; a constant not measurable is None.

    Per model and phase, the slope of peak allocated bytes between two token budgets is the per-token cost;
    less the estimate's per-token activations, over the vocabulary, it is the logit bytes. Overhead: with
    those logit bytes, the most any measured phase peak (measured_peak_bytes) exceeds the estimate without
    overhead, so the calibrated estimate covers every measurement; it absorbs what the estimate's model of
    the engines' resident state misses. Training MFU: the largest model's update (the one the shipped recipes
    are sized by)."""
    models = list(models)
    forward, update, mfu = [], [], None
    largest = -1
    for record in models:
        model = from_config_json(record["model_config"])
        checkpointing = bool(record["gradient_checkpointing"])
        for phase, per_token_rest, into in (
            ("log-prob", estimate_module.forward_bytes_per_token(model, False, ARITHMETIC), forward),
            (
                "update",
                estimate_module.update_bytes_per_token(model, checkpointing, False, ARITHMETIC),
                update,
            ),
        ):
            points = [(s["tokens_per_micro_batch"], s["peak_allocated_bytes"]) for s in record["steps"]
                      if s["phase"] == phase and s.get("steady") and s.get("tokens_per_micro_batch")
                      and s.get("peak_allocated_bytes") is not None]  # fmt: skip
            slope = _slope(points) if points else None
            if slope is not None:
                into.append((slope - per_token_rest) / model.vocab)
        updates = [s for s in record["steps"] if s["phase"] == "update" and s.get("steady")]
        if record["parameters"] > largest and updates and record.get("peak_tflops"):
            largest = record["parameters"]
            mfu = max(s["tflops_per_s"] for s in updates) / record["peak_tflops"]
    logits = {
        "logit_bytes_forward": round(max(forward), 3) if forward else None,
        "logit_bytes_update": round(max(update), 3) if update else None,
    }
    fit = memory_fit(models, {**usable(logits), "runtime_overhead_gb": 0.0})
    return {
        "runtime_overhead_gb": round(max(r["measured_gb"] - r["estimated_gb"] for r in fit), 3)
        if fit
        else None,
        **logits,
        "train_mfu": round(mfu, 4) if mfu is not None else None,
        # Generation through vLLM is not measured by the engine check: stays arithmetic.
        "rollout_mfu": None,
    }


def usable(raw: Mapping[str, float | None]) -> dict[str, float | None]:
    """The derived constants a file may set: a measurement at or below zero (e.g. logits cheaper than the
    estimate's activations alone) says the model is wrong, not the constant, so it stays arithmetic."""
    return {name: value if value is not None and value > 0 else None for name, value in raw.items()}
