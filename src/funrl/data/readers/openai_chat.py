"""Reader for OpenAI chat records: `messages` with `tool_calls` / `tool` turns, plus a `tools` list.

    {"tools": [{"type": "function", "function": {"name": ..., "parameters": {...}}}],
     "messages": [{"role": "user", "content": "..."},
                  {"role": "assistant", "content": null, "tool_calls": [
                      {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "..."}, ...]}

What it does:

* S1/S3: `tools` may be a JSON string (decoded once) and the `{type: function, function}` wrapper is removed.
* P3: `arguments` is a JSON string on the wire: decoded once into an object (double-encoded: twice, logged);
  a non-object is rejected. A legacy single `function_call` on an assistant message is read as one call.
* M1: `developer` -> `system` (logged). M3: a call without an `id` gets `call_<msg>_<j>` (logged); every `tool`
  message's `tool_call_id` must name an earlier call (a missing one is assigned the oldest unanswered call,
  logged); every call of a context turn is answered exactly once before the next assistant turn.
* M4/M5: one sample per assistant call step. In the stored context, calls keep their ids and carry
  `arguments` as objects.
"""

from __future__ import annotations

import json
from typing import Any

from funrl.data.readers.common import (
    ReadContext,
    decode_call,
    loads,
    map_role,
    prepare_tools,
    require,
    split_steps,
)
from funrl.data.records import RecordError
from funrl.schema import Sample


def _read_tools(record: dict[str, Any], ctx: ReadContext) -> list[dict[str, Any]]:
    raw = record.get("tools")
    if raw is None:
        raise RecordError("READ_FIELD", "missing", field="tools")
    if isinstance(raw, str):
        raw = loads(raw, "field 'tools'", ctx, field="tools", literal_ok=False, code="S1") if raw.strip() else []
    return prepare_tools(raw, ctx)


def _assistant(msg: dict[str, Any], i: int, ctx: ReadContext) -> dict[str, Any]:
    field = f"messages[{i}]"
    raw_calls = msg.get("tool_calls") or []
    if not raw_calls and isinstance(msg.get("function_call"), dict):
        ctx.note("M1", "repair", f"{field}: legacy 'function_call' read as one tool call")
        raw_calls = [{"type": "function", "function": msg["function_call"]}]
    if not isinstance(raw_calls, list):
        raise RecordError("READ_FIELD", "tool_calls must be a list", field=f"{field}.tool_calls")
    tool_calls = []
    for j, raw in enumerate(raw_calls):
        cfield = f"{field}.tool_calls[{j}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("function"), dict):
            raise RecordError("C2", "a tool call must be {id, type, function: {name, arguments}}", field=cfield)
        call = decode_call(raw["function"], ctx, field=f"{cfield}.function", wire_string=True)
        call_id = raw.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = f"call_{i}_{j}"
            ctx.note("M3", "repair", f"{cfield}: missing id synthesized as {call_id!r}")
        tool_calls.append({"id": call_id, "type": "function", "function": call})
    content = msg.get("content")
    out: dict[str, Any] = {"role": "assistant", "content": content if isinstance(content, str) else ""}
    if tool_calls:
        out["tool_calls"] = tool_calls
    return out


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    raw_messages = require(record, "messages", (list, str))
    if isinstance(raw_messages, str):
        raw_messages = loads(raw_messages, "field 'messages'", ctx, field="messages", literal_ok=False)
        if not isinstance(raw_messages, list):
            raise RecordError("READ_FIELD", "expected a list", field="messages")
    tools = _read_tools(record, ctx)
    messages: list[dict[str, Any]] = []
    pending: list[str] = []  # call ids of the latest assistant turn still waiting for a tool reply
    answered: set[str] = set()
    known: set[str] = set()
    for i, msg in enumerate(raw_messages):
        field = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise RecordError("READ_FIELD", f"expected an object, got {type(msg).__name__}", field=field)
        raw_role = msg.get("role")
        if raw_role == "developer":
            ctx.note("M1", "repair", f"{field}: role 'developer' -> 'system'")
            raw_role = "system"
        role = map_role(raw_role, ctx, field=f"{field}.role")
        if role == "assistant":
            if pending:
                raise RecordError("M3", f"tool calls {pending} have no tool reply before this turn", field=field)
            out = _assistant(msg, i, ctx)
            ids = [c["id"] for c in out.get("tool_calls", [])]
            if len(set(ids)) != len(ids) or known.intersection(ids):
                raise RecordError("M3", f"duplicate tool call ids {ids}", field=f"{field}.tool_calls")
            known.update(ids)
            pending = list(ids)
            messages.append(out)
        elif role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id is None:
                if not pending:
                    raise RecordError("M3", "tool message without tool_call_id and no pending call", field=field)
                call_id = pending[0]
                ctx.note("M3", "repair", f"{field}: missing tool_call_id assigned to {call_id!r}")
            if call_id in answered:
                raise RecordError("M3", f"second reply to tool call {call_id!r}", field=f"{field}.tool_call_id")
            if call_id not in known:
                raise RecordError(
                    "M3", f"tool_call_id {call_id!r} names no earlier call", field=f"{field}.tool_call_id"
                )
            answered.add(call_id)
            if call_id in pending:
                pending.remove(call_id)
            content = msg.get("content")
            tool_msg = {
                "role": "tool",
                "tool_call_id": call_id,
                "content": content if isinstance(content, str) else "",
            }
            if not isinstance(content, str) and content is not None:
                tool_msg["content"] = loads_text(content)
            if isinstance(msg.get("name"), str):
                tool_msg["name"] = msg["name"]
            messages.append(tool_msg)
        else:
            if role == "user" and pending:
                raise RecordError("M3", f"tool calls {pending} have no tool reply before this turn", field=field)
            content = msg.get("content")
            messages.append({"role": role, "content": content if isinstance(content, str) else loads_text(content)})
    return split_steps(ctx, messages, tools)


def loads_text(content: Any) -> str:
    """Non-string content (a list of text parts, or a JSON value) -> text."""
    if content is None:
        return ""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    return json.dumps(content, ensure_ascii=False)
