"""Reads one run's records into the doctor's History: metrics, the zero-variance share, attempts, settings,
the response budget.

Metrics come from verl's file-logger files (`metrics.attempt-<k>.jsonl`, else `metrics.jsonl`); verl does not
log the share of GRPO groups whose samples all got the same reward, so it is computed here from the rollout
dumps of `trainer.rollout_data_dir` (rollouts/<step>.jsonl: one row per sample with its `score` and a `uid`
`<group>_<session>_<index>`; rows without a uid are grouped by prompt), and where a step has no dump from
`critic/score/max == critic/score/min` (one value for the whole batch: every group has zero variance). The
live check keeps it in run.json (`doctor.zero_std_group_share`) for every run. The response budget is the
run's `data.max_response_length`, and the actor's loss aggregation (which verl's `actor/entropy` follows) its
`loss_agg_mode` and `loss_scale_factor` (config.yaml, as verl resolved it; else run.json's overrides).

    python -m launch doctor results/countdown-3b/runs/countdown-3b__default__s1
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from launch.doctor.checks import DoctorInputError, Finding, History, diagnose
from launch.doctor.rules import DoctorSettings
from launch.records import Metrics, attempt_metrics_files, merge_step, metrics_files, read_metrics_file

TRAIN_STEP_KEY = "training/global_step"  # logged by verl on every training step, absent on validation
CONTROL_KEY = "reward.custom_reward_function.reward_kwargs.control"
BUDGET_KEY = "data.max_response_length"
LOSS_AGG_KEY = "actor_rollout_ref.actor.loss_agg_mode"
LOSS_SCALE_KEY = "actor_rollout_ref.actor.loss_scale_factor"
_SAME = 1e-9  # two rewards closer than this are the same reward

# Dump file path -> ((mtime, size), its figures): the live check re-reads only dumps that changed.
DumpCache = dict[str, tuple[tuple[int, int], dict]]


def _read_dump(path: Path, cache: DumpCache | None) -> dict:
    """Per dump file: its step's zero-variance group share and credit-without-answer share (or None)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    if cache is not None and str(path) in cache and cache[str(path)][0] == stamp:
        return cache[str(path)][1]
    groups: dict[str, list[float]] = {}
    rows = credited = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                row = json.loads(line)
                score = float(row["score"])
            except (ValueError, KeyError, TypeError):
                continue  # a dump being written: its last line may be incomplete
            group = str(row["uid"]).rsplit("_", 2)[0] if row.get("uid") else str(row.get("input"))
            groups.setdefault(group, []).append(score)
            if "has_answer" in row:
                rows += 1
                # The language reward credits words, not answers: it is not credit for an unparsed answer.
                answer_credit = score - float(row.get("lang_bonus") or 0.0)
                credited += not row["has_answer"] and (row.get("acc") == 1 or answer_credit > 0)
    sized = [scores for scores in groups.values() if len(scores) > 1]
    zero = sum(max(scores) - min(scores) < _SAME for scores in sized)
    result = {
        "zero_std_share": zero / len(sized) if sized else None,
        "credit_without_answer": credited / rows if rows else None,
    }
    if cache is not None:
        cache[str(path)] = (stamp, result)
    return result


def _dumps(directory: Path) -> dict[int, Path]:
    """<step>.jsonl generation dumps by step (none when the directory does not exist)."""
    return {int(p.stem): p for p in directory.glob("*.jsonl") if p.stem.isdigit()}


def zero_std_shares(
    metrics: Metrics, rollouts_dir: Path | None = None, cache: DumpCache | None = None
) -> dict[int, float]:
    """Share of groups with zero reward variance per training step: dumps first, else score max == min."""
    shares = {}
    for step, path in _dumps(rollouts_dir).items() if rollouts_dir else ():
        if (share := _read_dump(path, cache)["zero_std_share"]) is not None:
            shares[step] = share
    for step, data in metrics.items():
        low, high = data.get("critic/score/min"), data.get("critic/score/max")
        if step not in shares and low is not None and high is not None and abs(high - low) < _SAME:
            shares[step] = 1.0
    return dict(sorted(shares.items()))


