"""Countdown builds: solvable rows in verl's format, no duplicates or leaks, deterministic, safe to rerun."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_prep import countdown, countdown_hub
from data_prep.rows import BuildError
from data_prep.templates import get_template
from data_prep.writer import sha256


def _keys(rows):
    return [
        (
            tuple(sorted(r["reward_model"]["ground_truth"]["numbers"])),
            r["reward_model"]["ground_truth"]["target"],
        )
        for r in rows
    ]


def test_every_row_is_solvable_with_each_number_once(small_countdown, oracle):
    out, _ = small_countdown
    for split in ("train", "test"):
        rows = oracle.read_rows(out / f"{split}.parquet")
        for index, row in enumerate(rows):
            truth = row["reward_model"]["ground_truth"]
            solution = row["extra_info"]["solution"]
            value, intermediates = oracle.evaluate(solution)
            assert value == truth["target"], row
            assert oracle.literals(solution) == sorted(truth["numbers"]), row
            assert all(v.denominator == 1 and v > 0 for v in intermediates)  # the construction's own rule
            assert 3 <= len(truth["numbers"]) <= 4 and all(1 <= n <= 100 for n in truth["numbers"])
            assert 1 <= truth["target"] <= 100
            assert row["extra_info"] == {
                "split": split,
                "index": index,
                "template": "base",
                "solution": solution,
                "source": "generated",
                "source_index": None,
                "solvable": True,
            }


def test_rows_follow_the_verl_contract(small_countdown, oracle):
    out, _ = small_countdown
    row = oracle.read_rows(out / "test.parquet")[0]
    truth = row["reward_model"]["ground_truth"]
    assert row["data_source"] == "countdown" and row["ability"] == "arithmetic"
    assert row["reward_model"]["style"] == "rule" and set(truth) == {"target", "numbers"}
    assert row["prompt"] == get_template("base").messages(
        countdown.question(truth["numbers"], truth["target"])
    )
    text = row["prompt"][-1]["content"]
    assert all(str(n) in text for n in truth["numbers"]) and str(truth["target"]) in text


def test_no_duplicates_within_or_across_splits(small_countdown, oracle):
    out, meta = small_countdown
    train, test = (_keys(oracle.read_rows(out / f"{split}.parquet")) for split in ("train", "test"))
    assert len(set(train)) == len(train) == meta["arguments"]["train_size"]
    assert len(set(test)) == len(test) == meta["arguments"]["test_size"]
    assert not set(train) & set(test)


def test_meta_records_arguments_hashes_and_real_statistics(small_countdown, oracle):
    out, meta = small_countdown
    assert json.loads((out / "meta.json").read_text()) == meta
    assert meta["arguments"]["train_size"] == 3000 and meta["seed"] == 0
    assert meta["generator_version"] == countdown.GENERATOR_VERSION
    for split in ("train", "test"):
        data = (out / f"{split}.parquet").read_bytes()
        assert meta["files"][f"{split}.parquet"] == {"sha256": sha256(data), "bytes": len(data)}
        rows = oracle.read_rows(out / f"{split}.parquet")
        assert meta["rows"][split] == len(rows)
        counts = Counter(str(len(r["reward_model"]["ground_truth"]["numbers"])) for r in rows)
        assert meta["statistics"][split]["problems_by_number_count"] == dict(counts)
        targets = [r["reward_model"]["ground_truth"]["target"] for r in rows]
        assert meta["statistics"][split]["targets"]["min"] == min(targets)
        assert meta["statistics"][split]["targets"]["max"] == max(targets)
        assert sum(meta["statistics"][split]["targets_by_tens"].values()) == len(rows)


def test_same_arguments_give_identical_bytes_and_test_split_ignores_train_size(small_countdown, tmp_path):
    out, meta = small_countdown
    arguments = meta["arguments"]
    again = tmp_path / "again"
    countdown.build(again, **arguments)
    for name in ("train.parquet", "test.parquet", "meta.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    fewer = tmp_path / "fewer"
    countdown.build(fewer, **{**arguments, "train_size": 50})
    assert (fewer / "test.parquet").read_bytes() == (out / "test.parquet").read_bytes()
    other_seed = tmp_path / "seed1"
    countdown.build(other_seed, **{**arguments, "train_size": 50, "seed": 1})
    assert (other_seed / "test.parquet").read_bytes() != (out / "test.parquet").read_bytes()


def test_default_test_split_is_the_pinned_versioned_set(tmp_path):
    meta = countdown.build(tmp_path / "cd", train_size=1)
    assert meta["generator_version"] == "countdown-v1"
    assert meta["statistics"]["test"]["fingerprint"] == countdown.DEFAULT_TEST_FINGERPRINT


def test_rerun_is_a_no_op_and_different_content_needs_force(tmp_path):
    out = tmp_path / "cd"
    small = {"train_size": 40, "test_size": 10}
    countdown.build(out, **small)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    countdown.build(out, **small)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    with pytest.raises(BuildError, match="--force"):
        countdown.build(out, **small, seed=7)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps

    meta = countdown.build(out, **small, seed=7, force=True)
    assert json.loads((out / "meta.json").read_text())["seed"] == 7 == meta["seed"]
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "test.parquet", "train.parquet"]


def test_if_missing_keeps_a_complete_build_and_rebuilds_a_broken_one(tmp_path):
    out = tmp_path / "cd"
    first = countdown.build(out, train_size=40, test_size=10)
    kept = countdown.build(out, train_size=99, test_size=10, if_missing=True)
    assert kept == first and pq.read_metadata(out / "train.parquet").num_rows == 40

    (out / "test.parquet").unlink()
    restored = countdown.build(out, train_size=40, test_size=10, if_missing=True)
    assert (
        restored == first
        and sha256((out / "test.parquet").read_bytes()) == first["files"]["test.parquet"]["sha256"]
    )


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"min_numbers": 5, "max_numbers": 4}, "--min-numbers"),
        ({"min_numbers": 1}, "--min-numbers"),
        ({"max_numbers": 9}, "--max-numbers"),
        ({"test_size": 0}, "--test-size"),
        (
            {"max_number": 2, "min_numbers": 3, "max_numbers": 3, "max_target": 5, "train_size": 1000},
            "--train-size",
        ),
        ({"template": "nope"}, "--template"),
    ],
)
def test_bad_arguments_name_the_argument_and_write_nothing(tmp_path, arguments, named):
    out = tmp_path / "never"
    with pytest.raises(BuildError, match=named):
        countdown.build(out, **{"train_size": 20, "test_size": 5, **arguments})
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("keep me")
    with pytest.raises(BuildError, match="--out"):
        countdown.build(tmp_path / "file", train_size=5, test_size=5)
    assert (tmp_path / "file").read_text() == "keep me"


def test_exhausted_ranges_fail_clearly_instead_of_looping(tmp_path):
    out = tmp_path / "never"
    # 10 multisets of three numbers in 1..3 times 100 targets pass the upper bound, but far fewer are reachable.
    with pytest.raises(BuildError, match="--train-size"):
        countdown.build(out, train_size=400, test_size=10, min_numbers=3, max_numbers=3, max_number=3)
    assert not out.exists()


def _hub_copy(path: Path) -> list[tuple[list[int], int]]:
    problems = [
        ([44, 19, 35], 98),
        ([1, 1, 1], 100),
        ([63, 95, 96], 64),
        ([44, 19, 35], 98),
        ([2, 3, 4, 5], 120),
    ]
    problems += [([7, 3, 25, 50], 100), ([8, 8, 3, 3], 24), ([1, 2], 50)]
    pq.write_table(pa.table({"target": [t for _, t in problems], "nums": [n for n, _ in problems]}), path)
    return problems


def test_hub_layout_import_keeps_order_and_reports_unsolvable_rows(tmp_path, oracle):
    source = tmp_path / "countdown-tasks.parquet"
    problems = _hub_copy(source)
    meta = countdown_hub.build(tmp_path / "hub", source=str(source), train_size=5, test_size=3)
    train, test = (oracle.read_rows(tmp_path / "hub" / f"{s}.parquet") for s in ("train", "test"))
    assert [
        (r["reward_model"]["ground_truth"]["numbers"], r["reward_model"]["ground_truth"]["target"])
        for r in train + test
    ] == [(list(n), t) for n, t in problems]
    assert [r["extra_info"]["source_index"] for r in train + test] == list(range(8))
    assert (
        meta["statistics"]["train"]["unsolvable_rows"] == 1
        and meta["statistics"]["train"]["duplicate_rows"] == 1
    )
    assert meta["statistics"]["test"]["unsolvable_rows"] == 1  # [1, 2] cannot make 50
    for row in train + test:
        truth, solution = row["reward_model"]["ground_truth"], row["extra_info"]["solution"]
        assert row["extra_info"]["solvable"] == (solution is not None)
        if solution is not None:
            assert oracle.evaluate(solution)[0] == truth["target"]
            assert oracle.literals(solution) == sorted(truth["numbers"])


def test_hub_import_errors_name_the_argument(tmp_path):
    source = tmp_path / "countdown-tasks.parquet"
    _hub_copy(source)
    with pytest.raises(BuildError, match="--train-size"):
        countdown_hub.build(tmp_path / "a", source=str(source), train_size=8, test_size=3)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"target": [1, 2], "numbers": [[1], [2]]}), bad)
    with pytest.raises(BuildError, match="nums"):
        countdown_hub.build(tmp_path / "b", source=str(bad), train_size=1, test_size=1)
    with pytest.raises(BuildError, match="--source"):
        countdown_hub.build(
            tmp_path / "c", source=str(tmp_path / "missing.parquet"), train_size=1, test_size=1
        )
    assert not any((tmp_path / name).exists() for name in "abc")
