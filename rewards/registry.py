"""compute_score: one registry from data source to scorer, and the reward dict every scorer returns.

A scorer only decides whether an extracted answer is right (a rewards.verdict.Verdict); this module
extracts the answer the row's template asks for, checks format, applies the options and adds the
behaviour counters, so every data source returns the same keys (verl stacks them into arrays keyed by
the first sample's keys, and turns each into a validation metric):

    score          float  the reward (options below; rewards/verl_reward.py documents them)
    acc            0/1    the extracted answer is correct, whatever the format gate decided
    format         0/1    lenient R1-Zero structure for the template (rewards.format)
    format_strict  0/1    strict structure (rewards.format)
    has_answer     0/1    an answer block / \\boxed{} was found
    pred           str    the answer in canonical form, for verl's majority voting; "" if none
    timed_out      0/1    the math check hit its deadline
    refused        str    the bound a math answer broke (rewards.math_screen), so it was not checked; ""
    response_chars, verify_phrases, has_verify, search_steps, has_search   behaviour counters
                   (rewards.behaviour)

    python -m pytest tests/rewards/test_registry.py -q
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import lru_cache

from data_prep.tasks import scorer_kinds
from data_prep.templates import TEMPLATES, get_template
from rewards.behaviour import behaviour_counters
from rewards.countdown import score_countdown
from rewards.format import AnswerSpec, extract_answer, format_ok, format_strict_ok
from rewards.math import DEFAULT_TIMEOUT_S, score_math
from rewards.verdict import Verdict

# ~64k tokens, beyond any response length a recipe sets: a longer response is rejected (score 0) unread.
MAX_RESPONSE_CHARS = 256_000


# Control rewards, for telling a real gain from one any reward would give ("Spurious Rewards",
# arXiv 2506.10947). Each replaces `score` only; `acc` and every other component stay the truth.
#   random       correct_score or 0 by a fair coin keyed on (control_seed, response, ground truth): seeded,
#                reproducible, and independent of correctness;
#   format_only  correct_score when the lenient format holds, whatever the answer;
#   shuffled     scored as usual, but against a wrong ground truth: the problem's own one replaced by a keyed
#                pseudo-random value (a Countdown target in 1..100, a math answer in 0..999) that is never the
#                true one and is the same for every response to that problem (the "incorrect label" reward).
CONTROLS = ("none", "random", "format_only", "shuffled")
SHUFFLED_TARGETS = 100  # Countdown's default target range 1..100
SHUFFLED_ANSWERS = 1000


@dataclass(frozen=True)
class RewardOptions:
    format_score: float = 0.1
    correct_score: float = 1.0
    strict_format: bool = False
    math_timeout_s: float = DEFAULT_TIMEOUT_S
    control: str = "none"
    control_seed: int = 0


OPTION_NAMES = tuple(field.name for field in fields(RewardOptions))
# Keyword arguments verl 0.9.1's reward managers add on their own (with a reward-model router); ignored.
VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})
DEFAULT_OPTIONS = RewardOptions()

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


def parse_options(kwargs: Mapping[str, object]) -> RewardOptions:
    """RewardOptions from reward_kwargs; a misspelled option is an error naming it."""
    ours = tuple((name, value) for name, value in kwargs.items() if name not in VERL_KWARGS)
    if not ours:
        return DEFAULT_OPTIONS
    try:
        return _options_from(ours)  # verl passes the same options on every call: validate them once
    except TypeError:  # an unhashable value: validate uncached (it fails: options are scalars)
        return _options_from.__wrapped__(ours)


@lru_cache(maxsize=64)
def _options_from(items: tuple[tuple[str, object], ...]) -> RewardOptions:
    chosen = dict(items)
    unknown = set(chosen) - set(OPTION_NAMES)
    if unknown:
        raise ValueError(
            f"unknown reward option(s) {', '.join(sorted(unknown))}; known: {', '.join(OPTION_NAMES)} "
            "(set as reward.custom_reward_function.reward_kwargs.NAME)"
        )
    if chosen.get("control", "none") not in CONTROLS:
        raise ValueError(
            f"reward option control must be one of {', '.join(CONTROLS)}, got {chosen['control']!r}"
        )
    seed = chosen.get("control_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"reward option control_seed must be an integer, got {seed!r}")
    for name, value in chosen.items():
        if name in ("control", "control_seed"):
            continue
        is_flag = name == "strict_format"
        if isinstance(value, bool) != is_flag or not isinstance(value, int | float):
            kind = "true or false" if is_flag else "a number"
            raise ValueError(f"reward option {name} must be {kind}, got {value!r}")
    if chosen.get("math_timeout_s", 1.0) <= 0:
        raise ValueError(f"reward option math_timeout_s must be positive, got {chosen['math_timeout_s']!r}")
    return RewardOptions(**chosen)


def answer_spec(extra_info: object) -> AnswerSpec:
    """The row's template (extra_info["template"]), or the documented fallback when it has none."""
    name = extra_info.get("template") if isinstance(extra_info, dict | Mapping) else None
    if name is None:
        return _UNKNOWN_TEMPLATE
    if name not in _SPECS:
        get_template(name)  # raises ValueError naming the known templates
    return _SPECS[name]


def _coin(seed: int, response: str, ground_truth: object) -> int:
    """A fair, reproducible coin for the random control: sha256 of the seed, response and ground truth."""
    key = f"{seed}\x00{ground_truth!r}\x00".encode() + response.encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).digest()[0] & 1


def _keyed(seed: int, ground_truth: object) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{ground_truth!r}".encode()).digest()[:8], "big")


def shuffled_truth(seed: int, ground_truth: object) -> object:
    """The wrong ground truth the shuffled control scores against: keyed on (seed, truth), never the truth."""
    key = _keyed(seed, ground_truth)
    if isinstance(ground_truth, Mapping) and "target" in ground_truth:
        true_target = ground_truth["target"]
        wrong = 1 + key % SHUFFLED_TARGETS
        if wrong == true_target:
            wrong = wrong % SHUFFLED_TARGETS + 1
        return {**ground_truth, "target": wrong}
    wrong = key % SHUFFLED_ANSWERS
    if str(wrong) == str(ground_truth).strip():
        wrong = (wrong + 1) % SHUFFLED_ANSWERS
    return str(wrong)


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
    rewarded = verdict.correct
    if options.control == "shuffled":
        wrong_truth = shuffled_truth(options.control_seed, ground_truth)
        rewarded = scorer(answer if answer is not None else "", wrong_truth, options).correct
    strict = fits and format_strict_ok(solution_str, spec)
    lenient = strict or (fits and format_ok(solution_str, spec))  # strict implies lenient
    gate = strict or not options.strict_format
    correct = verdict.correct
    if options.control == "random":
        score = options.correct_score * _coin(options.control_seed, solution_str, ground_truth)
    elif options.control == "format_only":
        score = options.correct_score * lenient
    elif rewarded and gate:
        score = options.correct_score
    elif answer is not None and gate:
        score = options.format_score
    else:
        score = 0.0
    return {
        "score": float(score),
        "acc": int(correct),
        "format": int(lenient),
        "format_strict": int(strict),
        "has_answer": int(answer is not None),
        "pred": verdict.pred,
        "timed_out": int(verdict.timed_out),
        "refused": verdict.refused,
        **behaviour_counters(solution_str),
    }
