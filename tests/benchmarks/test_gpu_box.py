"""What serves the bare GPU box, tested on CPU as far as a CPU goes: the packed attention's per-sequence mode
against a block-diagonal causal reference, and the bundle: built offline from this env, cut Ray included, it
unpacks and supplies verl's engine chain to an interpreter that sees none of the bundled packages otherwise, and
the one-call runner runs the engine check from it (its CPU mode)."""

import importlib.metadata
import lzma
import os
import subprocess
import sys
import tarfile

import pytest
import torch
import torch.nn.functional as F

from launch.recipe import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks" / "gpu_box"))
import build_bundle  # noqa: E402
import zl_gpu_ext  # noqa: E402

BUNDLE_TIMEOUT_S = 600


def test_sequence_boundaries_come_from_position_ids_restarting_at_zero():
    position_ids = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3]])
    cu, longest = zl_gpu_ext.boundaries(position_ids)
    assert cu.tolist() == [0, 3, 5, 9] and cu.dtype == torch.int32 and longest == 4


def test_packed_attention_matches_a_block_diagonal_causal_mask(monkeypatch):
    monkeypatch.setenv(zl_gpu_ext.MODE_ENV, "loop")
    torch.manual_seed(0)
    lengths = [5, 3, 7]
    total = sum(lengths)
    position_ids = torch.cat([torch.arange(n) for n in lengths]).unsqueeze(0)
    q = torch.randn(1, 4, total, 8)
    k, v = torch.randn(1, 2, total, 8), torch.randn(1, 2, total, 8)
    out, weights = zl_gpu_ext.zl_varlen_attention(None, q, k, v, None, scaling=0.3, position_ids=position_ids)
    sequence = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    allowed = (sequence[:, None] == sequence[None, :]) & torch.ones(total, total, dtype=torch.bool).tril()
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=0.3, enable_gqa=True)
    assert weights is None
    assert out.shape == (1, total, 4, 8)
    torch.testing.assert_close(out, reference.transpose(1, 2))
    # Attention across a sequence boundary would change the second sequence's output.
    unmasked = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3, enable_gqa=True)
    assert not torch.allclose(out, unmasked.transpose(1, 2))
    assert "zl_varlen" in __import__("transformers").AttentionInterface._global_mapping


def _image_without_bundled_packages(into):
    """This env's site-packages as symlinks, less every top-level entry (packages and dist-info) of the
    bundled distributions: a stand-in for the box's image."""
    bundled = set()
    for name in build_bundle.PACKAGES:
        dist = importlib.metadata.distribution(name)
        bundled |= {str(f).split("/")[0] for f in dist.files or [] if not str(f).startswith("..")}
    site = os.path.dirname(os.path.dirname(torch.__file__))
    into.mkdir()
    for entry in os.listdir(site):
        if entry not in bundled and not entry.endswith(".pth"):
            (into / entry).symlink_to(os.path.join(site, entry))
    return into


@pytest.mark.slow
def test_the_bundle_supplies_verls_engine_chain_to_an_interpreter_without_it(tmp_path):
    archive = tmp_path / "site.txz"
    command = [
        sys.executable, "benchmarks/gpu_box/build_bundle.py", "--from-env", "--no-flash-attn-shim",
        "--python-version", f"{sys.version_info.major}.{sys.version_info.minor}", "--xz-preset", "0",
        "--out", str(archive),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=BUNDLE_TIMEOUT_S)
    assert "MiB of the 64 MiB copy" in built.stdout, built.stdout + built.stderr[-3000:]
    with tarfile.open(fileobj=lzma.open(archive)) as unpacked:
        unpacked.extractall(tmp_path / "unpacked", filter="data")
    site = tmp_path / "unpacked" / "site"
    assert not (site / "ray" / "jars").exists() and (site / "verl").is_dir()
    image = _image_without_bundled_packages(tmp_path / "image")
    probe = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import verl, ray, hydra, transformers\n"
        "from verl.workers.engine_workers import ActorRolloutRefWorker\n"
        "import launch.engine_check, zl_gpu_ext\n"
        "print(verl.__file__, ray.__file__, transformers.__version__)\n"
    )
    gpu_box = str(REPO_ROOT / "benchmarks" / "gpu_box")
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(site), str(image), str(REPO_ROOT), gpu_box],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    verl_file, ray_file, _ = done.stdout.split()
    assert verl_file.startswith(str(site)) and ray_file.startswith(str(site))

    # The one-call runner, in its CPU mode: unpack, the import probe, then the engine check.
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": "", "OUT": str(out), "BUNDLE": str(archive), "SITE": str(tmp_path / "run"),
           "PYTHON": sys.executable, "DRY_CPU": "1"}  # fmt: skip
    ran = subprocess.run(
        ["bash", "benchmarks/gpu_box/run_on_box.sh"], capture_output=True, text=True, cwd=REPO_ROOT, env=env,
        timeout=BUNDLE_TIMEOUT_S,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "gpu-check rc=0" in (out / "log.txt").read_text()
    assert (out / "engine-tiny.json").is_file()
