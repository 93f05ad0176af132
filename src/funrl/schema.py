"""The canonical sample: one typed record shared by data preparation, training and evaluation.

Every reader turns its input format into `Sample`s; the validator, the reward and the evaluator only
ever see this shape. Tools are JSON-schema function specs, normalised once by `normalize_tools`, and
ground truth is in BFCL possible-answer form.

    from funrl.schema import Sample, normalize_tools, read_samples, write_samples

    sample = Sample(
        id="ex-1", source="toy", category="simple",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=normalize_tools([{"name": "get_weather", "description": "...",
                                "parameters": {"type": "dict", "properties": {"city": {"type": "string"}},
                                               "required": ["city"]}}]),
        ground_truth=[{"get_weather": {"city": ["Paris"]}}],
    )

Field conventions:

* `messages`: the chat context up to (not including) the assistant turn that is the target. Roles are
  `system`, `user`, `assistant` (may carry OpenAI-style `tool_calls`) and `tool`.
* `tools`: `[{"name", "description", "parameters": {"type": "object", "properties", "required"}}]`.
  Normalisation maps BFCL/ToolACE types to JSON Schema (`dict` -> `object`, `float` -> `number`,
  `tuple` -> `array`, `any` -> no constraint) and keeps the source type in `x-bfcl-type` whenever it
  changed, so the BFCL matcher can apply the official type table (tuple vs array, float vs integer)
  without losing information. Java/JavaScript parameters arrive as source-code strings in BFCL, so in
  those languages every parameter becomes `{"type": "string", "x-bfcl-type": <original>}` (plus
  `x-bfcl-items-type`: the element type of an array-like parameter).
* `ground_truth`: a list of calls `[{func_name: {param: [allowed values...]}}]`; `""` in an allowed list
  means "may be omitted". Order of calls only matters for non-parallel categories (which have one call).
  Irrelevance samples have `[]`; relevance samples (any call passes) have `[]` too and are told apart
  by `category`.
* `category`: `simple`, `multiple`, `parallel`, `parallel_multiple`, `irrelevance` or `relevance` (a `live_`
  prefix and BFCL's `simple_python`/`simple_java`/`simple_javascript` are kept as they are); it gives the
  sample's `language` (`language_of`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# JSON-schema type -> BFCL type name used by the official checker's type table.
JSON_TO_BFCL_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "array": "array",
    "object": "dict",
}
# BFCL / ToolACE type -> JSON-schema type (None: no type constraint).
BFCL_TO_JSON_TYPE: dict[str, str | None] = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": None,
}


class SchemaError(ValueError):
    """A record that does not fit the canonical sample; the message names the file, line and field."""


def language_of(category: str) -> str:
    """The one category -> language rule: `java` / `javascript` for BFCL's simple_java / simple_javascript
    (any `*_java` / `*_javascript` category), else `python`."""
    if category.endswith("_java"):
        return "java"
    if category.endswith("_javascript"):
        return "javascript"
    return "python"


def base_category(category: str) -> str:
    """`live_parallel_multiple` -> `parallel_multiple`, `simple_python` -> `simple`."""
    name = category[len("live_") :] if category.startswith("live_") else category
    if name.startswith("simple"):
        return "simple"
    return name


@dataclass
class Sample:
    """One function-calling example in funrl's canonical form (see the module docstring)."""

    id: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]]
    category: str = "simple"
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], where: str = "<record>") -> Sample:
        """Build a sample from a plain dict (e.g. one JSONL line). `tools`/`ground_truth`/`messages`/`meta`
        may be JSON strings (as stored in Arrow/Parquet, where heterogeneous schemas do not fit columns)."""
        if not isinstance(row, dict):
            raise SchemaError(f"{where}: expected a JSON object, got {type(row).__name__}")
        values: dict[str, Any] = {}
        for name in ("id", "messages", "tools", "ground_truth"):
            if name not in row or row[name] is None:
                raise SchemaError(f"{where}: missing field {name!r}")
        for name in ("messages", "tools", "ground_truth", "meta"):
            value = row.get(name)
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise SchemaError(f"{where}: field {name!r} is a string that is not valid JSON ({exc})") from None
            values[name] = value
        for name in ("messages", "tools", "ground_truth"):
            if not isinstance(values[name], list):
                raise SchemaError(f"{where}: field {name!r} must be a list, got {type(values[name]).__name__}")
        meta = values.get("meta") or {}
        if not isinstance(meta, dict):
            raise SchemaError(f"{where}: field 'meta' must be an object")
        return cls(
            id=str(row["id"]),
            messages=values["messages"],
            tools=values["tools"],
            ground_truth=values["ground_truth"],
            category=str(row.get("category") or "simple"),
            source=str(row.get("source") or ""),
            meta=meta,
        )

    def to_row(self) -> dict[str, Any]:
        """A flat row for `datasets`/Arrow: nested fields serialised as JSON strings (docs/data.md, rule D5)."""
        return {
            "id": self.id,
            "source": self.source,
            "category": self.category,
            "messages": json.dumps(self.messages, ensure_ascii=False),
            "tools": json.dumps(self.tools, ensure_ascii=False),
            "ground_truth": json.dumps(self.ground_truth, ensure_ascii=False),
            "meta": json.dumps(self.meta, ensure_ascii=False, sort_keys=True),
        }

    @property
    def language(self) -> str:
        """`java` / `javascript` for BFCL's simple_java / simple_javascript, else `python` (`language_of`)."""
        return language_of(self.category)

    def tool(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tools if t.get("name") == name), None)


