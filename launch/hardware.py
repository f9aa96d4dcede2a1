"""Which hardware profile fits this node: the GPUs `nvidia-smi` lists (count and memory), matched against the
profiles in recipes/profiles/ that declare `gpu_memory_gb`. Library code returns the choice and its reason;
the CLI prints them (launch.cli).

Order of precedence for a run's profile: an explicit `--profile` / `PROFILE=`, else the profile picked from
this node's GPUs, else the recipe's `profile:` (the default where detection cannot run, e.g. plans on a CPU
machine). The `cpu` profile (the CPU backend) is never switched: its runs are not GPU runs.

    python -m launch plan countdown-3b [--profile 8x80gb]       (tests: tests/launch/test_hardware.py)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from launch.recipe import PROFILES_DIR, RecipeError, load_profile

CPU_PROFILE = "cpu"
# `--profile recipe`: each recipe's own profile, detection off (what `make validate PROFILE=recipe` checks).
RECIPE_CHOICE = "recipe"
QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv"]
# nvidia-smi reports a bit less than the marketed size (an 80 GB H100: 81,559 MiB; a 24 GB A10: 23,028 MiB);
# a GPU counts as a profile's size when it has at least this fraction of the profile's gpu_memory_gb.
MEMORY_TOLERANCE = 0.9
MIB = 2**20


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_gb: float  # decimal GB, as the estimate counts


@dataclass(frozen=True)
class ProfileChoice:
    name: str
    reason: str
    detected: bool  # True when picked from this node's GPUs


def parse_query(text: str) -> list[Gpu]:
    """GPUs from `nvidia-smi --query-gpu=index,name,memory.total --format=csv[,noheader][,nounits]`."""
    gpus = []
    for line in text.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) < 3 or not fields[0].isdigit():
            continue  # the header ("index, name, memory.total [MiB]") or a blank line
        memory = fields[-1].removesuffix("MiB").strip()
        try:
            mib = float(memory)
        except ValueError:  # "[N/A]" on some virtualised GPUs: no size, not usable for the choice
            continue
        gpus.append(Gpu(int(fields[0]), ", ".join(fields[1:-1]), mib * MIB / 1e9))
    return gpus


def detect_gpus(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[Gpu] | None:
    """This node's GPUs; None when nvidia-smi is missing or fails (detection cannot run)."""
    try:
        result = run(QUERY, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return parse_query(result.stdout)


def gpu_profiles() -> list:
    """Every profile that declares the GPU it is sized for."""
    profiles = [load_profile(path.stem) for path in sorted(PROFILES_DIR.glob("*.yaml"))]
    return [p for p in profiles if p.gpu_memory_gb is not None]


def profile_gpus(profile) -> int:
    o = profile.overrides
    return int(o.get("trainer.n_gpus_per_node", 1)) * int(o.get("trainer.nnodes", 1))


def pick_profile(gpus: Sequence[Gpu], profiles: Sequence | None = None) -> ProfileChoice | None:
    """The profile using the most GPUs, then the most memory per GPU, that this node holds; None if none fits."""
    if not gpus:
        return None
    smallest = min(gpu.memory_gb for gpu in gpus)
    fitting = [
        p
        for p in (gpu_profiles() if profiles is None else profiles)
        if profile_gpus(p) <= len(gpus) and p.gpu_memory_gb * MEMORY_TOLERANCE <= smallest
    ]
    if not fitting:
        return None
    best = max(fitting, key=lambda p: (profile_gpus(p), p.gpu_memory_gb))
    names = sorted({gpu.name for gpu in gpus})
    reason = (
        f"nvidia-smi lists {len(gpus)} x {' / '.join(names)} ({smallest:.0f} GB each): {best.name} is the "
        f"profile with the most GPUs ({profile_gpus(best)}) and then the most memory per GPU "
        f"({best.gpu_memory_gb:g} GB) that this node holds"
    )
    return ProfileChoice(best.name, reason, detected=True)


def describe_no_fit(gpus: Sequence[Gpu]) -> str:
    smallest = min(gpu.memory_gb for gpu in gpus)
    return (
        f"nvidia-smi lists {len(gpus)} GPU(s) of {smallest:.0f} GB and no profile in {PROFILES_DIR} is sized "
        "for that; each run keeps its recipe's profile (add a profile for this GPU, or pass --profile)"
    )


def choose(requested: str | None, gpus: Sequence[Gpu] | None) -> tuple[str | None, str]:
    """The profile for every GPU run of a command, and why; None keeps each recipe's own profile."""
    if requested == RECIPE_CHOICE:
        return None, "each recipe's own profile (--profile recipe)"
    if requested:
        load_profile(requested)  # an unknown name is an error listing the known ones
        if requested == CPU_PROFILE:
            raise RecipeError("the cpu profile belongs to the CPU backend's recipes; it is not a GPU profile")
        return requested, f"{requested} as asked (--profile / PROFILE=)"
    if gpus is None:
        return None, "each recipe's own profile: no nvidia-smi here, so this node's GPUs cannot be detected"
    if not gpus:
        return None, "each recipe's own profile: nvidia-smi lists no GPU"
    choice = pick_profile(gpus)
    if choice is None:
        return None, describe_no_fit(gpus)
    return choice.name, choice.reason


def effective_profile(recipe_profile: str, chosen: str | None) -> str:
    """A run's profile: the chosen one, except that a CPU-backend run keeps `cpu`."""
    if recipe_profile == CPU_PROFILE or chosen is None:
        return recipe_profile
    return chosen


def profile_flag(profile_name: str) -> list[str]:
    """The `--profile` a cluster job's attempt gets, so it compiles the run exactly as the sweep did."""
    return ["--profile", RECIPE_CHOICE if profile_name == CPU_PROFILE else profile_name]
