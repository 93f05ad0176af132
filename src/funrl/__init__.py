"""funrl: train LLMs to call functions with reinforcement learning (FunRL, arXiv 2508.05118).

Importing the package is cheap: it pulls in no torch, transformers or trl. Heavy modules
(`funrl.trainer`, `funrl.train`, `funrl.sft`, ...) import them when they are used.

    from funrl.schema import Sample
    from funrl.calls import parse_calls, match_calls
"""

__version__ = "0.1.0"
