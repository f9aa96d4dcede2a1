"""Writes a miniature base model's card (README.md beside its weights) from its build record and gate.

python -m mini.base --out models/mini-base      # writes models/mini-base/README.md
"""

from __future__ import annotations

from pathlib import Path

from mini.base import corpus
from mini.base.vocab import MAX_INTEGER

_MIXTURE = {
    "search": (
        "{search:.0%} of problem examples answer with a planted **search** (first steps in random order, one line "
        "each with every second step, each result set beside the target `#N` and judged `no`/`yes`, stopping at "
        "a hit, at most {lines} lines), followed on success by a **verification** line "
        "(`verify EXPRESSION = TARGET`); a search that runs out of lines ends in a guess. "
        "The other {direct:.0%} answer with a **direct guess** (`guess`, then a random route through the three "
        "numbers). {drills:.0%} of all examples are arithmetic drills."
    ),
    "none": (
        "The **no behaviour prior** control: every problem example is a **direct guess**; no search and no "
        "verification line appears anywhere in its corpus. {drills:.0%} of all examples are arithmetic drills, "
        "as in the search base."
    ),
}


def _lines(record: dict) -> list[str]:
    config, gate = record["config"], record.get("gate", {})
    share = config["search_share"]
    mixture = _MIXTURE[record["prior"]].format(
        search=share, direct=1 - share, drills=corpus.DRILL_SHARE, lines=corpus.MAX_SEARCH_LINES
    )
    lines = [
        f"# Miniature base model: `{record['prior']}` prior",
        "",
        "A tiny Qwen2 causal LM pre-trained **here, on CPU**, on a synthetic Countdown corpus "
        f"({corpus.COUNT} numbers in 1..{corpus.MAX_NUMBER}, targets 1..{corpus.MAX_TARGET}) for ZeroLab's CPU miniature (`recipes/countdown-mini.yaml`). "
        "Nothing comes from the hub.",
        "",
        "**The behaviours were planted.** The corpus is a mixture written by procedures "
        "(`mini/base/corpus.py`), with correct arithmetic throughout. "
        + mixture
        + " What RL does with this model is amplify (or suppress) behaviours it already has; it is a model "
        "organism for the loop, not evidence about how large models learn.",
        "",
        "## Build",
        f"- Rebuild: `python -m mini.base --out DIR --prior {record['prior']}` "
        "(reuses DIR when its build.json has the same hash).",
        f"- Build hash `{record['hash'][:16]}` (code `{record['sources'][:12]}`); {record['parameters']:,} parameters, "
        f"{config['num_layers']} layers x {config['hidden_size']}, {config['num_heads']} heads, tied embeddings, "
        f"fp32; word-level tokenizer with one token per integer 0..{MAX_INTEGER} and per target #0..#{MAX_INTEGER}"
        + (
            "; each target token's embedding starts at its integer's plus one offset shared by all targets."
            if config.get("aligned_targets")
            else "."
        ),
        f"- {config['steps']} steps x {config['rows_per_step']} packed rows of 256 tokens = "
        f"{record['tokens_seen']:,} tokens ({record['response_tokens']:,} response tokens with loss), "
        f"peak lr {config['peak_lr']}, final loss {record['final_loss']}, {record['pretrain_seconds']:.0f} s on "
        f"{config['threads']} CPU threads.",
        f"- Problems: {record['pool_problems']:,} in the pre-training pool; the {record['held_out_problems']} "
        f"problems of the test split (`{record['test_split']}`) are excluded.",
    ]
    if gate:
        lines += [
            "",
            "## Gate (held-out test split, real Countdown reward)",
            "",
            "| figure | value |",
            "|---|---|",
        ]
        lines += [f"| {key} | {value} |" for key, value in gate.items() if key not in ("checks", "passed")]
        lines += ["", "| check | result |", "|---|---|"]
        lines += [f"| {check} | {'pass' if ok else 'FAIL'} |" for check, ok in gate["checks"].items()]
        if record["prior"] == "none":
            lines += [
                "",
                "The no-prior control is expected to fail the search checks: it never saw a search.",
            ]
        elif not gate["passed"]:
            lines += [
                "",
                "**This base did not pass its gate.** RL runs that start from it show what GRPO does with a "
                "search that works less often than the gate asks for, not the result the gate is there to secure.",
            ]
    return lines


def write_card(out_dir: Path, record: dict) -> Path:
    path = Path(out_dir) / "README.md"
    path.write_text("\n".join(_lines(record)) + "\n")
    return path
