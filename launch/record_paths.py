"""No machine paths in records that get committed: what a run records, it records relative to the checkout.

The trainer runs with absolute paths (verl resolves them in its workers), and its command and composed
config say so; before they go into run.json and config.yaml, `portable` rewrites every string: the
checkout's own path becomes relative to it (the trainer runs from the checkout root, so the command still
reads right there), the temp dir becomes `$TMPDIR`, the home dir `~`, and an interpreter outside the
checkout `python`. A reader resolves a relative path against the checkout (or, for `wandb.offline_dir`,
against the run dir), and `local_path` spells `$TMPDIR` and `~` out again on the machine that reads it. tests/launch/test_record_paths.py scans every committed file under results/ for
machine paths.

    python -m launch mini --variant grpo --seed 1      (its run.json and config.yaml hold no machine path)
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# What an absolute path on a machine of ours starts with (checkouts, temp dirs, homes, mounts, envs).
MACHINE_PATH = re.compile(
    r"(?<![\w.~$/-])/(?:work|tmp|home|root|Users|mnt|scratch|data|opt|var|usr|private)/"
)


def _prefixes(path: str | Path) -> list[str]:
    """The path as given and with links resolved, longest first (either can appear in a string)."""
    found = {str(path).rstrip("/"), os.path.realpath(path).rstrip("/")}
    return sorted((prefix for prefix in found if prefix), key=len, reverse=True)


def portable_text(text: str, root: Path) -> str:
    """`text` with the checkout's path made relative and other machine prefixes named, not spelled out."""
    if text == sys.executable and not text.startswith(tuple(_prefixes(root))):
        return "python"
    for prefix in _prefixes(root):
        # "<root>/x" -> "x", "<root>" alone -> "."; "<root>2/x" is another directory and stays
        text = re.sub(re.escape(prefix) + r"/", "", text)
        text = re.sub(re.escape(prefix) + r"(?![\w.-])", ".", text)
    for prefix, name in ((tempfile.gettempdir(), "$TMPDIR"), (str(Path.home()), "~")):
        for spelled in _prefixes(prefix):
            if spelled != "/":  # a home of "/" (a container's root user) would rewrite every path
                text = re.sub(re.escape(spelled) + r"(?=/|(?![\w.-]))", name, text)
    return text


def portable(value: Any, root: Path) -> Any:
    """`value` (JSON-like: dicts, lists, strings) with every string passed through `portable_text`."""
    if isinstance(value, str):
        return portable_text(value, root)
    if isinstance(value, Mapping):
        return {key: portable(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(item, root) for item in value]
    return value


def local_path(recorded: str) -> Path:
    """A path as a record names it, on this machine: `$TMPDIR/...` and `~/...` spelled out again; a relative
    path stays relative (to the checkout, where the commands run)."""
    if recorded == "$TMPDIR" or recorded.startswith("$TMPDIR/"):
        recorded = tempfile.gettempdir() + recorded.removeprefix("$TMPDIR")
    return Path(recorded).expanduser()
