"""`launch eval` / `launch eval-checkpoints` on CPU: input checks, the no-GPU failure, and the accuracy curve."""

import json
from pathlib import Path

import pandas as pd
import pytest

from data_prep.templates import get_template
from evaluation import cli, evaluate
from evaluation.score import score_generations, write_json

RIGHT = " 4 * 6 = 24 </think> <answer>4*(7-8/8)</answer>"
WRONG = " 3 * 8 = 24 </think> <answer>(7-4)*8</answer>"


def write_split(path, *, data_source="countdown", template="base", responses=None):
    """Test-split rows in the data_prep contract; with `responses`, a generations file."""
    row = {
        "data_source": data_source,
        "prompt": get_template(template).messages(
            "Using the numbers [4, 7, 8, 8], create an equation that equals 24."
        ),
        "ability": "arithmetic",
        "reward_model": {"style": "rule", "ground_truth": {"target": 24, "numbers": [4, 7, 8, 8]}},
        "extra_info": {"split": "test", "index": 0, "template": template},
    }
    frame = pd.DataFrame([row])
    if responses is not None:
        frame["responses"] = [responses]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return path


def test_read_split_takes_the_template_the_rows_were_built_with(tmp_path):
    split = evaluate.read_split(
        write_split(tmp_path / "test.parquet", template="instruct"), "countdown", None
    )
    assert (split.data_source, split.template, split.num_prompts) == ("countdown", "instruct", 1)


@pytest.mark.parametrize(
    ("task", "template", "message"),
    [
        ("gsm8k", None, "not --task gsm8k"),
        ("countdown", "boxed", "built with template 'base', not --template 'boxed'"),
    ],
)
def test_read_split_rejects_a_split_that_does_not_match(tmp_path, task, template, message):
    with pytest.raises(ValueError, match=message):
        evaluate.read_split(write_split(tmp_path / "test.parquet"), task, template)


def test_model_slugs_name_checkpoints_dirs_and_hub_ids(tmp_path):
    actor = tmp_path / "countdown-3b__base__s0" / "global_step_40" / "actor"
    actor.mkdir(parents=True)
    assert evaluate.model_slug(str(actor)) == "countdown-3b__base__s0__global_step_40"
    assert evaluate.model_slug(str(tmp_path / "countdown-3b__base__s0")) == "countdown-3b__base__s0"
    assert evaluate.model_slug("Qwen/Qwen2.5-3B") == "Qwen__Qwen2.5-3B"


def test_eval_without_a_gpu_fails_fast_naming_launch_score(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    split, out = write_split(tmp_path / "data" / "test.parquet"), tmp_path / "out"
    assert (
        cli.eval_main(["Qwen/Qwen2.5-3B", "--task", "countdown", "--data", str(split), "--out", str(out)])
        == 2
    )
    assert "python -m launch score" in capsys.readouterr().err
    assert not out.exists()


def test_eval_reports_a_missing_split_with_the_build_command(tmp_path, capsys):
    argv = ["Qwen/Qwen2.5-3B", "--task", "game24", "--data-dir", str(tmp_path)]
    assert cli.eval_main(argv) == 2
    error = capsys.readouterr().err
    assert str(tmp_path / "game24" / "base" / "test.parquet") in error
    assert f"python -m data_prep game24 --out {tmp_path / 'game24' / 'base'}" in error


def test_default_split_prefers_the_template_dir_then_the_plain_build(tmp_path):
    plain = write_split(tmp_path / "countdown" / "test.parquet")
    assert evaluate.default_split(tmp_path, "countdown", None) == plain
    by_template = write_split(tmp_path / "countdown" / "base" / "test.parquet")
    assert evaluate.default_split(tmp_path, "countdown", None) == by_template
    assert (
        evaluate.default_split(tmp_path, "countdown", "instruct") == plain
    )  # read_split then checks its rows


@pytest.fixture
def run_dir(tmp_path):
    """A run with checkpoints at steps 10 and 20, both already evaluated (real scoring of known responses)."""
    split = write_split(tmp_path / "data" / "countdown" / "base" / "test.parquet")
    checkpoints = tmp_path / "checkpoints" / "r" / "run-1"
    run_dir = tmp_path / "results" / "r" / "runs" / "run-1"
    run = {"checkpoint_dir": str(checkpoints), "overrides": {"data.val_files": [str(split)]}}
    write_json(run_dir / "run.json", run)
    for step, responses, greedy in [
        (10, [WRONG, WRONG, RIGHT, WRONG], WRONG),
        (20, [RIGHT, WRONG, RIGHT, RIGHT], RIGHT),
    ]:
        (checkpoints / f"global_step_{step}" / "actor").mkdir(parents=True)
        sampled = write_split(tmp_path / f"g{step}.parquet", responses=responses)
        greedy_file = write_split(tmp_path / f"greedy{step}.parquet", responses=[greedy])
        metrics, _ = score_generations(sampled, greedy_file)
        write_json(run_dir / "eval" / f"step_{step}" / "countdown.json", metrics)
    return run_dir


def test_eval_checkpoints_plots_accuracy_vs_step_from_evaluated_steps(run_dir, capsys):
    assert cli.eval_checkpoints_main([str(run_dir)]) == 0
    assert "0 evaluation(s) run" in capsys.readouterr().out
    curve = json.loads((run_dir / "eval" / "accuracy_vs_step.json").read_text())
    points = curve["tasks"]["countdown"]
    assert [p["step"] for p in points] == [10, 20]
    assert [p["mean@n"] for p in points] == [0.25, 0.75]
    assert [p["greedy_acc"] for p in points] == [0.0, 1.0]
    assert [p["maj@n"] for p in points] == [0.0, 1.0]  # 3 WRONG votes, then 3 RIGHT votes
    assert [p["pass@n"] for p in points] == [1.0, 1.0]
    png = (run_dir / "eval" / "accuracy_vs_step.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_eval_checkpoints_needs_a_gpu_only_for_unevaluated_steps(run_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    checkpoints = json.loads((run_dir / "run.json").read_text())["checkpoint_dir"]
    (Path(checkpoints) / "global_step_30" / "actor").mkdir(parents=True)
    assert cli.eval_checkpoints_main([str(run_dir)]) == 2
    assert "python -m launch score" in capsys.readouterr().err
    assert not (run_dir / "eval" / "step_30").exists()
    assert not (run_dir / "eval" / "accuracy_vs_step.png").exists()


def test_eval_checkpoints_needs_a_run_dir(tmp_path, capsys):
    assert cli.eval_checkpoints_main([str(tmp_path)]) == 2
    assert "run.json does not exist" in capsys.readouterr().err
