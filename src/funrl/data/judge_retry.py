"""Retry policy of the LLM judge: which transport errors are retried, and how long to wait before each retry.

Used by `funrl.data.judge` with tenacity: 429, 5xx, 408/409, timeouts, dropped connections and malformed
response bodies are retried with jittered exponential backoff that honours the server's `Retry-After`
(seconds or an HTTP date) or `retry-after-ms`, capped at `backoff_max_s`. Other errors are not retried.

    wait_s = backoff_wait(config, attempt=2, exc=error)       # seconds before the 2nd retry
    kind = failure_kind(error)                                # "rate_limited", "timeout", ... or None
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funrl.data.judge import JudgeConfig


class BadResponse(Exception):
    """A 200 answer that is not a usable chat completion (no choices); retried like a malformed body."""


def retry_after(exc: BaseException) -> float | None:
    """The server's requested wait in seconds (`retry-after-ms`, or `Retry-After` as seconds or an HTTP date)
    from an `openai.APIStatusError`-like exception, or None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def backoff_wait(config: JudgeConfig, attempt: int, exc: BaseException) -> float:
    """Seconds to wait before retry number `attempt` (1-based): jittered exponential backoff
    (`backoff_s * 2**(attempt-1)`, times a factor in [0.5, 1]), at least the server's `Retry-After`
    (or `retry-after-ms`), never more than `backoff_max_s`."""
    backoff = min(config.backoff_max_s, config.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
    hint = retry_after(exc)
    return min(config.backoff_max_s, max(backoff, hint)) if hint is not None else backoff


def failure_kind(exc: BaseException) -> str | None:
    """The J5 kind of a retryable transport error, or None when the error must not be retried."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return "server_error"
        if exc.status_code in (408, 409):
            return f"http_{exc.status_code}"
        return None
    if isinstance(exc, (json.JSONDecodeError, BadResponse, openai.APIResponseValidationError)):
        return "bad_response"
    return None
