"""The CPU miniature: R1-Zero on a laptop, from a base model pre-trained here to the report of a GRPO sweep.

A stage of its own that calls the other stages as any user would: data_prep builds the split, mini.base
pre-trains and gates the tiny bases (base/), launch compiles, validates and runs every run of
recipes/countdown-mini.yaml (or of another miniature recipe: RECIPES) with the CPU backend (run.py), reporting builds the report; probe.py is the
short learning probe the CI test and benchmarks/calibrate_mini_probe.py use.

    python -m mini [--variant grpo] [--seed 1] [--steps N]          # make mini
    python -m mini --recipe countdown-mini-ablations --variant rloo   # make mini RECIPE=countdown-mini-ablations
    python -m mini --recipe countdown-mini-long                       # make mini RECIPE=countdown-mini-long
    python -m mini --recipe countdown-mini-r1 --variant zero          # R1's arms, multi-stage (r1.py)
"""

RECIPE = "countdown-mini"
LONG_RECIPE = "countdown-mini-long"
R1_RECIPE = "countdown-mini-r1"  # multi-stage: its pipelines run through mini/r1.py
# The recipes on the miniature's split: countdown-mini and those built on it, the long miniature, R1's arms.
RECIPES = (RECIPE, "countdown-mini-ablations", LONG_RECIPE, R1_RECIPE)
TASK, TEMPLATE = "countdown-mini", "mini"  # the split the bases are gated on and the runs train on
# prior -> where the recipes' runs expect that base (their model paths); a recipe's runs build only the
# bases they name (mini.run.ensure_bases): countdown-mini's search/none, countdown-mini-long's long/short,
# countdown-mini-r1's mixed.
BASES = {
    "search": "results/countdown-mini/base/search",
    "none": "results/countdown-mini/base/none",
    "long": "results/countdown-mini-long/base/long",
    "short": "results/countdown-mini-long/base/short",
    "mixed": "results/countdown-mini-r1/base/mixed",
}
