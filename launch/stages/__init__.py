"""Multi-stage recipes: DeepSeek-R1's pipeline (cold-start SFT -> reasoning RL -> rejection-sampling SFT -> RL)
as one recipe with ordered `stages:`, one run id, records per stage and resume at the first unfinished stage.

schema.py checks a recipe's `stages:`; plan.py compiles a pipeline per variant x seed (RL stages as launch.plan
runs, SFT stages handed to distill through the front door); state.py keeps `pipeline.json` and decides what
a relaunch runs; run.py executes the stages in order; cli.py is `python -m launch pipeline`.

    python -m launch pipeline countdown-r1 --dry-run
"""
