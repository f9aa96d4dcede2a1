"""`python -m launch eval MODEL --task TASK`: accuracy, mean@n, pass@k, maj@k of a model or verl checkpoint.

MODEL is a Hugging Face id or dir, or a verl FSDP checkpoint (`global_step_N[/actor]`, converted once by
evaluation.checkpoint). The test split built by `data_prep` is sampled n times per prompt with vLLM through
verl's standalone generation server (evaluation.generate), with the prompt template the rows were built with,
plus one greedy pass (temperature 0) for `greedy_acc`; evaluation.score then scores every response with
`rewards.compute_score`. Written to --out (default results/eval/<model-slug>/):

    <task>.json                 metrics (evaluation.metrics) + model, checkpoint step, decoding, provenance
    <task>.jsonl                one line per response: prompt id, sample, response, reward components
    <task>.generations.parquet  the sampled responses (`python -m launch score` recomputes the metrics on CPU)
    <task>.greedy.parquet, <task>.generations.log, <task>.greedy.log

    python -m launch eval Qwen/Qwen2.5-3B --task countdown --n 16 --temperature 0.6
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from data_prep.tasks import get_task, split_path
from data_prep.templates import get_template
from evaluation.checkpoint import STEP_PATTERN, resolve_model
from evaluation.generate import (
    Decoding,
    Hardware,
    generate,
    generation_env,
    generation_overrides,
    require_device,
)
from evaluation.score import score_generations, write_json, write_jsonl
from launch.provenance import provenance
from launch.recipe import REPO_ROOT
from launch.record_paths import portable
from launch.validate import check_split

# R1's evaluation setting (DeepSeek-R1 paper): temperature 0.6, top-p 0.95, pass@1 averaged over samples.
DEFAULT_N, DEFAULT_TEMPERATURE, DEFAULT_TOP_P = 16, 0.6, 0.95


@dataclass(frozen=True)
class EvalSplit:
    path: Path
    data_source: str
    template: str
    num_prompts: int


def read_split(path: str | Path, task: str, template: str | None) -> EvalSplit:
    """The test split's task and template, checked as validation checks a run's data
    (launch.validate.check_split); errors name the file and what disagrees."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"test split {path} does not exist: build it with `python -m data_prep {task} ...` or pass --data"
        )
    split = check_split(path, task, template, task_label="--task", template_label="--template")
    return EvalSplit(path=path, data_source=task, template=split.template, num_prompts=split.num_rows)


def default_split(data_dir: str | Path, task: str, template: str | None) -> Path:
    """DATA_DIR/TASK/TEMPLATE/test.parquet (the recipes' layout; TEMPLATE defaults to base), else
    DATA_DIR/TASK/test.parquet (`python -m data_prep TASK --out DATA_DIR/TASK`); read_split checks the rows'
    template either way."""
    candidates = [split_path(data_dir, task, template or get_task(task).template, "test")]
    candidates.append(Path(data_dir) / task / "test.parquet")
    found = [path for path in candidates if path.is_file()]
    if not found:
        raise ValueError(
            f"no test split at {' or '.join(map(str, candidates))}: build it with "
            f"`python -m data_prep {task} --out {candidates[0].parent}` or pass --data"
        )
    return found[0]


def model_slug(model: str) -> str:
    """A directory name for a model: `<run-id>__global_step_N` for a checkpoint, a dir's name, or `org__name`."""
    path = Path(model)
    if path.exists():
        resolved = path.resolve()
        step_dirs = [p for p in [resolved, *resolved.parents] if STEP_PATTERN.fullmatch(p.name)]
        label = f"{step_dirs[0].parent.name}__{step_dirs[0].name}" if step_dirs else resolved.name
    else:
        label = model.replace("/", "__")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label)


def evaluated_what(model: str, resolved, split: EvalSplit, decoding: Decoding, greedy: bool) -> dict:
    """The head of an eval output (`<task>.json`): the model as asked for and as loaded, the split, the decoding."""
    return {
        "task": split.data_source,
        "model": model,
        "model_path": resolved.path,
        "checkpoint_step": resolved.checkpoint_step,
        "checkpoint_dir": resolved.checkpoint_dir,
        "data": str(split.path),
        "template": split.template,
        "decoding": {**asdict(decoding), "greedy_pass": greedy},
    }


def run_eval(
    model: str,
    split: EvalSplit,
    decoding: Decoding,
    out_dir: str | Path,
    *,
    greedy: bool = True,
    hardware: Hardware | None = None,
    merge_dir: str | Path | None = None,
    command: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict:
    """Generate, score and write `<task>.json` / `<task>.jsonl` under out_dir; returns the metrics JSON. The
    generation server's output goes to a log beside them and, line by line, to `echo`."""
    hardware = hardware or Hardware()
    visible_gpus = require_device(hardware)
    if hardware.gpus is None:
        hardware = replace(hardware, gpus=visible_gpus)
    resolved = resolve_model(model, merge_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    task = split.data_source
    chat_template = get_template(split.template).chat_template
    chat_template_path = None
    if chat_template is not None:
        chat_template_path = out_dir / f"{task}.chat_template.jinja"
        chat_template_path.write_text(chat_template)
    passes = {"generations": decoding, **({"greedy": decoding.greedy()} if greedy else {})}
    files = {}
    for name, settings in passes.items():
        target = out_dir / f"{task}.{name}.parquet"
        overrides = generation_overrides(
            resolved.path, split.path, target, settings, hardware, chat_template_path
        )
        files[name] = generate(overrides, out_dir / f"{task}.{name}.log", echo, generation_env(hardware))
    metrics, records = score_generations(files["generations"], files.get("greedy"))
    result = {
        **evaluated_what(model, resolved, split, decoding, greedy),
        "generation_hardware": asdict(hardware),
        "command": command,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **provenance(REPO_ROOT, "cpu" if hardware.device == "vllm-cpu" else "cuda", hardware.gpus),
        **metrics,
    }
    write_json(out_dir / f"{task}.json", portable(result, REPO_ROOT))  # no machine paths in a record
    write_jsonl(out_dir / f"{task}.jsonl", records)
    return result
