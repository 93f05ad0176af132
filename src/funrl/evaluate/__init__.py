"""Evaluation: generation backends (`backends`), the `funrl eval` entry point (`run`) and `funrl report`.

Scoring itself is `funrl.score` / `funrl.calls.check_output` (the reward's checker) and `funrl.metrics`.
"""
