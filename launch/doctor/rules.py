"""The run doctor's findings, their thresholds and windows: the one place where every default lives.

A recipe may override any of them, and name findings that stop the run, in a `doctor:` block:

    doctor:
      stop_on: [non-finite, no-progress]     # default: none; the run is only warned about
      no-signal: {share: 0.95}               # any field below, per finding

Where the defaults come from. Measured: the CPU smoke run (`python -m launch smoke`, random 107k-parameter
model, 2 GRPO steps, 2026-12-01) logged `response_length/clip_ratio` 1.0 and 0.875, `actor/entropy` 6.22
(= ln 512, its uniform 512-token vocabulary), `actor/kl_loss` and `actor/pg_clipfrac` 0.0, and every
rollout group scored 0 (zero-variance share 1.0): healthy-run figures are not available on CPU, so every
threshold below is a judgement call, stated as such, set far from what a learning run logs. Published:
TRL #3857 reports `frac_reward_zero_std` = 1 for a run that learned nothing; TRL #3903 a format reward
reaching 1 with accuracy at 0. Windows count logged training steps; a run planned for fewer steps than a
window uses its whole length as the window.

    python -m pytest tests/launch/test_doctor.py -q
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FindingName = Literal[
    "no-signal",
    "format-hacking",
    "truncation",
    "entropy-collapse",
    "kl-blowup",
    "non-finite",
    "no-progress",
    "val-collapse",
    "reward-parse",
]
FINDINGS: tuple[str, ...] = FindingName.__args__
# A control run (reward_kwargs.control set) is expected not to gain accuracy: only the finding that is
# defined by accuracy staying flat is not checked for it.
CONTROL_EXEMPT = ("format-hacking",)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoSignal(_Rule):
    # Share of GRPO groups whose samples all got the same reward (zero advantage, no gradient). At 0.9,
    # 9 groups in 10 teach nothing; TRL #3857's failed run sat at 1.0.
    share: float = Field(0.9, gt=0, le=1)
    window: int = Field(5, ge=1)


class FormatHacking(_Rule):
    # Validation format rate up by 0.3 or more (absolute) since the first validation, and 0.3 above the
    # best accuracy so far, while validation accuracy rose by less than 0.05: the shape of TRL #3903
    # (format to 1, accuracy 0). The gap keeps a model that was accurate from the start out of it.
    format_rise: float = Field(0.3, gt=0, le=1)
    acc_rise_max: float = Field(0.05, ge=0, le=1)


class Truncation(_Rule):
    # Share of a step's responses that reached data.max_response_length (launch.doctor.checks.truncated_shares;
    # not verl's `response_length/clip_ratio`, which compares with the padded width). One in five cut off
    # means the budget, not the model, ends the reasoning.
    clip_ratio: float = Field(0.2, gt=0, le=1)
    window: int = Field(3, ge=1)


class EntropyCollapse(_Rule):
    # `actor/entropy` in nats per token; a sampling policy near 0.05 is almost deterministic.
    entropy: float = Field(0.05, gt=0)
    # Below this validation accuracy a near-deterministic policy has stopped exploring too early.
    acc_near_one: float = Field(0.9, gt=0, le=1)
    window: int = Field(3, ge=1)


class KlBlowup(_Rule):
    # Early level: the median of the first `baseline_steps` training steps. A value counts as blown up
    # when above `factor` x that level and above the floor (KL starts at 0: the floor is what binds).
    baseline_steps: int = Field(5, ge=1)
    factor: float = Field(10.0, gt=1)
    kl_floor: float = Field(0.1, gt=0)  # `actor/kl_loss` (low_var_kl); R1-style runs log ~1e-3
    clipfrac_floor: float = Field(0.05, gt=0)  # `actor/pg_clipfrac`, share of clipped tokens
    window: int = Field(2, ge=1)


class ValCollapse(_Rule):
    # Validation accuracy this far (absolute) below its best so far; ignored while the best is tiny.
    # 0.1 is about 6 standard errors at acc 0.5 on a 1,024-problem test set.
    drop: float = Field(0.1, gt=0, le=1)
    min_best: float = Field(0.05, ge=0, le=1)


class RewardParse(_Rule):
    # Shares of scored responses: math checks that hit their deadline (`timed_out`), and responses with
    # no readable answer (`has_answer` 0) that still got credit (`acc` 1 or `score` > 0): open-r1 #293.
    timeout_rate: float = Field(0.01, ge=0, le=1)
    credit_without_answer_rate: float = Field(0.01, ge=0, le=1)


class DoctorSettings(_Rule):
    """A recipe's `doctor:` block; every field has the default documented above."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    stop_on: list[FindingName] = Field(default_factory=list)
    no_signal: NoSignal = Field(default_factory=NoSignal, alias="no-signal")
    format_hacking: FormatHacking = Field(default_factory=FormatHacking, alias="format-hacking")
    truncation: Truncation = Field(default_factory=Truncation)
    entropy_collapse: EntropyCollapse = Field(default_factory=EntropyCollapse, alias="entropy-collapse")
    kl_blowup: KlBlowup = Field(default_factory=KlBlowup, alias="kl-blowup")
    val_collapse: ValCollapse = Field(default_factory=ValCollapse, alias="val-collapse")
    reward_parse: RewardParse = Field(default_factory=RewardParse, alias="reward-parse")

    def as_record(self) -> dict:
        """What run.json keeps, so `python -m launch doctor` later applies the thresholds the run had."""
        return self.model_dump(by_alias=True)
