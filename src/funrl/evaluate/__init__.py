"""Evaluation: generation backends (`backends`), one evaluation run (`arguments`, `runner`), the `funrl eval` entry
point (`run`), `funrl score` and `funrl report`.

Scoring itself is `funrl.evaluate.scoring` over `funrl.calls.check_output` (the reward's checker) and `funrl.evaluate.metrics`.
"""
