"""Reader for ToolACE dialogs: the tool list lives in the system prose, calls are pythonic.

    {"system": "... Here is a list of functions in JSON format that you can invoke:\\n[{...}]\\nShould you ...",
     "conversations": [{"from": "user", "value": "..."}, {"from": "assistant", "value": "[Weather Now(city=\\"Oslo\\")]"},
                       {"from": "tool", "value": "[...]"}, {"from": "assistant", "value": "It is 4 °C."}]}

What it does:

* S1: the JSON list that follows the marker "Here is a list of functions in JSON format that you can invoke:"
  is extracted (JSON first, then a Python literal, P2); the system prose itself is not kept (the training
  template renders the tools), which is logged.
* S4: `type: "dict"` -> `"object"` (through `normalize_tools`, logged).
* P5/P6: an assistant turn that starts with `[` or with a known tool name followed by `(` is a call turn,
  parsed with the project parser `funrl.calls.parse_calls` (BFCL pythonic syntax). Tool names that are not
  Python identifiers ("Weather Now", "Daily Match List-Scheduled") are first replaced, outside string
  literals and only where followed by `(`, by placeholders, then mapped back (P6, logged). A call turn
  that does not parse is rejected (P5); positional arguments are rejected (P7).
* M1/M4/M5: roles mapped, one sample per assistant call step.
"""

from __future__ import annotations

import re
from typing import Any

from funrl.data.readers.common import (
    ReadContext,
    assistant_calls,
    from_literal,
    iter_turns,
    loads,
    prepare_tools,
    require,
    split_steps,
)
from funrl.data.records import RecordError
from funrl.schema import Sample

MARKER = "Here is a list of functions in JSON format that you can invoke:"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_PLACEHOLDER = "funrl_tool_{}_"
# decoder notes that keep a call list made only of literals (everything else is a P5 violation)
_LITERAL_NOTES = ("brackets_added", "tuple_value")


def extract_tools(system: str, ctx: ReadContext) -> list[Any]:
    """S1: the tool list after `MARKER` in the system text (the first balanced JSON list or Python literal)."""
    pos = system.find(MARKER)
    if pos < 0:
        raise RecordError("S1", f"no tool list: marker {MARKER!r} not found", field="system")
    start = system.find("[", pos + len(MARKER))
    if start < 0:
        raise RecordError("S1", "no '[' after the tool-list marker", field="system")
    end = _balanced_end(system, start)
    if end is None:
        raise RecordError("S1", "the tool list after the marker is not closed", field="system")
    tools = loads(system[start:end], "tool list", ctx, field="system", code="S1")
    ctx.note("S1", "repair", "tool list extracted from the system prose; the prose itself is not kept")
    return tools


def _balanced_end(text: str, start: int) -> int | None:
    """Index after the bracket that closes `text[start]`, skipping brackets inside string literals."""
    depth, quote, i = 0, None, start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def substitute_names(text: str, names: list[str]) -> tuple[str, dict[str, str]]:
    """P6: replace each known non-identifier tool name that is followed by `(` and stands outside a string
    literal with a placeholder identifier. Returns the new text and `{placeholder: original name}`."""
    odd = sorted((n for n in names if not _IDENT.match(n)), key=len, reverse=True)
    if not odd:
        return text, {}
    placeholders = {name: _PLACEHOLDER.format(k) for k, name in enumerate(odd)}
    out: list[str] = []
    mapping: dict[str, str] = {}
    quote, last, i = None, "", 0  # last: the last non-space character outside string literals
    while i < len(text):
        ch = text[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote, last = None, ch
            i += 1
            continue
        if last in ("", "[", ",") and not ch.isspace():
            name = next(
                (n for n in odd if text.startswith(n, i) and text[i + len(n) :].lstrip().startswith("(")), None
            )
            if name is not None:
                out.append(placeholders[name])
                mapping[placeholders[name]] = name
                i += len(name)
                last = "x"
                continue
        if ch in "\"'":
            quote = ch
        out.append(ch)
        if not ch.isspace():
            last = ch
        i += 1
    return "".join(out), mapping


def looks_like_call(text: str, names: list[str]) -> bool:
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]") and "(" in stripped:
        return True
    return any(stripped.startswith(n) and stripped[len(n) :].lstrip().startswith("(") for n in names)


def parse_pythonic(text: str, names: list[str], ctx: ReadContext, *, field: str) -> list[dict[str, Any]]:
    """Pythonic call text -> `[{"name", "arguments"}]` with the project parser (P5), after P6 substitution."""
    from funrl.calls import parse_calls

    body, mapping = substitute_names(text.strip(), names)
    if not body.startswith("["):
        body = f"[{body}]"
    result = parse_calls(body, fmt="bfcl-prompt")
    if result.calls is None or not result.format_ok:
        raise RecordError("P5", f"pythonic call list does not parse ({result.reason})", field=field)
    if "positional_args_dropped" in result.notes:
        raise RecordError("P7", "positional arguments in a call (keyword arguments only)", field=field)
    quirks = [n for n in result.notes if n not in _LITERAL_NOTES]
    if quirks:
        raise RecordError("P5", f"call values are not plain literals ({', '.join(quirks)})", field=field)
    calls = []
    for j, entry in enumerate(result.calls):
        for name, args in entry.items():
            try:
                arguments = from_literal(args, "")
            except RecordError as err:
                raise RecordError("P5", f"call {j}: {err.detail}", field=field) from None
            calls.append({"name": mapping.get(name, name), "arguments": arguments})
    if "tuple_value" in result.notes:
        ctx.note("P5", "repair", f"{field}: tuple values read as lists")
    if mapping:
        ctx.note(
            "P6", "repair", f"{field}: non-identifier tool names parsed via placeholders: {sorted(mapping.values())}"
        )
    return calls


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    system = require(record, "system", str)
    conversations = require(record, "conversations", list)
    tools = prepare_tools(extract_tools(system, ctx), ctx, field="system")
    names = [t.get("name") for t in tools if isinstance(t.get("name"), str)]
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for field, role, value in iter_turns(conversations, ctx):
        if role == "assistant" and looks_like_call(value, names):
            calls = parse_pythonic(value, names, ctx, field=f"{field}.value")
            messages.append(assistant_calls(calls, step=n_calls))
            n_calls += 1
        elif role == "system":
            messages.append({"role": "system", "content": value})
        else:
            messages.append({"role": role, "content": value})
    return split_steps(ctx, messages, tools)
