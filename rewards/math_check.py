"""Math answer equivalence with math-verify, and the helper process that runs it under a deadline.

`check(gold, answer, mode)` compares a reference answer with an extracted model answer:
- the reference is parsed as LaTeX (wrapped in `\\boxed{}`, so `\\frac{1}{2}`, `(1,2)` and `1,234` read as
  a fraction, an interval and a number), falling back to math-verify's default extraction;
- mode "latex" (MATH, AIME): the answer is parsed the same way, so `\\boxed{x=3}` matches 3 and `0.5`
  matches `\\frac{1}{2}`; when the LaTeX reading yields nothing symbolic (e.g. `70\\%`) the default
  extraction is tried;
- mode "number" (GSM8K): the answer is read with math-verify's default extraction first, which takes the
  number out of `$1,234`, `72 dollars` or `The answer is 10.` (LaTeX reading would make `72 dollars` a
  product), and as LaTeX when that yields nothing (`\\$1,000`).
Only the first reading that yields math is compared, so no answer gets two chances.

math-verify bounds its own time with `signal.alarm`, which only works in a main thread; verl calls reward
functions from a thread pool. So timeouts are disabled here (`parsing_timeout=None`, `timeout_seconds=None`)
and `python -m rewards.math_check` serves checks in a separate process that rewards.math_pool kills when a
deadline passes (`10^{10^{10}}` hangs sympy). Its protocol: one JSON request per stdin line
(`{"gold", "answer", "mode"}`), one JSON reply per stdout line (`{"correct", "pred"}`), after a first
`{"ready": true}` line once imports and warm-up are done.

    python -m pytest tests/rewards/test_math.py -q
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from functools import lru_cache

from rewards.verdict import MAX_PRED_CHARS

MODES = ("latex", "number")
WORKER_MEMORY_BYTES = 4 << 30  # address-space cap: a runaway sympy value fails with MemoryError instead
# A runaway check spins a core until it is killed; below the caller's priority it cannot starve the thread
# that has to wake at the deadline and kill it (on a busy node that wake-up is what the deadline waits on).
WORKER_NICENESS = 5


def _parse(text: str, latex_only: bool) -> list:
    from math_verify import LatexExtractionConfig, parse

    if latex_only:
        return parse(text, extraction_config=[LatexExtractionConfig()], parsing_timeout=None)
    return parse(text, parsing_timeout=None)


def _has_math(parsed: list) -> bool:
    return any(not isinstance(item, str) for item in parsed)


def _read(text: str, latex_first: bool) -> list:
    """The first of the two readings that yields math (the LaTeX one, or math-verify's default one)."""
    readings = (True, False) if latex_first else (False, True)
    parsed: list = []
    for latex in readings:
        parsed = _parse("\\boxed{" + text + "}", latex_only=True) if latex else _parse(text, latex_only=False)
        if _has_math(parsed):
            return parsed
    return parsed


@lru_cache(maxsize=4096)  # references repeat across the n samples of a prompt
def _read_gold(gold: str) -> list:
    return _read(gold, latex_first=True)


def check(gold: str, answer: str, mode: str) -> tuple[bool, str]:
    """(answer is equivalent to gold, canonical form of the answer for majority voting)."""
    from math_verify import verify

    if mode not in MODES:
        raise ValueError(f"unknown math check mode {mode!r}; known: {', '.join(MODES)}")
    parsed = _read(answer, latex_first=mode == "latex")
    if not parsed:
        return False, ""
    pred = str(parsed[0])[:MAX_PRED_CHARS]
    return bool(verify(_read_gold(gold), parsed, timeout_seconds=None)), pred


def _limit_resources() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # not on this platform, or a lower hard limit is set
        pass
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on this platform
        os.nice(WORKER_NICENESS)


def serve() -> None:
    """The helper process: requests on stdin, replies on stdout (module docstring)."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # a stray print from a library must not corrupt the protocol
    logging.disable(logging.WARNING)  # math-verify warns that its own timeout is off: we know
    _limit_resources()
    check("1", "\\frac{2}{2}", "latex")  # warm sympy's caches before the first deadline starts
    try:
        replies.write(json.dumps({"ready": True}) + "\n")
        for line in sys.stdin:
            try:
                request = json.loads(line)
                correct, pred = check(request["gold"], request["answer"], request["mode"])
            except Exception:  # noqa: BLE001 - any failure to check means "not verified", never a crash
                correct, pred = False, ""
            replies.write(json.dumps({"correct": correct, "pred": pred}) + "\n")
    except BrokenPipeError:  # the pool's process exited (say while this helper started): nothing to serve
        pass


if __name__ == "__main__":
    serve()
