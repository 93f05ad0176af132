"""Reader for Hermes function-calling v1: `<tools>` in the system turn, `<tool_call>` blocks in `gpt` turns.

    {"id": "h-1", "category": "...", "subcategory": "...", "task": "...",
     "conversations": [{"from": "system", "value": "... <tools> [{...}] </tools> ..."},
                       {"from": "human", "value": "..."},
                       {"from": "gpt", "value": "<tool_call>\\n{\\"name\\": ..., \\"arguments\\": {...}}\\n</tool_call>"},
                       {"from": "tool", "value": "<tool_response>\\n{...}\\n</tool_response>"}, ...]}

What it does:

* S1: the text between `<tools>` and `</tools>` of the system turn is the tool list: a JSON list, or objects
  one after another, or (P2, logged) a Python literal such as `[{'type': 'function', ...}]`. The system
  prose is not kept (logged). S3: OpenAI wrappers removed.
* P1/P2/P3: each `<tool_call>` body is JSON, else a Python literal (`'name'`, `True`: logged, never a quote
  replacement); string `arguments` decoded. Text outside the blocks stays as the assistant content.
* `<tool_response>` blocks become one `tool` message each. `category`/`subcategory`/`task` go to `meta`.
* M1/M4/M5: roles mapped, one sample per assistant call step.
"""

from __future__ import annotations

import json
import re
from typing import Any

from funrl.data.readers.common import (
    ReadContext,
    assistant_calls,
    decode_call,
    extract_json_values,
    iter_turns,
    loads,
    prepare_tools,
    require,
    split_steps,
)
from funrl.data.records import RecordError
from funrl.schema import Sample

_TOOLS = re.compile(r"<tools>(.*?)</tools>", re.DOTALL)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_RESPONSE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)


def extract_tools(system: str, ctx: ReadContext, *, field: str) -> list[Any]:
    # the prose often mentions the tags ("within <tools></tools> XML tags"): take the first non-empty block
    text = next((m.group(1).strip() for m in _TOOLS.finditer(system) if m.group(1).strip()), None)
    if text is None:
        raise RecordError("S1", "no non-empty <tools>...</tools> block in the system turn", field=field)
    try:
        values = extract_json_values(text)
    except json.JSONDecodeError:
        values = [loads(text, "tool list", ctx, field=field, code="S1")]
    tools = values[0] if len(values) == 1 and isinstance(values[0], list) else values
    ctx.note("S1", "repair", f"{len(tools)} tools extracted from <tools> in the system turn; the prose is not kept")
    return tools


def parse_tool_calls(value: str, ctx: ReadContext, *, field: str) -> tuple[list[dict[str, Any]], str]:
    """`<tool_call>` blocks -> calls, plus the text outside them."""
    calls = []
    for j, match in enumerate(_CALL.finditer(value)):
        obj = loads(match.group(1).strip(), "tool_call body", ctx, field=f"{field}.tool_call[{j}]")
        calls.append(decode_call(obj, ctx, field=f"{field}.tool_call[{j}]"))
    rest = _CALL.sub("", value).strip()
    if "<tool_call>" in rest or "</tool_call>" in rest:
        raise RecordError("P8", "unbalanced <tool_call> tags", field=field)
    return calls, rest


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    conversations = require(record, "conversations", list)
    tools: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for field, role, value in iter_turns(conversations, ctx):
        if role == "system" and tools is None and "<tools>" in value:
            tools = prepare_tools(extract_tools(value, ctx, field=f"{field}.value"), ctx, field=f"{field}.value")
        elif role == "assistant" and "<tool_call>" in value:
            calls, rest = parse_tool_calls(value, ctx, field=f"{field}.value")
            messages.append(assistant_calls(calls, content=rest, step=n_calls))
            n_calls += 1
        elif role == "tool" and _RESPONSE.search(value):
            messages.extend({"role": "tool", "content": m.group(1).strip()} for m in _RESPONSE.finditer(value))
        else:
            messages.append({"role": role, "content": value})
    if tools is None:
        raise RecordError("S1", "no system turn with a <tools> block", field="conversations")
    extra = {k: record[k] for k in ("category", "subcategory", "task") if isinstance(record.get(k), str)}
    return split_steps(ctx, messages, tools, extra_meta={"hermes": extra} if extra else None)
