"""The loopback OpenAI-compatible stub server (tests/openai_stub.py) against the official `openai` client."""

from __future__ import annotations

import json

import openai
import pytest
from openai_stub import OpenAIStub, StubReply, openai_stub  # noqa: F401

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ping one"}]


def _client(stub: OpenAIStub, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.base_url, api_key=kw.pop("api_key", "sk-test"), max_retries=0, **kw)


def test_chat_completion_round_trip_and_recording(openai_stub):  # noqa: F811
    openai_stub.set_responder(lambda request: "pong:" + request.last_user_content)
    response = _client(openai_stub).chat.completions.create(model="judge-x", messages=MESSAGES, temperature=0)
    assert response.choices[0].message.content == "pong:ping one"
    assert response.model == "judge-x"
    assert response.usage.prompt_tokens == len(json.dumps(MESSAGES).split())
    (request,) = openai_stub.requests
    assert request.path == "/v1/chat/completions" and request.status == 200
    assert request.body["messages"] == MESSAGES and request.body["temperature"] == 0
    assert request.headers["authorization"] == "Bearer sk-test"


def test_models_and_completions_endpoints(openai_stub):  # noqa: F811
    openai_stub.set_responder(lambda request: "done")
    client = _client(openai_stub)
    assert [m.id for m in client.models.list()] == ["stub-judge"]
    assert client.completions.create(model="m", prompt="say").choices[0].text == "done"


def test_script_queue_keyed_by_user_content():
    script = {"a": ["first", "second"], "b": "always-b"}
    with OpenAIStub(script=script) as stub:
        client = _client(stub)

        def ask(text: str) -> str:
            messages = [{"role": "user", "content": text}]
            return client.chat.completions.create(model="m", messages=messages).choices[0].message.content

        assert [ask("a"), ask("b"), ask("a"), ask("a"), ask("b")] == [
            "first",
            "always-b",
            "second",
            "second",
            "always-b",
        ]
        with pytest.raises(openai.BadRequestError, match="no scripted reply"):
            ask("c")


@pytest.mark.parametrize(
    "fault, error, check",
    [
        # 429 carries its Retry-After header to the client
        (
            StubReply(status=429, headers={"Retry-After": "0.25"}),
            openai.RateLimitError,
            lambda e: e.response.headers["retry-after"] == "0.25",
        ),
        (StubReply(status=500), openai.InternalServerError, lambda e: e.status_code == 500),
        (StubReply(status=503), openai.InternalServerError, lambda e: e.status_code == 503),
        # slower than the 1 s client timeout (the sleeping handler is woken when the server stops)
        (StubReply(content="late", delay_s=30.0), openai.APITimeoutError, lambda e: True),
        (StubReply(drop_connection=True), openai.APIConnectionError, lambda e: True),
        # a 200 whose body is not JSON: the client's JSON decoding fails
        (StubReply(raw_body=b'{"choices": ['), json.JSONDecodeError, lambda e: True),
    ],
    ids=["429", "500", "503", "timeout", "dropped", "malformed-body"],
)
def test_injected_faults_then_recovery(openai_stub, fault, error, check):  # noqa: F811
    openai_stub.set_responder(lambda request: "ok")
    openai_stub.inject(fault)
    with pytest.raises(error) as info:
        _client(openai_stub, timeout=1.0).chat.completions.create(model="m", messages=MESSAGES)
    assert check(info.value)
    # the fault is consumed: the next request is answered normally
    client = _client(openai_stub, timeout=30.0)
    assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "ok"
    assert len(openai_stub.chat_requests()) == 2


def test_latency_and_api_key_check():
    with OpenAIStub(lambda request: "ok", latency_s=0.2, api_key="sk-right") as stub:
        with pytest.raises(openai.AuthenticationError):
            _client(stub, api_key="sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
        # the fixed latency applies to every answer: a client timeout below it always trips
        with pytest.raises(openai.APITimeoutError):
            _client(stub, api_key="sk-right", timeout=0.05).chat.completions.create(model="m", messages=MESSAGES)
        reply = _client(stub, api_key="sk-right").chat.completions.create(model="m", messages=MESSAGES)
        assert reply.choices[0].message.content == "ok"


def test_stop_is_prompt_and_releases_port():
    stub = OpenAIStub(lambda request: "ok").start()
    url = stub.base_url
    assert url.startswith("http://127.0.0.1:")
    stub.inject(StubReply(delay_s=30))  # a sleeping handler must not hold up stop()
    client = _client(stub, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="m", messages=MESSAGES)
    stub.stop()
    with pytest.raises(openai.APIConnectionError):
        openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=1).models.list()
