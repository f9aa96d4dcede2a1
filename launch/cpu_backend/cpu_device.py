"""The `torch.<device>` namespace verl's CPU platform hands out: torch.cpu plus the calls verl makes on GPUs.

verl calls `get_torch_device().empty_cache()`, `.mem_get_info()`, `.get_rng_state()` ... on whatever device
module its platform returns. On CPU these are no-ops or host equivalents (RNG state is torch's global one,
free/total memory comes from psutil), so verl's own code runs unchanged.

    python -m pytest tests/launch/cpu_backend/test_cpu_backend.py -k device
"""

from __future__ import annotations

import platform

import psutil
import torch
from torch.cpu import (  # noqa: F401 - re-exported as the device module's API
    Event,
    Stream,
    current_device,
    current_stream,
    device_count,
    is_available,
    set_device,
    stream,
    synchronize,
)

get_rng_state = torch.get_rng_state
set_rng_state = torch.set_rng_state
manual_seed = torch.manual_seed
manual_seed_all = torch.manual_seed


def empty_cache() -> None:
    """Host memory has no caching allocator to flush."""


def ipc_collect() -> None:
    """No CUDA IPC handles exist on CPU."""


def set_per_process_memory_fraction(fraction: float, device=None) -> None:
    """Host memory cannot be capped per process from torch; verl only sets it to share a GPU."""


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of host memory, the shape torch.cuda.mem_get_info returns."""
    memory = psutil.virtual_memory()
    return memory.available, memory.total


def _no_device_memory(device=None) -> int:
    # Device-memory counters: nothing lives in accelerator memory on CPU.
    return 0


memory_allocated = memory_reserved = max_memory_allocated = max_memory_reserved = _no_device_memory


def get_device_name(device=None) -> str:
    return platform.processor() or platform.machine()
