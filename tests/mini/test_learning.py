"""The CPU miniature still learns: the first steps of a real GRPO run from the committed base make the policy
search more (it pays), and the same run with the correctness-independent (random) reward does not.

Both are mini.probe runs (the whole launch path, the recipe's settings cut to STEPS steps), so they are
the first steps of the committed runs. MARGIN comes from five grpo seeds and three random-reward seeds
(benchmarks/calibrate_mini_probe.py and the committed runs; the figures per seed: results/countdown-mini/README.md):
grpo rose 0.147 to 0.221, the control 0.000 to 0.012.

    python -m pytest tests/mini/test_learning.py -q
"""

from __future__ import annotations

import pytest

from launch.recipe import REPO_ROOT
from mini import BASES
from mini.probe import probe

STEPS = 12
MARGIN = 0.08  # the fitted rise of the sampled search share over the run (mini.probe.ProbeResult.rise)
TIMEOUT_S = 480


def search_rise(variant: str, tmp_path) -> tuple[float, dict[int, float]]:
    result = probe(variant, seed=1, steps=STEPS, work_dir=tmp_path, timeout_s=TIMEOUT_S)
    assert result.status == "finished", (result.reason, result.log_tail)
    assert sorted(result.shares) == list(range(1, STEPS + 1))
    return result.rise, result.shares


@pytest.mark.slow
def test_grpo_amplifies_search(tmp_path):
    assert (REPO_ROOT / BASES["search"] / "model.safetensors").is_file(), (
        "the committed base model is missing"
    )
    rise, shares = search_rise("grpo", tmp_path)
    assert rise >= MARGIN, shares


@pytest.mark.slow
def test_random_reward_does_not(tmp_path):
    rise, shares = search_rise("random_reward", tmp_path)
    assert rise < MARGIN, shares
