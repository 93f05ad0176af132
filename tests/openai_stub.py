"""A real loopback HTTP server that speaks the OpenAI chat-completions protocol, for offline tests.

It binds 127.0.0.1 on an ephemeral port, serves from a background thread, answers from a script and can
inject faults (429 with Retry-After, 500/503, responses slower than the client timeout, malformed JSON
bodies, dropped connections, fixed latency). Every request is recorded. Any OpenAI-compatible client
(the official `openai` SDK, `httpx`, `curl`) can talk to it, so tests exercise the real client stack.

    from openai_stub import OpenAIStub, StubReply

    def answer(request):                      # request: RecordedRequest
        return '{"verdict": "pass"}'          # a str is the assistant message content

    with OpenAIStub(answer, latency_s=0.05) as stub:
        stub.inject(StubReply(status=429, headers={"Retry-After": "0"}), times=2)  # next 2 requests
        client = openai.OpenAI(base_url=stub.base_url, api_key="sk-test")
        ...
        assert len(stub.requests) == 3

As a pytest fixture (import it into a test module, or list this module in `pytest_plugins`):

    from openai_stub import openai_stub  # noqa: F401   (fixture; `openai_stub.set_responder(fn)`)

Endpoints: `POST /v1/chat/completions` (non-streaming), `POST /v1/completions` (the reply content is the
`text`), `GET /v1/models`. Anything else answers 404.

Scripting, in the order tried for each request:

1. a fault queued with `inject(reply, times=n)` (consumed first-come, first-served);
2. `script`: a dict mapping a key to a reply or a list of replies (a queue, one popped per matching request;
   the last one repeats). The key of a request is `key_fn(request)`, by default the content of the last
   user message of a chat request (the prompt of a completions request);
3. `responder`: a callable `(RecordedRequest) -> reply`;
4. otherwise a 400 error saying that nothing was scripted.

A reply is a `StubReply`, a `str` (the assistant content), or a `dict` (sent as the whole JSON body).
Token usage is reported as whitespace-separated word counts of the request messages and the reply.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class StubReply:
    """One scripted answer or fault.

    Args:
        content: assistant message content (chat) or `text` (completions).
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        headers: extra response headers, e.g. `{"Retry-After": "0.1"}`.
        delay_s: sleep before answering (on top of the server latency); longer than the client timeout
            makes the client time out. Sleeps end early when the server stops.
        raw_body: bytes sent verbatim as the body (e.g. `b'{"choices": ['` for a malformed JSON body).
        drop_connection: close the socket without any response.
        usage: overrides the reported `usage` object (None: word counts; `{}`: no usage field).
        finish_reason: the choice's `finish_reason`.
    """

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw_body: bytes | None = None
    drop_connection: bool = False
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"


@dataclass
class RecordedRequest:
    """What the server received: method, path, headers (lower-case names), parsed JSON body (None if the
    body was not JSON), raw body text, arrival time (`time.monotonic()`) and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: str
    received_at: float
    status: int | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def last_user_content(self) -> str:
        if isinstance(self.body, dict) and "prompt" in self.body:
            return str(self.body["prompt"])
        for message in reversed(self.messages):
            if message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
        return ""


Reply = StubReply | str | dict


