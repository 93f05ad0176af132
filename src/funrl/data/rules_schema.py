"""Tool-schema rules S4-S10 on one tool, with the result (repaired tool + compiled validators) cached by content.

`ToolChecker(config).check(tool)` returns a `ToolCheck`: the repaired, normalised tool, the S-rule findings,
whether the tool is unusable (a REJECT), and per-parameter `jsonschema` validators compiled once. Datasets
repeat the same tools across thousands of samples (xLAM has a few thousand distinct APIs for 60k rows), so
the cache keyed by the tool's canonical JSON is what makes validation fast.

    from funrl.data.rules_schema import ToolChecker
    check = ToolChecker(ValidationConfig()).check({"name": "f", "parameters": {"k": {"type": "int, optional"}}})
    check.required, check.findings  # frozenset(), [S4 repair, S5 repair, S6 repair, S10 warn]
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError as JsonSchemaError

from funrl.data.rules_base import Finding, ValidationConfig
from funrl.data.rules_values import JSON_TYPES, conform, dict_kind, json_types, matches_type, parse_type_string
from funrl.schema import normalize_tool

# keywords of a parameters object that per-property validation already covers
_OBJECT_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "description", "title", "$schema", "x-bfcl-type"}
)


# JSON-Schema 2020-12 keywords (others are annotations the meta-schema accepts whatever their value)
_KNOWN = frozenset(
    "$schema $id $ref $defs $anchor $dynamicRef $dynamicAnchor $vocabulary $comment allOf anyOf oneOf not if then "
    "else dependentSchemas prefixItems items contains properties patternProperties additionalProperties "
    "propertyNames unevaluatedItems unevaluatedProperties type const enum multipleOf maximum exclusiveMaximum "
    "minimum exclusiveMinimum maxLength minLength pattern maxItems minItems uniqueItems maxContains minContains "
    "maxProperties minProperties required dependentRequired title description default deprecated readOnly "
    "writeOnly examples format contentEncoding contentMediaType contentSchema definitions dependencies".split()
)


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _is_count(v: Any) -> bool:
    return type(v) is int and v >= 0


def _type_ok(v: Any) -> bool:
    if isinstance(v, str):
        return v in JSON_TYPES
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(x, str) and x in JSON_TYPES for x in v)
        and len(set(v)) == len(v)
    )


_FAST_KEYWORDS: dict[str, Any] = {
    "type": _type_ok,
    "title": lambda v: isinstance(v, str),
    "description": lambda v: isinstance(v, str),
    "format": lambda v: isinstance(v, str),
    "default": lambda v: True,
    "examples": lambda v: isinstance(v, list),
    "enum": lambda v: isinstance(v, list),
    "minimum": _is_number,
    "maximum": _is_number,
    "exclusiveMinimum": _is_number,
    "exclusiveMaximum": _is_number,
    "minLength": _is_count,
    "maxLength": _is_count,
    "minItems": _is_count,
    "maxItems": _is_count,
    "uniqueItems": lambda v: isinstance(v, bool),
    "required": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v) and len(set(v)) == len(v),
    "items": lambda v: isinstance(v, bool) or plainly_valid(v),
    "additionalProperties": lambda v: isinstance(v, bool) or plainly_valid(v),
    "properties": lambda v: isinstance(v, dict) and all(isinstance(x, bool) or plainly_valid(x) for x in v.values()),
    "anyOf": lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, bool) or plainly_valid(x) for x in v),
    "oneOf": lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, bool) or plainly_valid(x) for x in v),
}


def plainly_valid(schema: Any) -> bool:
    """True when `schema` uses only common keywords with well-typed values, hence passes the 2020-12 meta-schema.
    False means "not sure": the caller runs the full (slow) `check_schema`."""
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        check = _FAST_KEYWORDS.get(key)
        if check is None:
            if key in _KNOWN:
                return False
            continue  # an annotation such as x-bfcl-type: any value is valid
        if not check(value):
            return False
    return True


_PLAIN = frozenset({"type", "description", "title", "default", "examples", "x-bfcl-type"})


def _fast_checker(schema: Any) -> Any:
    """A plain type test equivalent to the JSON-Schema validator for schemas made only of `type` (and `items`),
    the common case; `None` when the schema has other constraints and needs the full validator."""
    if not isinstance(schema, dict):
        return None
    extra = set(schema) - _PLAIN
    kinds = json_types(schema)
    if "type" in schema and kinds is None:
        return None
    if extra == {"items"} and kinds == ("array",):
        item_check = _fast_checker(schema["items"])
        if item_check is None:
            return None
        return lambda v: isinstance(v, list) and all(item_check(x) for x in v)
    if extra:
        return None
    if kinds is None:
        return lambda v: True
    if len(kinds) == 1:
        kind = kinds[0]
        return lambda v: matches_type(v, kind)
    return lambda v: any(matches_type(v, k) for k in kinds)


def _trimmed(v: str) -> bool:
    return not v or not (v[0].isspace() or v[-1].isspace())


def _plain_item(v: Any) -> bool:
    """What `conform` leaves alone in an unconstrained list: anything but tuples and untrimmed strings."""
    return not isinstance(v, tuple) and (type(v) is not str or _trimmed(v))


_CANONICAL_SCALARS: dict[str, Any] = {
    "string": lambda v: type(v) is str and _trimmed(v),
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) is float,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
}


def _canonical_checker(schema: Any) -> Any:
    """A test that is True only when `conform` would not change the value and the schema accepts it, so both
    can be skipped (the common case); `None` for schemas that always take the full path."""
    if _fast_checker(schema) is None:
        return None
    kinds = json_types(schema)
    if kinds is None:
        return lambda v: _plain_item(v) and (type(v) is not list or all(_plain_item(x) for x in v))
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if kind in _CANONICAL_SCALARS:
        return _CANONICAL_SCALARS[kind]
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            item_check = _canonical_checker(items)
            if item_check is None:
                return None
            return lambda v: type(v) is list and all(item_check(x) for x in v)
        return lambda v: type(v) is list and all(_plain_item(x) for x in v)
    if kind == "object":
        return lambda v: type(v) is dict
    return None


def _is_per_parameter_dict(params: dict[str, Any]) -> bool:
    """True for xLAM's `{param: {"type": ..., "description": ...}}` (no JSON-Schema keywords at the top)."""
    if not params or "properties" in params or isinstance(params.get("type"), str):
        return False
    return all(isinstance(v, dict) and "type" in v for v in params.values())


