"""Reads source records: a local parquet / jsonl / json file (or a directory of split files) in a hub
data set's own column layout, or the Hugging Face hub itself through `datasets`, failing fast when offline.

    python -m data_prep math --dataset gsm8k --out data/gsm8k --source path/to/gsm8k_dir
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq

from data_prep.rows import BuildError

SUFFIXES = (".parquet", ".jsonl", ".json")
HUB_URL = "https://huggingface.co"
_PROBE_SECONDS = 8


def read_records(path: str | os.PathLike) -> list[dict]:
    """All records of one local file; a BuildError naming --source when it cannot be read."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise BuildError(f"--source {path}: unsupported file type (use {', '.join(SUFFIXES)})")
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path).to_pylist()
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            try:
                loaded = json.loads(text)
                return loaded if isinstance(loaded, list) else loaded["data"]
            except json.JSONDecodeError:
                pass  # `datasets` writes .json files as JSON lines; read it as such below
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BuildError(f"--source {path} could not be read: {error}") from error


def split_files(directory: str | os.PathLike, prefixes: dict[str, str]) -> dict[str, list[Path]]:
    """{split: files} for files under `directory` (any depth) whose name starts with the split's hub name, as
    hub snapshots name them (e.g. main/test-00000-of-00001.parquet); a split's shards are read in path order."""
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(directory).rglob("*")):
        for split, prefix in prefixes.items():
            if path.is_file() and path.suffix in SUFFIXES and path.name.startswith(prefix):
                found.setdefault(split, []).append(path)
    return found


def read_source(
    source: str | os.PathLike, prefixes: dict[str, str], file_split: str
) -> dict[str, list[dict]]:
    """{split: records} from a directory of split files named by `prefixes` ({split: hub split name}), or from
    one file, which is taken as `file_split`."""
    path = Path(source)
    if path.is_dir():
        files = split_files(path, prefixes)
        if not files:
            wanted = "/".join(f"{prefix}*" for prefix in prefixes.values())
            raise BuildError(f"--source {path}: no {wanted} files ({', '.join(SUFFIXES)}) in this directory")
        return {split: [r for file in paths for r in read_records(file)] for split, paths in files.items()}
    if not path.is_file():
        raise BuildError(f"--source {path}: no such file or directory")
    return {file_split: read_records(path)}


def _hub_unreachable() -> str | None:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return None  # offline mode: `datasets` reads its local cache and says itself if nothing is there
    try:
        urllib.request.urlopen(urllib.request.Request(HUB_URL, method="HEAD"), timeout=_PROBE_SECONDS).close()
    except OSError as error:
        return f"{HUB_URL} is unreachable ({error})"
    return None


def load_hub(repo: str, config: str | None, split: str) -> list[dict]:
    """One split of a hub data set as records, or a BuildError that says to pass --source."""
    advice = f"download {repo} elsewhere and pass --source with a local parquet/jsonl/json copy"
    problem = _hub_unreachable()
    if problem:
        raise BuildError(f"cannot load {repo} from the hub: {problem}; {advice}")
    try:
        import datasets

        return datasets.load_dataset(repo, config, split=split).to_list()
    except Exception as error:  # datasets raises many unrelated types for "not available"
        raise BuildError(f"cannot load {repo} (split {split}) from the hub: {error}; {advice}") from error


def column(record: dict, names: tuple[str, ...], source: str) -> object:
    """The first of `names` present in `record` (hub layouts differ in spelling), or a BuildError."""
    for name in names:
        if name in record:
            return record[name]
    raise BuildError(
        f"{source}: expected a column named {' or '.join(names)}; found {', '.join(sorted(record)) or 'none'}"
    )