def _words(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return len(text.split())


class OpenAIStub:
    """Loopback OpenAI-compatible server. Use as a context manager (or `start()` / `stop()`).

    Args:
        responder: `(RecordedRequest) -> reply`, used when no fault or script entry applies.
        script: `{key: reply or [reply, ...]}` keyed by `key_fn(request)`.
        key_fn: request -> script key (default: the last user message content).
        latency_s: fixed delay before every answer (simulates model latency).
        models: ids listed by `GET /v1/models`.
        api_key: when set, requests without `Authorization: Bearer <api_key>` get a 401.
    """

    def __init__(
        self,
        responder: Callable[[RecordedRequest], Reply] | None = None,
        *,
        script: dict[str, Reply | list[Reply]] | None = None,
        key_fn: Callable[[RecordedRequest], str] | None = None,
        latency_s: float = 0.0,
        models: tuple[str, ...] = ("stub-judge",),
        api_key: str | None = None,
    ) -> None:
        self.responder = responder
        self.script = {k: (list(v) if isinstance(v, list) else [v]) for k, v in (script or {}).items()}
        self.key_fn = key_fn or (lambda request: request.last_user_content)
        self.latency_s = latency_s
        self.models = models
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._faults: list[StubReply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # ---------------------------------------------------------------- control
    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>/v1`, the `base_url` for an OpenAI client."""
        if self._server is None:
            raise RuntimeError("OpenAIStub is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def set_responder(self, responder: Callable[[RecordedRequest], Reply] | None) -> None:
        self.responder = responder

    def inject(self, reply: StubReply, times: int = 1) -> None:
        """Answer the next `times` requests (whatever they are) with `reply`, before any script."""
        with self._lock:
            self._faults.extend([reply] * times)

    def reset(self) -> None:
        """Forget the recorded requests and queued faults."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on injected delays
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- answering
    def _choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            if self.script:
                queue = self.script.get(self.key_fn(request))
                if queue:
                    return queue.pop(0) if len(queue) > 1 else queue[0]
        if self.responder is not None:
            return self.responder(request)
        return StubReply(status=400, content="openai_stub: no scripted reply for this request")

    def _next_id(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops connection bursts from concurrent clients
    daemon_threads = True
    block_on_close = False


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIStub
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm plus the
        # client's delayed ACK add about 40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr access logs
        return

    def _record(self, raw: bytes) -> RecordedRequest:
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=text,
            received_at=time.monotonic(),
        )
        with self.owner._lock:
            self.owner.requests.append(request)
        return request

    def _send(self, request: RecordedRequest | None, status: int, body: bytes, headers: dict[str, str]) -> None:
        if request is not None:
            request.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, request: RecordedRequest | None, status: int, message: str, headers=None) -> None:
        body = {"error": {"message": message, "type": "stub_error", "code": status}}
        self._send(request, status, json.dumps(body).encode(), headers or {})

    def do_GET(self) -> None:  # noqa: N802
        request = self._record(b"")
        if self.path.rstrip("/").endswith("/v1/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "openai-stub"} for m in self.owner.models]
            self._send(request, 200, json.dumps({"object": "list", "data": data}).encode(), {})
        else:
            self._error(request, 404, f"no route {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        request = self._record(self.rfile.read(length) if length else b"")
        owner = self.owner
        path = self.path.rstrip("/")
        chat = path.endswith("/v1/chat/completions")
        if not chat and not path.endswith("/v1/completions"):
            return self._error(request, 404, f"no route {self.path}")
        if owner.api_key is not None and request.headers.get("authorization") != f"Bearer {owner.api_key}":
            return self._error(request, 401, "invalid api key")
        if not isinstance(request.body, dict):
            return self._error(request, 400, "request body is not a JSON object")
        if request.body.get("stream"):
            return self._error(request, 400, "openai_stub does not stream")
        try:
            reply = owner._choose(request)
        except Exception as exc:  # a broken responder is a test bug: say so in the response
            return self._error(request, 500, f"openai_stub responder raised {type(exc).__name__}: {exc}")
        if isinstance(reply, str):
            reply = StubReply(content=reply)
        owner.sleep(owner.latency_s)
        if isinstance(reply, dict):
            return self._send(request, 200, json.dumps(reply).encode(), {})
        owner.sleep(reply.delay_s)
        if owner._stopping.is_set():
            return None
        if reply.drop_connection:
            request.status = -1
            self.close_connection = True
            return None
        if reply.raw_body is not None:
            return self._send(request, reply.status, reply.raw_body, reply.headers)
        if reply.status != 200:
            return self._error(request, reply.status, reply.content or f"injected {reply.status}", reply.headers)
        self._send(request, 200, json.dumps(self._completion(request, reply, chat)).encode(), reply.headers)

    def _completion(self, request: RecordedRequest, reply: StubReply, chat: bool) -> dict[str, Any]:
        body = request.body
        prompt_tokens = _words(body.get("messages") if chat else body.get("prompt", ""))
        usage = reply.usage
        if usage is None:
            completion = _words(reply.content)
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion}
            usage["total_tokens"] = prompt_tokens + completion
        if chat:
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        else:
            choice = {"index": 0, "text": reply.content, "finish_reason": reply.finish_reason, "logprobs": None}
        out: dict[str, Any] = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-stub-{self.owner._next_id()}",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": str(body.get("model", "")),
            "choices": [choice],
        }
        if usage:
            out["usage"] = usage
        return out


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    """A running `OpenAIStub` with no script (set one with `set_responder` / `script` / `inject`)."""
    with OpenAIStub() as stub:
        yield stub
