"""Writes a miniature base model's card (README.md beside its weights) from its build record and gate.

python -m mini.base --out models/mini-base      # writes models/mini-base/README.md
"""

from __future__ import annotations

from pathlib import Path

from mini.base import corpus, corpus_lang, corpus_long
from mini.base.pretrain_long import ROW_TOKENS as LONG_ROW_TOKENS
from mini.base.pretrain_long import build_tokenizer as build_long_tokenizer
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
    "long": (
        "{search:.0%} of problem examples answer with a planted **search** written as countdown-mini's (one line "
        "per first step with every second step judged against the target `#N`, a **verification** line on a "
        "hit, a guess when it gives up) but with the first steps in **one fixed order** (pairs as the prompt "
        "shows them, then + - * /), so a search that goes on never repeats a line, and with a **long-tailed number of lines**: each trace may write at most "
        "a line cap drawn from a power law, P(cap = k) = k^-2 / ζ(2), caps of {lines} or more folded into {lines} "
        "(shares for caps 1..{lines}: {caps}); a cap at least the problem's number of first steps is "
        "**exhaustive** (every first step tried until the hit). In {slips:.0%} of the search traces one judged "
        "step **slips** (a wrong value, or a missed hit), and {corrected:.0%} of the slips are **caught**: "
        "`wait`, the step written again right, and the search goes on ({planted:.1%} of the searches plant a "
        "self-correction); the other slips are carried on. The other {direct:.0%} answer with a **direct "
        "guess**. {drills:.0%} of all examples are arithmetic drills."
    ),
    "short": (
        "The **short-search** control: the long base's corpus without its long searches and without slips or "
        "corrections. {search:.0%} of problem examples answer with the planted search, its line cap drawn from "
        "the same power law but folded into at most {lines} lines (shares for caps 1..{lines}: {caps}), no step "
        "ever slips and no `wait` appears; the other {direct:.0%} answer with a direct guess. {drills:.0%} of "
        "all examples are arithmetic drills, as in the long base."
    ),
    "mixed": (
        "{search:.0%} of problem examples answer with a planted **search** written as countdown-mini's (first "
        "steps in random order, one line each, every result judged against the target `#N`, a **verification** "
        "line on a hit, a guess when it gives up) in one of **two languages** for its reasoning words: English, "
        "or one Han character per word ({zh}). {mixed:.0%} of the searches are **mixed**: the first line is "
        "English, every later line and the ending use the Han words, at most {lines} lines. The others are "
        "English throughout: {english_long:.0%} of them may write {lines} lines, the rest stop after "
        "{short_lines} and guess. So mixing comes with searches that go on, and **consistency is not free**: "
        "past the first line a mixed search is right more often than an English one (the gate's `planted_` and "
        "`forced_` figures say by how much), while long English searches exist at a real rate. A word is "
        "counted as the language reward (`rewards/language.py`) counts it in any text: each Latin run of two "
        "or more letters (`try`, `no`, `yes`, `verify`, `guess`) is an English word, each Han character a "
        "Chinese word; numbers, operators, `#N` targets and tags are no words. The other {direct:.0%} answer "
        "with a direct English **guess**. {drills:.0%} of all examples are arithmetic drills."
    ),
}
RECIPE_OF = {
    "search": "countdown-mini",
    "none": "countdown-mini",
    "long": "countdown-mini-long",
    "short": "countdown-mini-long",
    "mixed": "countdown-mini-r1",
}


