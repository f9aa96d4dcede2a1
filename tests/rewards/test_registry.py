"""compute_score's contract: dispatch, options, the key set verl aggregates, and the strict-format gate."""

import numpy as np
import pytest

from data_prep.tasks import scorer_kinds
from rewards import compute_score
from rewards.registry import MAX_RESPONSE_CHARS

KEYS = [
    "score",
    "acc",
    "format",
    "format_strict",
    "has_answer",
    "pred",
    "timed_out",
    "refused",
    "lang_consistency",
    "lang_bonus",
    "response_chars",
    "verify_phrases",
    "has_verify",
    "search_steps",
    "has_search",
    "self_corrections",
    "has_self_correct",
]
GROUND_TRUTHS = {
    "countdown": {"target": 100, "numbers": [3, 7, 25]},
    "game24": {"target": 24, "numbers": [3, 3, 8, 8]},
    "gsm8k": "72",
    "math": r"\frac{1}{2}",
    "math500": "3",
    "aime24": "204",
    "aime25": "204",
}
RESPONSES = [
    "",
    "no answer at all",
    " wait, 7-3=4 </think> <answer>(7 - 3) * 25</answer>",
    r" hmm </think> <answer>\frac{1}{2}</answer> trailing",
    r"so \boxed{72}",
    "<answer>" * 1000,
]


def test_data_sources():
    assert set(scorer_kinds()) == {"countdown", "game24", "gsm8k", "math", "math500", "aime24", "aime25"}


def test_unknown_data_source_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown data_source 'openai/gsm8k'; known: countdown, game24, gsm8k"
    ):
        compute_score("openai/gsm8k", "", "1")


@pytest.mark.parametrize("source", sorted(GROUND_TRUTHS))
@pytest.mark.parametrize("template", [None, "base", "instruct", "boxed"])
def test_every_scorer_returns_the_same_numeric_keys(source, template):
    extra_info = {"split": "test", "index": 0} | ({"template": template} if template else {})
    for response in RESPONSES:
        result = compute_score(source, response, GROUND_TRUTHS[source], extra_info)
        assert list(result) == KEYS
        assert isinstance(result["score"], float) and isinstance(result["pred"], str)
        assert isinstance(result["refused"], str) and type(result["lang_consistency"]) is float
        assert 0.0 <= result["lang_consistency"] <= 1.0
        assert type(result["lang_bonus"]) is float and result["lang_bonus"] == 0.0  # the weight defaults to 0
        floats_and_strings = ("score", "pred", "refused", "lang_consistency", "lang_bonus")
        assert all(type(result[key]) is int for key in KEYS if key not in floats_and_strings)
        assert all(
            result[key] in (0, 1) for key in ("acc", "format", "format_strict", "has_answer", "timed_out")
        )


def test_options_and_verl_kwargs():
    response = " 7-3=4 </think> <answer>(7 - 3) * 25</answer>"
    gt = GROUND_TRUTHS["countdown"]
    verl_extras = {"reward_router_address": "127.0.0.1:1", "reward_model_tokenizer": object()}
    assert compute_score("countdown", response, gt, None, **verl_extras)["score"] == 1.0
    with pytest.raises(ValueError, match="unknown reward option.*format_scor;.*known: format_score"):
        compute_score("countdown", response, gt, None, format_scor=0.0)
    for bad in [
        {"format_score": "0.1"},
        {"strict_format": 1},
        {"correct_score": True},
        {"math_timeout_s": 0},
    ]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            compute_score("countdown", response, gt, None, **bad)
    # validated options are cached, and True == 1 == 1.0: a valid value must not let its look-alike through
    for valid, look_alike in [
        ({"correct_score": 1.0}, {"correct_score": True}),
        ({"strict_format": True}, {"strict_format": 1}),
    ]:
        compute_score("countdown", response, gt, None, **valid)
        with pytest.raises(ValueError, match=next(iter(valid))):
            compute_score("countdown", response, gt, None, **look_alike)


