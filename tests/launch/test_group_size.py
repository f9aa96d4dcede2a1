"""The group-size arithmetic `make plan` prints: p^G + (1-p)^G groups without signal, p given or read from the
step-0 validation of committed runs of the same model and data."""

import subprocess
import sys

import pytest

from launch import group_size
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, load_recipe


@pytest.mark.parametrize(
    ("p", "g", "share"), [(0.5, 2, 0.5), (0.0, 8, 1.0), (1.0, 4, 1.0), (0.1, 8, 0.1**8 + 0.9**8)]
)
def test_no_signal_share_is_all_right_or_all_wrong(p, g, share):
    assert group_size.no_signal_share(p, g) == pytest.approx(share)


def test_a_pass_rate_outside_zero_one_is_an_error():
    with pytest.raises(ValueError, match="probability"):
        group_size.no_signal_share(1.5, 8)


def test_the_committed_miniature_runs_give_the_bases_pass_rate():
    # results/countdown-mini/runs: grpo s1-s3, grpo_vllm s1 and random_reward s1 start from the search-prior base,
    # as do the runs of results/countdown-mini-ablations.
    plan = compile_recipe(load_recipe("countdown-mini"), variant="grpo", seed=1)[0]
    measured = group_size.measured_pass_rate(plan, REPO_ROOT / "results")
    assert measured is not None and 0.0 < measured.value < 0.5
    assert "countdown-mini__grpo__s1" in measured.source
    # What those runs (and countdown-mini-ablations' runs from the same base) saw at step 1 (G = 8, temperature
    # 1), the random-reward control left out: the check on p.
    assert measured.observed_group_size == 8 and len(measured.observed) >= 4
    assert all(0.0 <= share <= 1.0 for share in measured.observed)
    no_prior = compile_recipe(load_recipe("countdown-mini"), variant="no_prior", seed=1)[0]
    other = group_size.measured_pass_rate(no_prior, REPO_ROOT / "results")
    assert other is None or other.value != measured.value  # another base, another rate


def test_make_plan_prints_the_table_for_the_recipes_own_group_size():
    done = subprocess.run(
        [sys.executable, "-m", "launch", "plan", "countdown-mini", "--variant", "grpo", "--pass-rate", "0.1"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "p = 0.100 (--pass-rate)" in done.stdout
    assert f"G =   8: {0.1**8 + 0.9**8:7.1%} of groups without signal  <- this recipe" in done.stdout
    assert "G =  32:" in done.stdout
