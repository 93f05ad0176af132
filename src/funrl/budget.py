"""The one time budget for training: a `TrainerCallback` that stops training at the first step end past N seconds.

Used by `funrl sft` (`max_time_s`) and the CPU demo (equal-compute arms). The clock is the wall clock (`"wall"`) or
this process's CPU time (`"cpu"`, so that other jobs on a shared machine take steps away from nobody). Under several
processes rank 0's clock decides and is broadcast, so every rank stops at the same step.

    from funrl.budget import Clock, TimeBudgetCallback
    budget = TimeBudgetCallback(seconds=120, clock="cpu")
    trainer.add_callback(budget); trainer.train()
    budget.stopped, budget.elapsed        # whether the budget ended training, and the clock's seconds at the end
"""

from __future__ import annotations

import time

from transformers import TrainerCallback

CLOCKS = ("wall", "cpu")


class Clock:
    """Seconds since construction on the wall clock (`"wall"`, monotonic) or this process's CPU clock (`"cpu"`)."""

    def __init__(self, kind: str = "wall"):
        if kind not in CLOCKS:
            raise ValueError(f"unknown clock {kind!r}; valid clocks: {', '.join(CLOCKS)}")
        self.kind = kind
        self._now = time.monotonic if kind == "wall" else time.process_time
        self.start = self._now()

    def elapsed(self) -> float:
        return self._now() - self.start


class TimeBudgetCallback(TrainerCallback):
    """Sets `control.should_training_stop` at the first step end `seconds` after training began on `clock`.

    Args:
        seconds (`float`): the budget; > 0.
        clock (`str`, *optional*, defaults to `"wall"`): `"wall"` or `"cpu"` (see `Clock`).

    Attributes:
        stopped (`bool`): whether the budget stopped training.
        elapsed (`float`): the clock's seconds at the last step end.
    """

    def __init__(self, seconds: float, clock: str = "wall"):
        if not seconds > 0:
            raise ValueError(f"a time budget must be > 0 seconds, got {seconds}")
        Clock(clock)  # checks the name now, not at the first step
        self.seconds, self.clock_kind = float(seconds), clock
        self.clock: Clock | None = None
        self.stopped = False
        self.elapsed = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self.clock, self.stopped, self.elapsed = Clock(self.clock_kind), False, 0.0

    def on_step_end(self, args, state, control, **kwargs):
        if self.clock is None:  # a step without on_train_begin: the clock starts now
            self.clock = Clock(self.clock_kind)
        self.elapsed = self.clock.elapsed()
        if _rank0_decides(self.elapsed >= self.seconds, args):
            self.stopped = True
            control.should_training_stop = True
        return control


def _rank0_decides(over: bool, args) -> bool:
    """`over` as rank 0 sees it, on every rank (no-op in a single process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return over
    import torch

    flag = torch.tensor([int(over)], device=args.device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())
