"""Pieces every reader shares: the per-record context, strict JSON / Python-literal decoding (P1, P2, P3, P9),
tool-list preparation (S1, S3, S4) and the split of a dialog into one sample per assistant call step (M4, M5).

A reader is a function `read_record(record: dict, ctx: ReadContext) -> list[Sample]` that raises
`RecordError` for a bad record; `funrl.data.readers.read_source` turns that into a `Rejection`.

Internal message shape (what readers build before `split_steps`): OpenAI-style dicts with roles
`system` / `user` / `assistant` / `tool`; an assistant turn with calls carries
`tool_calls: [{"id", "type": "function", "function": {"name", "arguments": {...}}}]` with `arguments` as an
**object** (never a JSON string, docs/data.md, "The canonical record", rule 1).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from funrl.data.records import RecordError, add_audit, category_for, ground_truth_from_calls, where
from funrl.jsonl import MAX_DEPTH, problem
from funrl.schema import Sample, normalize_tools


@dataclass
class ReaderOptions:
    """Per-source switches of the readers (the `prepare` recipe passes them through).

    Args:
        no_call_steps: M5: an assistant text turn that directly answers a user turn becomes a `no_call`
            sample (target `[]`). Off by default; a text turn after a tool result never does.
        default_makes_optional: S6 (xLAM): a parameter with a `default` but no `, optional` suffix counts as
            optional. Off by default: only the suffix decides.
        bfcl_categories: BFCL categories (names or groups, see `funrl.bfcl.expand_categories`) read when the
            BFCL input is a data folder.
        identifier_names: rename tools whose names are not Python identifiers (or dotted chains of them),
            e.g. ToolACE's "Weather Now" -> "Weather_Now", consistently in the tools, the context calls and
            the target, so the target can be written as a pythonic call; `meta["tool_renames"]` maps new to
            old names (P6, logged). Off by default: names are kept as the source wrote them.
    """

    no_call_steps: bool = False
    default_makes_optional: bool = False
    bfcl_categories: str = "single_turn"
    identifier_names: bool = False


@dataclass
class ReadContext:
    """What a reader knows about the record it reads: where it is from, the options, and the audit trail
    of record-level repairs (copied into every sample built from the record)."""

    source: str
    fmt: str
    origin: dict[str, Any]
    options: ReaderOptions = field(default_factory=ReaderOptions)
    from_arrow: bool = False
    audit: list[dict[str, str]] = field(default_factory=list)
    record_id: str = ""

    def note(self, rule: str, action: str, detail: str) -> None:
        self.audit.append({"rule": rule, "action": action, "detail": detail})

    @property
    def where(self) -> str:
        return where(self.origin)


# ---------------------------------------------------------------------------------------------------
# Record access


def clone(value: Any) -> Any:
    """Copy of a JSON value (dicts, lists, scalars); several times faster than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def require(record: dict[str, Any], name: str, kinds: type | tuple[type, ...]) -> Any:
    """`record[name]`, which must be present, not null and of one of `kinds`; else `RecordError("READ_FIELD")`."""
    if name not in record or record[name] is None:
        raise RecordError("READ_FIELD", "missing", field=name)
    value = record[name]
    if not isinstance(value, kinds):
        names = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
        raise RecordError("READ_FIELD", f"expected {names}, got {type(value).__name__}", field=name)
    return value


def record_id(record: dict[str, Any], ctx: ReadContext) -> str:
    """The record's own `id` when it has one, else its index in the input (prefixed by the split, if any)."""
    rid = record.get("id")
    if not (isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid) != ""):
        rid = ctx.origin.get("index", ctx.origin.get("row"))
    # rows of a DatasetDict: the split keeps ids unique across splits
    return f"{ctx.origin['split']}-{rid}" if ctx.origin.get("split") else str(rid)


# ---------------------------------------------------------------------------------------------------
# Decoding


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    pass


class _NonFinite(ValueError):
    pass


def _non_finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _constant(name: str) -> Any:
    raise _NonFinite(name)


_STRICT_JSON = json.JSONDecoder(
    object_pairs_hook=_no_duplicate_keys, parse_constant=_constant, parse_float=_non_finite
)


