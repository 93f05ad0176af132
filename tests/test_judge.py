"""The LLM judge (funrl.data.judge) against a real loopback OpenAI-compatible server: verdicts, corrections and
their re-validation, round cap, final pass, transport faults and retries, malformed answers, API-key hygiene,
token budget, concurrency bound, and corrections through the project's stage-B validator."""

from __future__ import annotations

import json
import logging
import time

import pytest
from judge_world import (
    WORLD,
    batch,
    config,
    make_sample,
    prompt_parts,
    schema_validate,
    verdict,
    world_judge,
)
from openai_stub import OpenAIStub, StubReply

from funrl.data.judge import JudgeConfig, JudgeError, run_judge
from funrl.data.records import calls_from_ground_truth
from funrl.schema import Sample


@pytest.fixture
def stub():
    """A loopback server playing the deterministic `world_judge`."""
    with OpenAIStub(world_judge) as server:
        yield server


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
        (StubReply(content="too late", delay_s=30.0), 1),  # slower than the client timeout
        (StubReply(drop_connection=True), 1),
        (StubReply(raw_body=b'{"id": "x", "choices": ['), 1),  # malformed JSON body
        (StubReply(raw_body=b'{"id": "x", "object": "chat.completion", "choices": []}'), 1),  # no choices
    ],
    ids=["429-retry-after", "500", "503", "timeout", "dropped-connection", "malformed-body", "no-choices"],
)
def test_transient_faults_are_retried(stub, fault, retries):
    stub.inject(fault, times=retries)
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    timeout = 1.5 if fault.delay_s else 10.0  # short only where a timeout is the fault (answers are ms)
    (outcome,) = run_judge([sample], config(stub, timeout_s=timeout), schema_validate)
    assert outcome.status == "kept"
    assert outcome.usage["retries"] == retries and outcome.usage["requests"] == retries + 2
    assert len(stub.chat_requests()) == retries + 2


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


def test_a_dead_endpoint_ends_the_run_early():
    """Connection failures in a row before any answer: one JudgeError after `dead_after` requests, not the retries
    of every sample."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    samples = [make_sample(f"Weather in Paris? {i}", WORLD["Weather in Paris?"]) for i in range(40)]
    cfg = JudgeConfig(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        api_key_env=None,
        max_retries=0,
        dead_after=3,
        concurrency=1,
        progress=False,
    )
    with pytest.raises(JudgeError, match="3 requests in a row failed with connection errors"):
        run_judge(samples, cfg, schema_validate)


def test_too_many_transport_failures_end_the_run_non_zero(stub):
    """More than `max_failed_share` of the samples dropped as J5: a JudgeError that says how many and why."""
    stub.inject(StubReply(status=500), times=4)  # two samples x (1 + 1 retry)
    samples = [make_sample("Weather in Paris?", WORLD["Weather in Paris?"]) for _ in range(4)]
    with pytest.raises(JudgeError, match=r"2 of 4 samples \(50%\) could not be judged.*server_error 2"):
        run_judge(samples, config(stub, max_retries=1, concurrency=1, max_failed_share=0.25), schema_validate)


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
    assert "refused" in str(info.value)
    assert any(r.name.startswith("openai") for r in caplog.records)  # the SDK's debug logs were captured too
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
