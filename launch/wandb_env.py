"""The wandb settings a run's trainer gets: online with a key, offline without one, one wandb run per run id.

Run side only: the report's wandb reader (reporting/wandb_remote.py) asks `has_api_key` too, never the reverse.

    python -m launch train countdown-3b      (tests/launch/test_launchers.py checks the settings it records)
"""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from launch import records
from launch.plan import RunPlan


def has_api_key() -> bool:
    """True when wandb would find credentials: WANDB_API_KEY, an identity token file, or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    netrc_path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return netrc.netrc(netrc_path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_settings(plan: RunPlan, run_dir: Path, env: Mapping[str, str]) -> tuple[dict[str, str], dict]:
    """Online with a key, offline without one (never a crash); one wandb run id per ZeroLab run."""
    requested = env.get("WANDB_MODE")
    mode = (
        requested
        if requested in ("online", "offline", "disabled")
        else ("online" if has_api_key() else "offline")
    )
    run_id = records.wandb_run_id(plan)
    env = {"WANDB_MODE": mode, "WANDB_RUN_ID": run_id, "WANDB_RESUME": "allow", "WANDB_DIR": str(run_dir)}
    offline_dir = "wandb" if mode == "offline" else None  # WANDB_DIR/wandb, relative to the run dir
    return env, {"mode": mode, "run_id": run_id, "url": None, "offline_dir": offline_dir}