def _cell(value) -> str:
    """A gate figure as a table cell: a histogram {lines: responses} as `lines: responses` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {count}" for key, count in value.items())
    return str(value)


def _lines(record: dict) -> list[str]:
    config, gate = record["config"], record.get("gate", {})
    share = config["search_share"]
    long = "max_lines" in config
    lines_cap = config["max_lines"] if long else corpus.MAX_SEARCH_LINES
    mixture = _MIXTURE[record["prior"]].format(
        search=share,
        direct=1 - share,
        drills=corpus.DRILL_SHARE,
        lines=lines_cap,
        caps=", ".join(f"{s:.1%}" for s in corpus_long.line_cap_shares(lines_cap)) if long else "",
        slips=config.get("slip_share", 0),
        corrected=config.get("corrected_share", 0),
        planted=config.get("slip_share", 0) * config.get("corrected_share", 0),
        zh=", ".join(f"`{en}` {zh}" for en, zh in corpus_lang.ZH_WORDS.items()),
        mixed=config.get("mixed_share", 0),
        english_long=config.get("english_long_share", 0),
        short_lines=corpus_lang.ENGLISH_SHORT_LINES,
    )
    recipe = RECIPE_OF[record["prior"]]
    row_tokens = LONG_ROW_TOKENS if long else 256
    vocabulary = (
        f"; word-level tokenizer with one token per integer 0..{MAX_INTEGER} and per target #0..#{MAX_INTEGER}"
        + (f" and the word `wait` ({len(build_long_tokenizer())} tokens)" if long else "")
        + (f" and the Han words {' '.join(corpus_lang.ZH_WORDS.values())}" if "mixed_share" in config else "")
    )
    lines = [
        f"# Miniature base model: `{record['prior']}` prior",
        "",
        "A tiny Qwen2 causal LM pre-trained **here, on CPU**, on a synthetic Countdown corpus "
        f"({corpus.COUNT} numbers in 1..{corpus.MAX_NUMBER}, targets 1..{corpus.MAX_TARGET}) for ZeroLab's CPU miniature (`recipes/{recipe}.yaml`). "
        "Nothing comes from the hub.",
        "",
        "**The behaviours were planted.** The corpus is a mixture written by procedures "
        + (
            "(`mini/base/corpus_long.py`), with correct arithmetic except the planted slips. "
            if long
            else f"(`mini/base/{'corpus_lang' if 'mixed_share' in config else 'corpus'}.py`), with correct "
            "arithmetic throughout. "
        )
        + mixture
        + " What RL does with this model is amplify (or suppress) behaviours it already has; it is a model "
        "organism for the loop, not evidence about how large models learn.",
        "",
        "## Build",
        f"- Rebuild: `python -m mini.base --out DIR --prior {record['prior']}` "
        "(reuses DIR when its build.json has the same hash).",
        f"- Build hash `{record['hash'][:16]}` (code `{record['sources'][:12]}`); {record['parameters']:,} parameters, "
        f"{config['num_layers']} layers x {config['hidden_size']}, {config['num_heads']} heads, tied embeddings, "
        f"fp32{vocabulary}"
        + (
            "; each target token's embedding starts at its integer's plus one offset shared by all targets."
            if config.get("aligned_targets")
            else "."
        ),
        f"- {config['steps']} steps x {config['rows_per_step']} packed rows of {row_tokens} tokens = "
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
        lines += [
            f"| {key} | {_cell(value)} |" for key, value in gate.items() if key not in ("checks", "passed")
        ]
        lines += ["", "| check | result |", "|---|---|"]
        lines += [f"| {check} | {'pass' if ok else 'FAIL'} |" for check, ok in gate["checks"].items()]
        if record["prior"] == "none":
            lines += [
                "",
                "The no-prior control is expected to fail the search checks: it never saw a search.",
            ]
        elif record["prior"] == "short":
            lines += [
                "",
                "The short-search control is expected to fail the self-correction check: it never saw a "
                "slip or a `wait`. Its headroom is what it makes of lines it was never shown: made to go on "
                "past its third line, it carries the fixed order on by itself.",
            ]
        elif not gate["passed"] and (long or "mixed_share" in config):
            lines += [
                "",
                "**This base did not pass its gate.** RL runs that start from it show what GRPO does with a base "
                "that misses the checks above, not the result the gate is there to secure.",
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