def test_unknown_template_is_an_error_and_missing_template_falls_back():
    with pytest.raises(ValueError, match="unknown prompt template 'chatml'"):
        compute_score("countdown", "", GROUND_TRUTHS["countdown"], {"template": "chatml"})
    boxed_only = r"(7-3)*25 \boxed{(7 - 3) * 25}"
    assert compute_score("countdown", boxed_only, GROUND_TRUTHS["countdown"], {})["acc"] == 1
    assert (
        compute_score("countdown", boxed_only, GROUND_TRUTHS["countdown"], {"template": "base"})["acc"] == 0
    )


def test_strict_format_gate():
    gt = GROUND_TRUTHS["countdown"]
    strict_ok = " 7-3=4 </think> <answer>(7 - 3) * 25</answer>"
    lenient_only = strict_ok + " Done."
    wrong_lenient_only = " 7+3 </think> <answer>(7 + 3) * 25</answer> Done."
    base = {"template": "base"}
    assert compute_score("countdown", lenient_only, gt, base)["score"] == 1.0
    gated = compute_score("countdown", lenient_only, gt, base, strict_format=True)
    assert (gated["score"], gated["acc"], gated["format"], gated["format_strict"]) == (0.0, 1, 1, 0)
    assert compute_score("countdown", strict_ok, gt, base, strict_format=True)["score"] == 1.0
    assert compute_score("countdown", wrong_lenient_only, gt, base, strict_format=True)["score"] == 0.0


def test_oversized_response_is_rejected_unread():
    response = " x </think> <answer>(7 - 3) * 25</answer>" + " " * MAX_RESPONSE_CHARS
    result = compute_score("countdown", response, GROUND_TRUTHS["countdown"], {"template": "base"})
    assert (result["score"], result["has_answer"], result["format"]) == (0.0, 0, 0)
    assert result["response_chars"] == len(response)


def test_results_aggregate_in_verls_validation_metrics():
    from verl.trainer.ppo.metric_utils import process_validation_metrics

    responses = [" 7-3=4 </think> <answer>(7 - 3) * 25</answer>", "", "<answer>72</answer>", r"\boxed{1}"]
    sources, uids, infos = [], [], {"reward": []}
    for source in ("countdown", "gsm8k"):
        for index, response in enumerate(responses):
            result = compute_score(source, response, GROUND_TRUTHS[source], {"template": "base"})
            sources.append(source)
            uids.append(f"{source}-{index // 2}")  # two prompts with two samples each
            infos["reward"].append(result["score"])
            for key, value in result.items():
                infos.setdefault(key, []).append(value)
    # verl stacks each key into an array and back to a list before aggregating
    infos = {key: np.array(values).tolist() for key, values in infos.items()}
    metrics = process_validation_metrics(sources, uids, infos)
    assert metrics["countdown"]["acc"]["mean@2"] == pytest.approx(0.25)
    assert metrics["gsm8k"]["acc"]["mean@2"] == pytest.approx(0.25)
    assert "maj@2/mean" in metrics["countdown"]["acc"]
    assert "pred" not in metrics["countdown"]  # strings are votes, not metrics
    assert set(metrics["gsm8k"]) == set(KEYS) - {"pred", "refused"} | {"reward"}


def test_the_reward_options_are_declared_once_and_documented_from_the_declaration():
    import rewards.verl_reward as verl_reward
    from launch.recipe import REPO_ROOT
    from rewards.controls import CONTROL_SCORES
    from rewards.language import TARGET_SCRIPT
    from rewards.options import DEFAULT_OPTIONS, OPTIONS, options_table

    assert options_table() in verl_reward.__doc__
    assert {o.name: o.default for o in OPTIONS} == vars(DEFAULT_OPTIONS)
    readme = (REPO_ROOT / "README.md").read_text()
    for option in OPTIONS:
        assert f"`{option.name}`" in readme or f"`{option.name}:" in readme, option.name
        if option.choices:
            assert set(option.choices) == set(
                {"control": CONTROL_SCORES, "target_language": TARGET_SCRIPT}[option.name]
            )
            assert all(f"`{choice}`" in readme or f": {choice}`" in readme for choice in option.choices[1:])
        elif option.name != "control_seed":
            assert f"`{option.name}` ({option.default_text}" in readme, option.name
