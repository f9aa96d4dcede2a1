"""verl is pinned to 0.9.1, and every verl internal the CPU backend (launch/cpu_backend) relies on is still there.

The backend plugs into verl at a handful of points (an import hook, registries, one module global, the calls
verl makes on a rollout server). When verl moves one of them, the matching test here fails and names it.

    python -m pytest tests/launch/test_verl_pin.py -q
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import verl

PINNED_VERL = "0.9.1"


def _source(obj) -> str:
    return inspect.getsource(obj)


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_verl_version_is_pinned():
    assert verl.__version__ == PINNED_VERL, (
        f"verl {verl.__version__} installed; the CPU backend targets {PINNED_VERL}"
    )


def test_external_module_hook_imports_each_listed_module():
    init = Path(verl.__file__).read_text()
    assert 'os.getenv("VERL_USE_EXTERNAL_MODULES"' in init and "import_external_libs(modules)" in init, (
        "verl/__init__.py no longer imports VERL_USE_EXTERNAL_MODULES: launch.cpu_backend.register never loads"
    )


def test_platform_registry_and_env_selection():
    from verl.plugin.platform import PlatformBase, PlatformRegistry, get_platform, platform_manager

    assert _params(PlatformRegistry.register) == ["platform"], (
        "PlatformRegistry.register(platform=...) changed"
    )
    assert callable(get_platform) and callable(PlatformRegistry.get)
    assert 'os.environ.get("VERL_PLATFORM"' in _source(platform_manager._detect_platform_name), (
        "platform_manager._detect_platform_name no longer reads VERL_PLATFORM"
    )
    from launch.cpu_backend.cpu_platform import CPUPlatform

    assert issubclass(CPUPlatform, PlatformBase)
    CPUPlatform()  # raises TypeError if PlatformBase grew an abstract method the CPU platform lacks
    assert PlatformRegistry.get("cpu") is CPUPlatform


def test_auto_set_device_leaves_a_cpu_platform_alone():
    from verl.utils.device import auto_set_device

    assert 'detected != "cpu"' in _source(auto_set_device), (
        "auto_set_device may now rewrite trainer.device=cpu"
    )


def test_default_process_group_backend_and_its_callers():
    import verl.utils.distributed as distributed
    from verl.workers import engine_workers

    helper = distributed.initialize_global_process_group_ray
    assert _params(helper) == ["timeout_second", "backend"], (
        "initialize_global_process_group_ray signature moved"
    )
    assert 'f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"' in _source(helper)
    assert hasattr(engine_workers, "initialize_global_process_group_ray"), (
        "engine_workers no longer imports initialize_global_process_group_ray by name"
    )
    assert "initialize_global_process_group_ray(timeout_second=None)" in _source(
        engine_workers.TrainingWorker
    )


def test_sft_trainer_process_group_is_looked_up_at_call_time():
    import verl.utils.distributed as distributed
    from verl.trainer import sft_trainer

    helper = distributed.initialize_global_process_group
    assert _params(helper) == ["timeout_second"], "initialize_global_process_group signature moved"
    assert 'f"cpu:gloo,{get_device_name()}:{get_nccl_backend()}"' in _source(helper)
    assert "from verl.utils.distributed import initialize_global_process_group" in _source(
        sft_trainer.run_sft
    ), (
        "sft_trainer.run_sft no longer imports the process-group helper when it runs: the gloo rebinding misses it"
    )


def test_sft_trainer_config_and_the_keys_distill_calls_dead():
    from verl.trainer import sft_trainer
    from verl.utils.dataset import multiturn_sft_dataset

    from distill.sft import DEAD_SFT_KEYS, SFT_MODULE

    assert sft_trainer.__name__ == SFT_MODULE
    assert 'config_name="sft_trainer_engine"' in _source(sft_trainer), "the SFT trainer's Hydra config moved"
    readers = _source(sft_trainer) + _source(multiturn_sft_dataset)
    for key in DEAD_SFT_KEYS:
        # The dataset is handed the data section alone (it reads data.seed, not trainer.seed).
        source = readers if key.startswith("data.") else _source(sft_trainer)
        assert key.rpartition(".")[2] not in source, f"verl now reads {key}: drop it from DEAD_SFT_KEYS"
    assert 'config.get("ignore_input_ids_mismatch"' in readers and 'config.get("messages_key"' in readers


def test_engine_registry_and_fsdp_engines():
    from verl.workers.engine import BaseEngine, EngineRegistry
    from verl.workers.engine.fsdp import transformer_impl

    assert _params(EngineRegistry.register) == ["model_type", "backend", "device", "vendor"]
    assert "get_device_name()" in _source(EngineRegistry.get_engine_cls)
    for name in ("FSDPEngineWithLMHead", "FSDPEngineWithValueHead"):
        assert issubclass(getattr(transformer_impl, name), BaseEngine), f"transformer_impl.{name} moved"


def test_reference_model_offload_policy_is_a_module_global_with_pinning():
    import dataclasses

    from torch.distributed.fsdp import CPUOffloadPolicy
    from verl.workers.engine.fsdp import transformer_impl

    assert issubclass(transformer_impl.CPUOffloadPolicy, CPUOffloadPolicy), (
        "transformer_impl.CPUOffloadPolicy moved"
    )
    assert "pin_memory" in {field.name for field in dataclasses.fields(CPUOffloadPolicy)}
    assert "offload_policy = CPUOffloadPolicy(pin_memory=True)" in _source(transformer_impl.FSDPEngine), (
        "FSDPEngine no longer builds the ref's CPUOffloadPolicy by that module-global name"
    )


def test_critic_value_head_loader_is_looked_up_at_call_time():
    from verl.utils import model
    from verl.workers.engine.fsdp import transformer_impl

    assert _params(model.load_valuehead_model) == [
        "local_path",
        "torch_dtype",
        "model_config",
        "trust_remote_code",
    ]
    assert "from verl.utils.model import load_valuehead_model" in _source(
        transformer_impl.FSDPEngine._build_module
    ), "FSDPEngine._build_module no longer imports load_valuehead_model at call time"


def test_rollout_adapter_registry():
    from verl.workers.rollout import base

    assert isinstance(base._ROLLOUT_REGISTRY, dict) and ("vllm", "async") in base._ROLLOUT_REGISTRY, (
        "verl.workers.rollout.base._ROLLOUT_REGISTRY is no longer a {(name, mode): import path} table"
    )
    assert isinstance(base._ROLLOUT_REGISTRY[("vllm", "async")], str)
    assert _params(base.get_rollout_class) == ["rollout_name", "mode"]
    assert base.BaseRollout.__abstractmethods__ == {"resume", "update_weights", "release"}
    assert _params(base.BaseRollout.__init__)[:4] == ["self", "config", "model_config", "device_mesh"]


def test_rollout_replica_registry_and_base_class():
    from verl.workers.config import RolloutConfig
    from verl.workers.rollout import replica

    assert _params(replica.RolloutReplicaRegistry.register) == ["name", "loader"]
    assert replica.RolloutReplica.__abstractmethods__ == {"launch_servers"}
    from launch.cpu_backend.server import HFCPUReplica

    instance = HFCPUReplica(
        replica_rank=0, config=RolloutConfig(name="hfcpu", tensor_model_parallel_size=1), model_config={}
    )
    assert instance.world_size == 1 and instance.servers == [] and instance.workers == []
    assert isinstance(instance.max_concurrency, int)
    for attribute in ("_server_handle", "_server_address", "server_handle", "server_address"):
        assert hasattr(instance, attribute), f"RolloutReplica.{attribute} moved"


def test_every_call_verl_makes_on_a_rollout_server_exists_on_hfcpu_server():
    from verl.workers.rollout.llm_server import LLMServerClient
    from verl.workers.rollout.replica import RolloutReplica

    from launch.cpu_backend.server import HFCPUServer

    called = set(re.findall(r"server\.(\w+)\.remote\(", _source(RolloutReplica) + _source(LLMServerClient)))
    assert "generate" in called and "sleep" in called
    missing = sorted(name for name in called if not hasattr(HFCPUServer, name))
    assert not missing, f"verl now calls rollout-server methods HFCPUServer lacks: {missing}"


def test_token_output_fields():
    from verl.workers.rollout.replica import TokenOutput

    assert {"token_ids", "log_probs", "stop_reason", "extra_fields"} <= set(TokenOutput.model_fields)


def test_sync_trainer_syncs_weights_through_the_naive_engine_and_the_rollout_adapter():
    from omegaconf import OmegaConf
    from verl.checkpoint_engine import CheckpointEngineManager
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer
    from verl.workers.engine_workers import ActorRolloutRefWorker

    generated = OmegaConf.load(
        Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    )
    assert generated.trainer.v1.trainer_mode == "sync"
    assert 'checkpoint_engine_config.backend = "naive"' in _source(PPOTrainer._setup)
    assert 'if self.backend == "naive":' in _source(CheckpointEngineManager.update_weights)
    assert "await self.rollout.update_weights(" in _source(ActorRolloutRefWorker.update_weights)


def test_metric_file_logger_and_placement_helpers_the_tests_rely_on():
    from verl.single_controller.ray.base import RayResourcePool
    from verl.utils import fs, tracking
    from verl.utils.debug import metrics

    assert '"training/rollout_probs_diff_max"' in _source(metrics.calculate_debug_metrics)
    assert 'os.getenv("VERL_FILE_LOGGER_PATH"' in _source(tracking)
    assert "ray_resource_name()" in _source(RayResourcePool.get_placement_groups)
    assert callable(fs.copy_to_local)


@pytest.mark.parametrize("module", ["transfer_queue"])
def test_engine_extra_is_installed(module):
    __import__(module)  # verl's v1 trainer imports it; it comes with verl[verl-core]
