"""The aha view over rollout digests of generation dumps written by verl 0.9.1's own dump writer (invented texts,
tmp dirs)."""

import json
from pathlib import Path

import pytest

from launch.rollout_digest import write_digest
from reporting.aha import _fenced, collect
from reporting.report import build_report
from reporting.runs import load_recipe_runs

RECIPE = "toy"
PLAIN = "<think>3 + 5 = 8, then 8 * 2 = 16.</think> <answer>(3 + 5) * 2</answer>"
CHECKED = (
    "<think>3 + 5 = 8, 8 * 2 = 16. Let me verify: (3 + 5) * 2 = 16, yes.</think> <answer>(3 + 5) * 2</answer>"
)


def write_dump(folder: Path, step: int, outputs: list[str], extra: dict[str, list] | None = None) -> None:
    """One <step>.jsonl exactly as verl's trainer writes it (rollout_data_dir / validation_data_dir)."""
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    n = len(outputs)
    PPOTrainer._write_generations(
        inputs=["Using the numbers [3, 5, 2], create an equation that equals 16."] * n,
        outputs=outputs,
        gts=[{"target": 16, "numbers": [3, 5, 2]}] * n,
        scores=[1.0] * n,
        reward_extra_infos_dict={"uid": [f"u{i}" for i in range(n)], **(extra or {})},
        dump_path=str(folder),
        global_steps=step,
    )


def run_dir(root: Path, run_id: str) -> Path:
    path = root / RECIPE / "runs" / run_id
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"run_id": run_id, "status": "finished", "attempts": []}))
    return path


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("results")
    # base, two seeds pooled: step 1 -> 0/8 verifying, step 2 -> 1/8 (0.125, crosses 0.1), step 3 -> 6/8.
    for seed, verifying in ((1, (0, 1, 3)), (2, (0, 0, 3))):
        rollouts = run_dir(root, f"toy__base__s{seed}") / "rollouts"
        for step, count in zip((1, 2, 3), verifying, strict=True):
            write_dump(rollouts, step, [CHECKED] * count + [PLAIN] * (4 - count))
    # no_kl has only validation dumps that carry the reward's own has_verify flag; it never crosses.
    validation = run_dir(root, "toy__no_kl__s1") / "validation"
    for step in (0, 2):
        write_dump(
            validation, step, [CHECKED, PLAIN], extra={"has_verify": [0, 0], "response_chars": [500, 700]}
        )
    for path in (root / RECIPE / "runs").iterdir():
        write_digest(path)
    # A run whose dumps were never digested: left out of the view, named in a note.
    write_dump(run_dir(root, "toy__late__s1") / "rollouts", 1, [CHECKED] * 4)
    return root


def test_verify_share_and_first_crossing(results):
    found, undigested = collect(load_recipe_runs(results, RECIPE))
    groups = {group.group: group for group in found}
    assert sorted(groups) == ["base", "no_kl"]
    assert len(undigested) == 1 and "`toy__late__s1`" in undigested[0] and "launch digest" in undigested[0]
    base = groups["base"]
    assert [base.steps[step].share for step in (1, 2, 3)] == [0.0, 0.125, 0.75]
    assert base.first_crossing(0.1) == 2
    assert base.first_crossing(0.5) == 3
    assert base.steps[1].lengths().tolist() == [len(PLAIN)] * 8
    assert base.steps[3].lengths().tolist() == [len(PLAIN)] * 2 + [len(CHECKED)] * 6  # both seeds pooled
    no_kl = groups["no_kl"]
    assert no_kl.first_crossing(0.1) is None  # the reward's has_verify=0 wins over the phrase in the text
    assert no_kl.steps[2].lengths().tolist() == [500, 700]


def test_report_writes_aha_png_and_examples(results):
    paths = build_report(RECIPE, results, threshold=0.1)
    assert paths.aha is not None and paths.aha.stat().st_size > 10_000
    summary = paths.summary.read_text()
    assert "| base | 3 | 24 | 2 |" in summary
    assert "| no_kl | 2 | 4 | not reached |" in summary
    section = summary.split("### base: responses before and after the crossing", 1)[1]
    assert "Without self-verification, step 1, score 1:" in section
    assert "With self-verification, step 2, score 1:" in section and "Let me verify" in section
    assert "### no_kl: responses earliest and latest (no crossing)" in summary
    assert "`toy__late__s1` has generation dumps but no rollout_digest.json" in summary


def test_fence_outgrows_backticks_in_model_output():
    text = "```python\nprint(1)\n```"
    fenced = _fenced(text)
    assert fenced.startswith("````text\n") and fenced.endswith("\n````")
    assert _fenced("abc", truncated=True) == "```text\nabc […]\n```"


CAUGHT = "<think>3 + 5 = 9 wait 3 + 5 = 8, then 8 * 2 = 16.</think> <answer>(3 + 5) * 2</answer>"


def test_self_corrections_are_shown_only_where_the_digests_counted_them(tmp_path):
    for run_id, outputs in (("toy__long__s1", [CAUGHT, PLAIN, PLAIN, PLAIN]), ("toy__old__s1", [CAUGHT] * 4)):
        path = run_dir(tmp_path, run_id)
        for step in (1, 2):
            write_dump(path / "rollouts", step, outputs if step == 2 else [PLAIN] * 4)
        write_digest(path)
    old = tmp_path / RECIPE / "runs" / "toy__old__s1" / "rollout_digest.json"
    digest = json.loads(old.read_text())
    for record in digest["steps"]:  # as a digest written before self-corrections were counted
        del record["correcting"]
    old.write_text(json.dumps(digest))
    groups = {group.group: group for group in collect(load_recipe_runs(tmp_path, RECIPE))[0]}
    assert groups["long"].corrections_counted and not groups["old"].corrections_counted
    assert [groups["long"].steps[step].correct_share for step in (1, 2)] == [0.0, 0.25]
    summary = build_report(RECIPE, tmp_path).summary.read_text()
    assert "| verify | search | self-correct | median length |" in summary
    assert "| long | 2 | 8 | 2 | 0% → 25% | 0% → 0% | 0.0% → 25.0% (halves: 0 of 4 → 1 of 4) |" in summary
    assert "| old | 2 | 8 |" in summary and "| — |" in summary
    section = summary.split("### long:", 1)[1].split("### old:", 1)[0]
    assert "With a self-correction (the latest), step 2, score 1:" in section and "3 + 5 = 9 wait" in section
    assert "self-correction" not in summary.split("### old:", 1)[1]


def test_digests_without_self_corrections_keep_the_view_as_it_was(results):
    groups, _ = collect(load_recipe_runs(results, RECIPE))
    for group in groups:  # the fixture's digests are fresh: make them all look old
        group.corrections_counted = False
    from reporting.aha import aha_markdown

    text = "\n".join(aha_markdown(groups, 0.1))
    assert "| verify | search | median length |" in text and "self-correct" not in text
