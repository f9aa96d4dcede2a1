"""The run doctor: names the silent failures of RL runs from their records, with what to try first.

- rules.py: every finding's thresholds and windows, their defaults and where they come from (a recipe's
  `doctor:` block overrides them);
- history.py: reads one run's records (run.json, config.yaml, metrics, generation dumps) into a History;
- checks.py: one check per finding, each judging the History against its rule;
- live.py: the same checks while a run trains (the attempt wrapper polls them).

    python -m launch doctor results/countdown-3b/runs/countdown-3b__default__s1 [--json]
"""
