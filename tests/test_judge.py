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
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai_stub import OpenAIStub, RecordedRequest, StubReply

from funrl.data.judge import JudgeConfig, JudgeError, backoff_wait, run_judge, summarize
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
    sample = make_sample(
        "Convert 5 EUR to JPY.", [{"name": "convert", "arguments": {"amount": 6, "src": "EUR", "dst": "JPY"}}]
    )
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
    (outcome,) = run_judge(
        [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])], config(stub), schema_validate
    )
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


# ----------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    "fault, retries",
    [
        (StubReply(status=429, headers={"Retry-After": "0.05"}), 2),
        (StubReply(status=500), 2),
        (StubReply(status=503), 1),
        (StubReply(content="too late", delay_s=3.0), 1),  # slower than the 0.5 s client timeout
        (StubReply(drop_connection=True), 1),
        (StubReply(raw_body=b'{"id": "x", "choices": ['), 1),  # malformed JSON body
        (StubReply(raw_body=b'{"id": "x", "object": "chat.completion", "choices": []}'), 1),  # no choices
    ],
    ids=["429-retry-after", "500", "503", "timeout", "dropped-connection", "malformed-body", "no-choices"],
)
def test_transient_faults_are_retried(stub, fault, retries):
    stub.inject(fault, times=retries)
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    (outcome,) = run_judge([sample], config(stub, timeout_s=0.5), schema_validate)
    assert outcome.status == "kept"
    assert outcome.usage["retries"] == retries and outcome.usage["requests"] == retries + 2
    assert len(stub.chat_requests()) == retries + 2


class _FakeResponse:
    def __init__(self, headers):
        self.headers = headers


class _FakeError(Exception):
    def __init__(self, headers):
        self.response = _FakeResponse(headers)


@pytest.mark.parametrize(
    "attempt, headers, low, high",
    [
        (1, {}, 0.5, 1.0),  # backoff_s * 2**0, jittered into [0.5, 1] of it
        (3, {}, 2.0, 4.0),  # backoff_s * 2**2
        (9, {}, 5.0, 10.0),  # capped at backoff_max_s
        (1, {"retry-after": "3"}, 3.0, 3.0),  # Retry-After wins over a shorter backoff
        (1, {"retry-after-ms": "1500"}, 1.5, 1.5),
        (1, {"retry-after": "60"}, 10.0, 10.0),  # but never past the cap
        (3, {"retry-after": "0"}, 2.0, 4.0),  # and a shorter hint does not shorten the backoff
        (1, {"retry-after": "soon"}, 0.5, 1.0),  # unparsable hint ignored
    ],
)
def test_backoff_wait(attempt, headers, low, high):
    cfg = JudgeConfig(model="m", backoff_s=1.0, backoff_max_s=10.0)
    for _ in range(20):
        assert low <= backoff_wait(cfg, attempt, _FakeError(headers)) <= high


@pytest.mark.parametrize(
    "fault, reason",
    [
        (StubReply(status=500), "J5:server_error"),
        (StubReply(status=429), "J5:rate_limited"),
        (StubReply(content="late", delay_s=2.0), "J5:timeout"),
        (StubReply(status=400, content="context length exceeded"), "J5:http_400"),  # not retried
    ],
)
def test_exhausted_retries_are_a_rejected_outcome_not_a_crash(stub, fault, reason):
    stub.inject(fault, times=10)
    samples = [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])]
    (outcome,) = run_judge(samples, config(stub, max_retries=2, timeout_s=0.3), schema_validate)
    assert (outcome.status, outcome.reasons) == ("rejected", [reason])
    expected = 1 if reason == "J5:http_400" else 3
    assert outcome.usage["requests"] == expected and len(stub.chat_requests()) == expected


def test_malformed_answer_is_reasked_once(stub):
    stub.inject(StubReply(content="The answer looks fine to me."))
    (outcome,) = run_judge(
        [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])], config(stub), schema_validate
    )
    assert outcome.status == "kept" and outcome.usage["requests"] == 3
    reask = stub.chat_requests()[1].messages
    assert reask[-2] == {"role": "assistant", "content": "The answer looks fine to me."}
    assert "invalid_json" in reask[-1]["content"]


@pytest.mark.parametrize(
    "answer, code",
    [
        ("", "J6:empty"),
        ("not json", "J6:invalid_json"),
        ('["pass"]', "J6:not_object"),
        ('{"verdict": "pass"}', "J6:bad_keys"),
        (verdict("maybe"), "J6:bad_verdict"),
        (verdict("fail", "typo", False), "J6:bad_failure_type"),
        (verdict("fail", "wrong_value", True, None), "J6:inconsistent"),
        (verdict("fail", "wrong_value", True, [{"name": "f"}]), "J6:bad_corrected_calls"),
    ],
)
def test_always_malformed_answer_is_a_counted_failure(stub, answer, code):
    stub.set_responder(lambda r: answer)
    samples = [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])]
    (outcome,) = run_judge(samples, config(stub, reask_malformed=1), schema_validate)
    assert (outcome.status, outcome.reasons, outcome.usage["requests"]) == ("rejected", [code], 2)


# one row per case: answer text -> verdict fields, or the VerdictError code
PARSE_CASES = [
    (verdict("pass"), ("pass", None, False, None)),
    ("```json\n" + verdict("pass") + "\n```", ("pass", None, False, None)),  # one outer fence is accepted
    ("  " + verdict("fail", "missing_info", False) + "\n", ("fail", "missing_info", False, None)),
    (verdict("fail", "wrong_count", True, []), ("fail", "wrong_count", True, [])),  # [] = NO CALL
    ("Sure! " + verdict("pass"), "invalid_json"),  # prose around the object is not accepted
    (verdict("pass") + verdict("pass"), "invalid_json"),
    (verdict("pass", "wrong_value"), "inconsistent"),
    (verdict("pass", corrected=[]), "inconsistent"),
    (json.dumps({**json.loads(verdict("pass")), "confidence": 0.9}), "bad_keys"),
    (json.dumps({**json.loads(verdict("pass")), "fixable": "no"}), "bad_fixable"),
    (json.dumps({**json.loads(verdict("pass")), "reasoning": 3}), "bad_reasoning"),
    (verdict("fail", "wrong_value", True, [{"name": "f", "arguments": []}]), "bad_corrected_calls"),
    (verdict("fail", "wrong_value", True, {"name": "f", "arguments": {}}), "bad_corrected_calls"),
]


@pytest.mark.parametrize("text, expected", PARSE_CASES)
def test_parse_verdict_table(text, expected):
    from funrl.data.judge_prompt import VerdictError

    if isinstance(expected, str):
        with pytest.raises(VerdictError) as info:
            parse_verdict(text)
        assert info.value.code == expected
    else:
        got = parse_verdict(text)
        assert (got.verdict, got.failure_type, got.fixable, got.corrected_calls) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.recursive(st.none() | st.booleans() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)).map(
            json.dumps
        ),
    )
)
def test_parse_verdict_never_crashes(text):
    from funrl.data.judge_prompt import VerdictError

    try:
        parsed = parse_verdict(text)
    except VerdictError:
        return
    assert parsed.verdict in ("pass", "fail")


@settings(max_examples=100, deadline=None)
@given(
    st.text(),
    st.sampled_from(["pass", "fail"]),
    st.lists(
        st.fixed_dictionaries(
            {"name": st.text(min_size=1), "arguments": st.dictionaries(st.text(), st.integers() | st.text())}
        ),
        max_size=3,
    ),
)
def test_parse_verdict_round_trips_valid_answers(reasoning, decision, calls):
    if decision == "pass":
        text = verdict("pass", reasoning=reasoning)
        expected = ("pass", None, False, None)
    else:
        text = verdict("fail", "wrong_value", True, calls, reasoning=reasoning)
        expected = ("fail", "wrong_value", True, calls)
    got = parse_verdict(text)
    assert (got.verdict, got.failure_type, got.fixable, got.corrected_calls) == expected and got.reasoning == reasoning


# ----------------------------------------------------------------------------------------------- cache


def batch() -> list[Sample]:
    wrong = {"Weather in Oslo in fahrenheit?": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}
    samples = [make_sample(q, wrong.get(q, calls), sid=f"s{i}") for i, (q, calls) in enumerate(WORLD.items())]
    samples.append(make_sample("What is the meaning of life?", [], sid="s-unsolvable"))
    return samples


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
                     concurrency=2, backoff_s=0.01, progress=False)
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


# ----------------------------------------------------------------------------------------------- key, budget, limits


def test_api_key_is_used_but_never_logged_or_stored(tmp_path, caplog, capfd, monkeypatch):
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("FUNRL_JUDGE_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)  # every logger, the openai/http client's included
    with OpenAIStub(world_judge, api_key=secret) as stub:
        stub.inject(StubReply(status=500))  # a retry path
        stub.inject(StubReply(content="garbage"))  # a re-ask path
        cfg = config(stub, tmp_path, api_key_env="FUNRL_JUDGE_TEST_KEY", progress=True)
        outcomes = run_judge(batch(), cfg, schema_validate)
        assert all(r.headers["authorization"] == f"Bearer {secret}" for r in stub.chat_requests())
        monkeypatch.setenv("FUNRL_JUDGE_TEST_KEY", "sk-wrong-" + secret[::-1])
        with pytest.raises(JudgeError, match="refused the API key from \\$FUNRL_JUDGE_TEST_KEY") as info:
            run_judge([make_sample("Weather in Lima?", [])], cfg, schema_validate)
    out, err = capfd.readouterr()
    texts = [caplog.text, out, err, str(info.value), repr(cfg), (tmp_path / "cache.jsonl").read_text()]
    texts.append(json.dumps([o.to_dict() for o in outcomes], default=str))
    assert "refused" in str(info.value) and len(caplog.records) > 0
    for text in texts:
        assert secret not in text and secret[::-1] not in text


def test_token_budget_stops_new_requests(stub):
    cfg = config(stub, concurrency=1, token_budget=1)  # spent by the first answer
    outcomes = run_judge(batch(), cfg, schema_validate)
    assert outcomes[0].status == "rejected" and outcomes[0].reasons == ["J7"]  # its final pass is refused
    assert all(o.reasons == ["J7"] for o in outcomes[1:])
    assert len(stub.chat_requests()) == 1


def test_concurrency_bound_is_respected():
    import threading

    active, peak, lock = [0], [0], threading.Lock()

    def slow_judge(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        return world_judge(request)

    with OpenAIStub(slow_judge) as stub:
        samples = [make_sample("Weather in Paris?", WORLD["Weather in Paris?"], sid=f"c{i}") for i in range(9)]
        for i, sample in enumerate(samples):
            sample.messages.insert(0, {"role": "system", "content": f"s{i}"})
        outcomes = run_judge(samples, config(stub, concurrency=3), schema_validate)
    assert all(o.status == "kept" for o in outcomes)
    assert 2 <= peak[0] <= 3


# ----------------------------------------------------------------------------------------------- prompts


def test_prompt_files_can_be_replaced(stub, tmp_path):
    (tmp_path / "judge_evaluate.txt").write_text(
        "my header\n### system\nCUSTOM REVIEWER\n### user\nConversation:\n{{conversation}}\nCandidate answer (x):\n{{target}}\n"
    )
    (outcome,) = run_judge(
        [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])],
        config(stub, prompt_dir=str(tmp_path)),
        schema_validate,
    )
    first, final = stub.chat_requests()
    assert outcome.status == "kept"
    assert first.messages[0]["content"] == "CUSTOM REVIEWER"
    assert "final reviewer" in final.messages[0]["content"]  # judge_final.txt falls back to the packaged one
    (tmp_path / "judge_final.txt").write_text("### system\nx\n### user\n{{tool}}\n")
    with pytest.raises(ValueError, match=r"judge_final\.txt:4: unknown placeholder \{\{tool\}\}"):
        load_template("final", tmp_path)
    (tmp_path / "judge_final.txt").write_text("### user\nx\n")
    with pytest.raises(ValueError, match="expected one '### system' then one '### user'"):
        load_template("final", tmp_path)


def test_packaged_prompts_render_every_placeholder():
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    sample.meta["audit"] = [{"rule": "T2", "action": "repair", "detail": "'5' -> 5"}]
    for name in ("evaluate", "final"):
        system, user = load_template(name).render(sample, round_index=2)
        text = system["content"] + user["content"]
        assert "{{" not in text and '"name": "get_weather"' in text and "T2 repair: '5' -> 5" in text
    assert render_target([]) == "NO CALL"


# ----------------------------------------------------------------------------------------------- with stage B


@pytest.mark.parametrize(
    "correction, status, reasons, amount",
    [
        ([{"name": "convert", "arguments": {"amount": 5, "src": "EUR", "dst": "JPY"}}], "repaired", [], 5),
        # "5" for a number: stage B coerces it losslessly (T2) before the corrected sample is judged again
        ([{"name": "convert", "arguments": {"amount": "5", "src": "EUR", "dst": "JPY"}}], "repaired", [], 5),
        ([{"name": "convert", "arguments": {"amount": 5, "src": "EUR"}}], "rejected", ["J2", "C4"], None),
        (
            [{"name": "convert", "arguments": {"amount": 5, "src": "EUR", "dst": "JPY", "fee": 1}}],
            "rejected",
            ["J2", "C5"],
            None,
        ),
        ([{"name": "exchange", "arguments": {"amount": 5}}], "rejected", ["J2", "C1"], None),
    ],
    ids=["valid", "coerced-T2", "missing-required-C4", "extra-argument-C5", "unknown-function-C1"],
)
def test_corrections_go_through_the_project_validator(stub, correction, status, reasons, amount):
    from funrl.data.validate import Validator

    right = WORLD["Convert 5 EUR to JPY."]

    def judge(request):
        _, calls, _ = prompt_parts(request)
        if calls == right:  # Python equality: stage B writes numbers as 5.0 (T3), and 5.0 == 5
            return verdict("pass")
        return verdict("fail", "wrong_value", True, correction)

    stub.set_responder(judge)
    wrong = [{"name": "convert", "arguments": {"amount": 50, "src": "EUR", "dst": "JPY"}}]
    sample = make_sample("Convert 5 EUR to JPY.", wrong)
    (outcome,) = run_judge([sample], config(stub), Validator().judge_callback)
    assert (outcome.status, outcome.reasons) == (status, reasons)
    if amount is not None:
        (call,) = calls_from_ground_truth(outcome.sample.ground_truth)
        assert call["arguments"]["amount"] == amount and outcome.rounds == 2
