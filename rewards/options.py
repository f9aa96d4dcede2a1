"""The reward's options, declared once: each with its type, default and what it does.

RewardOptions, the validation of `reward_kwargs` (parse_options), the option table in
rewards/verl_reward.py's docstring (options_table) and the README's list are derived from or tested
against OPTIONS; a recipe sets them under `reward_kwargs:`, verl passes them as
`reward.custom_reward_function.reward_kwargs.NAME`.

    python -m pytest tests/rewards/test_registry.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from functools import lru_cache

from rewards.controls import CONTROLS
from rewards.language import TARGET_LANGUAGES
from rewards.math import DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Option:
    name: str
    kind: type  # float, bool, int or str
    default: object
    help: str
    choices: tuple[str, ...] = ()  # a str option takes one of these
    positive: bool = False
    non_negative: bool = False

    @property
    def default_text(self) -> str:
        return str(self.default).lower() if self.kind is bool else str(self.default)

    def check(self, value: object) -> None:
        """ValueError naming the option when `value` is not one it takes."""
        if self.choices:
            if value not in self.choices:
                raise ValueError(
                    f"reward option {self.name} must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return
        if self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"reward option {self.name} must be an integer, got {value!r}")
        if isinstance(value, bool) != (self.kind is bool) or not isinstance(value, int | float):
            kind = "true or false" if self.kind is bool else "a number"
            raise ValueError(f"reward option {self.name} must be {kind}, got {value!r}")
        if self.positive and value <= 0:
            raise ValueError(f"reward option {self.name} must be positive, got {value!r}")
        if self.non_negative and value < 0:
            raise ValueError(f"reward option {self.name} must be 0 or more, got {value!r}")


OPTIONS = (
    Option(
        "format_score",
        float,
        0.1,
        "reward for a response with an answer (block or \\boxed{}) that is wrong or invalid; 0 turns the "
        "format credit off (TinyZero: 0.1)",
    ),
    Option("correct_score", float, 1.0, "reward for a correct answer"),
    Option(
        "strict_format",
        bool,
        False,
        "when true, a response failing the strict format check (rewards/format.py) scores 0: no accuracy "
        "and no format credit. `acc` still reports whether its answer was right",
    ),
    Option(
        "math_timeout_s",
        float,
        DEFAULT_TIMEOUT_S,
        "hard deadline per math-verify check (math data sources)",
        positive=True,
    ),
    Option(
        "control",
        str,
        "none",
        "a control reward that ignores correctness (`acc` stays the truth): random (a seeded coin), "
        "format_only (credit for the lenient format), shuffled (scored against a wrong ground truth); "
        "rewards/controls.py",
        choices=CONTROLS,
    ),
    Option("control_seed", int, 0, "the key of the random and shuffled controls"),
    Option(
        "language_consistency",
        float,
        0.0,
        "DeepSeek-R1's language-consistency reward: adds this weight x `lang_consistency` (the share of the "
        "chain of thought's words in target_language, rewards/language.py) to the score, also under a "
        "control (it never reads correctness); nothing when strict_format's gate fails. 0: off "
        "(`lang_consistency` is still reported)",
        non_negative=True,
    ),
    Option(
        "target_language",
        str,
        "en",
        "the language of language_consistency: en (Latin-script words) or zh (Han characters)",
        choices=TARGET_LANGUAGES,
    ),
)
OPTION_NAMES = tuple(option.name for option in OPTIONS)
RewardOptions = make_dataclass(
    "RewardOptions", [(o.name, o.kind, field(default=o.default)) for o in OPTIONS], frozen=True
)
RewardOptions.__doc__ = "The reward's options (rewards.options.OPTIONS), as compute_score applies them."
DEFAULT_OPTIONS = RewardOptions()
# Keyword arguments verl 0.9.1's reward managers add on their own (with a reward-model router); ignored.
VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})
_BY_NAME = {option.name: option for option in OPTIONS}


def parse_options(kwargs: Mapping[str, object]) -> RewardOptions:
    """RewardOptions from reward_kwargs; a misspelled option is an error naming it."""
    # The type is part of the cache key: True == 1 == 1.0 hash alike, and a cached valid value must not
    # let an invalid one of another type through.
    ours = tuple((name, type(value), value) for name, value in kwargs.items() if name not in VERL_KWARGS)
    if not ours:
        return DEFAULT_OPTIONS
    try:
        return _options_from(ours)  # verl passes the same options on every call: validate them once
    except TypeError:  # an unhashable value: validate uncached (it fails: options are scalars)
        return _options_from.__wrapped__(ours)


@lru_cache(maxsize=64)
def _options_from(items: tuple[tuple[str, type, object], ...]) -> RewardOptions:
    chosen = {name: value for name, _, value in items}
    unknown = set(chosen) - set(OPTION_NAMES)
    if unknown:
        raise ValueError(
            f"unknown reward option(s) {', '.join(sorted(unknown))}; known: {', '.join(OPTION_NAMES)} "
            "(set as reward.custom_reward_function.reward_kwargs.NAME)"
        )
    for option in OPTIONS:  # in declaration order, so the first bad one named is always the same
        if option.name in chosen:
            option.check(chosen[option.name])
    return RewardOptions(**chosen)


def options_table(indent: int = 4) -> str:
    """The options as rewards/verl_reward.py's docstring lists them: name, type, default, help."""
    lines, width = [], max(len(option.name) for option in OPTIONS)
    for option in OPTIONS:
        head = f"{option.name:<{width}} {option.kind.__name__ + ',':<6} default {option.default_text:<5} "
        wrapped = textwrap.wrap(option.help, width=104 - indent - len(head))
        lines.append(" " * indent + head + wrapped[0])
        lines += [" " * (indent + len(head)) + rest for rest in wrapped[1:]]
    return "\n".join(lines)
