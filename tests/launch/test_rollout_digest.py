"""The rollout digest of dumps written by verl 0.9.1's own dump writer (invented texts, tmp dirs)."""

import json
from pathlib import Path

import numpy as np

from launch.cli import digest_main
from launch.rollout_digest import (
    DIGEST_FILE,
    EXAMPLE_CHARS,
    EXAMPLE_STEPS,
    digest_dumps,
    example_steps,
    is_mixing,
    is_self_correcting,
    is_verifying,
    read_digest,
    write_digest,
)

GUESS = "guess </think> <answer> ( 8 - 7 ) * 5 </answer>"
SEARCH = "try 8 - 7 = 1 , 1 * 5 = 5 #5 yes verify ( 8 - 7 ) * 5 = 5 </think> <answer> ( 8 - 7 ) * 5 </answer>"


def write_dump(folder: Path, step: int, outputs: list[str], scores: list[float], extra=None) -> None:
    """One <step>.jsonl exactly as verl's trainer writes it (rollout_data_dir / validation_data_dir)."""
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    n = len(outputs)
    PPOTrainer._write_generations(
        inputs=["numbers 8 7 5 target #5 <think>"] * n,
        outputs=outputs,
        gts=[{"target": 5, "numbers": [8, 7, 5]}] * n,
        scores=scores,
        reward_extra_infos_dict={"uid": [f"u{i}" for i in range(n)], **(extra or {})},
        dump_path=str(folder),
        global_steps=step,
    )


def test_counts_lengths_and_the_best_example_of_each_kind(tmp_path):
    long_search = SEARCH + " x" * EXAMPLE_CHARS
    write_dump(tmp_path / "rollouts", 1, [GUESS, SEARCH, GUESS, long_search], [0.0, 1.0, 1.0, 1.0])
    write_dump(tmp_path / "rollouts", 2, [SEARCH] * 3, [1.0, 0.0, 1.0])
    with (tmp_path / "rollouts" / "2.jsonl").open("a") as dump:
        dump.write("{torn line\n")
    digest = digest_dumps(tmp_path)
    assert digest["source"] == "rollouts" and digest["dump_files"] == 2
    assert digest["skipped_lines"] == ["rollouts/2.jsonl line 4"]
    first, second = digest["steps"]
    lengths = [len(GUESS), len(SEARCH), len(GUESS), len(long_search)]
    assert first["responses"] == 4 and first["verifying"] == 2 and first["searching"] == 2
    assert first["rewarded"] == 3 and first["score_mean"] == 0.75
    assert first["length_counts"] == [[length, lengths.count(length)] for length in sorted(set(lengths))]
    assert first["length_median"] == float(np.median(lengths)) and first["length_mean"] == np.mean(lengths)
    # the first of the highest-scored responses wins; a long one is cut and says so
    assert first["examples"]["plain"] == {"score": 1.0, "output": GUESS, "truncated": False}
    assert first["examples"]["verify"] == {"score": 1.0, "output": SEARCH, "truncated": False}
    assert second["responses"] == 3 and "plain" not in second["examples"]
    write_dump(tmp_path / "rollouts", 3, [long_search], [1.0])
    cut = digest_dumps(tmp_path)["steps"][2]["examples"]["verify"]
    assert cut["truncated"] and cut["output"] == long_search[:EXAMPLE_CHARS]


def test_reward_keys_in_the_row_decide_verification_before_the_text(tmp_path):
    write_dump(tmp_path / "validation", 0, [SEARCH, GUESS], [1.0, 0.0], extra={"has_verify": [0, 1]})
    (step,) = digest_dumps(tmp_path)["steps"]
    assert step["verifying"] == 1 and step["examples"]["verify"]["output"] == GUESS


CAUGHT = (
    "try 8 - 7 = 1 , 5 + 1 = 7 #5 no wait 5 + 1 = 6 #5 no , 5 - 1 = 4 #5 no , 5 * 1 = 5 #5 yes "
    "verify 5 * ( 8 - 7 ) = 5 </think> <answer> 5 * ( 8 - 7 ) </answer>"
)


def test_self_corrections_are_counted_from_reward_keys_then_text_and_exemplified(tmp_path):
    write_dump(tmp_path / "rollouts", 1, [CAUGHT, SEARCH, GUESS, CAUGHT], [0.0, 1.0, 0.0, 1.0])
    (step,) = digest_dumps(tmp_path)["steps"]
    assert step["correcting"] == 2 and step["verifying"] == 3
    assert step["examples"]["correct"] == {"score": 1.0, "output": CAUGHT, "truncated": False}
    assert is_self_correcting({"output": GUESS, "self_corrections": 1})
    assert not is_self_correcting({"output": CAUGHT, "has_self_correct": 0})
    assert is_self_correcting({"output": CAUGHT}) and not is_self_correcting({"output": SEARCH})


def test_mixing_is_counted_from_the_reward_key_then_the_text(tmp_path):
    mixed = SEARCH.replace(" verify ", " 验 ")
    write_dump(tmp_path / "rollouts", 1, [SEARCH, mixed], [1.0, 1.0])
    assert digest_dumps(tmp_path)["steps"][0]["mixing"] == 1
    assert is_mixing({"output": mixed}) and not is_mixing({"output": SEARCH})
    assert is_mixing({"output": SEARCH, "lang_consistency": 0.5})  # the key says so (a zh-target run, say)
    assert not is_mixing({"output": mixed, "lang_consistency": 1.0})


def test_is_verifying_uses_reward_keys_then_text():
    assert is_verifying({"output": GUESS, "verify_phrases": 2})
    assert not is_verifying({"output": SEARCH, "has_verify": False})
    assert is_verifying({"output": "Wait, that uses 5 twice."})
    assert not is_verifying({"output": "awaited results"})  # word boundaries: no match inside words
    assert is_verifying({"output": "Let's double-check this."})


def test_examples_are_kept_at_evenly_spread_steps_of_a_long_run():
    assert example_steps([1, 2, 3]) == {1, 2, 3}
    steps = list(range(1, 501))
    kept = example_steps(steps)
    assert len(kept) == EXAMPLE_STEPS and {1, 500} <= kept
    gaps = np.diff(sorted(kept))
    assert gaps.max() - gaps.min() <= 1


def test_written_digest_reads_back_one_step_per_line_and_cli_refuses_a_dir_without_dumps(tmp_path, capsys):
    for step in range(1, 31):
        write_dump(tmp_path / "rollouts", step, [GUESS, SEARCH] * 64, [0.0, 1.0] * 64)
    assert digest_main([str(tmp_path)]) == 0
    path = tmp_path / DIGEST_FILE
    assert read_digest(tmp_path) == json.loads(path.read_text()) == digest_dumps(tmp_path)
    assert len(path.read_text().splitlines()) == 30 + 2
    assert path.stat().st_size < 20_000
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_digest(empty) is None and read_digest(empty) is None
    assert digest_main([str(empty)]) == 1 and "no rollouts/*.jsonl" in capsys.readouterr().err
