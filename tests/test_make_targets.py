"""Every make target takes the variables `make help` lists for it: the command line the Makefile builds with
them (`make -n TARGET VAR=...`) goes through the real argument parser of the command it runs, and every value
reaches that command line (no variable silently dropped).

    python -m pytest tests/test_make_targets.py -q
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess

import pytest

from launch.recipe import REPO_ROOT

# A value for each variable a help line can name (the parser is under test, not the run).
VALUES = {
    "RECIPE": "countdown-mini",
    "VARIANT": "grpo",
    "SEED": "4",
    "PROFILE": "1x80gb",
    "STEPS": "3",
    "ROLLOUT": "vllm",
    "LAUNCHER": "ray",
    "DRY_RUN": "1",
    "DEVICE": "cpu",
    "RUN_DIR": "results/countdown-mini/runs/countdown-mini__grpo__s1",
    "MODEL": "Qwen/Qwen2.5-0.5B",
    "TASK": "countdown",
    "DATA_DIR": "data-test",
    "TEMPLATE": "instruct",
}
# Variables of the environment build, not of a command's arguments.
NOT_ARGUMENTS = {"VENV", "GPU"}
COMMAND = re.compile(r"-m (launch|mini|data_prep) (.*)$")


def _help() -> dict[str, set[str]]:
    """target -> the variables its `make help` line names (CAPS words, or `$(NAME)`)."""
    lines = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    targets = {}
    for line in lines.stdout.splitlines()[1:]:
        target, description = line.split(maxsplit=1)
        targets[target] = set(re.findall(r"\b([A-Z][A-Z_]+)\b(?==|\)|\s|$)", description)) & (
            set(VALUES) | NOT_ARGUMENTS
        )
    return targets


HELP = _help()


class Parsed(Exception):
    """Raised in place of running the command once its arguments parsed."""


def _parse_only(monkeypatch) -> None:
    original = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)


def _run_parser(module: str, argv: list[str]) -> argparse.Namespace:
    if module == "launch":
        from launch.__main__ import run_command

        call = lambda: run_command(argv[0], argv[1:])  # noqa: E731
    elif module == "mini":
        from mini.__main__ import main

        call = lambda: main(argv)  # noqa: E731
    else:
        from data_prep.cli import main

        call = lambda: main(argv)  # noqa: E731
    with pytest.raises(Parsed) as parsed:
        call()
    return parsed.value.args[0]


def _commands_parse(target: str, names: list[str], monkeypatch) -> list[tuple[str, list[str]]]:
    """The python -m commands `make TARGET NAME=value...` runs, each put through its parser."""
    assignments = [f"{name}={VALUES[name]}" for name in names]
    dry = subprocess.run(["make", "-n", target, *assignments], cwd=REPO_ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    commands = [COMMAND.search(line) for line in dry.stdout.splitlines()]
    commands = [(match[1], shlex.split(match[2])) for match in commands if match]
    assert commands, f"make -n {target} runs no python -m launch/mini/data_prep command:\n{dry.stdout}"
    _parse_only(monkeypatch)
    for module, argv in commands:
        try:
            _run_parser(module, argv)
        except SystemExit as error:  # argparse refused the arguments
            pytest.fail(
                f"make {target} {' '.join(assignments)}: python -m {module} {shlex.join(argv)}: exit {error}"
            )
    return commands


@pytest.mark.parametrize("target", sorted(t for t, names in HELP.items() if names - NOT_ARGUMENTS))
def test_each_targets_variables_reach_a_command_its_parser_accepts(target, monkeypatch):
    names = sorted(HELP[target] - NOT_ARGUMENTS)
    commands = _commands_parse(target, names, monkeypatch)
    words = {arg for _, argv in commands for arg in argv}
    words |= {word for arg in words for word in arg.split("/")}  # DATA_DIR=d reaches `--out d/countdown/base`
    dropped = [name for name in names if VALUES[name] not in words and name != "DRY_RUN"]
    assert not dropped, f"make {target}: {dropped} never reach the command line"


def _runs_a_command(target: str) -> bool:
    dry = subprocess.run(["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True)
    return any(COMMAND.search(line) for line in dry.stdout.splitlines())


RUN_TARGETS = [target for target in sorted(HELP) if _runs_a_command(target)]
GLOBAL = re.findall(
    r"\b([A-Z]+)=",
    subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.splitlines()[
        0
    ],
)


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_the_variables_help_lists_for_every_target_never_break_one(target, monkeypatch):
    """`make mini PROFILE=...` once died in argparse: a global variable either reaches a parser that takes it
    or is not passed at all."""
    names = sorted((set(GLOBAL) | HELP[target]) & set(VALUES))
    _commands_parse(target, names, monkeypatch)


def test_help_lists_the_variables_of_the_run_targets():
    assert {"VARIANT", "SEED", "STEPS", "ROLLOUT", "PROFILE"} <= HELP["mini"]
    assert {"RECIPE", "VARIANT", "SEED", "PROFILE"} <= HELP["train"]
