"""R1's cold-start procedure (distill/cold_start.py): a distill build of accepted traces in, consistent,
readable, summarised traces out, each filter's survivors counted; through the CLI as a user runs it.

    python -m pytest tests/distill/test_cold_start.py -q
"""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest

from distill.cold_start import STAGES, ColdStartFilters, build_cold_start, summary_of, with_summary
from distill.reject import Candidate
from distill.write import sft_table, student_prompts, write_sft_build
from launch.__main__ import run_command
from mini.base import corpus, corpus_lang
from rewards.registry import compute_score

EXTRA = {"template": "mini"}


def _truth(row: dict) -> dict:
    words = row["prompt"][0]["content"].split()  # numbers a b c target #t <think>
    return {"numbers": [int(n) for n in words[1:4]], "target": int(words[5][1:])}


@pytest.fixture(scope="module")
def accepted(mini_data, tmp_path_factory):
    """A distill build as `distill data` writes one: correct, strictly formatted responses of the language
    miniature's corpus to the real training prompts (several per prompt), plus a code block and a long paragraph, which R1 dropped."""
    _, prompts = student_prompts(mini_data / "train.parquet")
    mixture = corpus_lang.LangMixture(search_share=1.0, mixed_share=0.5, english_long_share=0.4)
    rng, candidates = random.Random(1), []
    for prompt_id, row in list(prompts.items())[:80]:
        truth = _truth(row)
        numbers = tuple(truth["numbers"])
        for sample in range(6):
            if sample < 4:
                response = corpus_lang.search_response(numbers, truth["target"], rng, mixture)
            else:  # a bare guess: correct only by luck
                response = corpus.direct_response(numbers, rng)
            reward = compute_score("countdown", response, truth, EXTRA)
            if reward["acc"] == 1 and reward["format_strict"] == 1:
                candidates.append(Candidate(prompt_id, sample, response, reward))
    first = candidates[0]
    answer = first.response[first.response.index("</think>") :]
    odd = [
        Candidate(first.prompt_id, 90, "try ```python\nprint(1)\n``` " + answer, first.reward),
        Candidate(first.prompt_id, 91, "try " + "9 + 9 = 18 , " * 200 + answer, first.reward),
    ]
    out = tmp_path_factory.mktemp("accepted")
    write_sft_build(out, sft_table([*odd, *candidates], prompts, "mini"), {"teacher": "corpus"}, force=False)
    return out


def test_each_filter_is_counted_and_what_is_kept_is_consistent_correct_and_summarised(accepted, tmp_path):
    filters = ColdStartFilters(max_paragraph_chars=1000, min_reasoning_chars=16, max_traces=50)
    meta = build_cold_start(accepted, tmp_path / "cold", "mini", filters)
    counts = meta["counts"]
    assert list(counts) == list(STAGES)
    assert counts["accepted"] == pq.read_metadata(accepted / "train.parquet").num_rows
    assert all(counts[a] >= counts[b] for a, b in zip(STAGES, STAGES[1:], strict=False))
    assert counts["accepted"] > counts["consistent"]  # mixed searches dropped
    assert counts["consistent"] - counts["no_code_block"] == 1  # the code block
    assert counts["no_code_block"] - counts["short_paragraphs"] == 1  # the 3,000-character paragraph
    assert counts["short_paragraphs"] > counts["reasoned"]  # the bare guesses
    assert counts["reasoned"] == counts["summarised"] > counts["per_prompt"]  # several per prompt
    assert counts["kept"] == 50 == meta["rows"]["train"]
    rows = pq.read_table(tmp_path / "cold" / "train.parquet").to_pylist()
    assert len({row["extra_info"]["index"] for row in rows}) == 50  # one per prompt
    for row in rows:
        response = row["messages"][-1]["content"]
        reward = compute_score("countdown", response, _truth({"prompt": row["messages"][:-1]}), EXTRA)
        assert reward["acc"] == 1 and reward["format_strict"] == 1 and reward["lang_consistency"] == 1.0
        reasoning = response.split(" </think>")[0]
        assert reasoning.startswith("try ") and reasoning.endswith(
            f"verify {summary_of(response, 'mini').statement}"
        )
        assert row["extra_info"]["response_chars"] == len(response)
    # A search that ends verified is its own summary; one that ends in a lucky guess gets one.
    verified = [r for r in rows if "guess" not in r["messages"][-1]["content"]]
    assert verified and all(r["messages"][-1]["content"].count("verify") == 1 for r in verified)
    # The same input gives the same bytes: a rebuild is a no-op.
    assert build_cold_start(accepted, tmp_path / "cold", "mini", filters)["files"] == meta["files"]


def test_the_summary_is_the_reasonings_last_line_and_keeps_strict_format():
    response = "try 9 * 2 = 18 , 18 + 8 = 26 #26 yes guess </think> <answer> ( 9 * 2 ) + 8 </answer>"
    summary = summary_of(response, "mini")
    assert summary.statement == "( 9 * 2 ) + 8 = 26"
    readable = with_summary(response, summary)
    assert readable == (
        "try 9 * 2 = 18 , 18 + 8 = 26 #26 yes guess verify ( 9 * 2 ) + 8 = 26 </think> <answer> ( 9 * 2 ) + 8 </answer>"
    )
    assert with_summary(readable, summary) == readable
    truth = {"numbers": [9, 2, 8], "target": 26}
    assert compute_score("countdown", readable, truth, EXTRA)["format_strict"] == 1
    qwen = "Let me try 9*2 = 18, then 18+8 = 26.</think>\n<answer>(9*2)+8</answer>"
    readable = with_summary(qwen, summary_of(qwen, "base"))
    assert readable.startswith("Let me try 9*2 = 18, then 18+8 = 26.\n\nSummary: (9*2)+8 = 26. </think>")
    assert compute_score("countdown", readable, truth, {"template": "base"})["format_strict"] == 1
    assert summary_of("no answer </think>", "mini") is None
    assert summary_of("x </think> <answer> 7 / 2 </answer>", "mini") is None  # not a whole value


def test_the_cli_writes_the_build_and_prints_the_counts(accepted, tmp_path, capsys):
    out = tmp_path / "cold"
    argv = [
        "cold-start",
        str(accepted),
        "--out",
        str(out),
        "--template",
        "mini",
        "--min-reasoning-chars",
        "16",
    ]
    assert run_command("distill", argv) == 0
    printed = capsys.readouterr().out
    meta = json.loads((out / "meta.json").read_text())
    assert printed.startswith(f"{out}: accepted {meta['counts']['accepted']} -> consistent")
    assert meta["procedure"] == "distill/cold_start.py" and meta["filters"]["target_language"] == "en"
    assert run_command("distill", [*argv, "--template", "base"]) == 2  # rows of another template
    assert "not 'base'" in capsys.readouterr().err
    assert run_command("distill", [*argv[:-2], "--target-language", "fr"]) == 2
