"""The run doctor while a run trains: the attempt wrapper polls it, prints an alarm the first time a finding
appears, and keeps the findings in run.json (`doctor.findings`, with `doctor.zero_std_group_share`).

It applies launch.doctor.checks to everything the run has logged so far, every `interval_s` seconds and once
more after the attempt ends (when `no-progress` can be judged). Findings already in run.json from an
earlier attempt are not announced again. Exercised by `python -m launch smoke` and tests/launch/test_doctor.py.
"""

from __future__ import annotations

from pathlib import Path

from launch import records
from launch.doctor.checks import DoctorInputError, Finding
from launch.doctor.history import DumpCache, diagnose_run
from launch.doctor.rules import DoctorSettings

ALARM_MARK = "!!! ZeroLab doctor"
# A step of a real run takes minutes; re-reading its records takes well under a second.
CHECK_INTERVAL_S = 30.0


def alarm_line(finding: Finding) -> str:
    return f"\n{ALARM_MARK}: {finding.line()}\n"


class LiveDoctor:
    def __init__(self, run_dir: Path, settings: DoctorSettings, interval_s: float | None = None):
        self.run_dir = run_dir
        self.interval_s = CHECK_INTERVAL_S if interval_s is None else interval_s
        earlier = (records.read_run_json(run_dir).get("doctor") or {}).get("findings") or []
        self.seen = {finding["name"] for finding in earlier}
        self.cache: DumpCache = {}
        self.next_check = 0.0
        records.write_doctor(run_dir, settings=settings.as_record())

    def poll(self, now: float) -> list[Finding]:
        """New findings, when a check is due; unreadable records mid-write are retried at the next poll."""
        if now < self.next_check:
            return []
        self.next_check = now + self.interval_s
        try:
            return self.check()
        except (DoctorInputError, OSError):
            return []

    def final_check(self) -> list[Finding]:
        """The check after the attempt ended, whatever the interval."""
        self.next_check = 0.0
        return self.poll(0.0)

    def check(self) -> list[Finding]:
        findings, history, _ = diagnose_run(self.run_dir, self.cache)
        records.write_doctor(
            self.run_dir,
            findings=[finding.as_record() for finding in findings],
            zero_std_group_share={str(step): share for step, share in history.zero_std_share.items()},
        )
        new = [finding for finding in findings if finding.name not in self.seen]
        self.seen |= {finding.name for finding in new}
        return new
