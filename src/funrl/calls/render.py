"""The parser's inverse: calls in BFCL's decoded form -> model-output text, plus ground truth -> calls.

Usage:
    >>> from funrl.calls import render_calls
    >>> render_calls([{"get_weather": {"city": "Paris", "days": 3}}])
    "[get_weather(city='Paris', days=3)]"
    >>> render_calls([{"f": {"a": 1}}], style="qwen-fc")
    '<tool_call>\\n{"name": "f", "arguments": {"a": 1}}\\n</tool_call>'

Styles:

- `"python"`: BFCL prompt mode, `[f(a=1, b='x')]`: keyword arguments in the given order, values as Python
  literals (`repr`: strings single-quoted as repr does, floats keep `.0`, infinities as `1e999`).
  `parse_calls(render_calls(c, "python"), "bfcl-prompt").calls == c` for every renderable `c`.
- `"json"`: an OpenAI `tool_calls` list (`{"type": "function", "function": {"name", "arguments": "<JSON>"}}`),
  read back by `parse_calls(..., fmt="openai")` (tuples come back as lists).
- `"qwen-fc"`: one `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` block per call, joined by
  newlines (`""` for no call), read back by `parse_calls(..., fmt="qwen-fc")`.

`render_funrl(calls, think)` writes the whole funrl template; `ground_truth_to_calls(ground_truth, tools)`
picks the first allowed value of each parameter (the convention of the official tool's `gt` subcommand).
Values that have no literal form (NaN, sets, objects) and names that are not identifiers raise ValueError.
"""

from __future__ import annotations

import json
import keyword
import math
from typing import Any

STYLES = ("python", "json", "qwen-fc")


def _is_identifier(name: Any) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _literal(value: Any, where: str) -> str:
    """Python source of a value that the prompt-mode decoder reads back unchanged."""
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError(f"{where}: NaN has no Python literal")
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, where) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v, where) for v in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k, where)}: {_literal(v, where)}" for k, v in value.items()) + "}"
    raise ValueError(f"{where}: cannot render a value of type {type(value).__name__} ({value!r:.60})")


def _check_calls(calls: Any) -> list[tuple[str, dict]]:
    if not isinstance(calls, list):
        raise ValueError(f"calls must be a list of {{name: {{arg: value}}}} dicts, got {type(calls).__name__}")
    out = []
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or len(call) != 1:
            raise ValueError(f"calls[{i}]: expected a one-key dict {{name: {{arg: value}}}}, got {call!r:.80}")
        ((name, args),) = call.items()
        if not isinstance(args, dict):
            raise ValueError(f"calls[{i}] ({name!r}): arguments must be a dict, got {type(args).__name__}")
        out.append((name, args))
    return out


def render_calls(calls: list[dict[str, dict]], style: str = "python") -> str:
    """Render calls as model output.

    Args:
        calls: `[{name: {arg: value}}]` (BFCL's decoded form).
        style: one of `STYLES`.

    Returns:
        The text a model would produce.

    Raises:
        ValueError: unknown style; a name that is not a (dotted) identifier or an argument name that is not an
            identifier (python style); a value without a literal form.
    """
    checked = _check_calls(calls)
    if style == "python":
        rendered = []
        for i, (name, args) in enumerate(checked):
            if not isinstance(name, str) or not all(_is_identifier(p) for p in name.split(".")):
                raise ValueError(f"calls[{i}]: function name {name!r} is not a dotted Python identifier")
            parts = []
            for arg, value in args.items():
                if not _is_identifier(arg):
                    raise ValueError(f"calls[{i}] ({name}): argument name {arg!r} is not a Python identifier")
                parts.append(f"{arg}={_literal(value, f'calls[{i}] ({name}).{arg}')}")
            rendered.append(f"{name}({', '.join(parts)})")
        return "[" + ", ".join(rendered) + "]"
    if style == "json":
        return json.dumps(
            [
                {"type": "function", "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)}}
                for n, a in checked
            ],
            ensure_ascii=False,
        )
    if style == "qwen-fc":
        return "\n".join(
            "<tool_call>\n" + json.dumps({"name": n, "arguments": a}, ensure_ascii=False) + "\n</tool_call>"
            for n, a in checked
        )
    raise ValueError(f"unknown render style {style!r}; valid styles: {', '.join(STYLES)}")


def render_funrl(calls: list[dict[str, dict]], think: str = "") -> str:
    """The funrl template: `<think>{think}</think>\\n<answer>{python calls}</answer>` (`[]` for no call)."""
    return f"<think>{think}</think>\n<answer>{render_calls(calls, 'python')}</answer>"


def _first_allowed(allowed: Any) -> tuple[bool, Any]:
    """First allowed value that is not the "may be omitted" marker `""`."""
    if not isinstance(allowed, list):
        return True, allowed
    for v in allowed:
        if v != "":
            return True, v
    return False, None


def _resolve_dict(d: dict) -> dict:
    out = {}
    for k, allowed in d.items():
        ok, v = _first_allowed(allowed)
        if ok:
            out[k] = v
    return out


def _is_allowed_dict(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, list) for x in v.values())


def ground_truth_to_calls(ground_truth: list[dict], tools: list[dict] | None = None) -> list[dict[str, dict]]:
    """One concrete answer from BFCL possible-answer ground truth: the first allowed value of each parameter.

    Follows the official tool's `gt` subcommand: a parameter whose allowed values are all `""` is omitted
    (unless the function doc requires it: then `""`), a parameter the doc lacks is omitted when `""` is
    allowed, dict values (per-key allowed lists) and lists of such dicts are resolved key by key.

    Args:
        ground_truth: `[{name: {param: [allowed values...]}}]`.
        tools: the function docs (normalised or BFCL-native); without them every dict whose values are all
            lists is read as per-key allowed values.

    Returns:
        `[{name: {param: value}}]`.
    """
    docs = {t.get("name"): t for t in tools or [] if isinstance(t, dict)}
    calls = []
    for i, call in enumerate(ground_truth):
        if not isinstance(call, dict) or len(call) != 1:
            raise ValueError(f"ground_truth[{i}]: expected a one-key dict {{name: {{param: [allowed]}}}}")
        ((name, params),) = call.items()
        doc = (docs.get(name) or {}).get("parameters") or {}
        props, required = doc.get("properties") or {}, doc.get("required") or []
        args = {}
        for p, allowed in params.items():
            if props and p not in props and isinstance(allowed, list) and "" in allowed:
                continue
            ok, v = _first_allowed(allowed)
            if not ok:
                if p in required and "" in allowed:
                    v = ""
                else:
                    continue
            if _is_allowed_dict(v):
                v = _resolve_dict(v)
            elif isinstance(v, list) and v and all(_is_allowed_dict(e) for e in v):
                v = [_resolve_dict(e) for e in v]
            args[p] = v
        calls.append({name: args})
    return calls
