"""Math answers: math-verify equivalence (in-process) and the math data sources through compute_score."""

import numpy as np
import pytest

from rewards import compute_score
from rewards.math_check import check


@pytest.mark.parametrize(
    ("gold", "answer", "mode", "correct"),
    [
        (r"\frac{1}{2}", "0.5", "latex", True),
        ("0.5", r"\frac{1}{2}", "latex", True),
        ("3", "x=3", "latex", True),
        ("3", r"\boxed{x=3}", "latex", True),
        (r"\frac{\sqrt{3}}{2}", r"\frac{\sqrt3}{2}", "latex", True),
        (r"2\sqrt{2}", r"\sqrt{8}", "latex", True),
        ("(1,2)", "(1, 2)", "latex", True),
        ("70", r"70\%", "latex", True),
        ("204", "204", "latex", True),
        ("3", "4", "latex", False),
        (r"\frac{1}{2}", r"\frac{1}{3}", "latex", False),
        ("x^2+1", "1+x^2", "latex", True),
        ("x^2+1", "x^2+2", "latex", False),
        ("1234", "1,234", "number", True),
        ("1,234", "1234", "number", True),
        ("72", "72 dollars", "number", True),
        ("18", "$18", "number", True),
        ("1000", r"\$1,000", "number", True),
        ("10", "The answer is 10.", "number", True),
        ("10", "11", "number", False),
        ("5", "not sure", "number", False),
    ],
)
def test_equivalence(gold, answer, mode, correct):
    assert check(gold, answer, mode)[0] is correct


def test_pred_is_canonical_for_majority_voting():
    assert check("0.5", r"\frac{1}{2}", "latex")[1] == check("0.5", r"\frac{2}{4}", "latex")[1] == "1/2"
    assert check("1234", "$1,234", "number")[1] == "1234"


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="mode"):
        check("1", "1", "roman")


@pytest.mark.parametrize(
    ("source", "response", "ground_truth", "template", "acc"),
    [
        ("gsm8k", "<think>48/2=24, 48+24=72</think> <answer>72 clips</answer>", "72", "instruct", 1),
        ("gsm8k", "<think>48+24</think> <answer>1,234</answer>", "1234", "instruct", 1),
        ("gsm8k", "<think>48+24</think> <answer>71</answer>", "72", "instruct", 0),
        ("gsm8k", "48 + 24 = 72 </think> <answer>72</answer>", 72, "base", 1),  # an int reference
        ("gsm8k", "48 + 24 = 72 </think> <answer>72</answer>", np.int64(72), "base", 1),
        ("math", r"Half of it: $\boxed{\frac{1}{2}}$.", "0.5", "boxed", 1),
        ("math500", r"So \boxed{x = 3}", "3", "boxed", 1),
        ("aime24", r"First \boxed{203}, no: \boxed{204}", "204", "boxed", 1),
        ("aime25", r"\boxed{204}", "205", "boxed", 0),
        ("math", r"<think>compute</think><answer>\dfrac{1}{2}</answer>", r"\frac12", None, 1),
        ("math", r"no final answer", "1", "boxed", 0),
    ],
)
def test_math_sources(source, response, ground_truth, template, acc):
    result = compute_score(source, response, ground_truth, {"template": template} if template else None)
    assert result["acc"] == acc
    has_answer = result["has_answer"]
    assert result["score"] == (1.0 if acc else 0.1 if has_answer else 0.0)
    assert result["timed_out"] == 0
    assert result["refused"] == ""


def test_a_power_tower_is_refused_before_it_reaches_sympy():
    response = r"so \boxed{10^{10^{10}}}"  # sympy would evaluate this power for minutes
    result = compute_score("math", response, "1", {"template": "boxed"})
    assert (result["acc"], result["timed_out"], result["score"]) == (0, 0, 0.1)
    assert result["refused"] == "power_depth"
    assert result["pred"] == "10^{10^{10}}"


def test_malformed_reference_is_an_error():
    with pytest.raises(ValueError, match="ground_truth"):
        compute_score("gsm8k", "<answer>1</answer>", {"target": 1}, None)
