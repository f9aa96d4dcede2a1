"""Build the site dir `make gpu-check` needs on a bare GPU box (torch and transformers present; no verl, Ray,
Hydra, ...), xz-compressed, small enough to travel with the repo in one 64 MiB copy.

Only for the lent H200 box (../shared/GPU_DEVICE_NOTES.md): a normal GPU node installs the env with
`make install`. The packages are the import closure a dry run found for verl's engine chain (PACKAGES, at the
versions pinned in this machine's env), downloaded as wheels for the box's Python from this machine's
registries; Ray is cut to what `import ray` needs (no Java jars, dashboard frontend, libraries or daemons: the engine
check runs without a Ray cluster). flash-attn's pure-Triton cross entropy and padding helpers travel as a
`flash_attn` module under another distribution name, so verl's log-probs take the fused cross entropy as in
production while transformers still reports flash-attention 2 unavailable.

    python benchmarks/gpu_box/build_bundle.py [--out .gl/site.txz] [--python-version 3.12]
    python benchmarks/gpu_box/build_bundle.py --from-env --python-version 3.11 --out /tmp/site.txz   # tests
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The import closure of `import verl` + the engine workers + launch's plan/config code, beyond the box image.
PACKAGES = (
    "verl", "ray", "tensordict", "pyvers", "omegaconf", "antlr4-python3-runtime", "hydra-core",
    "jsonschema", "jsonschema-specifications", "referencing", "rpds-py",
    "codetiming", "orjson", "pydantic", "pydantic-core", "annotated-types", "typing-inspection",
    "fastapi", "starlette", "uvicorn", "opentelemetry-api", "datasets", "multiprocess", "dill", "psutil",
    # The pin (requirements/) instead of the image's 5.17; 5.9.0 refuses the image's tokenizers at import.
    "transformers", "tokenizers", "peft",
)  # fmt: skip
# Pure-Python packages published only as source at the pinned version: this env's installed files travel.
SOURCE_ONLY = ("antlr4-python3-runtime",)
# Ray's parts `import ray` and verl's imports of it never load (ray.util.state does import ray/dashboard/modules).
RAY_CUT = (
    "ray/jars", "ray/dashboard/client", "ray/rllib", "ray/serve", "ray/data", "ray/tune", "ray/train", "ray/llm",
    "ray/core/src/ray/gcs", "ray/core/src/ray/raylet", "ray/core/src/plasma", "ray/tests",
)  # fmt: skip
FLASH_ATTN = ("flash-attn", "2.8.3")
FLASH_ATTN_FILES = ("flash_attn/ops/triton/cross_entropy.py", "flash_attn/bert_padding.py")
SHIM_DIST = "zerolab_flash_attn_triton_ce"
# The copy to the box holds at most 64 MiB, the repo's tracked files included; keep room for the outputs.
LIMIT_BYTES = 64 * 2**20
MARGIN_BYTES = 4 * 2**20


def pinned(name: str) -> str:
    return f"{name}=={importlib.metadata.version(name)}"


def download(names: list[str], into: Path, python_version: str) -> list[Path]:
    """Wheels for the box's Python and manylinux x86_64, without dependencies (the closure is PACKAGES)."""
    abi = "cp" + python_version.replace(".", "")
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        "--python-version", python_version, "--implementation", "cp", "--abi", abi, "--abi", "abi3",
        "--abi", "none", *(f"--platform={p}" for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64",
        "manylinux2014_x86_64", "any")), "-d", str(into), *(pinned(n) for n in names),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return sorted(into.glob("*.whl"))


def unpack_wheels(wheels: list[Path], site: Path) -> None:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)


def copy_from_env(names: list[str], site: Path) -> None:
    """The installed files of each distribution in this env (an offline bundle for this Python: tests)."""
    for name in names:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            source = Path(dist.locate_file(file))
            if str(file).startswith("..") or "__pycache__" in file.parts or not source.is_file():
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def cut_ray(site: Path) -> None:
    for relative in RAY_CUT:
        shutil.rmtree(site / relative, ignore_errors=True)


def add_flash_attn_shim(site: Path, work: Path) -> None:
    """flash-attn's Triton-only files from its source release, under a distribution of another name."""
    name, version = FLASH_ATTN
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary=:all:", "--no-build-isolation",
         "-d", str(work), f"{name}=={version}"],
        check=True,
        # pip prepares the sdist's metadata, and flash-attn's setup.py wants CUDA for that unless told to skip it.
        env={**os.environ, "FLASH_ATTENTION_SKIP_CUDA_BUILD": "TRUE"},
    )  # fmt: skip
    sdist = next(work.glob("flash_attn-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            relative = member.name.split("/", 1)[-1]
            if relative in FLASH_ATTN_FILES:
                target = site / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
    for package in ("flash_attn", "flash_attn/ops", "flash_attn/ops/triton"):
        (site / package / "__init__.py").touch()
    dist_info = site / f"{SHIM_DIST}-{version}.dist-info"
    dist_info.mkdir(exist_ok=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {SHIM_DIST}\nVersion: {version}\n")
    (dist_info / "top_level.txt").write_text("flash_attn\n")
    files = [*FLASH_ATTN_FILES, "flash_attn/__init__.py", "flash_attn/ops/__init__.py"]
    (dist_info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def pack(site: Path, out: Path, preset: int) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(site, arcname="site", filter=lambda info: None if "__pycache__" in info.name else info)
    out.write_bytes(lzma.compress(buffer.getvalue(), preset=preset))
    return out.stat().st_size


def tracked_bytes() -> int:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    return sum(
        (REPO_ROOT / n.decode()).stat().st_size for n in names if n and (REPO_ROOT / n.decode()).is_file()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / ".gl" / "site.txz", help="the archive to write"
    )
    parser.add_argument("--python-version", default="3.12", help="the box's Python (wheel tags)")
    parser.add_argument("--from-env", action="store_true", help="copy this env's installed files (offline)")
    parser.add_argument(
        "--xz-preset", type=int, default=9, help="xz level: 9 for the box, lower to test quickly"
    )
    parser.add_argument("--no-flash-attn-shim", action="store_true", help="leave flash-attn's Triton CE out")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zl-bundle-") as tmp:
        work, site = Path(tmp), Path(tmp) / "site"
        site.mkdir()
        if args.from_env:
            copy_from_env(list(PACKAGES), site)
        else:
            (work / "wheels").mkdir()
            wheels = [name for name in PACKAGES if name not in SOURCE_ONLY]
            unpack_wheels(download(wheels, work / "wheels", args.python_version), site)
            copy_from_env(list(SOURCE_ONLY), site)
        cut_ray(site)
        if not args.no_flash_attn_shim:
            add_flash_attn_shim(site, work)
        unpacked = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        size = pack(site, args.out, args.xz_preset)
    total = size + tracked_bytes()
    print(f"bundle: {args.out} {size / 2**20:.1f} MiB (unpacked {unpacked / 2**20:.0f} MiB); with the tracked "
          f"files {total / 2**20:.1f} MiB of the {LIMIT_BYTES / 2**20:.0f} MiB copy")  # fmt: skip
    if total > LIMIT_BYTES - MARGIN_BYTES:
        print(f"bundle: too large: leave {MARGIN_BYTES / 2**20:.0f} MiB for the outputs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
