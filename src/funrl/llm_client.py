"""One way funrl calls an OpenAI-compatible chat-completions server: the data judge and the `openai` eval backend.

Transport retries are the official `openai` client's own (`max_retries`): connection errors, timeouts, 408, 409,
429 and 5xx are retried with its jittered exponential backoff (0.5 s doubling to 8 s), honouring the server's
`Retry-After` / `retry-after-ms`. The one thing the client does not retry is a 200 reply that is not a usable
chat completion (a broken JSON body, no `choices`, no message); `complete` retries those the same number of
times, with the same kind of backoff, and then raises `MalformedReply`.

    client = make_client(base_url, api_key, timeout_s=120, max_retries=5)
    reply = await complete(client, {"model": m, "messages": msgs}, max_retries=5)
    reply.response.choices[0].message.content, reply.attempts     # HTTP requests this answer cost

`failure_kind(exc)` names a transport failure that retries did not fix (`rate_limited`, `server_error`, `timeout`,
`connection`, `bad_response`, `http_<status>`), or None for an error that is not the transport's.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

_CALL_HEADER = "x-funrl-call"


class MalformedReply(Exception):
    """A 200 answer that is not a usable chat completion (broken body, no choices), after the retries."""


@dataclass
class Reply:
    """A chat completion and the HTTP requests it took (1 + retries)."""

    response: Any
    attempts: int


class _AttemptCounter:
    """httpx request hook: counts the HTTP requests of each `complete` call (the client's retries included)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()

    async def __call__(self, request: Any) -> None:
        token = request.headers.get(_CALL_HEADER)
        if token:
            self.counts[token] += 1


def make_client(base_url: str, api_key: str, timeout_s: float, max_retries: int) -> Any:
    """An `openai.AsyncOpenAI` client with its own retries on and a counter of HTTP attempts."""
    import openai

    counter = _AttemptCounter()
    http_client = openai.DefaultAsyncHttpxClient(event_hooks={"request": [counter]})
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries, http_client=http_client
    )
    client._funrl_attempts = counter  # read by `complete`
    return client


def _usable(response: Any) -> bool:
    choices = getattr(response, "choices", None)
    return bool(choices) and getattr(choices[0], "message", None) is not None


async def complete(client: Any, body: dict[str, Any], max_retries: int, backoff_s: float = 0.5) -> Reply:
    """POST `body` to `/chat/completions` (sent as built: no typed-parameter transform) and return a usable reply.

    Raises:
        `MalformedReply`: every attempt got a 200 that is not a chat completion.
        `openai.APIError` subclasses: what the client's own retries did not fix.
    """
    import openai
    from openai.types.chat import ChatCompletion

    token = uuid.uuid4().hex
    counter: _AttemptCounter | None = getattr(client, "_funrl_attempts", None)
    sent = 0  # requests sent, for a client without the counter (a test double)

    def attempts() -> int:
        return counter.counts[token] if counter else sent

    try:
        for attempt in range(max_retries + 1):
            sent += 1
            try:
                response = await client.post(
                    "/chat/completions", cast_to=ChatCompletion, body=body, options={"headers": {_CALL_HEADER: token}}
                )
                problem = None if _usable(response) else "the reply has no choices"
            except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
                problem = f"the reply body is not a chat completion ({type(exc).__name__}: {exc})"
            if problem is None:
                return Reply(response, max(attempts(), 1))
            if attempt == max_retries:
                raise MalformedReply(f"{problem}; {attempts()} attempts")
            await asyncio.sleep(min(8.0, backoff_s * 2**attempt) * random.uniform(0.75, 1.0))
    except Exception as exc:
        exc.funrl_attempts = max(attempts(), 1)  # type: ignore[attr-defined]  # read by the judge's usage
        raise
    finally:
        if counter:
            counter.counts.pop(token, None)
    raise AssertionError("unreachable")  # pragma: no cover


def failure_kind(exc: BaseException) -> str | None:
    """The kind of a transport failure that retries did not fix, or None when `exc` is not one."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, MalformedReply):
        return "bad_response"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
    return None