def from_literal(value: Any, path: str) -> Any:
    """Python literal -> JSON value (tuple -> list); sets, bytes, complex, non-finite floats rejected (P2)."""
    if isinstance(value, str) and problem(value) is not None:
        raise RecordError("READ_SURROGATE", f"lone surrogate in a string at {path or 'top level'}")
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError("P2", f"non-finite number {value!r} at {path or 'top level'}")
        return value
    if isinstance(value, (list, tuple)):
        return [from_literal(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RecordError("P2", f"non-string key {key!r} at {path or 'top level'}")
            out[key] = from_literal(item, f"{path}.{key}" if path else key)
        return out
    raise RecordError("P2", f"{type(value).__name__} value at {path or 'top level'} has no JSON equivalent")


def loads(text: str, what: str, ctx: ReadContext, *, field: str, literal_ok: bool = True, code: str = "") -> Any:
    """Decode call/schema text: JSON first (P1, duplicate keys rejected: P9), then only a Python-literal
    parser (P2, audited as `parsed_as_python_literal`). Never rewrites quotes. `code` replaces the P1/P2
    reason code of a failure (e.g. `"S1"` for a tool list)."""
    try:
        value = _STRICT_JSON.decode(text)
    except _DuplicateKey as dup:
        raise RecordError("P9", f"{what}: duplicate key {dup.args[0]!r} in a JSON object", field=field) from None
    except _NonFinite as exc:
        detail = f"{what}: non-finite number {exc.args[0]} (not JSON)"
        raise RecordError("READ_NONFINITE", detail, field=field) from None
    except RecursionError:
        raise RecordError("READ_DEPTH", f"{what}: nested too deeply", field=field) from None
    except json.JSONDecodeError as exc:
        json_error = f"{exc.msg} at column {exc.colno}"
    else:
        found = problem(value, 1) if ("\\u" in text or text.count("[") + text.count("{") > MAX_DEPTH) else None
        if found is not None:
            raise RecordError(found[0], f"{what}: {found[1]}", field=field)
        return value
    if not literal_ok:
        raise RecordError(code or "P1", f"{what} is not valid JSON ({json_error})", field=field)
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        detail = f"{what} is neither JSON ({json_error}) nor a Python literal"
        raise RecordError(code or "P2", detail, field=field) from None
    try:
        value = from_literal(value, "")
    except RecordError as err:
        raise RecordError(code or "P2", f"{what}: {err.detail}", field=field) from None
    ctx.note("P2", "repair", f"parsed_as_python_literal: {field} ({what}) is a Python literal, not JSON")
    return value


def decode_arguments(value: Any, ctx: ReadContext, *, field: str, wire_string: bool = False) -> dict[str, Any]:
    """A call's `arguments`: an object, or a JSON string decoded once (P3); a string that decodes to another
    string is double-encoded and decoded a second time (logged). A single decode is logged too unless
    `wire_string` says the format sends arguments as strings (OpenAI). Null/missing becomes `{}` (C3, logged: the
    validator's C4 still rejects it when the tool has required parameters). Anything else is rejected."""
    if value is None:
        ctx.note("C3", "repair", f"{field}: null arguments read as {{}}")
        return {}
    if isinstance(value, str):
        decoded = loads(value, "arguments", ctx, field=field, literal_ok=False) if value.strip() else {}
        if isinstance(decoded, str):
            decoded = loads(decoded, "arguments (second decode)", ctx, field=field, literal_ok=False)
            ctx.note("P3", "repair", f"{field}: double-encoded JSON string decoded twice")
        elif not wire_string:
            ctx.note("P3", "repair", f"{field}: arguments given as a JSON string, decoded once")
        value = decoded
    if not isinstance(value, dict):
        raise RecordError("P3", f"arguments must be an object, got {type(value).__name__}", field=field)
    if ctx.from_arrow and any(v is None for v in value.values()):
        # Arrow unifies object columns across rows: every row gets every key, null where it had none
        dropped = sorted(k for k, v in value.items() if v is None)
        ctx.note("P3", "repair", f"{field}: null arguments {dropped} dropped (Arrow struct padding)")
        value = {k: v for k, v in value.items() if v is not None}
    return value


def decode_call(obj: Any, ctx: ReadContext, *, field: str, wire_string: bool = False) -> dict[str, Any]:
    """`{"name": str, "arguments": obj-or-JSON-string}` -> `{"name", "arguments": dict}`; other keys dropped
    and logged (C2), `parameters` accepted as the arguments key (ToolRL style, logged)."""
    if not isinstance(obj, dict):
        raise RecordError("C2", f"a call must be an object, got {type(obj).__name__}", field=field)
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RecordError("C2", "a call needs a non-empty string 'name'", field=f"{field}.name")
    if "arguments" not in obj and "parameters" in obj:
        ctx.note("C2", "repair", f"{field}: key 'parameters' read as 'arguments'")
        raw_args = obj["parameters"]
    else:
        raw_args = obj.get("arguments")
    extra = sorted(set(obj) - {"name", "arguments", "parameters", "id", "type"})
    if extra:
        ctx.note("C2", "repair", f"{field}: extra keys dropped: {', '.join(extra)}")
    arguments = decode_arguments(raw_args, ctx, field=f"{field}.arguments", wire_string=wire_string)
    return {"name": name, "arguments": arguments}


def extract_json_values(text: str, start: int = 0) -> list[Any]:
    """All JSON values written one after another in `text[start:]` (whitespace/commas between them)."""
    decoder = json.JSONDecoder()
    out, pos = [], start
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return out
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)


# ---------------------------------------------------------------------------------------------------
# Tools


def _strip_nulls(value: Any) -> tuple[Any, int]:
    """Drop null-valued keys recursively (Arrow pads struct columns with nulls, docs/data.md, "The canonical record", rule 2)."""
    if isinstance(value, dict):
        out, dropped = {}, 0
        for key, item in value.items():
            if item is None:
                dropped += 1
                continue
            out[key], n = _strip_nulls(item)
            dropped += n
        return out, dropped
    if isinstance(value, list):
        items = [_strip_nulls(v) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 0


def prepare_tools(tools: Any, ctx: ReadContext, *, field: str = "tools") -> list[dict[str, Any]]:
    """A decoded tool list -> normalised JSON-schema function specs (`funrl.schema.normalize_tools`).

    Logs S3 (OpenAI wrapper removed), S4 (`type: "dict"` -> `"object"`) and Arrow null padding removed.
    Name checks (S2) and schema checks (S7-S10) are the validator's.
    """
    if not isinstance(tools, list):
        raise RecordError("S1", f"the tool list must be a JSON list, got {type(tools).__name__}", field=field)
    if ctx.from_arrow:
        tools, dropped = _strip_nulls(tools)
        if dropped:
            ctx.note("S3", "repair", f"{field}: {dropped} null keys removed (Arrow struct padding)")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise RecordError("S1", f"tool {i} is a {type(tool).__name__}, not an object", field=f"{field}[{i}]")
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
            ctx.note("S3", "repair", f"{field}[{i}]: {{type: function, function: ...}} wrapper removed")
            tool = tool["function"]
        params = tool.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise RecordError("S4", "parameters must be an object", field=f"{field}[{i}].parameters")
        if isinstance(params, dict) and str(params.get("type", "")).lower() == "dict":
            ctx.note("S4", "repair", f"{field}[{i}] ({tool.get('name')}): parameters type 'dict' -> 'object'")
    try:
        return normalize_tools(tools)
    except (AttributeError, TypeError) as exc:
        raise RecordError("S4", f"tool schema cannot be normalised ({exc})", field=field) from None


# ---------------------------------------------------------------------------------------------------
# Messages and steps

ROLE_MAP = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
    "ipython": "tool",
}


def map_role(role: Any, ctx: ReadContext, *, field: str) -> str:
    """M1: source role names -> system/user/assistant/tool (unknown role: `RecordError("M1")`)."""
    if not isinstance(role, str) or role.lower() not in ROLE_MAP:
        raise RecordError("M1", f"unknown role {role!r}; known: {', '.join(ROLE_MAP)}", field=field)
    return ROLE_MAP[role.lower()]


def iter_turns(conversations: list[Any], ctx: ReadContext) -> Iterator[tuple[str, str, str]]:
    """ShareGPT-style turns (`{"from"|"role", "value"|"content"}`) -> `(field, role, value)`, with the role mapped
    (M1) and every malformed turn a `RecordError` naming its field."""
    for i, turn in enumerate(conversations):
        field = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise RecordError("READ_FIELD", f"expected an object, got {type(turn).__name__}", field=field)
        role = map_role(turn.get("from", turn.get("role")), ctx, field=f"{field}.from")
        value = turn.get("value", turn.get("content"))
        if not isinstance(value, str):
            raise RecordError("READ_FIELD", "missing or not a string", field=f"{field}.value")
        yield field, role, value


def assistant_calls(calls: list[dict[str, Any]], content: str = "", step: int = 0) -> dict[str, Any]:
    """An assistant message carrying `calls` as OpenAI-style `tool_calls` with object arguments and
    deterministic ids `call_<step>_<j>` (M3)."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {
                "id": f"call_{step}_{j}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for j, c in enumerate(calls)
        ],
    }


def make_sample(
    ctx: ReadContext,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    *,
    step: int | None = None,
    extra_meta: dict[str, Any] | None = None,
    step_audit: list[dict[str, str]] | None = None,
    copy: bool = True,
) -> Sample:
    """Build one canonical sample with `meta` = origin, audit (record-level + this step's), format, target kind.

    `messages` and `tools` are copied (steps of one dialog share them) unless `copy=False` says the caller
    built them for this sample alone."""
    sid = f"{ctx.source}-{ctx.record_id}" if step is None else f"{ctx.source}-{ctx.record_id}-s{step}"
    meta: dict[str, Any] = {
        "origin": dict(ctx.origin),
        "source_format": ctx.fmt,
        "target_kind": "call" if calls else "no_call",
        "audit": [dict(a) for a in ctx.audit] + [dict(a) for a in step_audit or []],
    }
    if step is not None:
        meta["step"] = step
    meta.update(extra_meta or {})
    return Sample(
        id=sid,
        messages=clone(messages) if copy else messages,
        tools=clone(tools) if copy else tools,
        ground_truth=ground_truth_from_calls(calls),
        category=category_for(calls, len(tools)),
        source=ctx.source,
        meta=meta,
    )


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def rename_to_identifiers(
    ctx: ReadContext, tools: list[dict[str, Any]], calls: list[dict[str, Any]]
) -> dict[str, str] | None:
    """`ReaderOptions.identifier_names`: rename non-identifier tool names in `tools` and in `calls`
    (`{"name", ...}` dicts), in place. Returns `{new: old}` (None when nothing was renamed). A new name never
    collides with another tool's: `_2`, `_3`, ... are appended when needed."""
    if not ctx.options.identifier_names:
        return None
    taken = {t.get("name") for t in tools}
    mapping: dict[str, str] = {}
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str) or _IDENTIFIER.match(name):
            continue
        base = re.sub(r"\W+", "_", name).strip("_") or "tool"
        base = f"_{base}" if base[0].isdigit() else base
        new, k = base, 1
        while new in taken:
            k += 1
            new = f"{base}_{k}"
        taken.add(new)
        mapping[name] = new
        tool["name"] = new
    if not mapping:
        return None
    for call in calls:
        call["name"] = mapping.get(call["name"], call["name"])
    ctx.note(
        "P6", "repair", f"tools renamed to identifiers: {', '.join(f'{o!r} -> {n!r}' for o, n in mapping.items())}"
    )
    return {new: old for old, new in mapping.items()}


def split_steps(
    ctx: ReadContext,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    extra_meta: dict[str, Any] | None = None,
) -> list[Sample]:
    """M4: one sample per assistant turn with calls, all earlier turns (calls and results included) as
    context. M5 (option `no_call_steps`): an assistant text turn right after a user turn becomes a
    `no_call` sample. A dialog with no step is a `RecordError("M4")`, never an empty result."""
    context_calls = [c["function"] for m in messages if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    renames = rename_to_identifiers(ctx, tools, context_calls)
    if renames:
        extra_meta = {**(extra_meta or {}), "tool_renames": renames}
    samples: list[Sample] = []
    n_steps = 0
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        calls = [
            {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in msg.get("tool_calls") or []
        ]
        if calls:
            samples.append(make_sample(ctx, messages[:i], tools, calls, step=n_steps, extra_meta=extra_meta))
            n_steps += 1
        elif ctx.options.no_call_steps and i > 0 and messages[i - 1]["role"] == "user":
            note = [
                {"rule": "M5", "action": "split", "detail": f"assistant text turn {i} after a user turn -> no_call"}
            ]
            samples.append(
                make_sample(ctx, messages[:i], tools, [], step=n_steps, extra_meta=extra_meta, step_audit=note)
            )
            n_steps += 1
    if not samples:
        hint = "" if ctx.options.no_call_steps else " (no-call steps are off: ReaderOptions.no_call_steps)"
        raise RecordError("M4", f"the dialog has no assistant call step{hint}", field="conversation")
    if len(samples) > 1:
        for s in samples:
            add_audit(s.meta, "M4", "split", f"dialog split into {len(samples)} steps; this is step {s.meta['step']}")
    return samples
