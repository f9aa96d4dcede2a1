"""compute_score: one registry from data source to scorer, and the reward dict every scorer returns.

A scorer only decides whether an extracted answer is right (a rewards.verdict.Verdict); this module
extracts the answer the row's template asks for, checks format, applies the options and adds the
behaviour counters, so every data source returns the same keys (verl stacks them into arrays keyed by
the first sample's keys, and turns each into a validation metric):

    score          float  the reward (options: rewards/options.py; controls: rewards/controls.py), plus
                          language_consistency x lang_consistency when the strict-format gate lets it score
    acc            0/1    the extracted answer is correct, whatever the format gate decided
    format         0/1    lenient R1-Zero structure for the template (rewards.format)
    format_strict  0/1    strict structure (rewards.format)
    has_answer     0/1    an answer block / \\boxed{} was found
    pred           str    the answer in canonical form, for verl's majority voting; "" if none
    timed_out      0/1    the math check hit its deadline
    refused        str    the bound a math answer broke (rewards.math_screen), so it was not checked; ""
    lang_consistency
                   float  the share of the chain of thought's words in the target_language option's language
                          (rewards.language; 1.0 for a CoT without words, 0.0 for a response too long to
                          read), whatever language_consistency's weight: every run logs its mixing rate
    lang_bonus     float  what the language reward added to `score` (0.0 with the weight at 0): `score` less it
                          is the correctness (or control) part, which the doctor and the rollout digest read
    response_chars, verify_phrases, has_verify, search_steps, has_search, self_corrections, has_self_correct
                   behaviour counters (rewards.behaviour)

    python -m pytest tests/rewards/test_registry.py -q
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from data_prep.tasks import scorer_kinds
from data_prep.templates import TEMPLATES, get_template
from rewards.behaviour import behaviour_counters
from rewards.controls import CONTROL_SCORES, Scoring
from rewards.countdown import score_countdown
from rewards.format import AnswerSpec, extract_answer, format_ok, format_strict_ok
from rewards.language import cot_language_share
from rewards.math import score_math
from rewards.options import RewardOptions, parse_options
from rewards.verdict import Verdict

# ~64k tokens, beyond any response length a recipe sets: a longer response is rejected (score 0) unread.
MAX_RESPONSE_CHARS = 256_000


Scorer = Callable[[str, object, RewardOptions], Verdict]


def _countdown(answer: str, ground_truth: object, options: RewardOptions) -> Verdict:
    return score_countdown(answer, ground_truth)


def _math(mode: str) -> Scorer:
    def scorer(answer: str, ground_truth: object, options: RewardOptions) -> Verdict:
        return score_math(answer, ground_truth, mode, options.math_timeout_s)

    return scorer


# The scorers a task can name (data_prep/tasks.py says which task and data source uses which).
SCORER_KINDS: dict[str, Scorer] = {
    "countdown": _countdown,
    "math-number": _math("number"),
    "math-latex": _math("latex"),
}


def scorer_for(data_source: str) -> Scorer | None:
    """The scorer the task catalogue names for a data source; None for a data source no task declares."""
    kind = scorer_kinds().get(data_source)
    return SCORER_KINDS[kind] if kind is not None else None


_SPECS = {name: AnswerSpec(t.answer_format, t.prefills_think) for name, t in TEMPLATES.items()}
_UNKNOWN_TEMPLATE = AnswerSpec()


def answer_spec(extra_info: object) -> AnswerSpec:
    """The row's template (extra_info["template"]), or the documented fallback when it has none."""
    name = extra_info.get("template") if isinstance(extra_info, dict | Mapping) else None
    if name is None:
        return _UNKNOWN_TEMPLATE
    if name not in _SPECS:
        get_template(name)  # raises ValueError naming the known templates
    return _SPECS[name]


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict:
    """verl 0.9.1's custom reward signature; the returned keys are listed in the module docstring."""
    options = parse_options(kwargs)
    scorer = scorer_for(data_source)
    if scorer is None:
        raise ValueError(f"unknown data_source {data_source!r}; known: {', '.join(scorer_kinds())}")
    if not isinstance(solution_str, str):
        raise TypeError(f"solution_str must be the decoded response (str), got {type(solution_str).__name__}")
    spec = answer_spec(extra_info)
    fits = len(solution_str) <= MAX_RESPONSE_CHARS
    answer = extract_answer(solution_str, spec) if fits else None
    verdict = scorer(answer if answer is not None else "", ground_truth, options)
    strict = fits and format_strict_ok(solution_str, spec)
    lenient = strict or (fits and format_ok(solution_str, spec))  # strict implies lenient
    gate = strict or not options.strict_format
    scoring = Scoring(
        options=options,
        response=solution_str,
        ground_truth=ground_truth,
        answer=answer,
        correct=verdict.correct,
        gate=gate,
        lenient=lenient,
        rescore=lambda truth: scorer(answer if answer is not None else "", truth, options).correct,
    )
    consistency = cot_language_share(solution_str, options.target_language) if fits else 0.0
    # R1 sums the language reward with the accuracy reward; it never reads correctness, so a control's
    # score plus it still ignores correctness, and strict_format's gate withholds it like any other credit.
    language_bonus = options.language_consistency * consistency * gate
    score = CONTROL_SCORES[options.control](scoring) + language_bonus
    return {
        "score": float(score),
        "acc": int(verdict.correct),
        "format": int(lenient),
        "format_strict": int(strict),
        "has_answer": int(answer is not None),
        "pred": verdict.pred,
        "timed_out": int(verdict.timed_out),
        "refused": verdict.refused,
        "lang_consistency": consistency,
        "lang_bonus": float(language_bonus),
        **behaviour_counters(solution_str),
    }
