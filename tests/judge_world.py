"""A deterministic stub judge and small fixtures shared by the judge tests (test_judge*.py).

The stub (a real loopback HTTP server, tests/openai_stub.py) reads the conversation and the candidate
answer back out of the prompt the judge sent, compares the answer with the right one for that question
(`WORLD`) and answers a verdict. `schema_validate` is a small jsonschema-based stand-in for stage B (the
judge's contract is a callable; test_judge.py also runs the project's own validator).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
from openai_stub import OpenAIStub, RecordedRequest

from funrl.data.judge import JudgeConfig
from funrl.data.records import calls_from_ground_truth, ground_truth_from_calls
from funrl.schema import Sample, normalize_tools

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
    question = re.search(r"^\[user\] (.*)$", user, re.MULTILINE).group(1)
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


def config(stub: OpenAIStub, tmp_path: Path | None = None, **kw) -> JudgeConfig:
    defaults = dict(
        base_url=stub.base_url,
        model="stub-judge",
        api_key_env=None,
        concurrency=4,
        timeout_s=5.0,
        max_retries=3,
        max_failed_share=1.0,  # per-sample outcomes; the run-level stop has its own tests
        progress=False,
        cache_path=str(tmp_path / "cache.jsonl") if tmp_path else None,
    )
    defaults.update(kw)
    return JudgeConfig(**defaults)


def comparable(outcomes) -> list[dict]:
    return [o.to_dict(with_usage=False) for o in outcomes]


def batch() -> list[Sample]:
    wrong = {"Weather in Oslo in fahrenheit?": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}
    samples = [make_sample(q, wrong.get(q, calls), sid=f"s{i}") for i, (q, calls) in enumerate(WORLD.items())]
    samples.append(make_sample("What is the meaning of life?", [], sid="s-unsolvable"))
    return samples
