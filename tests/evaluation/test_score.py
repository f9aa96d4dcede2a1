"""`launch score` on a generations file of known right and wrong Countdown responses: hand-checked figures."""

import json

import pandas as pd
import pytest

from data_prep.templates import get_template
from evaluation.cli import score_main as main
from evaluation.score import score_generations

# The `base` template pre-fills "<think>": a response continues the reasoning, then closes it.
RIGHT_24 = " 4 * 6 = 24 and 7 - 8/8 = 6. </think> <answer>4*(7-8/8)</answer>"
WRONG_24 = " (7-4)*8 = 24 but one 8 is left. </think> <answer>(7-4)*8</answer>"
NO_ANSWER = " I am still thinking about 4 7 8 8"
RIGHT_100 = " 25 * 4 = 100. Let me verify: 50-25=25, 7-3=4. </think> <answer>(50-25)*(7-3)</answer>"
WRONG_100 = " 25 * 4 = 100 </think> <answer>(7-3)*25</answer>"
OTHER_WRONG_100 = " Wait, 50 + 25 + 21 = 96. </think> <answer>50+25+7*3</answer>"

SAMPLED = [
    [RIGHT_24, WRONG_24, RIGHT_24, NO_ANSWER],
    [WRONG_100, RIGHT_100, RIGHT_100, OTHER_WRONG_100],
]
GREEDY = [[RIGHT_24], [WRONG_100]]


def write_generations(path, responses_per_row):
    """Rows in the verl/data_prep contract (common.md), as main_generation_server writes them back."""
    template = get_template("base")
    problems = [(24, [4, 7, 8, 8]), (100, [3, 7, 25, 50])]
    rows = [
        {
            "data_source": "countdown",
            "prompt": template.messages(
                f"Using the numbers {numbers}, create an equation that equals {target}."
            ),
            "ability": "arithmetic",
            "reward_model": {"style": "rule", "ground_truth": {"target": target, "numbers": numbers}},
            "extra_info": {"split": "test", "index": index, "template": template.name},
        }
        for index, (target, numbers) in enumerate(problems, start=10)
    ]
    frame = pd.DataFrame(rows)
    frame["responses"] = responses_per_row
    frame.to_parquet(path)
    return path


@pytest.fixture
def generations(tmp_path):
    return write_generations(tmp_path / "countdown.generations.parquet", SAMPLED)


@pytest.fixture
def greedy(tmp_path):
    return write_generations(tmp_path / "countdown.greedy.parquet", GREEDY)


def test_scoring_gives_hand_checked_figures(generations, greedy):
    metrics, records = score_generations(generations, greedy)
    assert metrics["data_source"] == "countdown"
    assert (metrics["n"], metrics["num_prompts"]) == (4, 2)
    assert metrics["mean@n"] == 0.5  # 2 right of 4 in each row
    # pass@2 = 1 - C(2,2)/C(4,2) = 5/6 in each row
    assert metrics["pass@k"] == pytest.approx({"1": 0.5, "2": 5 / 6, "4": 1.0})
    # row 24: first sample right, and its answer leads or ties first at every k.
    # row 100: k=1 wrong; k=2 a 1-1 tie goes to the earlier, wrong answer; k=4 the right answer has 2 votes.
    assert metrics["maj@k"] == {"1": 0.5, "2": 0.5, "4": 1.0}
    assert metrics["format_rate"] == 7 / 8  # only NO_ANSWER lacks the structure
    assert metrics["verification_rate"] == 3 / 8  # "verify" twice, "Wait" once
    all_responses = [response for row in SAMPLED for response in row]
    assert metrics["mean_response_length"] == sum(map(len, all_responses)) / 8
    assert metrics["greedy_acc"] == 0.5

    sampled = [record for record in records if not record["greedy"]]
    assert [(r["prompt_id"], r["sample"]) for r in sampled[:5]] == [
        (10, 0),
        (10, 1),
        (10, 2),
        (10, 3),
        (11, 0),
    ]
    assert [r["acc"] for r in sampled] == [1, 0, 1, 0, 0, 1, 1, 0]
    assert sampled[1]["pred"] == "(7-4)*8" and sampled[1]["response"] == WRONG_24
    assert sampled[3]["pred"] == "" and sampled[3]["format"] == 0
    assert [r["acc"] for r in records if r["greedy"]] == [1, 0]


def test_cli_prints_and_writes_the_metrics(generations, greedy, tmp_path, capsys):
    out, samples = tmp_path / "out" / "countdown.json", tmp_path / "out" / "countdown.jsonl"
    argv = [str(generations), "--greedy", str(greedy), "--out", str(out), "--samples", str(samples)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert printed["greedy_acc"] == 0.5 and printed["pass@k"]["4"] == 1.0
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == 8 + 2
    assert {"prompt_id", "sample", "response", "score", "acc", "format", "pred", "has_verify"} <= set(
        lines[0]
    )


def test_bad_generations_files_are_errors_that_write_nothing(tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main([str(tmp_path / "missing.parquet"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    no_responses = tmp_path / "rows.parquet"
    pd.read_parquet(write_generations(tmp_path / "g.parquet", SAMPLED)).drop(columns="responses").to_parquet(
        no_responses
    )
    assert main([str(no_responses), "--out", str(out)]) == 2
    assert "lacks column(s) responses" in capsys.readouterr().err
    assert not out.exists()


def test_greedy_file_must_match_the_sampled_prompts(generations, tmp_path):
    shuffled = tmp_path / "greedy.parquet"
    pd.read_parquet(write_generations(tmp_path / "g.parquet", GREEDY)).iloc[::-1].to_parquet(shuffled)
    with pytest.raises(ValueError, match="same prompts in the same order"):
        score_generations(generations, shuffled)
