"""One distillation data build: sample (evaluation.sample) -> score -> reject (distill.reject) -> write (distill.write).

The teacher's samples are scored by `rewards.compute_score` through evaluation.score, exactly as an evaluation
scores them. The build directory holds `train.parquet` + `meta.json` (data_prep.writer) and `samples/`
(the teacher's generations parquet, the prompts it was given, its log). A directory that holds a build
made with other arguments is refused before any sampling unless `force`; one with the same arguments but
different content (GPU sampling is not bit-reproducible) is refused after, leaving the old build whole.

    python -m launch distill data data/countdown-mini/mini/train.parquet --teacher results/countdown-mini/base/search \\
        --k 8 --device cpu --out data/distill/mini
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from data_prep.rows import BuildError
from data_prep.writer import META_NAME
from distill.reject import Candidate, Filters, acceptance, reject
from distill.write import (
    check_templates_compatible,
    file_record,
    sft_chat_template,
    sft_table,
    student_prompts,
    write_sft_build,
)
from evaluation.generate import Decoding
from evaluation.sample import sample
from evaluation.score import load_generations, prompt_id, score_rows

SAMPLES_DIR = "samples"
VERSION = "distill-v1"


def candidates(frame: pd.DataFrame, scored: list[list[dict]]) -> list[list[Candidate]]:
    groups = []
    for position, ((_, row), rewards) in enumerate(zip(frame.iterrows(), scored, strict=True)):
        pid = prompt_id(row, position)
        groups.append(
            [
                Candidate(pid, i, str(r), reward)
                for i, (r, reward) in enumerate(zip(row["responses"], rewards, strict=True))
            ]
        )
    return groups


def refuse_other_arguments(out_dir: Path, arguments: dict, force: bool) -> None:
    try:
        recorded = json.loads((out_dir / META_NAME).read_text()).get("arguments")
    except (OSError, ValueError, AttributeError):
        return
    if recorded != arguments and not force:
        raise BuildError(
            f"--out {out_dir} holds a distill build made with other arguments ({recorded}); "
            "pass --force to replace it"
        )


def build(
    teacher: str,
    split: str | Path,
    out_dir: str | Path,
    decoding: Decoding,
    filters: Filters,
    *,
    device: str,
    student_split: str | Path | None = None,
    max_prompts: int | None = None,
    force: bool = False,
) -> dict:
    """Sample, reject and write one build; returns its meta (counts, acceptance, checksums)."""
    out_dir = Path(out_dir)
    student_split = Path(student_split or split)
    arguments = {
        "teacher": teacher,
        "split": str(split),
        "student_split": str(student_split),
        "k": decoding.n,
        "decoding": asdict(decoding),
        "filters": filters.as_record(),
        "device": device,
        "max_prompts": max_prompts,
    }
    refuse_other_arguments(out_dir, arguments, force)
    staging = out_dir / f".{SAMPLES_DIR}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        generations, resolved = sample(
            teacher,
            split,
            decoding,
            staging / "generations.parquet",
            device=device,
            seed=filters.seed,
            max_prompts=max_prompts,
        )
        frame = load_generations(generations)
        teacher_template = frame["extra_info"].iloc[0]["template"]
        template, prompts = student_prompts(student_split)
        check_templates_compatible(teacher_template, template)
        kept, counts = reject(candidates(frame, score_rows(frame, "teacher samples")), filters)
        meta = {
            "version": VERSION,
            "arguments": arguments,
            "teacher": {**asdict(resolved), "template": teacher_template},
            "student_template": template,
            "sft_chat_template": sft_chat_template(template),
            "counts": counts,
            "acceptance": acceptance(counts),
            "inputs": {"split": file_record(split), "student_split": file_record(student_split)},
            "samples": {
                "generations": {**file_record(generations), "path": f"{SAMPLES_DIR}/generations.parquet"}
            },
        }
        meta = write_sft_build(out_dir, sft_table(kept, prompts, template), meta, force)
        shutil.rmtree(out_dir / SAMPLES_DIR, ignore_errors=True)
        staging.rename(out_dir / SAMPLES_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta
