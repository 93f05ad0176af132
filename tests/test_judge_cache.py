"""The judge cache (funrl.data.judge_cache) and resumability: re-runs served from the cache, torn and corrupt
lines, deterministic outcomes at any concurrency, and a kill -9 mid-run followed by a resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from judge_world import (
    WORLD,
    batch,
    comparable,
    config,
    make_sample,
    schema_validate,
    world_judge,
)
from openai_stub import OpenAIStub

from funrl.data.judge import run_judge, summarize
from funrl.data.judge_cache import JudgeCache, request_key
from funrl.schema import write_samples


@pytest.fixture
def stub():
    """A loopback server playing the deterministic `world_judge`."""
    with OpenAIStub(world_judge) as server:
        yield server


# ----------------------------------------------------------------------------------------------- cache


def test_rerun_is_served_from_the_cache(stub, tmp_path):
    first = run_judge(batch(), config(stub, tmp_path), schema_validate)
    made = len(stub.chat_requests())
    assert made == summarize(first)["requests"] > 0
    assert [o.status for o in first] == ["kept", "repaired", "kept", "kept", "kept", "rejected"]
    second = run_judge(batch(), config(stub, tmp_path), schema_validate)
    assert len(stub.chat_requests()) == made  # the stub saw no new request
    assert comparable(second) == comparable(first)
    totals = summarize(second)
    assert totals["requests"] == 0 and totals["cache_hits"] == made and totals["prompt_tokens"] == 0
    # a different model or temperature is a different key
    run_judge(batch()[:1], config(stub, tmp_path, temperature=0.5), schema_validate)
    assert len(stub.chat_requests()) == made + 2


def test_same_answers_give_same_outcomes_at_any_concurrency(stub):
    one = run_judge(batch(), config(stub, concurrency=1), schema_validate)
    many = run_judge(batch(), config(stub, concurrency=6), schema_validate)
    assert comparable(one) == comparable(many)
    assert [o.id for o in many] == [s.id for s in batch()]


def test_cache_tolerates_a_torn_last_line_and_names_a_corrupt_one(tmp_path):
    path = tmp_path / "cache.jsonl"
    with JudgeCache(path) as cache:
        cache.put("a", {"content": "1"})
        cache.put("b", {"content": "2"})
    with path.open("ab") as handle:
        handle.write(b'{"key": "c", "content": "par')  # a write cut short by kill -9
    with JudgeCache(path) as cache:
        assert sorted(cache.entries) == ["a", "b"] and cache.torn_tail_bytes > 0
        cache.put("c", {"content": "3"})
    with JudgeCache(path) as cache:
        assert sorted(cache.entries) == ["a", "b", "c"] and cache.torn_tail_bytes == 0
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match=r"cache\.jsonl:2: corrupt judge-cache entry"):
        JudgeCache(path)


RESUME_SCRIPT = """
import sys
from funrl.data.judge import JudgeConfig, run_judge
from funrl.schema import read_samples

samples = read_samples(sys.argv[1])
config = JudgeConfig(base_url=sys.argv[2], model="stub-judge", api_key_env=None, cache_path=sys.argv[3],
                     concurrency=2, progress=False)
run_judge(samples, config, lambda sample: (sample, []))
print("FINISHED")
"""


def test_kill_9_then_resume_requests_only_the_missing_answers(tmp_path):
    questions = list(WORLD)
    samples = [
        make_sample(questions[i % len(questions)], WORLD[questions[i % len(questions)]], sid=f"r{i}")
        for i in range(24)
    ]
    # distinct prompts per sample, so each sample has its own cache keys
    for i, sample in enumerate(samples):
        sample.messages.insert(0, {"role": "system", "content": f"session {i}"})
    write_samples(samples, tmp_path / "samples.jsonl")
    accept = lambda sample: (sample, [])  # noqa: E731

    with OpenAIStub(world_judge) as reference_stub:
        reference = run_judge(samples, config(reference_stub), accept)
        all_keys = {request_key(r.body) for r in reference_stub.chat_requests()}
    assert len(all_keys) == 48  # evaluate + final pass per sample

    cache_path = tmp_path / "cache.jsonl"
    with OpenAIStub(world_judge, latency_s=0.1) as stub:
        script = tmp_path / "run_judge.py"
        script.write_text(RESUME_SCRIPT)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "samples.jsonl"), stub.base_url, str(cache_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if cache_path.exists() and cache_path.read_bytes().count(b"\n") >= 10:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()  # still running: killed mid-way
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with JudgeCache(cache_path) as cache:
            cached = set(cache.entries)
        assert 10 <= len(cached) < 48 and cached <= all_keys
        stub.reset()
        resumed = run_judge(samples, config(stub, tmp_path), accept)
        asked = [request_key(r.body) for r in stub.chat_requests()]
    assert comparable(resumed) == comparable(reference)
    assert set(asked) == all_keys - cached and len(asked) == len(set(asked))  # only the missing ones, once
