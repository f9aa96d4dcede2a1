"""Published reference figures shown beside our results, each with its source and metric definition.

Only figures read from the cited table or text are listed; anything we could not trace to its
source is left out. These are other people's models, data and budgets: a reader compares orders of
magnitude and the shape of the story, not rows. Rendered by `python -m launch report RECIPE`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    work: str
    model: str
    benchmark: str
    figure: str
    metric: str
    source: str


ANCHORS = (
    Anchor(
        "TinyZero (Pan et al., 2025)",
        "Qwen2.5-3B base, PPO, Countdown",
        "Countdown (own 1,024-row test split)",
        "none published",
        "The README shows reward and response-length curves and a public wandb log; "
        "no accuracy number. Qualitative claim: 0.5B does not learn, from 1.5B the model learns to search "
        "and self-verify.",
        "https://github.com/Jiayi-Pan/TinyZero ; https://wandb.ai/jiayipan/TinyZero",
    ),
    Anchor(
        "DeepSeek-R1 (DeepSeek-AI, 2025)",
        "DeepSeek-R1-Zero (DeepSeek-V3-Base, GRPO)",
        "AIME 2024",
        "71.0",
        "pass@1: mean correctness of k sampled responses per problem (temperature 0.6, top-p 0.95)",
        "arXiv:2501.12948v1, Table 2",
    ),
    Anchor(
        "DeepSeek-R1 (DeepSeek-AI, 2025)",
        "DeepSeek-R1-Zero",
        "AIME 2024",
        "86.7",
        "cons@64: majority vote over 64 sampled responses",
        "arXiv:2501.12948v1, Table 2",
    ),
    Anchor(
        "DeepSeek-R1 (DeepSeek-AI, 2025)",
        "DeepSeek-R1-Zero",
        "MATH-500",
        "95.9",
        "pass@1 (as above)",
        "arXiv:2501.12948v1, Table 2",
    ),
    Anchor(
        "DeepSeek-R1 (DeepSeek-AI, 2025)",
        "DeepSeek-R1-Zero",
        "GPQA Diamond",
        "73.3",
        "pass@1 (as above)",
        "arXiv:2501.12948v1, Table 2",
    ),
    Anchor(
        "DeepSeek-R1, journal version (2025)",
        "DeepSeek-R1-Zero",
        "AIME 2024",
        "77.9",
        "pass@1",
        "Nature, doi:10.1038/s41586-025-09422-z, Table 2 (R1-Zero column)",
    ),
    Anchor(
        "Understanding R1-Zero-Like Training (Liu et al., 2025)",
        "Oat-Zero-7B (Qwen2.5-Math-7B, Dr. GRPO)",
        "AIME 2024",
        "43.3",
        "accuracy, greedy decoding, 3,000-token generation budget",
        "arXiv:2503.20783, Table 4",
    ),
    Anchor(
        "Understanding R1-Zero-Like Training (Liu et al., 2025)",
        "Oat-Zero-7B",
        "mean of AIME24, AMC, MATH500, Minerva Math, OlympiadBench",
        "51.4",
        "as above, unweighted mean of the five",
        "arXiv:2503.20783, Table 4",
    ),
)


def anchors_markdown() -> list[str]:
    lines = [
        "## Published anchors (not our runs)",
        "",
        "Other models, data, budgets and metric definitions: context, never a row of our table.",
        "",
        "| work | model | benchmark | figure (%) | metric | source |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {a.work} | {a.model} | {a.benchmark} | {a.figure} | {a.metric} | {a.source} |" for a in ANCHORS
    ]
    return lines
