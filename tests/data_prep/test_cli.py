"""`python -m data_prep`: real exit codes and messages, the overwrite rules, and the templates listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from data_prep.cli import main
from data_prep.templates import ANSWER_TAG, BOXED, TEMPLATES, TERSE


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "data_prep", *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_build_rerun_and_force_through_the_real_entry_point(tmp_path):
    out = str(tmp_path / "cd")
    small = ["--train-size", "64", "--test-size", "16"]
    first = _cli("countdown", "--out", out, *small)
    assert first.returncode == 0, first.stderr
    assert (
        "train 64 rows" in first.stdout
        and json.loads((tmp_path / "cd" / "meta.json").read_text())["rows"]["test"] == 16
    )

    again = _cli("countdown", "--out", out, *small)
    assert again.returncode == 0 and "nothing written" in again.stderr

    changed = _cli("countdown", "--out", out, *small, "--seed", "3")
    assert changed.returncode == 2 and "--force" in changed.stderr

    forced = _cli("countdown", "--out", out, *small, "--seed", "3", "--force")
    assert forced.returncode == 0 and json.loads((tmp_path / "cd" / "meta.json").read_text())["seed"] == 3

    kept = _cli("countdown", "--out", out, "--if-missing")
    assert kept.returncode == 0 and "--if-missing" in kept.stderr


def test_bad_arguments_exit_2_naming_the_argument_and_write_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["countdown", "--out", str(out), "--min-numbers", "5", "--max-numbers", "4"]) == 2
    assert "--min-numbers" in capsys.readouterr().err
    assert main(["game24", "--out", str(out), "--test-fraction", "2"]) == 2
    assert "--test-fraction" in capsys.readouterr().err
    assert (
        main(["math", "--dataset", "gsm8k", "--out", str(out), "--source", str(tmp_path / "nope.jsonl")]) == 2
    )
    assert "--source" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["countdown", "--out", str(out), "--template", "fancy"])
    assert exited.value.code == 2 and "--template" in capsys.readouterr().err
    assert not out.exists()


def test_countdown_hub_import_fails_fast_offline(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    started = time.monotonic()
    result = _cli("countdown", "--source", "hub", "--out", str(tmp_path / "hub"), env=env)
    assert (
        result.returncode == 2
        and "Jiayi-Pan/Countdown-Tasks-3to4" in result.stderr
        and "--source" in result.stderr
    )
    assert time.monotonic() - started < 60 and not (tmp_path / "hub").exists()


def test_templates_listing_shows_each_template_and_its_answer_format(capsys):
    assert main(["templates"]) == 0
    listing = capsys.readouterr().out
    for template in TEMPLATES.values():
        assert f"== {template.name}: answer_format={template.answer_format}" in listing
    assert "custom_chat_template" in listing and listing.count("<think>") >= 1


def test_templates_ask_for_the_answer_format_their_reward_reads():
    assert {"base", "instruct"} <= set(TEMPLATES)
    for template in TEMPLATES.values():
        if template.question_style == TERSE:  # its model learned the format in pre-training (mini round trip)
            continue
        instructions = (template.system or "") + template.user
        if template.answer_format == ANSWER_TAG:
            assert "<answer>" in instructions and "</answer>" in instructions
        else:
            assert template.answer_format == BOXED and "\\boxed{}" in instructions
        assert "{question}" in template.user
    base = TEMPLATES["base"]
    assert (
        base.prefills_think
        and base.render_text("Q?").endswith("<think>")
        and "User: Q?" in base.render_text("Q?")
    )
