"""`funrl.budget`: the one time-budget callback (used by `funrl sft` and the CPU demo)."""

from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState

from funrl.budget import Clock, TimeBudgetCallback


class _Args:
    device = "cpu"


def _step(callback: TimeBudgetCallback) -> TrainerControl:
    return callback.on_step_end(_Args(), TrainerState(), TrainerControl())


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_stops_at_the_first_step_end_past_the_budget(clock, monkeypatch):
    callback = TimeBudgetCallback(seconds=10, clock=clock)
    callback.on_train_begin(_Args(), TrainerState(), TrainerControl())
    monkeypatch.setattr(Clock, "elapsed", lambda self: 9.5)
    assert not _step(callback).should_training_stop and not callback.stopped
    assert callback.elapsed == 9.5
    monkeypatch.setattr(Clock, "elapsed", lambda self: 10.0)
    assert _step(callback).should_training_stop and callback.stopped and callback.elapsed == 10.0


def test_a_new_training_restarts_the_clock(monkeypatch):
    callback = TimeBudgetCallback(seconds=1)
    monkeypatch.setattr(Clock, "elapsed", lambda self: 2.0)
    callback.on_train_begin(_Args(), TrainerState(), TrainerControl())
    assert _step(callback).should_training_stop
    monkeypatch.undo()
    callback.on_train_begin(_Args(), TrainerState(), TrainerControl())
    assert not callback.stopped and callback.elapsed == 0.0
    assert not _step(callback).should_training_stop  # a real clock: far below one second


def test_cpu_clock_counts_this_process_only():
    clock = Clock("cpu")
    sum(i * i for i in range(200_000))  # some CPU work
    assert clock.elapsed() > 0


@pytest.mark.parametrize(("kwargs", "message"), [({"seconds": 0}, "> 0 seconds"), ({"seconds": 5, "clock": "gpu"},
                                                  "unknown clock 'gpu'; valid clocks: wall, cpu")])  # fmt: skip
def test_bad_settings_say_what_is_valid(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TimeBudgetCallback(**kwargs)
