"""The CPU miniature: R1-Zero on a laptop, from a base model pre-trained here to the report of a GRPO sweep.

A stage of its own that calls the other stages as any user would: data_prep builds the split, mini.base
pre-trains and gates the tiny bases (base/), launch compiles, validates and runs every run of
recipes/countdown-mini.yaml with the CPU backend (run.py), reporting builds the report; probe.py is the
short learning probe the CI test and benchmarks/calibrate_mini_probe.py use.

    python -m mini [--variant grpo] [--seed 1] [--steps N]          # make mini
    python -m mini --recipe countdown-mini-ablations --variant rloo   # make mini RECIPE=countdown-mini-ablations
"""

RECIPE = "countdown-mini"
# The recipes on the miniature's bases and split: countdown-mini and those built on it.
RECIPES = (RECIPE, "countdown-mini-ablations")
TASK, TEMPLATE = "countdown-mini", "mini"  # the split the bases are gated on and the runs train on
# prior -> where the recipe's runs expect that base (the recipe's model paths)
BASES = {"search": "results/countdown-mini/base/search", "none": "results/countdown-mini/base/none"}