# ---------------------------------------------------------------------------------------------------
# Tool normalisation


def _normalize_param(schema: Any, language: str) -> Any:
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    src_type = out.get("type")
    if language != "python" and src_type is not None:
        # BFCL Java/JS values are source-code strings; keep the language type for the checker.
        out["type"] = "string"
        out["x-bfcl-type"] = src_type
        items = out.get("items")
        if isinstance(items, dict) and isinstance(items.get("type"), str):
            out["x-bfcl-items-type"] = items["type"]  # the checker converts Array / ArrayList / array elements by it
        for key in ("properties", "items"):
            out.pop(key, None)
        return out
    if isinstance(src_type, str):
        key = src_type.strip()
        if key.lower() in BFCL_TO_JSON_TYPE:
            json_type = BFCL_TO_JSON_TYPE[key.lower()]
            if json_type is None:
                out.pop("type")
            else:
                out["type"] = json_type
            if key.lower() in ("tuple", "any"):
                # the only BFCL types a JSON-schema round trip would lose
                out["x-bfcl-type"] = key.lower()
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _normalize_param(v, language) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _normalize_param(out["items"], language)
    return out


def normalize_tool(tool: dict[str, Any], language: str = "python") -> dict[str, Any]:
    """Normalise one function spec to `{name, description, parameters: JSON-schema object}`.

    Unwraps OpenAI's `{"type": "function", "function": {...}}`, maps BFCL types (see module docstring),
    and is idempotent: normalising a normalised tool changes nothing.
    """
    if tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        tool = tool["function"]
    # shallow copies: `_normalize_param` rebuilds every dict it changes, so the input is never mutated
    out = dict(tool)
    source = out.get("parameters")
    if source is None:
        source = {"type": "object", "properties": {}}
    params = _normalize_param(source, "python")
    if language != "python":
        properties = source.get("properties") or {}
        params["properties"] = {k: _normalize_param(v, language) for k, v in properties.items()}
    params["type"] = "object"
    params.pop("x-bfcl-type", None)
    params.setdefault("properties", {})
    out["parameters"] = params
    out.setdefault("description", "")
    return out


def normalize_tools(tools: Iterable[dict[str, Any]], language: str = "python") -> list[dict[str, Any]]:
    return [normalize_tool(t, language) for t in tools]


def bfcl_type(param_schema: dict[str, Any]) -> str:
    """The BFCL type name of a normalised parameter schema (`any` when unconstrained)."""
    if "x-bfcl-type" in param_schema:
        return str(param_schema["x-bfcl-type"])
    json_type = param_schema.get("type")
    if isinstance(json_type, str):
        return JSON_TO_BFCL_TYPE.get(json_type, json_type)
    return "any"


# ---------------------------------------------------------------------------------------------------
# JSONL I/O


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, parsed_json)` for every non-empty line; a bad line raises `SchemaError`
    naming the file and line. Callers that must not stop on bad lines catch it per line."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None


def read_samples(path: str | Path) -> list[Sample]:
    """Read a canonical JSONL file; errors name the file, line and field."""
    return [Sample.from_dict(row, where=f"{path}:{lineno}") for lineno, row in iter_jsonl(path)]


def write_samples(samples: Iterable[Sample], path: str | Path) -> int:
    """Write samples as JSONL (one `Sample.to_dict()` per line, keys sorted for byte-stable output)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(sample.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count
