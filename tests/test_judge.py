"""The LLM judge (funrl.data.judge) against a real loopback OpenAI-compatible server (tests/openai_stub.py).

The stub plays a deterministic judge: it reads the conversation and the candidate answer out of the prompt
the judge sent, compares the answer with the right one for that question (`WORLD`) and answers a verdict,
so every test goes through the real `openai` client, HTTP, retries, parsing and the cache.
The `validate` callable passed to the judge here is a small jsonschema-based stand-in for stage B (the
judge's contract is a callable; stage B itself is tested in its own module).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from openai_stub import OpenAIStub, RecordedRequest, StubReply

from funrl.data.judge import JudgeConfig, JudgeError, run_judge, summarize
from funrl.data.judge_cache import JudgeCache, request_key
from funrl.data.judge_prompt import load_template, parse_verdict, render_target
from funrl.data.records import calls_from_ground_truth, ground_truth_from_calls
from funrl.schema import Sample, normalize_tools, write_samples

REPO = Path(__file__).resolve().parents[1]
TOOLS = normalize_tools(
    [
        {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                "required": ["city"],
            },
        },
        {
            "name": "convert",
            "description": "Convert an amount between currencies.",
            "parameters": {
                "type": "object",
                "properties": {"amount": {"type": "number"}, "src": {"type": "string"}, "dst": {"type": "string"}},
                "required": ["amount", "src", "dst"],
            },
        },
    ]
)
# question -> the right answer (what the stub judge believes)
WORLD: dict[str, list[dict]] = {
    "Weather in Paris?": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    "Weather in Oslo in fahrenheit?": [{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "f"}}],
    "Convert 5 EUR to JPY.": [{"name": "convert", "arguments": {"amount": 5, "src": "EUR", "dst": "JPY"}}],
    "Weather in Rome and Lima?": [
        {"name": "get_weather", "arguments": {"city": "Rome"}},
        {"name": "get_weather", "arguments": {"city": "Lima"}},
    ],
    "Tell me a joke.": [],
}


def make_sample(question: str, calls: list[dict], sid: str | None = None) -> Sample:
    return Sample(
        id=sid or question,
        messages=[{"role": "user", "content": question}],
        tools=TOOLS,
        ground_truth=ground_truth_from_calls(calls),
        category="multiple" if calls else "irrelevance",
        source="test",
        meta={"target_kind": "call" if calls else "no_call", "audit": []},
    )


def verdict(verdict="pass", failure_type=None, fixable=False, corrected=None, reasoning="checked") -> str:
    body = {
        "reasoning": reasoning,
        "verdict": verdict,
        "failure_type": failure_type,
        "fixable": fixable,
        "corrected_calls": corrected,
    }
    return json.dumps(body)


def prompt_parts(request: RecordedRequest) -> tuple[str, list[dict] | None, bool]:
    """(question, candidate calls or None for NO CALL, is_final_pass) read back from the judge prompt."""
    system = request.messages[0]["content"]
    user = next(m["content"] for m in request.messages if m["role"] == "user")
    question = user.split("Conversation:\n[user] ", 1)[1].split("\n", 1)[0]
    target = user.split("):\n", 1)[1].split("\n", 1)[0]
    calls = [] if target == "NO CALL" else json.loads(target)
    return question, calls, "final reviewer" in system


def canon(calls: list[dict]) -> list[str]:
    return sorted(json.dumps(c, sort_keys=True) for c in calls)


def world_judge(request: RecordedRequest) -> str:
    """Pass the right answer; fail-and-correct a wrong one (final pass: pass or fail)."""
    question, calls, final = prompt_parts(request)
    if question not in WORLD:
        return verdict("fail", "unsolvable", False, reasoning="no tool fits")
    right = WORLD[question]
    if canon(calls) == canon(right):
        return verdict("pass")
    if final:
        return verdict("fail", "wrong_value", False)
    return verdict("fail", "wrong_value", True, right, reasoning="the value does not match the request")


def schema_validate(sample: Sample) -> tuple[Sample | None, list[str]]:
    """Stand-in for stage B: unknown function (C1), missing required (C4), extra argument (C5), type (T1)."""
    codes = []
    for call in calls_from_ground_truth(sample.ground_truth):
        tool = sample.tool(call["name"])
        if tool is None:
            codes.append("C1")
            continue
        params = tool["parameters"]
        if set(params.get("required", [])) - set(call["arguments"]):
            codes.append("C4")
        if set(call["arguments"]) - set(params["properties"]):
            codes.append("C5")
        errors = jsonschema.Draft202012Validator(params).iter_errors(call["arguments"])
        if any(error.validator != "required" for error in errors):
            codes.append("T1")
    return (None, codes) if codes else (sample, [])


@pytest.fixture
def stub():
    with OpenAIStub(world_judge) as server:
        yield server


def config(stub: OpenAIStub, tmp_path: Path | None = None, **kw) -> JudgeConfig:
    defaults = dict(
        base_url=stub.base_url,
        model="stub-judge",
        api_key_env=None,
        concurrency=4,
        timeout_s=5.0,
        max_retries=3,
        backoff_s=0.01,
        backoff_max_s=0.2,
        progress=False,
        cache_path=str(tmp_path / "cache.jsonl") if tmp_path else None,
    )
    defaults.update(kw)
    return JudgeConfig(**defaults)


def comparable(outcomes) -> list[dict]:
    return [o.to_dict(with_usage=False) for o in outcomes]


# ----------------------------------------------------------------------------------------------- verdicts


def test_correct_sample_is_kept_after_evaluate_and_final_pass(stub):
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    (outcome,) = run_judge([sample], config(stub), schema_validate)
    assert (outcome.status, outcome.reasons, outcome.rounds) == ("kept", [], 1)
    assert outcome.sample.to_dict() == sample.to_dict()
    requests = stub.chat_requests()
    assert [prompt_parts(r)[2] for r in requests] == [False, True]  # evaluate, then final pass
    body = requests[0].body
    assert body["model"] == "stub-judge" and body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert outcome.usage["requests"] == 2 and outcome.usage["prompt_tokens"] > 0


def test_correction_is_revalidated_and_rejudged(stub):
    wrong = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]  # unit dropped
    seen: list[Sample] = []

    def validate(sample):
        seen.append(sample)
        return schema_validate(sample)

    (outcome,) = run_judge([make_sample("Weather in Oslo in fahrenheit?", wrong)], config(stub), validate)
    assert (outcome.status, outcome.rounds) == ("repaired", 2)
    assert calls_from_ground_truth(outcome.sample.ground_truth) == WORLD["Weather in Oslo in fahrenheit?"]
    assert len(seen) == 1 and seen[0].ground_truth == outcome.sample.ground_truth  # validated before re-judging
    (entry,) = outcome.audit
    assert entry["rule"] == "J1" and entry["action"] == "repair" and entry["round"] == 1
    assert outcome.sample.meta["audit"][-1] == entry
    # round 1 evaluates the wrong target, round 2 the corrected one, then the final pass
    targets = [prompt_parts(r)[1] for r in stub.chat_requests()]
    assert targets == [wrong, WORLD["Weather in Oslo in fahrenheit?"], WORLD["Weather in Oslo in fahrenheit?"]]


def test_correction_changes_call_count_and_category(stub):
    sample = make_sample("Weather in Rome and Lima?", WORLD["Weather in Rome and Lima?"][:1])
    (outcome,) = run_judge([sample], config(stub), schema_validate)
    assert outcome.status == "repaired" and outcome.sample.category == "parallel"
    sample = make_sample("Tell me a joke.", [{"name": "get_weather", "arguments": {"city": "Paris"}}])
    (outcome,) = run_judge([sample], config(stub), schema_validate)
    assert outcome.status == "repaired" and outcome.sample.ground_truth == []
    assert outcome.sample.category == "irrelevance" and outcome.sample.meta["target_kind"] == "no_call"


@pytest.mark.parametrize(
    "bad_correction, codes",
    [
        ([{"name": "convert", "arguments": {"amount": 5, "src": "EUR"}}], ["J2", "C4"]),  # missing required
        ([{"name": "convert_money", "arguments": {"amount": 5}}], ["J2", "C1"]),  # unknown function
        ([{"name": "convert", "arguments": {"amount": "5", "src": "EUR", "dst": "JPY"}}], ["J2", "T1"]),  # type
    ],
    ids=["missing-required", "unknown-function", "wrong-type"],
)
def test_invalid_correction_is_rejected_with_the_validator_reason(stub, bad_correction, codes):
    stub.set_responder(lambda r: verdict("fail", "wrong_value", True, bad_correction))
    sample = make_sample("Convert 5 EUR to JPY.", [{"name": "convert", "arguments": {"amount": 6, "src": "EUR", "dst": "JPY"}}])
    (outcome,) = run_judge([sample], config(stub), schema_validate)
    assert (outcome.status, outcome.sample, outcome.reasons, outcome.rounds) == ("rejected", None, codes, 1)
    assert outcome.audit[-1]["rule"] == "J2" and codes[1] in outcome.audit[-1]["detail"]
    assert len(stub.chat_requests()) == 1  # not re-judged


@pytest.mark.parametrize(
    "answer, reason",
    [
        (verdict("fail", "wrong_function", False), "J1:wrong_function"),
        (verdict("fail", "unsolvable", True, []), "J1:unsolvable"),  # unsolvable is dropped even if "fixable"
        (verdict("fail", "bad_result", False), "J1:bad_result"),
        (verdict("fail", None, False), "J1:unspecified"),
    ],
)
def test_unfixable_failure_is_dropped(stub, answer, reason):
    stub.set_responder(lambda r: answer)
    (outcome,) = run_judge([make_sample("Weather in Paris?", WORLD["Weather in Paris?"])], config(stub), schema_validate)
    assert (outcome.status, outcome.reasons, outcome.rounds) == ("rejected", [reason], 1)


def test_round_cap(stub):
    flip = {"Paris": "Lyon", "Lyon": "Paris"}  # a judge that never settles

    def fickle(request):
        _, calls, _ = prompt_parts(request)
        fixed = [{"name": "get_weather", "arguments": {"city": flip[calls[0]["arguments"]["city"]]}}]
        return verdict("fail", "wrong_value", True, fixed)

    stub.set_responder(fickle)
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    (outcome,) = run_judge([sample], config(stub, max_rounds=3), schema_validate)
    assert (outcome.status, outcome.reasons, outcome.rounds) == ("rejected", ["J3"], 3)
    assert len(stub.chat_requests()) == 3
    assert [a["action"] for a in outcome.audit] == ["repair", "repair", "reject"]


def test_final_pass_can_reject_and_can_be_disabled(stub):
    def strict_final(request):
        return verdict("fail", "hallucinated_value", False) if prompt_parts(request)[2] else verdict("pass")

    stub.set_responder(strict_final)
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    (outcome,) = run_judge([sample], config(stub), schema_validate)
    assert (outcome.status, outcome.reasons) == ("rejected", ["J4:hallucinated_value"])
    stub.reset()
    (outcome,) = run_judge([sample], config(stub, final_pass=False), schema_validate)
    assert outcome.status == "kept" and len(stub.chat_requests()) == 1
