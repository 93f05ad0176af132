"""The one matcher: decoded calls -> verdict against BFCL possible answers, with the official AST-checker rules.

Reproduces the semantics of BFCL's AST checker (bfcl-eval 2026.3.23, `ast_checker.py`) for Python
categories, verified entry by entry against the official checker (`tests/test_golden.py`); the rules
and the official quirks reproduced are listed in `docs/matching.md`. Java / JavaScript categories are scored
with the official type conversion (`funrl.calls.javajs`) when their outputs can be decoded (tree-sitter,
`funrl[bfcl-java]`), and refused explicitly (`unsupported_language`) otherwise, never scored approximately.

    from funrl.calls import match_calls

    result = match_calls([{"get_weather": {"city": "Paris"}}], [{"get_weather": {"city": ["Paris", "paris"]}}],
                         tools, "simple")
    result.ok, result.reason       # True, None
    ok, reason = result            # unpacks as `(ok, reason)`

Text -> verdict (parse, then match) is `funrl.calls.check.check_output`; this module never parses.

Reasons are BFCL's own `error_type` strings (`simple_function_checker:missing_required`,
`type_error:nested`, `value_error:string`, `parallel_function_checker_no_order:cannot_find_match`,
`ast_decoder:decoder_failed`, `irrelevance_error:decoder_success`, ...), so they can be compared with the
official checker's. Two codes are ours: `checker_exception` (inputs on which the official checker raises
an exception, which its runner counts as a failure) and `unsupported_language`. `MatchResult.detail`
adds a human-readable explanation (which parameter, which value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funrl.calls.values import CheckerCrash, Failure, check_param, check_source_param

__all__ = ["MatchResult", "has_call", "is_call_list", "match_calls"]

SUPPORTED_LANGUAGES = ("python", "java", "javascript")


@dataclass(frozen=True)
class MatchResult:
    """Verdict of one completion.

    Args:
        ok (`bool`): whether the calls pass.
        reason (`str` or `None`): BFCL error type when `ok` is False (e.g. `value_error:string`), else None.
        detail (`str` or `None`): a human-readable explanation of the failure (parameter, value).

    Unpacks as `(ok, reason)` and is truthy iff `ok`.
    """

    ok: bool
    reason: str | None = None
    detail: str | None = None

    def __iter__(self):
        return iter((self.ok, self.reason))

    def __bool__(self) -> bool:
        return self.ok


PASS = MatchResult(True)


def is_call_list(calls: Any) -> bool:
    """BFCL's call format: a list of one-key dicts `{name: {param: value}}` (an empty list qualifies)."""
    if type(calls) is not list:
        return False
    for item in calls:
        if type(item) is not dict or len(item) != 1 or type(next(iter(item.values()))) is not dict:
            return False
    return True


def has_call(calls: Any) -> bool:
    """BFCL's relevance notion of "contains a call": decodable, in call format, and not `[]` or `[{}]`.

    (In call format every item has exactly one key, so the `[{}]` case of the official rule can only
    arise from a decoder that does not produce call format, which counts as "no call" anyway.)
    """
    return calls is not None and is_call_list(calls) and len(calls) > 0


