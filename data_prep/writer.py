"""Writes one build directory: `train.parquet`, `test.parquet` (when the set has one) and `meta.json`.

Parquet bytes are deterministic: rows in a fixed order, an explicit schema, fixed writer options, and no
timestamps anywhere (meta.json included), so the same arguments give byte-identical files. An existing
directory is never overwritten silently: identical content is a no-op, different content needs `force`.
Files are written to a temporary name and renamed, meta.json last, so meta.json marks a complete build.

    python -m data_prep countdown --out data/countdown --force
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_prep.rows import ROWS_PER_SLICE, BuildError

logger = logging.getLogger(__name__)

META_NAME = "meta.json"
SPLIT_FILES = ("train.parquet", "test.parquet")
# Fixed so the bytes never depend on pyarrow's defaults changing between calls; zstd keeps the repeated
# prompt text small.
_PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": ROWS_PER_SLICE,
}


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **_PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_meta(meta: dict) -> bytes:
    return (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def complete_build(out_dir: str | os.PathLike) -> dict | None:
    """The meta of a finished build in `out_dir` whose files all match their recorded sha256, else None."""
    meta_path = Path(out_dir) / META_NAME
    try:
        meta = json.loads(meta_path.read_text())
        for name, record in meta["files"].items():
            if sha256((Path(out_dir) / name).read_bytes()) != record["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return meta


def write_build(out_dir: str | os.PathLike, tables: dict[str, pa.Table], meta: dict, force: bool) -> dict:
    """Serialise `tables` ({split: table}), add row counts and file hashes to `meta`, write the directory.

    Returns the full meta as written. Raises BuildError (naming --out) when the directory holds a different
    build and `force` is false; nothing is written in that case.
    """
    out = Path(out_dir)
    payload = {f"{split}.parquet": parquet_bytes(table) for split, table in tables.items()}
    meta = {
        **meta,
        "rows": {split: table.num_rows for split, table in tables.items()},
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in payload.items()},
    }
    payload[META_NAME] = encode_meta(meta)

    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} exists and is not a directory")
    ours = [out / name for name in (*SPLIT_FILES, META_NAME) if (out / name).exists()]
    differing = [path.name for path in ours if path.read_bytes() != payload.get(path.name)]
    if not differing and len(ours) == len(payload):
        logger.info("%s already holds this exact build; nothing written", out)
        return meta
    if differing and not force:
        raise BuildError(
            f"--out {out} already holds a different build ({', '.join(differing)} would change); "
            "pass --force to replace it"
        )
    out.mkdir(parents=True, exist_ok=True)
    for path in ours:
        if path.name not in payload:
            path.unlink()
    # meta.json last: its presence (with matching hashes) is what marks the build complete. Files already
    # identical are left alone, so a rebuild that only restores a missing file rewrites nothing else.
    for name in sorted(payload, key=lambda name: name == META_NAME):
        if (out / name).exists() and name not in differing:
            continue
        temporary = out / f".{name}.tmp"
        temporary.write_bytes(payload[name])
        os.replace(temporary, out / name)
    logger.info("wrote %s (%s)", out, ", ".join(f"{split}: {n} rows" for split, n in meta["rows"].items()))
    return meta


def skip_if_complete(out_dir: str | os.PathLike, arguments: dict) -> dict | None:
    """For --if-missing: the existing build's meta when `out_dir` is complete (noting differing arguments)."""
    meta = complete_build(out_dir)
    if meta is None:
        return None
    if meta.get("arguments") != arguments:
        logger.warning(
            "%s holds a complete build made with other arguments (%s); keeping it because of --if-missing",
            out_dir,
            meta.get("arguments"),
        )
    else:
        logger.info("%s already holds a complete build; skipped (--if-missing)", out_dir)
    return meta
