"""Stage 4 of data preparation: the iterative LLM judge (evaluate and correct, re-validate, final pass).

Any OpenAI-compatible endpoint (`vllm serve`, SGLang, a hosted API) is driven through the official
`openai.AsyncOpenAI` client. For each sample the judge answers strict JSON (reasoning, verdict, failure
type, and for a fixable failure the corrected call list). A correction goes back through AST validation
(the `validate` callable) and the corrected sample is judged again, up to `max_rounds` rounds; samples
that pass then get a final evaluation (`final_pass`). See docs/judge.md.

    from funrl.data.judge import JudgeConfig, run_judge, summarize

    config = JudgeConfig(base_url="http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-72B-Instruct",
                         api_key_env="OPENAI_API_KEY", cache_path="out/judge_cache.jsonl")
    outcomes = run_judge(samples, config, validate)   # same order as samples
    print(summarize(outcomes))                        # statuses, reason histogram, requests, tokens

`validate(sample) -> (sample | None, reason_codes)` is stage 2 (AST validation) applied to a corrected
sample: the repaired sample, or `None` plus the reasons it was rejected.

Outcome reason codes (the part before ":" is the stable rule ID):

* `J1:<failure_type>`: the judge failed the sample and it is not fixable (or unsolvable / bad_result).
* `J2` followed by the validator's codes: a correction was rejected by AST validation.
* `J3`: still failing (with a correction) after `max_rounds` rounds.
* `J4:<failure_type>`: the final evaluation pass failed the sample.
* `J5:<kind>`: the endpoint could not be reached after `max_retries` retries (rate_limited, server_error,
  timeout, connection, bad_response, http_<status>). Retries are the `openai` client's own
  (`funrl.llm_client`); a malformed 200 reply is retried as often.

What concerns every sample ends the run with `JudgeError` instead of dropping samples one by one: a refused API
key or unknown model; a dead endpoint (`dead_after` connection failures in a row before any answer); more than
`max_failed_share` of the samples dropped as J5 (the answers received are cached: a re-run resumes).
* `J6:<problem>`: the judge's answer was not a valid verdict, even after re-asking.
* `J7`: the token budget (`token_budget`) was spent before this sample was judged.

Every request is looked up in a persistent cache first (`funrl.data.judge_cache`), keyed by a hash of
(model, full prompt messages, decoding parameters): a re-run, or a run resumed after `kill -9`, makes no
request twice, and the same answers always give the same outcomes. Transport failures are not cached.
The API key is read from the environment variable named by `api_key_env` and never logged or stored.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from funrl.data.judge_cache import JudgeCache, request_key
from funrl.data.judge_prompt import VERDICT_SCHEMA, Verdict, VerdictError, load_template, parse_verdict
from funrl.data.records import category_for, ground_truth_from_calls
from funrl.llm_client import complete, failure_kind, make_client
from funrl.schema import Sample

logger = logging.getLogger(__name__)

STATUSES = ("kept", "repaired", "rejected")
PREPARED_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
DROP_FAILURES = ("unsolvable", "bad_result")
RESPONSE_FORMATS = ("json_schema", "json_object", "none")
REASK = (
    "Your answer is not a valid verdict ({error}). Answer again with only the JSON object, with exactly the keys "
    "reasoning, verdict, failure_type, fixable, corrected_calls."
)
Validator = Callable[[Sample], tuple[Sample | None, list[str]]]


@dataclass
class JudgeConfig:
    """Settings of the LLM judge.

    Args:
        base_url: OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8000/v1` (vLLM / SGLang) or a hosted API.
        model: judge model id as the endpoint knows it (pin it: it is part of the cache key).
        api_key_env: name of the environment variable holding the API key (`None` or unset: `"EMPTY"`, what
            local servers expect). The key itself is never stored in the config, logged or cached.
        max_rounds: evaluate-and-correct rounds per sample (a corrected sample is judged again).
        concurrency: maximum requests in flight.
        timeout_s: per-request timeout; a timeout is retried.
        max_retries: retries per request on 408/409/429, 5xx, timeouts, connection errors (the `openai` client's
            own backoff, honouring `Retry-After`) and malformed bodies.
        dead_after: this many connection failures in a row before any answer end the run (`JudgeError`): the
            endpoint is down, and waiting out every sample's retries would take hours.
        max_failed_share: the run ends non-zero (`JudgeError`) when more than this share of the samples is
            dropped as J5 (transport failures), saying how many and why.
        temperature / max_tokens / seed: decoding parameters (part of the cache key).
        response_format: `"json_schema"` (structured output with `VERDICT_SCHEMA`), `"json_object"` or `"none"`.
        extra_body: extra request fields for the server (e.g. vLLM `{"guided_json": ...}`); part of the key.
        cache_path: JSONL cache file; `None` keeps the cache in memory (no resume).
        prompt_dir: folder with replacement `judge_evaluate.txt` / `judge_final.txt` prompt files.
        final_pass: run the final evaluation on samples that passed the loop.
        reask_malformed: how many times an invalid verdict is asked again (with the parse error) before `J6`.
        token_budget: stop sending new requests once this many tokens (prompt + completion) were spent by
            this run (cached answers are free); affected samples are rejected with `J7`. `None`: no cap.
        max_field_chars: cut long messages and tool results to this many characters, in the prompt only.
        progress: show a progress bar (stderr).
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""
    api_key_env: str | None = "OPENAI_API_KEY"
    max_rounds: int = 3
    concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 5
    dead_after: int = 8
    max_failed_share: float = 0.05
    temperature: float = 0.0
    max_tokens: int | None = 1024
    seed: int | None = None
    response_format: str = "json_schema"
    extra_body: dict[str, Any] | None = None
    cache_path: str | None = None
    prompt_dir: str | None = None
    final_pass: bool = True
    reask_malformed: int = 1
    token_budget: int | None = None
    max_field_chars: int = 2000
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("JudgeConfig.model is required (the judge model id served at base_url)")
        if self.response_format not in RESPONSE_FORMATS:
            raise ValueError(f"JudgeConfig.response_format must be one of {RESPONSE_FORMATS}")
        for name in ("max_rounds", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"JudgeConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.max_failed_share <= 1.0:
            raise ValueError(f"JudgeConfig.max_failed_share must be in [0, 1], got {self.max_failed_share}")
        for name in ("max_retries", "reask_malformed", "timeout_s", "dead_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"JudgeConfig.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class JudgeOutcome:
    """What the judge decided for one sample.

    Args:
        id: the sample id.
        status: `"kept"` (passed as is), `"repaired"` (passed after a correction) or `"rejected"`.
        sample: the final sample (corrected and re-validated when repaired); `None` when rejected.
        reasons: reason codes of a rejection (see the module docstring); empty otherwise.
        rounds: evaluate rounds run (the final pass not counted).
        audit: `{"rule", "action", "detail", "round"}` entries for every correction and drop.
        usage: `requests` (HTTP attempts), `responses` (answers received), `cache_hits`, `retries`,
            `prompt_tokens`, `completion_tokens` (as reported by the endpoint; 0 when not reported).
    """

    id: str
    status: str
    sample: Sample | None
    reasons: list[str]
    rounds: int
    audit: list[dict[str, Any]]
    usage: dict[str, int] = field(default_factory=dict)

    def to_dict(self, with_usage: bool = True) -> dict[str, Any]:
        out = asdict(self)
        if not with_usage:
            out.pop("usage")
        return out


class JudgeError(RuntimeError):
    """A problem that affects every sample (bad API key, unknown model, unreachable prompt files)."""


class _TransportFailure(Exception):
    def __init__(self, kind: str, detail: str):
        self.kind = kind
        super().__init__(f"{kind}: {detail}")


class _BudgetExhausted(Exception):
    pass


class _DeadEndpoint(Exception):
    pass


@dataclass
class _Usage:
    requests: int = 0
    responses: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Judge:
    """One run: client, cache, templates, semaphore and running totals."""

    def __init__(self, config: JudgeConfig, validate: Validator, client: Any = None) -> None:
        self.config = config
        self.validate = validate
        self.evaluate_template = load_template("evaluate", config.prompt_dir)
        self.final_template = load_template("final", config.prompt_dir)
        self.cache = JudgeCache(config.cache_path)
        self.semaphore = asyncio.Semaphore(config.concurrency)
        self.tokens_spent = 0
        self.answered = False  # any answer from the endpoint yet
        self.dead_streak = 0  # connection failures in a row before the first answer
        if client is None:
            key = os.environ.get(config.api_key_env) if config.api_key_env else None
            if config.api_key_env and not key:
                logger.warning(
                    "judge: environment variable %s is not set; sending the placeholder key", config.api_key_env
                )
            client = make_client(config.base_url, key or "EMPTY", config.timeout_s, config.max_retries)
        self.client = client
        if config.response_format == "json_schema":
            schema = {"name": "judge_verdict", "schema": VERDICT_SCHEMA, "strict": False}
            self.response_format: dict[str, Any] | None = {"type": "json_schema", "json_schema": schema}
        elif config.response_format == "json_object":
            self.response_format = {"type": "json_object"}
        else:
            self.response_format = None

    # ------------------------------------------------------------------ requests
    def _payload(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        c = self.config
        payload: dict[str, Any] = {"model": c.model, "messages": messages, "temperature": c.temperature}
        for name, value in (
            ("max_tokens", c.max_tokens),
            ("seed", c.seed),
            ("response_format", self.response_format),
            ("extra_body", c.extra_body),
        ):
            if value is not None:
                payload[name] = value
        return payload

    async def _call(self, payload: dict[str, Any], usage: _Usage) -> dict[str, Any]:
        """One answer from the endpoint (`funrl.llm_client.complete`: the client's retries, malformed replies too)."""
        import openai

        if self.config.token_budget is not None and self.tokens_spent >= self.config.token_budget:
            raise _BudgetExhausted()
        if self.dead_streak >= self.config.dead_after and not self.answered:
            raise _DeadEndpoint()
        # The request body is sent as built (the SDK's generic `post`): `chat.completions.create` would run its
        # typed-parameter transform over every message, milliseconds of CPU per request that cap throughput.
        body = {k: v for k, v in payload.items() if k != "extra_body"}
        body.update(payload.get("extra_body") or {})
        try:
            async with self.semaphore:
                reply = await complete(self.client, body, self.config.max_retries)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise JudgeError(
                f"the judge endpoint {self.config.base_url} refused the API key from ${self.config.api_key_env} "
                f"(HTTP {exc.status_code})"
            ) from None
        except openai.NotFoundError as exc:
            raise JudgeError(
                f"the judge endpoint {self.config.base_url} answered 404 for model {self.config.model!r}: {exc.message}"
            ) from None
        except Exception as exc:
            attempts = getattr(exc, "funrl_attempts", 1)
            usage.requests += attempts
            usage.retries += attempts - 1
            kind = failure_kind(exc)
            if kind is None:
                raise
            if kind == "connection" and not self.answered:
                self.dead_streak += 1
                if self.dead_streak >= self.config.dead_after:
                    raise _DeadEndpoint() from None
            raise _TransportFailure(kind, f"{type(exc).__name__}: {exc}") from None
        self.answered = True
        response = reply.response
        usage.requests += reply.attempts
        usage.retries += reply.attempts - 1
        usage.responses += 1
        reported = response.usage
        prompt_tokens = int(getattr(reported, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(reported, "completion_tokens", 0) or 0)
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens
        self.tokens_spent += prompt_tokens + completion_tokens
        choice = response.choices[0]
        return {
            "content": choice.message.content,
            "finish_reason": choice.finish_reason,
            "model": self.config.model,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }

    async def _ask(self, messages: list[dict[str, str]], usage: _Usage) -> Verdict:
        """A parsed verdict for `messages` (cache first); re-asks on an invalid answer, then `VerdictError`."""
        error: VerdictError | None = None
        for _ in range(self.config.reask_malformed + 1):
            payload = self._payload(messages)
            key = request_key(payload)
            entry = self.cache.get(key)
            if entry is not None:
                usage.cache_hits += 1
            else:
                entry = await self._call(payload, usage)
                # written and fsync'ed in a worker thread, so a slow disk never stalls the requests in flight
                if self.cache.path is None:
                    self.cache.put(key, entry)
                else:
                    await asyncio.to_thread(self.cache.put, key, entry)
            try:
                return parse_verdict(entry.get("content"))
            except VerdictError as exc:
                error = exc
                messages = [
                    *messages,
                    {"role": "assistant", "content": entry.get("content") or ""},
                    {"role": "user", "content": REASK.format(error=exc)},
                ]
        assert error is not None
        raise error

    # ------------------------------------------------------------------ the loop
    def _corrected(self, sample: Sample, calls: list[dict[str, Any]], round_index: int, verdict: Verdict) -> Sample:
        meta = copy.deepcopy(sample.meta)
        detail = f"round {round_index}: judge found {verdict.failure_type or 'a failure'}; target replaced"
        meta.setdefault("audit", []).append({"rule": "J1", "action": "repair", "detail": detail, "round": round_index})
        meta["target_kind"] = "call" if calls else "no_call"
        category = sample.category
        if category in PREPARED_CATEGORIES:
            category = category_for(calls, len(sample.tools))
        return Sample(
            id=sample.id,
            messages=copy.deepcopy(sample.messages),
            tools=copy.deepcopy(sample.tools),
            ground_truth=ground_truth_from_calls(copy.deepcopy(calls)),
            category=category,
            source=sample.source,
            meta=meta,
        )

    async def judge_one(self, sample: Sample) -> JudgeOutcome:
        usage = _Usage()
        audit: list[dict[str, Any]] = []
        current, repaired, rounds = sample, False, 0

        def reject(codes: list[str], rule: str, detail: str) -> JudgeOutcome:
            audit.append({"rule": rule, "action": "reject", "detail": detail, "round": rounds})
            return JudgeOutcome(sample.id, "rejected", None, codes, rounds, audit, asdict(usage))

        try:
            passed = False
            for round_index in range(1, self.config.max_rounds + 1):
                rounds = round_index
                messages = self.evaluate_template.render(current, round_index, self.config.max_field_chars)
                verdict = await self._ask(messages, usage)
                if verdict.passed:
                    passed = True
                    break
                failure = verdict.failure_type or "unspecified"
                if not verdict.fixable or verdict.corrected_calls is None or failure in DROP_FAILURES:
                    return reject([f"J1:{failure}"], "J1", f"judge failed the sample ({failure}): {verdict.reasoning}")
                if round_index == self.config.max_rounds:
                    break
                candidate = self._corrected(current, verdict.corrected_calls, round_index, verdict)
                try:
                    validated, codes = self.validate(candidate)
                except Exception as exc:  # a validator bug must not kill the batch; it is recorded
                    logger.exception("judge: validate() raised on sample %s", sample.id)
                    validated, codes = None, [f"validator_error:{type(exc).__name__}"]
                if validated is None:
                    detail = f"correction of round {round_index} failed AST validation: {', '.join(codes)}"
                    return reject(["J2", *codes], "J2", detail)
                entry = dict(candidate.meta["audit"][-1])
                if codes:
                    entry["detail"] += f"; AST validation of the correction: {', '.join(codes)}"
                audit.append(entry)
                current, repaired = validated, True
            if not passed:
                return reject(["J3"], "J3", f"still failing after {rounds} rounds")
            if self.config.final_pass:
                messages = self.final_template.render(current, rounds + 1, self.config.max_field_chars)
                verdict = await self._ask(messages, usage)
                if not verdict.passed:
                    failure = verdict.failure_type or "unspecified"
                    return reject([f"J4:{failure}"], "J4", f"final evaluation failed ({failure}): {verdict.reasoning}")
        except _TransportFailure as exc:
            return reject([f"J5:{exc.kind}"], "J5", f"judge endpoint failed after retries: {exc}")
        except VerdictError as exc:
            return reject([f"J6:{exc.code}"], "J6", f"invalid judge answer after re-asking: {exc}")
        except _BudgetExhausted:
            return reject(["J7"], "J7", f"token budget of {self.config.token_budget} spent")
        status = "repaired" if repaired else "kept"
        return JudgeOutcome(sample.id, status, current, [], rounds, audit, asdict(usage))


async def arun_judge(
    samples: Sequence[Sample], config: JudgeConfig, validate: Validator, *, client: Any = None
) -> list[JudgeOutcome]:
    """Async `run_judge` (for callers that already run an event loop). `client`: an `AsyncOpenAI`-like
    object to use instead of building one from the config."""
    from tqdm.auto import tqdm

    judge = _Judge(config, validate, client)
    results: list[JudgeOutcome | None] = [None] * len(samples)
    pending = iter(enumerate(samples))
    bar = tqdm(total=len(samples), desc="judge", unit="sample", disable=not config.progress)

    async def worker() -> None:
        for index, sample in pending:
            results[index] = await judge.judge_one(sample)
            bar.update(1)

    tasks = [asyncio.create_task(worker()) for _ in range(min(config.concurrency, len(samples)))]
    try:
        await asyncio.gather(*tasks)
    except _DeadEndpoint:
        raise JudgeError(
            f"judge endpoint {config.base_url} could not be reached: {judge.dead_streak} requests in a row failed "
            f"with connection errors (after {config.max_retries} retries each) before any answer; is the server "
            "running at that address?"
        ) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        bar.close()
        judge.cache.close()
        if client is None:
            await judge.client.close()
    outcomes = [r for r in results if r is not None]
    if outcomes and all(o.status == "rejected" and o.reasons == ["J5:connection"] for o in outcomes):
        # Not a verdict on the data: without this every sample would be dropped and prepare would write an
        # empty training set with exit code 0.
        raise JudgeError(
            f"judge endpoint {config.base_url} could not be reached: all {len(outcomes)} samples failed with "
            f"connection errors after {config.max_retries} retries; is the server running at that address?"
        )
    failed = Counter(o.reasons[0] for o in outcomes if o.reasons and o.reasons[0].startswith("J5"))
    n_failed = sum(failed.values())
    if outcomes and n_failed / len(outcomes) > config.max_failed_share:
        kinds = ", ".join(f"{code.split(':', 1)[-1]} {n}" for code, n in failed.most_common())
        raise JudgeError(
            f"{n_failed} of {len(outcomes)} samples ({100 * n_failed / len(outcomes):.0f}%) could not be judged: the "
            f"endpoint {config.base_url} failed after {config.max_retries} retries ({kinds}); more than "
            f"max_failed_share={config.max_failed_share}. The answers received are cached: re-run to resume, "
            "with more max_retries or a healthier endpoint"
        )
    totals = summarize(outcomes)
    logger.info(
        "judge: %d samples (%s); %d requests, %d cache hits, %d retries, %d prompt + %d completion tokens",
        len(outcomes),
        ", ".join(f"{k} {v}" for k, v in totals["status"].items()),
        totals["requests"],
        totals["cache_hits"],
        totals["retries"],
        totals["prompt_tokens"],
        totals["completion_tokens"],
    )
    return outcomes


def run_judge(samples: Sequence[Sample], config: JudgeConfig, validate: Validator) -> list[JudgeOutcome]:
    """Judge every sample (see the module docstring); returns one `JudgeOutcome` per sample, in order.

    Raises `JudgeError` for problems that affect every sample (API key refused, unknown model); one
    sample's transport failure or invalid answer is a rejected outcome, never an exception.
    """
    return asyncio.run(arun_judge(list(samples), config, validate))


def summarize(outcomes: Sequence[JudgeOutcome]) -> dict[str, Any]:
    """Totals for a report: status counts, reason-code histogram (rule IDs and full codes), usage sums."""
    status = Counter({s: 0 for s in STATUSES})
    status.update(o.status for o in outcomes)
    codes = Counter(code for o in outcomes for code in o.reasons)
    rules = Counter(o.reasons[0].split(":")[0] for o in outcomes if o.reasons)
    totals: dict[str, Any] = {
        "samples": len(outcomes),
        "status": dict(status),
        "rules": dict(sorted(rules.items())),
        "reasons": dict(sorted(codes.items())),
        "rounds": dict(sorted(Counter(o.rounds for o in outcomes).items())),
    }
    for name in ("requests", "responses", "cache_hits", "retries", "prompt_tokens", "completion_tokens"):
        totals[name] = sum(int(o.usage.get(name, 0)) for o in outcomes)
    return totals