def _find_tool(tools: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for tool in tools:
        if tool.get("name") == name:
            return tool
    return None


def _check_call(
    tool: dict[str, Any] | None, call: dict[str, Any], answer: dict[str, Any], underscore_to_dot: bool, language: str
):
    """One decoded call against one possible-answer call; returns None or a `Failure`.

    Raises `CheckerCrash` where the official checker raises.
    """
    if tool is None:
        raise CheckerCrash("no function doc for the expected function")
    allowed_params = next(iter(answer.values()))
    name = tool["name"]
    if underscore_to_dot and "." in name:
        name = name.replace(".", "_")
    if name not in call:
        return Failure("simple_function_checker:wrong_func_name", f"function {name!r} not found in {list(call)}")
    params = call[name]
    schema = tool.get("parameters") or {}
    properties = schema.get("properties") or {}
    for param in schema.get("required") or []:
        if param not in params:
            return Failure("simple_function_checker:missing_required", f"missing required parameter {param!r}")
    for param, value in params.items():
        if param not in properties or param not in allowed_params:
            where = "function doc" if param not in properties else "possible answer"
            return Failure("simple_function_checker:unexpected_param", f"parameter {param!r} is not in the {where}")
        if language == "python":
            failure = check_param(param, value, properties[param], allowed_params[param])
        else:
            failure = check_source_param(param, value, properties[param], allowed_params[param], language)
        if failure is not None:
            return failure
    for param, allowed in allowed_params.items():
        if param not in params and "" not in allowed:
            return Failure(
                "simple_function_checker:missing_optional",
                f"parameter {param!r} not provided and the answer does not allow omitting it",
            )
    return None


def _match_ast(calls, ground_truth, tools, category, underscore_to_dot, language) -> Failure | None:
    if "parallel" in category:
        if len(calls) != len(ground_truth):
            return Failure(
                "parallel_function_checker_no_order:wrong_count", f"{len(calls)} calls, expected {len(ground_truth)}"
            )
        used: set[int] = set()
        for index, answer in enumerate(ground_truth):
            tool = _find_tool(tools, next(iter(answer)))
            failure = None
            for position, call in enumerate(calls):
                if position in used:
                    continue
                failure = _check_call(tool, call, answer, underscore_to_dot, language)
                if failure is None:
                    used.add(position)
                    break
            if failure is not None:
                return Failure(
                    "parallel_function_checker_no_order:cannot_find_match",
                    f"no unused call matches answer #{index} ({next(iter(answer))}); last error: "
                    f"{failure.reason} ({failure.detail})",
                )
        return None
    if "multiple" in category:
        if len(calls) != len(ground_truth):
            return Failure(
                "multiple_function_checker:wrong_count", f"{len(calls)} calls, expected {len(ground_truth)}"
            )
        return _check_call(
            _find_tool(tools, next(iter(ground_truth[0]))), calls[0], ground_truth[0], underscore_to_dot, language
        )
    if len(calls) != 1:
        return Failure("simple_function_checker:wrong_count", f"{len(calls)} calls, expected 1")
    # The official simple checker takes the first function doc and the first answer, whatever their names.
    return _check_call(tools[0], calls[0], ground_truth[0], underscore_to_dot, language)


def match_calls(
    calls: list[dict[str, dict[str, Any]]] | None,
    ground_truth: list[dict[str, dict[str, list[Any]]]],
    tools: list[dict[str, Any]],
    category: str,
    language: str = "python",
    *,
    underscore_to_dot: bool = False,
) -> MatchResult:
    """Match decoded calls against BFCL possible answers with the official AST-checker semantics.

    Args:
        calls (`list[dict]` or `None`): decoded calls `[{name: {param: value}}]`; `None` = undecodable.
        ground_truth (`list[dict]`): possible answers `[{name: {param: [allowed, ...]}}]`, `""` = may be omitted.
        tools (`list[dict]`): normalised function specs (`funrl.schema.normalize_tools`).
        category (`str`): BFCL category; the checker is chosen by substring like BFCL does: `irrelevance`
            (pass iff no call), `relevance` (pass iff any call), `parallel` (order-free greedy matching),
            `multiple` (call count = answer count, first call against the first answer), else simple.
        language (`str`): `python`, `java` or `javascript` (values are then source text, converted by the
            parameter's BFCL type, which `tools` must carry: BFCL's raw docs, with `items.type` for arrays).
        underscore_to_dot (`bool`): compare with `.` in expected function names replaced by `_` (a
            model-handler option of BFCL for APIs that forbid dots in names).

    Returns:
        `MatchResult`. Never raises: an input on which the official checker crashes gives
        `MatchResult(False, "checker_exception")`, as the official runner counts it.
    """
    if "irrelevance" in category:
        if has_call(calls):
            return MatchResult(False, "irrelevance_error:decoder_success", f"{len(calls)} call(s) decoded")
        return PASS
    if "relevance" in category:
        if has_call(calls):
            return PASS
        return MatchResult(False, "relevance_error:decoder_failed", "no call decoded")
    if language not in SUPPORTED_LANGUAGES:
        return MatchResult(False, "unsupported_language", f"matching {language} calls is not implemented")
    if calls is None:
        return MatchResult(False, "ast_decoder:decoder_failed", "the output could not be decoded")
    if not is_call_list(calls):
        return MatchResult(False, "ast_decoder:decoder_wrong_output_format", "decoded output is not a call list")
    try:
        failure = _match_ast(calls, ground_truth, tools, category, underscore_to_dot, language)
    except CheckerCrash as exc:
        return MatchResult(False, "checker_exception", str(exc))
    except Exception as exc:  # inputs on which the official checker raises too (malformed answers or docs)
        return MatchResult(False, "checker_exception", f"{type(exc).__name__}: {exc}")
    if failure is None:
        return PASS
    return MatchResult(False, failure.reason, failure.detail)
