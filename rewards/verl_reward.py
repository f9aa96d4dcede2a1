"""The file verl loads: `reward.custom_reward_function.path=rewards/verl_reward.py`, `.name=compute_score`.

verl 0.9.1 loads this file by path (not as a package module), calls `compute_score(data_source=...,
solution_str=<decoded response>, ground_truth=..., extra_info=...)` from a thread pool in its reward loop
workers, and merges `reward.custom_reward_function.reward_kwargs` into the keyword arguments. Options
(`+reward.custom_reward_function.reward_kwargs.NAME=VALUE` on the command line; declared in
rewards/options.py, which this table is tested against):

    format_score         float, default 0.1   reward for a response with an answer (block or \\boxed{})
                                              that is wrong or invalid; 0 turns the format credit off
                                              (TinyZero: 0.1)
    correct_score        float, default 1.0   reward for a correct answer
    strict_format        bool,  default false when true, a response failing the strict format check
                                              (rewards/format.py) scores 0: no accuracy and no format
                                              credit. `acc` still reports whether its answer was right
    math_timeout_s       float, default 5.0   hard deadline per math-verify check (math data sources)
    control              str,   default none  a control reward that ignores correctness (`acc` stays the
                                              truth): random (a seeded coin), format_only (credit for
                                              the lenient format), shuffled (scored against a wrong
                                              ground truth); rewards/controls.py
    control_seed         int,   default 0     the key of the random and shuffled controls
    language_consistency float, default 0.0   DeepSeek-R1's language-consistency reward: adds this
                                              weight x `lang_consistency` (the share of the chain of
                                              thought's words in target_language, rewards/language.py)
                                              to the score, also under a control (it never reads
                                              correctness); nothing when strict_format's gate fails. 0:
                                              off (`lang_consistency` is still reported)
    target_language      str,   default en    the language of language_consistency: en (Latin-script
                                              words) or zh (Han characters)

Any other keyword raises ValueError naming it (a misspelled option fails the first reward call, not
silently), except `reward_router_address` and `reward_model_tokenizer`, which verl's reward managers add
themselves when a reward model is configured. The returned keys are listed in rewards/registry.py.

    python -m pytest tests/rewards/test_verl_integration.py -q
"""

import sys
from pathlib import Path

try:
    from rewards import compute_score
except ImportError:  # the repo is not pip-installed on this node: import the package beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rewards import compute_score

__all__ = ["compute_score"]
