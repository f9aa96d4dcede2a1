"""CPU evaluation: `launch eval` on a GPU node; on CPU the same files from the CPU backend's sampler.

On a GPU this is evaluation.evaluate.run_eval itself. `launch eval` needs vLLM, so on CPU the n-sample and
greedy passes are decoded by evaluation.sample.sample_cpu (same prompt template, same generations parquet),
then scored by evaluation.score like any generations file, and written under the same names:
`<task>.json` (metrics, model, checkpoint step, decoding, commit, versions) and `<task>.jsonl`.

    python -m launch distill eval checkpoints/distill/mini/global_step_4 --data data/countdown-mini/mini/test.parquet \\
        --device cpu --n 4 --max-tokens 224 --out results/distill-mini/eval
"""

from __future__ import annotations

from pathlib import Path

from evaluation.evaluate import EvalSplit, evaluated_what, run_eval
from evaluation.generate import Decoding
from evaluation.sample import sample
from evaluation.score import score_generations, write_json, write_jsonl
from launch.provenance import provenance
from launch.recipe import REPO_ROOT
from launch.record_paths import portable


def evaluate(
    model: str,
    split: EvalSplit,
    decoding: Decoding,
    out_dir: str | Path,
    *,
    device: str,
    seed: int = 0,
    command: list[str] | None = None,
) -> dict:
    """Metrics of `model` on `split` (n samples + one greedy pass), written to out_dir/<task>.json."""
    if device == "gpu":
        return run_eval(model, split, decoding, out_dir, command=command)
    out_dir = Path(out_dir)
    task = split.data_source
    files = {}
    for name, settings in {"generations": decoding, "greedy": decoding.greedy()}.items():
        files[name], resolved = sample(
            model, split.path, settings, out_dir / f"{task}.{name}.parquet", device=device, seed=seed
        )
    metrics, records = score_generations(files["generations"], files["greedy"])
    result = {
        **evaluated_what(model, resolved, split, decoding, greedy=True),
        "hardware": {"device": "cpu", "seed": seed},
        "command": command,
        **provenance(REPO_ROOT, "cpu", 0),
        **metrics,
    }
    write_json(out_dir / f"{task}.json", portable(result, REPO_ROOT))  # no machine paths in a record
    write_jsonl(out_dir / f"{task}.jsonl", records)
    return result
