"""Read wandb offline runs (<WANDB_DIR>/wandb/offline-run-*/run-<id>.wandb) without a W&B server.

wandb 0.31 no longer ships a Python reader for these files. Format, checked against files that
wandb 0.31 writes: a 7-byte file header (b":W&B", magic 0xBEE1 little-endian, version byte), then
a LevelDB-log stream of 32 KiB blocks. Each chunk has a 7-byte header (checksum u32, length u16,
type u8: FULL=1 FIRST=2 MIDDLE=3 LAST=4); a block tail shorter than a header is zero padding.
The checksum is zlib's CRC-32 of the data seeded with the CRC-32 of the type byte. Reassembled
chunks are `wandb.proto.wandb_internal_pb2.Record` messages; we decode history, summary, config.
A torn tail (a run killed mid-write) ends the read at the last whole record.
Exercised by tests/reporting/test_wandb_offline.py, which writes a real offline run and reads it back.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    path: Path
    run_id: str = ""
    name: str = ""
    project: str = ""
    config: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    history: dict[int, dict] = field(default_factory=dict)  # step -> {metric: value}
    complete: bool = True  # False when the file ends in a torn or corrupt record


def _records(data: bytes):
    """Yield serialized Record messages; the generator's return value says whether the file ended cleanly."""
    if len(data) < _FILE_HEADER.size or _FILE_HEADER.unpack_from(data)[0] != b":W&B":
        raise ValueError("not a wandb run file (missing the :W&B header)")
    pos, pending, in_record = _FILE_HEADER.size, b"", False
    while pos + _CHUNK_HEADER.size <= len(data):
        if _BLOCK - pos % _BLOCK < _CHUNK_HEADER.size:
            pos += _BLOCK - pos % _BLOCK
            continue
        checksum, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        chunk = data[pos + _CHUNK_HEADER.size : pos + _CHUNK_HEADER.size + length]
        if len(chunk) < length or zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != checksum:
            return False
        pos += _CHUNK_HEADER.size + length
        pending = chunk if kind in (_FULL, _FIRST) else pending + chunk
        in_record = kind in (_FIRST, _MIDDLE)
        if kind in (_FULL, _LAST):
            yield pending
    return not in_record and not any(data[pos:])


def _key(item) -> str:
    return ".".join(item.nested_key) if item.nested_key else item.key


def _apply(target: dict, items) -> None:
    for item in items:
        key = _key(item)
        if not key.startswith("_wandb"):
            target[key] = json.loads(item.value_json)


def read_offline_run(path: Path) -> OfflineRun:
    """Decode one run-<id>.wandb file into config, summary and per-step history."""
    from wandb.proto import wandb_internal_pb2  # wandb is heavy: import only when a run needs it

    run = OfflineRun(Path(path))
    stream = _records(Path(path).read_bytes())
    while True:
        try:
            raw = next(stream)
        except StopIteration as end:
            run.complete = end.value is not False
            return run
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.name, run.project = record.run.run_id, record.run.display_name, record.run.project
            _apply(run.config, record.run.config.update)
        elif kind == "config":
            _apply(run.config, record.config.update)
        elif kind == "summary":
            _apply(run.summary, record.summary.update)
        elif kind == "history":
            row: dict = {}
            _apply(row, record.history.item)
            step = row.pop("_step", record.history.step.num)
            run.history[int(step)] = {k: v for k, v in row.items() if not k.startswith("_")}


def read_offline_history(directory: Path) -> list[dict[int, dict]]:
    """Histories of every offline run file under `directory`, oldest first (one per relaunch)."""
    files = sorted(Path(directory).rglob("run-*.wandb"), key=lambda p: p.parent.name)
    return [read_offline_run(path).history for path in files]
