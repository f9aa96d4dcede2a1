"""Profiles follow the hardware: nvidia-smi's real query output parsed, the profile picked from GPU count and
memory, the precedence explicit > detected > recipe, the cpu profile never switched, run ids unchanged; and
the CLI with a fake nvidia-smi on PATH saying which profile it picked and why."""

import os
import shutil
import subprocess
import sys

import pytest

from launch import hardware
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, RecipeError, load_recipe

# Real `nvidia-smi --query-gpu=index,name,memory.total --format=csv` output (header included).
H100_X8 = "index, name, memory.total [MiB]\n" + "".join(
    f"{i}, NVIDIA H100 80GB HBM3, 81559 MiB\n" for i in range(8)
)
H200_X1 = "index, name, memory.total [MiB]\n0, NVIDIA H200, 143771 MiB\n"
A10_X1 = "index, name, memory.total [MiB]\n0, NVIDIA A10, 23028 MiB\n"
A100_40_X1 = "index, name, memory.total [MiB]\n0, NVIDIA A100-SXM4-40GB, 40960 MiB\n"
L40S_X1 = "index, name, memory.total [MiB]\n0, NVIDIA L40S, 46068 MiB\n"
T4_X1 = "index, name, memory.total [MiB]\n0, Tesla T4, 15360 MiB\n"


def _pick(text):
    choice = hardware.pick_profile(hardware.parse_query(text))
    return choice and choice.name


def test_the_real_query_output_parses_to_count_name_and_memory():
    gpus = hardware.parse_query(H100_X8)
    assert len(gpus) == 8 and {g.name for g in gpus} == {"NVIDIA H100 80GB HBM3"}
    assert gpus[0].memory_gb == pytest.approx(81559 * 2**20 / 1e9)  # 85.5 GB
    # --format=csv,noheader,nounits gives the same GPUs.
    bare = hardware.parse_query("0, NVIDIA H200, 143771\n")
    assert bare == hardware.parse_query(H200_X1)
    assert hardware.parse_query("index, name, memory.total [MiB]\n0, GRID T4-4Q, [N/A]\n") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (H100_X8, "8x80gb"),
        ("".join(H100_X8.splitlines(keepends=True)[:4]), "2x80gb"),  # 3 GPUs: the 2-GPU profile
        (H200_X1, "1xh200"),
        (A10_X1, "1x24gb"),
        (A100_40_X1, "1x40gb"),
        (L40S_X1, "1x40gb"),
        (T4_X1, None),  # 16 GB: no profile is sized for it
    ],
)
def test_the_profile_is_the_one_with_most_gpus_then_most_memory_that_the_node_holds(text, expected):
    assert _pick(text) == expected


def test_the_reason_names_the_gpus_and_the_rule():
    choice = hardware.pick_profile(hardware.parse_query(H100_X8))
    assert "8 x NVIDIA H100 80GB HBM3" in choice.reason and "86 GB each" in choice.reason
    assert "8x80gb" in choice.reason and choice.detected


def test_explicit_beats_detected_beats_the_recipes_own():
    gpus = hardware.parse_query(H100_X8)
    assert hardware.choose("1x80gb", gpus)[0] == "1x80gb"
    assert hardware.choose(None, gpus)[0] == "8x80gb"
    name, reason = hardware.choose(None, None)
    assert name is None and "no nvidia-smi" in reason
    assert hardware.choose("recipe", gpus)[0] is None
    with pytest.raises(RecipeError, match="no hardware profile 'h100'.*known"):
        hardware.choose("h100", gpus)


def test_the_cpu_profile_is_never_switched_and_run_ids_do_not_change():
    mini = compile_recipe(load_recipe("countdown-mini"), profile="8x80gb")
    assert {plan.profile.name for plan in mini} == {"cpu"}
    recipe = load_recipe("countdown-3b")
    own, eight = compile_recipe(recipe), compile_recipe(recipe, profile="8x80gb")
    assert [p.run_id for p in own] == [p.run_id for p in eight]
    assert {p.overrides["trainer.n_gpus_per_node"] for p in eight} == {8}
    assert eight[0].reproduce.endswith("PROFILE=8x80gb") and "PROFILE" not in own[0].reproduce


def _plan_cli(tmp_path, nvidia_smi_output=None, *extra):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if nvidia_smi_output is not None:
        fake = bin_dir / "nvidia-smi"
        (tmp_path / "smi.txt").write_text(nvidia_smi_output)
        fake.write_text(f"#!/bin/sh\ncat {tmp_path / 'smi.txt'}\n")
        fake.chmod(0o755)
        if not (bin_dir / "cat").exists():
            (bin_dir / "cat").symlink_to(shutil.which("cat"))
    command = [sys.executable, "-m", "launch", "plan", "countdown-3b", "--variant", "default", "--no-data-check"]  # fmt: skip
    env = {**os.environ, "PATH": str(bin_dir)}  # nothing else on PATH: no real nvidia-smi either
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300
    )


def test_the_cli_picks_the_profile_from_a_fake_nvidia_smi_and_says_why(tmp_path):
    result = _plan_cli(tmp_path, H100_X8)
    assert result.returncode == 0, result.stderr
    assert "plan: profile: nvidia-smi lists 8 x NVIDIA H100 80GB HBM3" in result.stderr
    assert "8x80gb" in result.stderr
    assert "trainer.n_gpus_per_node=8" in result.stdout
    assert "# countdown-3b__default__s1" in result.stdout  # same run id as on one GPU

    explicit = _plan_cli(tmp_path, H100_X8, "--profile", "1xh200")
    assert "plan: profile: 1xh200 as asked" in explicit.stderr
    assert "trainer.n_gpus_per_node=1" in explicit.stdout


def test_without_nvidia_smi_the_recipes_profile_is_the_default(tmp_path):
    result = _plan_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "each recipe's own profile: no nvidia-smi here" in result.stderr
    assert "trainer.n_gpus_per_node=1" in result.stdout


@pytest.mark.parametrize("target", ["validate", "plan", "train", "sweep", "countdown-3b"])
def test_every_recipe_target_passes_profile_through(target):
    # make -n prints the commands without running them (no install, no GPU check).
    result = subprocess.run(
        ["make", "-n", "-C", str(REPO_ROOT), target, "PROFILE=8x80gb"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "--profile 8x80gb" in result.stdout