def _credit_without_answer(run_dir: Path, cache: DumpCache | None) -> dict[int, float]:
    rates: dict[int, float] = {}
    for kind in ("rollouts", "validation"):
        for step, path in _dumps(run_dir / kind).items():
            rate = _read_dump(path, cache)
            if rate["credit_without_answer"] is not None:
                rates[step] = max(rates.get(step, 0.0), rate["credit_without_answer"])
    return rates


def _read_run_json(run_dir: Path) -> dict:
    path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise DoctorInputError(f"{run_dir}: no such run directory")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DoctorInputError(f"{path}: missing (not a run written by `python -m launch`)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise DoctorInputError(f"{path}: unreadable: {error}") from None
    if not isinstance(record, dict):
        raise DoctorInputError(f"{path}: expected a JSON object, got {type(record).__name__}")
    return record


def config_value(run_dir: Path, record: dict, key: str) -> object:
    """A dotted key of the run's config: config.yaml as verl resolved it, else run.json's overrides."""
    import yaml

    value = (record.get("overrides") or {}).get(key)
    try:
        node = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        for part in key.split("."):
            node = node[part]
        value = node
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        pass
    return value


def budget_from(value: object) -> int | None:
    """A response budget as a positive token count, else None."""
    return value if isinstance(value, int) and value > 0 else None


def response_budget(run_dir: Path, record: dict) -> int | None:
    """data.max_response_length of the run."""
    return budget_from(config_value(run_dir, record, BUDGET_KEY))


def is_control(record: dict) -> bool:
    """Whether the run's reward is a control (run.json's reward_kwargs; a record written before that field
    existed carries it only among the flattened overrides)."""
    overrides = record.get("overrides") or {}
    control = (record.get("reward_kwargs") or {}).get("control")
    if control is None:
        control = overrides.get(f"+{CONTROL_KEY}", overrides.get(CONTROL_KEY))
    return control not in (None, "none")


def settings_of(record: dict) -> DoctorSettings:
    """The thresholds the run was started with (run.json), else the defaults."""
    return DoctorSettings.model_validate((record.get("doctor") or {}).get("settings") or {})


def load_history(run_dir: Path, cache: DumpCache | None = None) -> tuple[History, dict]:
    """A run's History and its run.json; DoctorInputError when the records cannot be read."""
    record = _read_run_json(run_dir)
    attempt_files = attempt_metrics_files(run_dir)
    files = metrics_files(run_dir)
    metrics: Metrics = {}
    per_file: dict[Path, set[int]] = {}
    for path in files:
        try:
            part, _ = read_metrics_file(path)
        except OSError as error:
            raise DoctorInputError(f"{path}: unreadable: {error.strerror}") from None
        per_file[path] = {step for step, data in part.items() if TRAIN_STEP_KEY in data}
        for step, data in part.items():
            merge_step(metrics, step, data)
    attempt_steps = [
        (entry.get("attempt", k), entry.get("exit_code"), per_file.get(attempt_files.get(k), set()))
        for k, entry in enumerate(record.get("attempts") or [], start=1)
        if attempt_files
    ]
    planned = (record.get("overrides") or {}).get("trainer.total_training_steps")
    # A run trained in segments (launch/ref_reset.py): the last attempt was planned to end where its segment does.
    segment = ((record.get("attempts") or [{}])[-1]).get("segment")
    if segment:
        planned = segment["steps"][1]
    history = History(
        metrics=metrics,
        zero_std_share=zero_std_shares(metrics, run_dir / "rollouts", cache),
        credit_without_answer=_credit_without_answer(run_dir, cache),
        attempt_steps=attempt_steps,
        planned_steps=planned if isinstance(planned, int) and planned > 0 else None,
        control=is_control(record),
        response_budget=response_budget(run_dir, record),
        loss_agg_mode=str(config_value(run_dir, record, LOSS_AGG_KEY) or "token-mean"),
        loss_scale_factor=config_value(run_dir, record, LOSS_SCALE_KEY),
    )
    return history, record


def diagnose_run(run_dir: Path, cache: DumpCache | None = None) -> tuple[list[Finding], History, dict]:
    history, record = load_history(Path(run_dir), cache)
    try:
        settings = settings_of(record)
    except ValidationError as error:
        raise DoctorInputError(f"{Path(run_dir) / 'run.json'}: doctor.settings: {error}") from None
    return diagnose(history, settings), history, record
