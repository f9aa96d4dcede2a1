#!/usr/bin/env bash
# Box-only: the whole GPU check on the lent H200 in one call, from the repo root, with the bundle at .gl/site.txz
# (built here by `python benchmarks/gpu_box/build_bundle.py`). Unpacks it, runs the selfcheck, then the engine
# check with the selfcheck's fallbacks, writing everything under $OUT. The engine check gets CHECK_S seconds
# (default 270: 0.5B, 3B and 1.5B take ~240 s by the notes' plan), the whole call ~330 s, so a rerun still fits
# the box's 15 minutes with its start-up. Call it with a run timeout of 360 s:
#     bash benchmarks/gpu_box/run_on_box.sh
# DRY_CPU=1 runs the same steps on a CPU (no selfcheck, the engine check with --dry-cpu): tests/benchmarks/.
set -uo pipefail
OUT=${OUT:?OUT must name the output folder}
CHECK_S=${CHECK_S:-270}
BUNDLE=${BUNDLE:-.gl/site.txz}
PYTHON=${PYTHON:-python3}
DRY_CPU=${DRY_CPU:-}
ROOT=$(pwd)
SITE=${SITE:-/tmp/zl-bundle}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
started=$(date +%s)
if [ ! -d "$SITE/site" ]; then
    "$PYTHON" -c "import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])" \
        "$BUNDLE" "$SITE" || { echo '{"unpack": "failed"}' > "$OUT/errors.json"; exit 1; }
fi
echo "unpacked in $(( $(date +%s) - started )) s"
export PYTHONPATH="$SITE/site:$ROOT:$ROOT/benchmarks/gpu_box"
export VERL_USE_EXTERNAL_MODULES=zl_gpu_ext TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
[ -z "$DRY_CPU" ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.csv" 2>&1
# Every import the check needs, first: a clash with the image's packages stops here, named.
"$PYTHON" -c "import torch, transformers, verl, zl_gpu_ext; from verl.workers.engine_workers import ActorRolloutRefWorker; import launch.engine_check" \
    2> "$OUT/import_error.txt" || { echo "import failed:"; tail -20 "$OUT/import_error.txt"; exit 1; }
if [ -n "$DRY_CPU" ]; then
    timeout -k 10 "$CHECK_S" "$PYTHON" benchmarks/gpu_check.py --dry-cpu --out "$OUT" --models-dir "$SITE/models"
    rc=$?
    echo "gpu-check rc=$rc after $(( $(date +%s) - started )) s"
    exit $rc
fi
settings=$(timeout -k 5 60 "$PYTHON" benchmarks/gpu_box/selfcheck.py --out "$OUT/selfcheck.json" | tail -1)
echo "selfcheck: ${settings:-failed}"
export ZL_VARLEN_MODE=varlen ZL_COMPILE=1
[ -n "$settings" ] && export $settings
compile_flag=$([ "$ZL_COMPILE" = 0 ] && echo --no-compile)
timeout -k 10 "$CHECK_S" "$PYTHON" benchmarks/gpu_check.py --out "$OUT" --attn-implementation zl_varlen \
    --models-dir /tmp/zl-models --budget-s $(( CHECK_S - 20 )) --calibration-dir "$OUT/calibration" $compile_flag
rc=$?
echo "gpu-check rc=$rc after $(( $(date +%s) - started )) s"
exit $rc