@dataclass
class ToolCheck:
    """The outcome of S4-S10 on one tool (shared between all samples that carry the same tool: read only)."""

    tool: dict[str, Any]
    changed: bool
    findings: list[Finding]
    rejected: bool
    properties: dict[str, Any] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    additional: bool = False
    validators: dict[str, Draft202012Validator] = field(default_factory=dict)
    object_validator: Draft202012Validator | None = None
    fast: dict[str, Any] = field(default_factory=dict)  # parameter -> plain type test, when the schema is only types
    canonical: dict[str, Any] = field(default_factory=dict)  # parameter -> "already canonical and valid" test
    formats: frozenset[str] = frozenset()  # parameters whose schema has a `format` somewhere (V4)
    dict_kinds: dict[str, str | None] = field(default_factory=dict)  # parameter -> dict_kind(schema)
    grounding: frozenset[str] = frozenset()  # lower-cased string defaults and enum values (V5)


class ToolChecker:
    """Applies S4-S10 to tools and caches the result per distinct tool (see the module docstring)."""

    def __init__(self, config: ValidationConfig):
        self.config = config
        self._cache: dict[str, ToolCheck] = {}

    def check(self, tool: Any) -> ToolCheck:
        key = repr(tool)  # type-faithful (1, 1.0, "1", True differ) and cheaper than sorted JSON
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._check(tool)
        return hit

    def _check(self, tool: Any) -> ToolCheck:
        findings: list[Finding] = []
        if not isinstance(tool, dict):
            return ToolCheck(
                tool, False, [Finding("S4", "reject", f"tool is a {type(tool).__name__}, not an object")], True
            )
        name = tool.get("name") if tool.get("type") != "function" else (tool.get("function") or {}).get("name")
        if not isinstance(name, str) or not name.strip():
            return ToolCheck(
                tool, False, [Finding("S2", "reject", f"tool without a non-empty string name: {name!r}")], True
            )
        source = tool
        inner = tool.get("function") if tool.get("type") == "function" else tool
        params = inner.get("parameters") if isinstance(inner, dict) else None
        if isinstance(params, dict) and _is_per_parameter_dict(params):
            # xLAM layout {param: {type, description, default}} -> JSON-Schema properties (S6 decides required)
            source = {**inner, "parameters": {"type": "object", "properties": params}}
        try:
            norm = normalize_tool(source)
        except (AttributeError, TypeError) as exc:
            return ToolCheck(
                tool, False, [Finding("S4", "reject", f"{name}: parameters cannot be normalised ({exc})")], True
            )
        if norm != tool:
            findings.append(
                Finding("S4", "repair", f"{name}: normalised to {{name, description, parameters: object}}")
            )
        params = norm["parameters"]
        properties = params.get("properties")
        if not isinstance(properties, dict):
            findings.append(Finding("S4", "reject", f"{name}: parameters.properties is not an object"))
            return ToolCheck(norm, True, findings, True)
        # S5: Python-style type strings -> JSON Schema (top level records the `, optional` marks for S6)
        optional_marks: dict[str, bool] = {}
        for pname, pschema in list(properties.items()):
            if isinstance(pschema, dict):
                properties[pname] = self._map_types(pschema, f"{name}.{pname}", findings, optional_marks, pname)
        # S6: who is required
        if "required" not in params and optional_marks:
            required = [
                p
                for p in properties
                if not optional_marks.get(p, False)
                and not (
                    self.config.default_makes_optional
                    and isinstance(properties[p], dict)
                    and "default" in properties[p]
                )
            ]
            params["required"] = required
            how = "', optional' suffix" + (" or a default" if self.config.default_makes_optional else "")
            findings.append(Finding("S6", "repair", f"{name}: required set {required} decided by the {how}"))
        required = params.get("required", [])
        # S7: required subset of properties, property names non-empty
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            findings.append(Finding("S7", "reject", f"{name}: required must be a list of names, got {required!r}"))
        else:
            missing = [r for r in required if r not in properties]
            if missing:
                findings.append(Finding("S7", "reject", f"{name}: required {missing} not in properties"))
        empty = [p for p in properties if not isinstance(p, str) or not p.strip()]
        if empty:
            findings.append(Finding("S7", "reject", f"{name}: property with an empty name"))
        # S8: enum values and defaults of the declared type
        for pname, pschema in properties.items():
            if isinstance(pschema, dict):
                self._check_enum_default(pschema, f"{name}.{pname}", findings)
        # S9: the parameters object is a valid JSON Schema
        try:
            if not plainly_valid(params):  # the meta-schema check is slow: only for schemas outside the common subset
                Draft202012Validator.check_schema(params)
        except JsonSchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "parameters"
            findings.append(Finding("S9", "reject", f"{name}: invalid JSON Schema at {where}: {exc.message}"))
        # S10: a description
        if not str(norm.get("description") or "").strip():
            findings.append(Finding("S10", "warn", f"{name}: no description"))
        rejected = any(f.action == "reject" for f in findings)
        changed = any(f.action == "repair" for f in findings)
        check = ToolCheck(norm if changed else tool, changed, findings, rejected)
        if rejected:
            return check
        check.properties = properties
        check.required = frozenset(required)
        check.additional = params.get("additionalProperties", False) not in (False, None)
        check.validators = {p: Draft202012Validator(s) for p, s in properties.items() if isinstance(s, dict)}
        check.fast = {p: _fast_checker(s) for p, s in properties.items()}
        check.canonical = {p: _canonical_checker(s) for p, s in properties.items()}
        check.formats = frozenset(p for p, s in properties.items() if '"format"' in json.dumps(s))
        check.dict_kinds = {p: dict_kind(s) for p, s in properties.items()}
        if set(params) - _OBJECT_KEYWORDS or isinstance(params.get("additionalProperties"), dict):
            check.object_validator = Draft202012Validator(params)
        grounding = set()
        for pschema in properties.values():
            if isinstance(pschema, dict):
                values = [pschema.get("default"), *(pschema.get("enum") or [])]
                grounding.update(v.lower() for v in values if isinstance(v, str))
        check.grounding = frozenset(grounding)
        return check

    def _map_types(self, schema: dict, path: str, findings: list, marks: dict, top: str | None) -> dict:
        kind = schema.get("type")
        out = schema
        if isinstance(kind, str) and kind not in JSON_TYPES:
            fragment, optional, unknown = parse_type_string(kind)
            out = {k: v for k, v in schema.items() if k != "type"}
            out.update(fragment)
            if top is not None:
                marks[top] = optional
            if unknown:
                findings.append(Finding("S5", "warn", f"{path}: unknown type {kind!r} left unconstrained"))
            else:
                findings.append(
                    Finding("S5", "repair", f"{path}: type {kind!r} -> {json.dumps(fragment, sort_keys=True)}")
                )
        elif isinstance(kind, list) and any(not isinstance(k, str) or k not in JSON_TYPES for k in kind):
            out = {k: v for k, v in schema.items() if k != "type"}
            findings.append(Finding("S5", "warn", f"{path}: unknown type {kind!r} left unconstrained"))
        if isinstance(out.get("items"), dict):
            out = dict(out) if out is schema else out
            out["items"] = self._map_types(out["items"], f"{path}[]", findings, marks, None)
        if isinstance(out.get("properties"), dict):
            out = dict(out) if out is schema else out
            out["properties"] = {
                k: self._map_types(v, f"{path}.{k}", findings, marks, None) if isinstance(v, dict) else v
                for k, v in out["properties"].items()
            }
        return out

    def _check_enum_default(self, schema: dict, path: str, findings: list[Finding]) -> None:
        kind = schema.get("type")
        if not isinstance(kind, str) or kind not in JSON_TYPES:
            return
        enum = schema.get("enum")
        if kind == "array" and isinstance(enum, list) and enum and not any(isinstance(v, list) for v in enum):
            # an enum of scalars on an array (seen in BFCL live schemas) constrains the items
            items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
            schema["items"] = {**items, "enum": enum}
            del schema["enum"]
            findings.append(Finding("S8", "repair", f"{path}: enum of scalars moved from the array to its items"))
            self._check_enum_default(schema["items"], f"{path}[]", findings)
            enum = None
        typed = {k: v for k, v in schema.items() if k in ("type", "items", "properties")}
        if isinstance(enum, list):
            fixed = []
            for value in enum:
                if matches_type(value, kind):
                    fixed.append(value)
                    continue
                notes: list[Finding] = []
                new = conform(value, typed, path, notes, self.config)
                if matches_type(new, kind):
                    findings.append(Finding("S8", "repair", f"{path}: enum value {value!r} -> {new!r}"))
                    fixed.append(new)
                else:
                    findings.append(Finding("S8", "warn", f"{path}: enum value {value!r} is not a {kind}"))
                    fixed.append(value)
            schema["enum"] = fixed
        if "default" in schema and schema["default"] is not None:
            value = schema["default"]
            notes = []
            new = conform(copy.deepcopy(value), typed, path, notes, self.config)
            if not matches_type(new, kind):
                del schema["default"]
                findings.append(Finding("S8", "repair", f"{path}: default {value!r} is not a {kind}; dropped"))
            elif json.dumps(new) != json.dumps(value):
                schema["default"] = new
                findings.append(Finding("S8", "repair", f"{path}: default {value!r} -> {new!r}"))
