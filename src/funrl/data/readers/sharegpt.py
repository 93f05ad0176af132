"""Reader for ShareGPT records with tools (LLaMA-Factory / APIGen-MT layout).

    {"system": "...", "tools": "[{\\"name\\": ..., \\"parameters\\": {...}}]",
     "conversations": [{"from": "human", "value": "..."},
                       {"from": "function_call", "value": "{\\"name\\": \\"f\\", \\"arguments\\": {...}}"},
                       {"from": "observation", "value": "..."}, {"from": "gpt", "value": "..."}]}

What it does:

* S1: `tools` is a JSON string decoded once (a list is accepted as is; `""` means no tools).
* M1: human -> user, gpt -> assistant, function_call -> assistant with calls, observation -> tool; the
  `system` field (or one leading `system` turn) becomes the first message.
* M2: LLaMA-Factory's order: human/observation at odd positions, gpt/function_call at even ones
  (1-based, after an optional leading system turn); anything else is rejected.
* P1/P2/P3: a `function_call` value is JSON `{name, arguments}` or a JSON list of them (parallel calls);
  a Python literal is accepted and logged; string `arguments` are decoded.
* M4/M5: one sample per function_call step.
"""

from __future__ import annotations

from typing import Any

from funrl.data.readers.common import (
    ReadContext,
    assistant_calls,
    decode_call,
    loads,
    prepare_tools,
    require,
    split_steps,
)
from funrl.data.records import RecordError
from funrl.schema import Sample

_ODD = ("human", "user", "observation")
_EVEN = ("gpt", "assistant", "function_call")
_ROLE = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "observation": "tool"}


def _read_tools(record: dict[str, Any], ctx: ReadContext) -> list[dict[str, Any]]:
    raw = record.get("tools", "")
    if raw is None:
        raw = ""
    if isinstance(raw, str):
        raw = loads(raw, "field 'tools'", ctx, field="tools", literal_ok=False, code="S1") if raw.strip() else []
        if isinstance(raw, str):
            raise RecordError("S1", "the JSON string decodes to another string (double-encoded)", field="tools")
    return prepare_tools(raw, ctx)


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    conversations = require(record, "conversations", list)
    tools = _read_tools(record, ctx)
    messages: list[dict[str, Any]] = []
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise RecordError("READ_FIELD", f"expected str, got {type(system).__name__}", field="system")
    turns = list(conversations)
    if turns and isinstance(turns[0], dict) and turns[0].get("from") == "system":
        if system:
            raise RecordError("M2", "both a 'system' field and a leading system turn", field="conversations[0]")
        system = turns.pop(0).get("value")
        offset = 1
    else:
        offset = 0
    if system:
        messages.append({"role": "system", "content": system})
    n_calls = 0
    for k, turn in enumerate(turns):
        i = k + offset
        field = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise RecordError("READ_FIELD", f"expected an object, got {type(turn).__name__}", field=field)
        source_role = turn.get("from")
        value = turn.get("value")
        if not isinstance(value, str):
            raise RecordError("READ_FIELD", "missing or not a string", field=f"{field}.value")
        expected = _ODD if k % 2 == 0 else _EVEN
        if source_role not in expected:
            raise RecordError(
                "M2",
                f"turn {k + 1} is {source_role!r}; position {k + 1} must be one of {expected}",
                field=f"{field}.from",
            )
        if source_role == "function_call":
            obj = loads(value, "function_call value", ctx, field=f"{field}.value")
            items = obj if isinstance(obj, list) else [obj]
            if not items:
                raise RecordError("C6", "function_call with an empty call list", field=f"{field}.value")
            calls = [decode_call(c, ctx, field=f"{field}.value[{j}]") for j, c in enumerate(items)]
            messages.append(assistant_calls(calls, step=n_calls))
            n_calls += 1
        else:
            messages.append({"role": _ROLE[source_role], "content": value})
    return split_steps(ctx, messages, tools)
