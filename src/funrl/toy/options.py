"""The options `funrl quickstart` and `funrl ablate` share: step budgets, the evaluation splits, the start model,
torch threads and worker processes, each with its help and checked once. Each command's arguments dataclass extends
`StageOptions` with its own options and is parsed by TRL's `TrlParser`, like train and sft.

    @dataclass
    class QuickstartArguments(StageOptions):
        output: str = field(metadata=option_help("run folder"))  # option_help: funrl.fields
"""

from __future__ import annotations

from dataclasses import dataclass, field

from funrl.fields import option_help
from funrl.toy.pipeline import EVAL_SPLITS, Plan


@dataclass(kw_only=True)  # keyword-only: a command's required options (e.g. `output`) can follow these defaults
class StageOptions:
    """Options of the CPU demo's stages; the step budgets default to `funrl.toy.pipeline.Plan`'s."""

    warmup_steps: int = field(default=Plan.warmup_steps, metadata=option_help("format warm-up SFT steps"))
    rl_steps: int = field(default=Plan.rl_steps, metadata=option_help("optimizer steps of each RL arm"))
    rl_lr: float = field(default=Plan.rl_lr, metadata=option_help("RL learning rate"))
    eval_split: str = field(
        default="heldout",
        metadata=option_help("validation: for choosing settings; heldout: the final numbers",
                             choices=sorted(EVAL_SPLITS)),
    )  # fmt: skip
    threads: int = field(
        default=2,
        metadata=option_help("torch threads of this process: the data and the warm-up, which run alone (1.7x faster "
                             "on 2 cores than 1 thread); the later stages run in --workers processes of one thread "
                             "each"),
    )  # fmt: skip
    workers: int = field(
        default=Plan.workers,
        metadata=option_help("processes (one torch thread each) for the stages after the warm-up, side by side: the "
                             "RL arms and the control, then the evaluations; 1: one after the other in this process"),
    )  # fmt: skip
    base: str | None = field(
        default=None, metadata=option_help("start model folder; unset: the shipped toy base model")
    )

    def __post_init__(self) -> None:
        for name in ("warmup_steps", "rl_steps", "threads", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if not self.rl_lr > 0:
            raise ValueError(f"--rl-lr must be > 0, got {self.rl_lr}")
