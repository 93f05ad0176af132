"""funrl.toy.pipeline: stages side by side in worker processes (`run_parallel`), and the toy's plan chain of thought
that the format warm-up teaches (`funrl.toy.world.plan_think`)."""

from __future__ import annotations

import os

import pytest

from funrl.template import render_target
from funrl.toy.pipeline import Plan, run_parallel
from funrl.toy.world import generate, plan_think


def test_run_parallel_in_worker_processes_keeps_job_order():
    jobs = [(os.getpid, (), {}), (divmod, (17, 5), {}), (os.getpid, (), {})]
    pid_a, quotient, pid_b = run_parallel(jobs, workers=2)
    assert quotient == (3, 2)
    assert os.getpid() not in (pid_a, pid_b)  # each job ran in a spawned worker
    with pytest.raises(ZeroDivisionError):  # a job's error reaches the caller
        run_parallel([(divmod, (1, 0), {}), (divmod, (4, 2), {})], workers=2)


def test_run_parallel_one_worker_runs_here_in_order():
    assert run_parallel([(os.getpid, (), {}), (divmod, (9, 2), {})], workers=1) == [os.getpid(), (4, 1)]


@pytest.mark.parametrize(
    ("category", "calls"),
    [("simple", 1), ("multiple", 1), ("parallel", 2), ("parallel_multiple", 2), ("irrelevance", 0)],
)
def test_plan_think_counts_and_names_the_calls(category, calls):
    sample = generate("train", n=1, seed=7, mix={category: 1.0})[0]
    think = plan_think(sample)
    names = [next(iter(call)) for call in sample.ground_truth]
    assert think.startswith(f"{calls} call")
    assert all(name in think for name in names)
    values = [v[0] for call in sample.ground_truth for args in call.values() for v in args.values()]
    assert not any(value in think for value in values if isinstance(value, str) and len(value) > 2)  # no value copied
    sample.meta["think"] = think  # what funrl.toy.pipeline.build_data sets: the SFT target carries it
    assert render_target(sample, "funrl").startswith(f"<think>{think}</think>\n<answer>[")


def test_plan_defaults_run_side_by_side_and_smoke_in_process():
    assert Plan().workers == 2 and Plan.smoke().workers == 1
    assert Plan().think == "plan"


@pytest.mark.parametrize(("eval_split", "splits"), [("heldout", ("heldout_id", "heldout")),
                                                    ("validation", ("validation_id", "validation"))])  # fmt: skip
def test_evaluation_queries_are_those_of_the_evaluated_splits(eval_split, splits):
    """A run's training data leaves out exactly the queries of the two splits it evaluates on (not every query any
    seed could evaluate on: that would leave some tools' single calls unseen, docs/quickstart_results.md)."""
    from funrl.toy.pipeline import evaluation_queries

    expected = {s.messages[-1]["content"] for split in splits for s in generate(split, n=30, seed=2)}
    assert evaluation_queries(2, 30, eval_split) == expected
    other = "validation" if eval_split == "heldout" else "heldout"
    assert evaluation_queries(2, 30, other) != expected
