"""Evaluation: generation backends (`backends`), the `funrl eval` entry point (`run`) and `funrl report`.

Scoring itself is `funrl.evaluate.scoring` over `funrl.calls.check_output` (the reward's checker) and `funrl.evaluate.metrics`.
"""
