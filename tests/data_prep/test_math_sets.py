"""Math sets from local copies in each hub's own column layout, and a fast, clear failure when offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_prep import math_sets
from data_prep.rows import BuildError
from data_prep.templates import get_template

GSM8K_TRAIN = [
    {
        "question": "Ann has 1,000 apples and buys 234 more. How many?",
        "answer": "1000 + 234 = 1234\n#### 1,234",
    },
    {"question": "A broken row.", "answer": "no final marker here"},
    {"question": "Half of 10?", "answer": "10 / 2 = <<10/2=5>>5\n#### 5"},
]
GSM8K_TEST = [{"question": "3 + 4?", "answer": "#### 7"}]
MATH_ROWS = [
    {
        "problem": "Compute $\\frac{2}{4}$.",
        "solution": "First $\\boxed{1}$ is wrong; it is $\\boxed{\\frac{1}{2}}$.",
        "level": "Level 2",
        "type": "Prealgebra",
    },
    {"problem": "No box.", "solution": "The answer is 3.", "level": "Level 1", "type": "Algebra"},
    {"problem": "Set?", "solution": "$\\boxed{\\{1, 2\\}}$", "level": "Level 5", "type": "Algebra"},
]
MATH500_ROWS = [
    {
        "problem": "What is $1+1$?",
        "solution": "$\\boxed{2}$",
        "answer": "2",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "test/algebra/1.json",
    }
]
AIME_ROWS = [
    {
        "id": 60,
        "problem": "Find the remainder ...",
        "solution": "...",
        "answer": "204",
        "url": "u",
        "year": "2024",
    }
]


def _write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_gsm8k_from_a_hub_style_directory(tmp_path, oracle):
    source = tmp_path / "gsm8k"
    (source / "main").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(GSM8K_TRAIN), source / "main" / "train-00000-of-00001.parquet")
    _write_jsonl(source / "main" / "test-00000-of-00001.jsonl", GSM8K_TEST)
    meta = math_sets.build(tmp_path / "out", dataset="gsm8k", source=str(source))
    train = oracle.read_rows(tmp_path / "out" / "train.parquet")
    test = oracle.read_rows(tmp_path / "out" / "test.parquet")
    assert [r["reward_model"]["ground_truth"] for r in train] == ["1234", "5"]
    assert [r["extra_info"]["source_id"] for r in train] == ["train/0", "train/2"]
    assert test[0]["reward_model"] == {"style": "rule", "ground_truth": "7"}
    assert train[0]["data_source"] == "gsm8k" and train[0]["ability"] == "math"
    assert train[0]["prompt"] == get_template("base").messages(GSM8K_TRAIN[0]["question"])
    assert train[1]["extra_info"] == {
        "split": "train",
        "index": 1,
        "template": "base",
        "source_id": "train/2",
        "question": "Half of 10?",
        "level": None,
        "subject": None,
    }
    assert meta["statistics"]["train"]["skipped_without_answer"] == 1
    assert meta["rows"] == {"train": 2, "test": 1}


def test_math_takes_the_last_boxed_answer_with_nested_braces(tmp_path, oracle):
    _write_jsonl(tmp_path / "math.jsonl", MATH_ROWS)
    meta = math_sets.build(
        tmp_path / "out", dataset="math", source=str(tmp_path / "math.jsonl"), template="boxed"
    )
    rows = oracle.read_rows(tmp_path / "out" / "test.parquet")
    assert [r["reward_model"]["ground_truth"] for r in rows] == ["\\frac{1}{2}", "\\{1, 2\\}"]
    assert rows[0]["extra_info"]["level"] == "Level 2" and rows[0]["extra_info"]["subject"] == "Prealgebra"
    assert rows[0]["extra_info"]["template"] == "boxed" and rows[0]["prompt"][0]["role"] == "system"
    assert meta["statistics"]["test"]["skipped_without_answer"] == 1
    assert not (tmp_path / "out" / "train.parquet").exists()


def test_last_boxed_edge_cases():
    assert math_sets.last_boxed("\\boxed{x^{2}} and \\fbox{3}") == "3"
    assert math_sets.last_boxed("so the answer is $\\boxed 5$.") == "5"
    assert math_sets.last_boxed("\\boxed{unclosed") is None
    assert math_sets.last_boxed("no answer") is None


def test_math500_and_aime_layouts(tmp_path, oracle):
    pq.write_table(pa.Table.from_pylist(MATH500_ROWS), tmp_path / "test.parquet")
    math_sets.build(tmp_path / "m500", dataset="math500", source=str(tmp_path / "test.parquet"))
    row = oracle.read_rows(tmp_path / "m500" / "test.parquet")[0]
    assert row["reward_model"]["ground_truth"] == "2" and row["data_source"] == "math500"
    assert row["extra_info"]["source_id"] == "test/algebra/1.json" and row["extra_info"]["level"] == "1"

    (tmp_path / "aime24.json").write_text(json.dumps(AIME_ROWS))
    math_sets.build(tmp_path / "a24", dataset="aime24", source=str(tmp_path / "aime24.json"))
    row = oracle.read_rows(tmp_path / "a24" / "test.parquet")[0]
    assert (row["reward_model"]["ground_truth"], row["extra_info"]["source_id"]) == ("204", "60")

    # HuggingFaceH4/aime_2024 ships its 30 problems as a "train" split: a snapshot directory maps it to test.
    pq.write_table(pa.Table.from_pylist(AIME_ROWS), tmp_path / "train-00000-of-00001.parquet")
    snapshot = tmp_path / "h4"
    snapshot.mkdir()
    (tmp_path / "train-00000-of-00001.parquet").rename(snapshot / "train-00000-of-00001.parquet")
    math_sets.build(tmp_path / "a24dir", dataset="aime24", source=str(snapshot))
    assert sorted(os.listdir(tmp_path / "a24dir")) == ["meta.json", "test.parquet"]

    _write_jsonl(tmp_path / "aime25.jsonl", [{"problem": "P", "answer": 70, "id": "I-1"}])
    math_sets.build(tmp_path / "a25", dataset="aime25", source=str(tmp_path / "aime25.jsonl"))
    row = oracle.read_rows(tmp_path / "a25" / "test.parquet")[0]
    assert (row["reward_model"]["ground_truth"], row["extra_info"]["source_id"], row["data_source"]) == (
        "70",
        "I-1",
        "aime25",
    )


def test_bad_sources_name_the_problem_and_write_nothing(tmp_path):
    _write_jsonl(tmp_path / "wrong.jsonl", [{"text": "x", "answer": "#### 1"}])
    with pytest.raises(BuildError, match="question"):
        math_sets.build(tmp_path / "a", dataset="gsm8k", source=str(tmp_path / "wrong.jsonl"))
    (tmp_path / "corrupt.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(BuildError, match="--source"):
        math_sets.build(tmp_path / "b", dataset="math500", source=str(tmp_path / "corrupt.parquet"))
    with pytest.raises(BuildError, match="--source"):
        math_sets.build(tmp_path / "c", dataset="math500", source=str(tmp_path / "missing.parquet"))
    with pytest.raises(BuildError, match="--dataset"):
        math_sets.build(tmp_path / "d", dataset="gsm9k", source=str(tmp_path / "wrong.jsonl"))
    assert not any((tmp_path / name).exists() for name in "abcd")


def _cli(*args, env_extra=None, timeout=120):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "data_prep", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_cli_rejects_an_unknown_dataset(tmp_path):
    result = _cli("math", "--dataset", "gsm9k", "--out", str(tmp_path / "x"))
    assert result.returncode == 2 and "--dataset" in result.stderr
    assert not (tmp_path / "x").exists()


def test_hub_offline_fails_fast_and_clearly(tmp_path):
    started = time.monotonic()
    result = _cli(
        "math",
        "--dataset",
        "gsm8k",
        "--out",
        str(tmp_path / "x"),
        env_extra={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"},
    )
    assert result.returncode == 2, result.stderr
    assert "openai/gsm8k" in result.stderr and "--source" in result.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "x").exists()


def test_force_replacing_a_two_split_build_with_a_test_only_one_removes_the_stale_train(tmp_path):
    source = tmp_path / "gsm8k"
    _write_jsonl(source / "train.jsonl", GSM8K_TRAIN)
    _write_jsonl(source / "test.jsonl", GSM8K_TEST)
    out = tmp_path / "out"
    math_sets.build(out, dataset="gsm8k", source=str(source))
    pq.write_table(pa.Table.from_pylist(MATH500_ROWS), tmp_path / "m500.parquet")
    with pytest.raises(BuildError, match="train.parquet"):
        math_sets.build(out, dataset="math500", source=str(tmp_path / "m500.parquet"))
    assert (out / "train.parquet").exists()
    math_sets.build(out, dataset="math500", source=str(tmp_path / "m500.parquet"), force=True)
    assert sorted(os.listdir(out)) == ["meta.json", "test.parquet"]
