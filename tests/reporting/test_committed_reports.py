"""Every committed report rebuilds from the committed files alone: a copy of what git tracks under results/
(no rollout dumps, no per-attempt logs, nothing a fresh clone lacks) gives the same summary.md, byte for byte,
and the same pictures, pixel for pixel.

Pictures are compared as decoded pixels, not file bytes: the pinned matplotlib (requirements/pins.txt) draws
with its own bundled FreeType, so the same data gives the same pixels, while the PNG's metadata is no part of
what a reader sees. A picture drawn from other data (a missing run, a step more or less) differs in pixels.
After a change to the report, `python -m launch report RECIPE` for each recipe under results/ and a commit of
what it wrote make this pass again.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from launch.recipe import REPO_ROOT
from reporting.report import build_report


def _tracked_results() -> list[str]:
    """The files git tracks under results/; none outside a git checkout (which files are committed is unknown)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "results"], cwd=REPO_ROOT, capture_output=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    return [name for name in listing.stdout.decode().split("\0") if name]


TRACKED = _tracked_results()
RECIPES = sorted({name.split("/")[1] for name in TRACKED if name.endswith("/summary.md")})


@pytest.fixture(scope="module")
def fresh_results(tmp_path_factory):
    """The tracked files under results/, copied alone (as a fresh clone has them)."""
    root = tmp_path_factory.mktemp("clone")
    for name in TRACKED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, root / name)
    return root / "results"


def test_there_are_committed_reports():
    if not TRACKED:
        pytest.skip("not a git checkout")
    assert {"countdown-mini", "countdown-mini-distill"} <= set(RECIPES)


@pytest.mark.parametrize("recipe", RECIPES)
def test_committed_report_rebuilds_from_committed_files(recipe, fresh_results):
    committed = REPO_ROOT / "results" / recipe
    # the report's own pictures (a run's eval/accuracy_vs_step.png is drawn by eval-checkpoints, not here)
    pictures = {
        Path(name).relative_to(f"results/{recipe}")
        for name in TRACKED
        if name.startswith(f"results/{recipe}/") and name.endswith(".png") and "/runs/" not in name
    }
    paths = build_report(recipe, fresh_results)
    rebuilt = fresh_results / recipe
    assert paths.summary.read_bytes() == (committed / "summary.md").read_bytes(), (
        f"results/{recipe}/summary.md differs from what its committed records give: "
        f"run `python -m launch report {recipe}` and commit the result"
    )
    drawn = {path.relative_to(rebuilt) for path in [*paths.curves, *([paths.aha] if paths.aha else [])]}
    assert drawn == pictures
    for picture in sorted(pictures):
        assert np.array_equal(imread(rebuilt / picture), imread(committed / picture)), (
            f"results/{recipe}/{picture} is not what the committed records draw"
        )
    assert (fresh_results / "README.md").read_bytes() == (REPO_ROOT / "results" / "README.md").read_bytes()
