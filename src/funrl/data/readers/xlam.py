"""Reader for the xLAM function-calling 60k layout (and xLAM-irrelevance): one record = one query.

    {"id": 7, "query": "...", "tools": "<JSON string>", "answers": "<JSON string>"}

What it does (rule IDs of docs/data.md):

* S1: `tools` / `answers` are JSON strings decoded **once** (a list given directly, as some dataset exports
  do, is accepted as is). A string that decodes to another string is rejected, never decoded again.
* S4/S5: xLAM's per-parameter dict `{name: {description, type, default?}}` becomes a JSON-schema object;
  Python-style type strings map to JSON types (`List[int]` -> array of integer, `Union[a, b]` -> anyOf,
  `Any` -> no constraint). An unknown type becomes "no constraint" with a WARN, never a guess; the
  original string is kept in `x-source-type`.
* S6: without an explicit `required`, a parameter is optional iff its type ends with `, optional`
  (a `default` alone makes it optional only with `ReaderOptions.default_makes_optional`); audited.
* P1/P3: each answer is `{name, arguments}`; string `arguments` are decoded (double-encoded ones twice, logged).
* `answers == []` is a `no_call` target (category `irrelevance`).
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from funrl.data.readers.common import (
    ReadContext,
    clone,
    decode_call,
    loads,
    make_sample,
    prepare_tools,
    rename_to_identifiers,
    require,
)
from funrl.data.records import RecordError
from funrl.schema import Sample

_SIMPLE = {
    "str": {"type": "string"},
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "boolean": {"type": "boolean"},
    "list": {"type": "array"},
    "array": {"type": "array"},
    "tuple": {"type": "array"},
    "set": {"type": "array"},
    "dict": {"type": "object"},
    "object": {},
    "any": {},
    "none": {"type": "null"},
    "nonetype": {"type": "null"},
}
_OPTIONAL = re.compile(r",\s*optional\s*$", re.IGNORECASE)


def _from_node(node: ast.expr) -> dict[str, Any] | None:
    """A Python type annotation AST -> JSON schema (None when unknown)."""
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        known = _SIMPLE.get(name.lower())
        return dict(known) if known is not None else None
    if not isinstance(node, ast.Subscript):
        return None
    head = _from_node(node.value) if isinstance(node.value, (ast.Name, ast.Attribute)) else None
    name = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    name = name.lower()
    if name in ("list", "set", "sequence") and len(args) == 1:
        items = _from_node(args[0])
        return None if items is None else ({"type": "array", "items": items} if items else {"type": "array"})
    if name == "tuple":
        return {"type": "array"}
    if name in ("dict", "mapping"):
        return {"type": "object"}
    if name in ("union", "optional"):
        parts = [_from_node(a) for a in args] + ([{"type": "null"}] if name == "optional" else [])
        if any(p is None for p in parts):
            return None
        if any(p == {} for p in parts):
            return {}
        return parts[0] if len(parts) == 1 else {"anyOf": parts}
    if name == "literal":
        values = [a.value for a in args if isinstance(a, ast.Constant)]
        return {"enum": values} if len(values) == len(args) else None
    return head if head is not None and not args else None


def type_schema(type_str: str) -> tuple[dict[str, Any] | None, bool]:
    """`"List[int], optional"` -> (`{"type": "array", "items": {"type": "integer"}}`, True).

    Returns `(schema or None when the type is unknown, has_optional_suffix)`."""
    schema, optional = _type_schema(type_str)
    return clone(schema), optional


@functools.lru_cache(maxsize=4096)
def _type_schema(type_str: str) -> tuple[dict[str, Any] | None, bool]:
    optional = bool(_OPTIONAL.search(type_str))
    text = _OPTIONAL.sub("", type_str).strip()
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None, optional
    return _from_node(node), optional


def _is_json_schema(params: dict[str, Any]) -> bool:
    return isinstance(params.get("properties"), dict) and str(params.get("type", "object")).lower() in (
        "object",
        "dict",
    )


def convert_tool(tool: dict[str, Any], i: int, ctx: ReadContext) -> dict[str, Any]:
    """One xLAM tool -> `{name, description, parameters: JSON-schema object}` (S4, S5, S6)."""
    params = tool.get("parameters")
    if params is None or (isinstance(params, dict) and _is_json_schema(params)):
        return tool
    if not isinstance(params, dict):
        raise RecordError("S4", "parameters must be an object", field=f"tools[{i}].parameters")
    name = tool.get("name")
    properties: dict[str, Any] = {}
    required, by_suffix, by_default = [], [], []
    for pname, spec in params.items():
        field = f"tools[{i}].parameters.{pname}"
        if not isinstance(spec, dict):
            raise RecordError("S4", f"parameter spec must be an object, got {type(spec).__name__}", field=field)
        prop = {k: v for k, v in spec.items() if k != "type"}
        raw_type = spec.get("type")
        optional = False
        if isinstance(raw_type, str):
            schema, optional = type_schema(raw_type)
            if schema is None:
                ctx.note("S5", "warn", f"{name}.{pname}: unknown type {raw_type!r} -> no type constraint")
                prop["x-source-type"] = raw_type
            else:
                prop.update(schema)
        elif raw_type is not None:
            ctx.note("S5", "warn", f"{name}.{pname}: non-string type {raw_type!r} -> no type constraint")
            prop["x-source-type"] = str(raw_type)
        if optional:
            by_suffix.append(pname)
        elif "default" in spec and ctx.options.default_makes_optional:
            by_default.append(pname)
        else:
            required.append(pname)
        properties[pname] = prop
    ctx.note(
        "S6",
        "repair",
        f"{name}: required={required} (', optional' suffix: {by_suffix}"
        + (f"; default with default_makes_optional: {by_default})" if by_default else ")"),
    )
    ctx.note("S4", "repair", f"{name}: per-parameter dict -> JSON-schema properties + required")
    out = {k: v for k, v in tool.items() if k != "parameters"}
    out["parameters"] = {"type": "object", "properties": properties, "required": required}
    return out


def _decode_list(record: dict[str, Any], name: str, code: str, ctx: ReadContext) -> list[Any]:
    value = require(record, name, (str, list))
    if isinstance(value, str):
        value = loads(value, f"field {name!r}", ctx, field=name, literal_ok=False, code=code) if value.strip() else []
        if isinstance(value, str):
            raise RecordError(code, "the JSON string decodes to another string (double-encoded)", field=name)
    if not isinstance(value, list):
        raise RecordError(code, f"expected a JSON list, got {type(value).__name__}", field=name)
    return value


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    query = require(record, "query", str)
    try:
        raw_tools = _decode_list(record, "tools", "S1", ctx)
    except RecordError as err:
        raise RecordError("S1", err.detail, field="tools") from None
    answers = _decode_list(record, "answers", "P1", ctx)
    converted = []
    for i, tool in enumerate(raw_tools):
        if not isinstance(tool, dict):
            raise RecordError("S1", f"tool {i} is a {type(tool).__name__}, not an object", field=f"tools[{i}]")
        if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
            converted.append(tool)  # OpenAI wrapper: unwrapped (and logged) by prepare_tools
        else:
            converted.append(convert_tool(tool, i, ctx))
    tools = prepare_tools(converted, ctx)
    calls = [decode_call(a, ctx, field=f"answers[{j}]") for j, a in enumerate(answers)]
    renames = rename_to_identifiers(ctx, tools, calls)
    extra = {"tool_renames": renames} if renames else None
    return [make_sample(ctx, [{"role": "user", "content": query}], tools, calls, copy=False, extra_meta=extra)]
