"""Rejection-sampling distillation (DeepSeek-R1 §4; Kimi k1.5's long2short): a teacher's sampled traces,
kept only when the rule reward accepts them, fine-tune a small student with verl 0.9.1's SFT trainer.

evaluation.sample (teacher generations) -> reject.py (filters, counts) -> write.py (SFT parquet + meta.json),
build.py ties the three; sft.py (verl SFT keys checked, torchrun); evaluation.cpu_eval (the student's eval); schema.py checks a recipe's
`distill:` section; cli.py (`python -m distill`, also `python -m launch distill`).
"""
