"""The CPU miniature's base model: a tiny Qwen2 pre-trained here on a synthetic Countdown corpus.

A model organism for R1-Zero on a laptop: its corpus plants search, self-verification and guessing in a
documented mixture (corpus.py), pre-training gives a small base model that verl loads like any checkpoint
(pretrain.py, tokenizer from vocab.py), and a gate measures, before any RL, that the planted search is rare
but works in the model's hands (gate.py). RL is then left to amplify it.

    python -m mini.base --out models/mini-base            # build (or reuse) and gate
"""
