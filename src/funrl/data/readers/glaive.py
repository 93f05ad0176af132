"""Reader for Glaive function-calling v2: the whole dialog is one string with text role prefixes.

    {"system": "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\\n{...}\\n\\n{...}",
     "chat": "USER: ...\\n\\n\\nASSISTANT: <functioncall> {\\"name\\": \\"f\\", \\"arguments\\": '{\\"a\\": 1}'} <|endoftext|>\\n\\n\\n
              FUNCTION RESPONSE: {...}\\n\\n\\nASSISTANT: ... <|endoftext|>"}

What it does:

* S1: the JSON objects after "Use them if required -" (one after another, blank lines between) are the tool
  list; a system text without that marker means "no tools". The system prose is not kept (logged).
* M1: `USER:` / `ASSISTANT:` / `FUNCTION RESPONSE:` prefixes at line starts become user / assistant / tool
  turns; `<|endoftext|>` is removed.
* P1/P4: a `<functioncall>` body is read as JSON first; the usual Glaive body, whose `arguments` value is a
  JSON object wrapped in single quotes, has exactly those outer quotes stripped and is then JSON-decoded
  (logged). Never a blanket quote replacement.
* M4/M5: one sample per assistant call step.
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
    loads,
    prepare_tools,
    require,
    split_steps,
)
from funrl.data.records import RecordError
from funrl.schema import Sample

TOOLS_MARKER = "Use them if required -"
_TURN = re.compile(r"(?:^|\n)[ \t]*(USER|ASSISTANT|FUNCTION RESPONSE|SYSTEM):[ \t]?")
_ROLES = {"USER": "user", "ASSISTANT": "assistant", "FUNCTION RESPONSE": "tool", "SYSTEM": "system"}
_QUOTED_ARGS = re.compile(
    r"""^\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*'(.*)'\s*\}$""", re.DOTALL
)
EOT = "<|endoftext|>"
CALL_TAG = "<functioncall>"


def extract_tools(system: str, ctx: ReadContext) -> list[Any]:
    pos = system.find(TOOLS_MARKER)
    if pos < 0:
        ctx.note("S1", "warn", "system text has no tool list (no 'Use them if required -' marker): no tools")
        return []
    try:
        tools = extract_json_values(system, pos + len(TOOLS_MARKER))
    except json.JSONDecodeError as exc:
        raise RecordError(
            "S1", f"tool list after the marker is not JSON ({exc.msg} at char {exc.pos})", field="system"
        ) from None
    if len(tools) == 1 and isinstance(tools[0], list):
        tools = tools[0]
    ctx.note("S1", "repair", f"{len(tools)} tools extracted from the system prose; the prose itself is not kept")
    return tools


def split_turns(chat: str) -> list[tuple[str, str]]:
    """`"USER: a\\n\\n\\nASSISTANT: b"` -> `[("user", "a"), ("assistant", "b")]` (text before the first prefix
    is rejected: it has no role)."""
    matches = list(_TURN.finditer(chat))
    if not matches:
        raise RecordError("M1", "no USER:/ASSISTANT: prefix found", field="chat")
    if chat[: matches[0].start()].strip():
        raise RecordError("M1", "text before the first role prefix", field="chat")
    turns = []
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(chat)
        turns.append((_ROLES[m.group(1)], chat[m.end() : end].replace(EOT, "").strip()))
    return turns


def parse_functioncall(body: str, ctx: ReadContext, *, field: str) -> dict[str, Any]:
    """A `<functioncall>` body -> `{"name", "arguments"}` (P1 JSON first, then P4 quoted arguments)."""
    body = body.strip()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        obj = None
    if obj is None:
        match = _QUOTED_ARGS.match(body)
        if match is None:
            raise RecordError(
                "P4", 'functioncall body is neither JSON nor {"name": ..., "arguments": \'...\'}', field=field
            )
        name = json.loads(f'"{match.group(1)}"')
        args = loads(match.group(2), "quoted arguments", ctx, field=f"{field}.arguments", literal_ok=False)
        ctx.note("P4", "repair", f"{field}: single quotes around the arguments JSON stripped")
        obj = {"name": name, "arguments": args}
    return decode_call(obj, ctx, field=field)


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    system = require(record, "system", str)
    chat = require(record, "chat", str)
    tools = prepare_tools(extract_tools(system, ctx), ctx, field="system")
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for i, (role, text) in enumerate(split_turns(chat)):
        field = f"chat.turn[{i}]"
        if role == "assistant" and CALL_TAG in text:
            content, _, body = text.partition(CALL_TAG)
            call = parse_functioncall(body, ctx, field=field)
            messages.append(assistant_calls([call], content=content.strip(), step=n_calls))
            n_calls += 1
        else:
            messages.append({"role": role, "content": text})
    return split_steps(ctx, messages, tools)
