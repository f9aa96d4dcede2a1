"""verl platform `cpu`: torch CPU tensors, gloo collectives, and Ray's "GPU" resource as the device slot.

verl's single controller hard-codes accelerator bundles in its placement groups; declaring the Ray resource
name "GPU" lets fake Ray GPUs (`+ray_kwargs.ray_init.num_gpus=N`) stand in for them, one per trainer rank.
The platform is only chosen explicitly (`VERL_PLATFORM=cpu`), never by auto-detection, so loading this
module on a GPU node changes nothing.

    VERL_PLATFORM=cpu VERL_USE_EXTERNAL_MODULES=launch.cpu_backend.register python -m verl.trainer.main_ppo ...
"""

from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry

from . import cpu_device

PLATFORM_NAME = "cpu"


@PlatformRegistry.register(platform=PLATFORM_NAME)
class CPUPlatform(PlatformBase):
    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self) -> ModuleType:
        return cpu_device

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check: bool = False) -> bool:
        return False  # selected by VERL_PLATFORM=cpu only, never auto-detected over a real accelerator

    def current_device(self) -> str:
        # verl moves tensors with `.to(get_device_id())`: an int would mean cuda:N, "cpu" stays on host.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        pass

    def synchronize(self, device_index: int | None = None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        # Ray sets this for actors holding (fake) "GPU" resources; nothing on CPU reads it.
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None
