"""Scores a generations file on CPU: every saved response through `rewards.compute_score`, then the metrics.

A generations file is a parquet of `data_prep` rows plus a `responses` column (a list of strings, one per
sample), as verl's `main_generation_server` writes it. An optional greedy file (one response per row, same
prompts in the same order) adds `greedy_acc`. The metrics JSON goes to stdout, and to `--out` if given; the
per-sample reward components go to `--samples` as JSON lines.

    python -m launch score results/eval/<model>/countdown.generations.parquet \
        --greedy results/eval/<model>/countdown.greedy.parquet --out metrics.json --samples samples.jsonl
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from evaluation.metrics import aggregate, sample_from_components

ROW_COLUMNS = ("data_source", "reward_model", "extra_info")
RESPONSES_COLUMN = "responses"


class ScoreError(ValueError):
    """A generations file that cannot be scored; the message names the file and what is wrong."""


def to_plain(value):
    """Parquet nests come back as numpy arrays and scalars; rewards and JSON expect plain Python values."""
    if isinstance(value, np.ndarray):
        return [to_plain(item) for item in value.tolist()]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_generations(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"generations file {path} does not exist")
    frame = pd.read_parquet(path)
    missing = [column for column in (*ROW_COLUMNS, RESPONSES_COLUMN) if column not in frame.columns]
    if missing:
        raise ScoreError(f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}")
    if frame.empty:
        raise ScoreError(f"{path} has no rows")
    return frame


def prompt_id(row: pd.Series, position: int) -> int:
    """The row's `extra_info.index` (stable across builds of the split), else its position in the file."""
    index = to_plain(row["extra_info"] or {}).get("index")
    return position if index is None else int(index)


def score_rows(frame: pd.DataFrame, label: str) -> list[list[dict]]:
    """Reward components of every response, grouped per row."""
    from rewards import compute_score

    total = sum(len(responses) for responses in frame[RESPONSES_COLUMN])
    scored: list[list[dict]] = []
    with tqdm(total=total, desc=f"scoring {label}", unit="response") as progress:
        for row in frame.itertuples(index=False):
            ground_truth = to_plain(row.reward_model)["ground_truth"]
            extra_info = to_plain(row.extra_info)
            components = []
            for response in row.responses:
                result = compute_score(row.data_source, str(response), ground_truth, extra_info=extra_info)
                components.append(to_plain(dict(result)))
                progress.update()
            scored.append(components)
    return scored


def sample_records(frame: pd.DataFrame, scored: list[list[dict]], *, greedy: bool) -> list[dict]:
    records = []
    for position, ((_, row), components) in enumerate(zip(frame.iterrows(), scored, strict=True)):
        for sample_index, (response, reward) in enumerate(
            zip(row[RESPONSES_COLUMN], components, strict=True)
        ):
            records.append(
                {
                    "prompt_id": prompt_id(row, position),
                    "row": position,
                    "data_source": row["data_source"],
                    "greedy": greedy,
                    "sample": sample_index,
                    "response": str(response),
                    **reward,
                }
            )
    return records


def score_generations(path: str | Path, greedy_path: str | Path | None = None) -> tuple[dict, list[dict]]:
    """(metrics JSON body, per-sample records) for a generations file and an optional greedy file."""
    frame = load_generations(path)
    scored = score_rows(frame, Path(path).name)
    records = sample_records(frame, scored, greedy=False)
    greedy_samples = None
    if greedy_path is not None:
        greedy_frame = load_generations(greedy_path)
        _check_same_prompts(frame, greedy_frame, path, greedy_path)
        greedy_scored = score_rows(greedy_frame, Path(greedy_path).name)
        records += sample_records(greedy_frame, greedy_scored, greedy=True)
        greedy_samples = [sample_from_components(components[0]) for components in greedy_scored]
    metrics = aggregate([[sample_from_components(c) for c in row] for row in scored], greedy=greedy_samples)
    sources = sorted(set(frame["data_source"]))
    return {"data_source": sources[0] if len(sources) == 1 else sources, **metrics}, records


def _check_same_prompts(frame: pd.DataFrame, greedy_frame: pd.DataFrame, path, greedy_path) -> None:
    ids = [prompt_id(row, position) for position, (_, row) in enumerate(frame.iterrows())]
    greedy_ids = [prompt_id(row, position) for position, (_, row) in enumerate(greedy_frame.iterrows())]
    if ids != greedy_ids:
        raise ScoreError(f"{greedy_path} and {path} do not hold the same prompts in the same order")
    if any(len(responses) != 1 for responses in greedy_frame[RESPONSES_COLUMN]):
        raise ScoreError(f"{greedy_path} must hold exactly one (greedy) response per row")


def write_json(path: str | Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")


def write_jsonl(path: str | Path, records: Sequence[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
