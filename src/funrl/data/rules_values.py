"""Value rules: lossless coercion (T2), canonical numbers (T3), whitespace trim (V6), format hints (V4) and
Python-style type strings (S5), as pure functions over one JSON value and its JSON-Schema fragment.

`conform(value, schema, path, findings, config)` returns the value coerced towards the schema's type, only
when nothing is lost (`"5"` -> 5 for an integer, never `"5.5"` -> int), with numbers in the project's canonical
form: an `integer` is a Python/JSON `int`, a `number` a Python `float` (written `5.0` by `json.dumps` and by
`repr`, which is what `funrl.calls.render_calls` emits). The BFCL checker rejects a float for an integer and an
int inside an array of floats, so the ground truth must use exactly these types. Each change is appended to
`findings` with its rule ID. Values that still do not fit are left for the jsonschema check (T1/T4).

    from funrl.data.rules_values import conform
    findings = []
    conform("5", {"type": "integer"}, "f.k", findings, ValidationConfig())  # -> 5, findings: [T2 repair]
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from funrl.data.rules_base import Finding, ValidationConfig

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_INT_RE = re.compile(r"[+-]?\d+\Z")
_NUM_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_FAIL = object()


def json_types(schema: dict[str, Any]) -> tuple[str, ...] | None:
    """The JSON types a schema fragment allows, or `None` when its `type` does not constrain the value."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return tuple(kind)
    return None


def matches_type(value: Any, kind: str) -> bool:
    """JSON-Schema type test (an integral float counts as an integer, as in JSON Schema; T3 fixes its form)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (type(value) is int) or (type(value) is float and value.is_integer())
    if kind == "number":
        return type(value) in (int, float)
    if kind == "boolean":
        return type(value) is bool
    if kind == "array":
        return isinstance(value, (list, tuple))
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return True


def _coerce(value: Any, kind: str, config: ValidationConfig) -> Any:
    """One lossless coercion of `value` to JSON type `kind`, or `_FAIL`."""
    if isinstance(value, str):
        text = value.strip()
        if kind == "integer" and _INT_RE.match(text):
            return int(text)
        if kind == "number" and _NUM_RE.match(text):
            number = float(text)
            return number if math.isfinite(number) else _FAIL
        if kind == "boolean" and text in ("true", "false", "True", "False"):
            return text.lower() == "true"
        if (kind == "array" and text.startswith("[")) or (kind == "object" and text.startswith("{")):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                return _FAIL
            return decoded if matches_type(decoded, kind) else _FAIL
        return _FAIL
    if kind == "string" and config.coerce_number_to_string and type(value) in (int, float):
        return repr(value)
    return _FAIL


def conform(value: Any, schema: Any, path: str, findings: list[Finding], config: ValidationConfig) -> Any:
    """Coerce `value` losslessly towards `schema` (recursively), canonicalise numbers and trim strings.

    Args:
        value: a JSON value (tuples are accepted and become lists).
        schema (`dict`): the JSON-Schema fragment of the value; anything else leaves the value untouched.
        path (`str`): `func.param[0].key`, used in finding details.
        findings (`list[Finding]`): T2 / T3 / V6 repairs are appended here.
        config (`ValidationConfig`): the coercion switches (`coerce_number_to_string`).

    Returns:
        The (possibly new) value; the input is never mutated.
    """
    if isinstance(value, str):
        trimmed = value.strip()
        if trimmed != value:
            findings.append(Finding("V6", "repair", f"{path}: trimmed surrounding whitespace"))
            value = trimmed
    elif isinstance(value, tuple):
        findings.append(Finding("T2", "repair", f"{path}: tuple -> array"))
        value = list(value)
    if not isinstance(schema, dict):
        return value
    kinds = json_types(schema)
    if kinds is None:
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list):
            dict_options = [o for o in options if isinstance(o, dict)]
            for option in dict_options:  # a branch the value already fits wins
                option_kinds = json_types(option)
                if option_kinds and any(matches_type(value, k) for k in option_kinds):
                    return conform(value, option, path, findings, config)
            for option in dict_options:
                option_kinds = json_types(option) or ()
                for kind in option_kinds:
                    new = _coerce(value, kind, config)
                    if new is not _FAIL:
                        findings.append(Finding("T2", "repair", f"{path}: {value!r} -> {kind} {new!r}"))
                        return conform(new, option, path, findings, config)
        return _recurse(value, schema, path, findings, config)
    if not any(matches_type(value, k) for k in kinds):
        for kind in kinds:
            new = _coerce(value, kind, config)
            if new is not _FAIL:
                findings.append(Finding("T2", "repair", f"{path}: {value!r} -> {kind} {new!r}"))
                value = new
                break
    if type(value) is float and "integer" in kinds and "number" not in kinds and value.is_integer():
        findings.append(Finding("T3", "repair", f"{path}: {value!r} -> integer {int(value)}"))
        value = int(value)
    elif type(value) is int and "number" in kinds and "integer" not in kinds:
        findings.append(Finding("T3", "repair", f"{path}: {value!r} -> number {float(value)!r}"))
        value = float(value)
    return _recurse(value, schema, path, findings, config)


def _recurse(value: Any, schema: dict[str, Any], path: str, findings: list[Finding], config: ValidationConfig) -> Any:
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return [conform(v, items, f"{path}[{i}]", findings, config) for i, v in enumerate(value)]
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        return {k: conform(v, properties.get(k), f"{path}.{k}", findings, config) for k, v in value.items()}
    if isinstance(value, list):
        return [
            conform(v, None, f"{path}[{i}]", findings, config) if isinstance(v, (str, tuple)) else v
            for i, v in enumerate(value)
        ]
    return value


# ---------------------------------------------------------------------------------------------------
# V4: format hints

_DATE_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
_TIME_RE = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?\Z")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+\Z")


def format_ok(fmt: str, value: Any) -> bool:
    """Check a string against a JSON-Schema `format` (date, date-time, time, email, uri); other formats pass."""
    if not isinstance(value, str):
        return True
    try:
        if fmt == "date":
            return len(value) == 10 and date.fromisoformat(value) is not None
        if fmt == "date-time":
            return (
                bool(_DATE_TIME_RE.match(value))
                and datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")) is not None
            )
        if fmt == "time":
            return bool(_TIME_RE.match(value))
    except ValueError:
        return False
    if fmt == "email":
        return bool(_EMAIL_RE.match(value))
    if fmt in ("uri", "url"):
        return bool(_URI_RE.match(value))
    return True


def format_failures(value: Any, schema: Any, path: str) -> list[str]:
    """Paths (with the format) where `value` breaks a `format` hint of `schema`, recursively."""
    if not isinstance(schema, dict):
        return []
    out = []
    fmt = schema.get("format")
    if isinstance(fmt, str) and not format_ok(fmt, value):
        out.append(f"{path}: {value!r} is not a valid {fmt}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            out += format_failures(v, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        for k, v in value.items():
            out += format_failures(v, schema["properties"].get(k), f"{path}.{k}")
    return out


# ---------------------------------------------------------------------------------------------------
# S5: Python-style type strings

_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "boolean": {"type": "boolean"},
    "none": {"type": "null"},
    "nonetype": {"type": "null"},
    "any": {},
    "object": {},
}
_ARRAYS = {"list", "sequence", "iterable", "set"}
_OBJECTS = {"dict", "mapping"}


def _split_args(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def parse_type_string(text: str) -> tuple[dict[str, Any], bool, list[str]]:
    """Map a Python-style type string (xLAM: `"List[int], optional"`) to a JSON-Schema fragment.

    Returns:
        `(schema, optional, unknown)`: the fragment (`{}` = unconstrained), whether a `, optional` suffix or
        `Optional[...]` marked the parameter optional, and the type names that could not be mapped (S5 WARN).
    """
    text = text.strip()
    optional = False
    lowered = text.lower()
    if lowered.endswith(", optional") or lowered.endswith(",optional"):
        optional, text = True, text[: text.lower().rindex(",")].strip()
    head, _, rest = text.partition("[")
    key = head.strip().lower().replace("typing.", "")
    args = _split_args(rest[:-1]) if rest.endswith("]") else []
    if key == "optional" and len(args) == 1:
        schema, _, unknown = parse_type_string(args[0])
        return schema, True, unknown
    if key == "union" and args:
        branches = [parse_type_string(a) for a in args]
        unknown = [u for b in branches for u in b[2]]
        if any(not b[0] for b in branches):  # a branch without constraint makes the union unconstrained
            return {}, optional, unknown
        return {"anyOf": [b[0] for b in branches]}, optional, unknown
    if key in _SCALARS and not args:
        return dict(_SCALARS[key]), optional, []
    if key in _ARRAYS:
        schema: dict[str, Any] = {"type": "array"}
        unknown = []
        if len(args) == 1:
            items, _, unknown = parse_type_string(args[0])
            if items:
                schema["items"] = items
        return schema, optional, unknown
    if key == "tuple":
        return {"type": "array", "x-bfcl-type": "tuple"}, optional, []
    if key in _OBJECTS:
        return {"type": "object"}, optional, []
    return {}, optional, [text]


# ---------------------------------------------------------------------------------------------------
# BFCL possible-answer form of dict values
#
# In BFCL ground truth a dict-typed argument is written with per-key allowed values (`{"k": [v]}`), and an array
# of dicts as a list of such dicts; the matcher (`funrl.calls`) compares that way. Readers build ground truth
# from concrete calls, so a dict value arrives concrete (`{"k": v}`); validation checks the concrete value and
# writes it back in BFCL form (C3 repair).


def dict_kind(schema: Any) -> str | None:
    """`"dict"` for an object schema, `"list_of_dicts"` for an array of objects, else `None`."""
    if not isinstance(schema, dict):
        return None
    kinds = json_types(schema)
    if kinds == ("object",):
        return "dict"
    items = schema.get("items")
    if kinds == ("array",) and isinstance(items, dict) and json_types(items) == ("object",):
        return "list_of_dicts"
    return None


def _allowed_dict(value: Any, schema: Any, default: bool) -> bool:
    """Is `value` a dict in per-key allowed-values form? Decided from the key schemas when they tell (an array
    key holds a list of lists in that form), else `default` (the sample's ground truth is already BFCL form)."""
    if not isinstance(value, dict) or not value or not all(isinstance(v, list) for v in value.values()):
        return False
    properties = schema.get("properties") if isinstance(schema, dict) else None
    decided = False
    for key, options in value.items():
        sub = properties.get(key) if isinstance(properties, dict) else None
        kinds = json_types(sub) if isinstance(sub, dict) else None
        if kinds is None:
            continue
        decided = True
        if kinds == ("array",) and not all(isinstance(o, list) or o == "" for o in options):
            return False
    return True if decided else default


def _resolve(value: dict[str, list[Any]]) -> dict[str, Any] | None:
    out = {}
    for key, options in value.items():
        real = [o for o in options if not (isinstance(o, str) and o == "")]
        if len(real) > 1:
            return None
        if real:
            out[key] = real[0]
    return out


def unwrap_allowed(value: Any, schema: Any, default: bool) -> tuple[Any, Any]:
    """`(concrete value, original)` for a dict value in BFCL form (`original` is `None` when `value` was concrete).
    A BFCL-form dict with several alternatives for a key cannot be made concrete: returned as is with `original`
    set to `value`, and the caller skips it."""
    kind = dict_kind(schema)
    if kind == "dict" and _allowed_dict(value, schema, default):
        concrete = _resolve(value)
        return (value, value) if concrete is None else (concrete, value)
    if (
        kind == "list_of_dicts"
        and isinstance(value, list)
        and value
        and all(_allowed_dict(v, schema["items"], default) for v in value)
    ):
        items = [_resolve(v) for v in value]
        return (value, value) if any(i is None for i in items) else (items, value)
    return value, None


def wrap_allowed(value: Any, schema: Any, original: Any) -> Any:
    """Concrete dict (or list of dicts) -> BFCL per-key allowed form, keeping the `""` options of `original`."""

    def wrap(item: Any, before: Any) -> Any:
        if not isinstance(item, dict):
            return item
        before = before if isinstance(before, dict) else {}
        out = {}
        for key, v in item.items():
            out[key] = [v, ""] if "" in (before.get(key) or []) else [v]
        for key, options in before.items():  # keys that were only "" (may be omitted)
            if key not in out and options and all(isinstance(o, str) and o == "" for o in options):
                out[key] = list(options)
        return out

    kind = dict_kind(schema)
    if kind == "dict" and isinstance(value, dict):
        return wrap(value, original)
    if kind == "list_of_dicts" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
        befores = original if isinstance(original, list) and len(original) == len(value) else [None] * len(value)
        return [wrap(v, b) for v, b in zip(value, befores)]
    return value


# ---------------------------------------------------------------------------------------------------
# One argument value of one call: T1-T4, V1-V6 and C8 together (what `funrl.data.validate` runs per value)

DROP = object()  # a value removed by a repair (V2)

# C8: a value that stands for another call's result makes the target sequential, not parallel.
_DEPENDENCY_RE = re.compile(
    r"^\s*<[^<>]*\b(result|output|response|return)\b[^<>]*>\s*$|\{\{[^{}]*\}\}|\$\{[^{}]*\}|\bresult of (the )?(previous|first|second|above)",
    re.IGNORECASE,
)


@dataclass
class ValueContext:
    """What the value rules know about the sample whose values they check: the sample, the validation config,
    whether dict values are already in BFCL's per-key form (bfcl/canonical inputs), and the lower-cased
    conversation text (V5), built on first use and shared by every value of the sample."""

    sample: Any
    config: ValidationConfig
    bfcl_form: bool = False
    _conversation: str | None = field(default=None, repr=False)

    @property
    def conversation(self) -> str:
        if self._conversation is None:
            parts = (str(m.get("content") or "") for m in self.sample.messages if isinstance(m, dict))
            self._conversation = " ".join(parts).lower()
        return self._conversation


def strings(value: Any):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


def is_placeholder(value: Any, schema: Any, config: ValidationConfig) -> bool:
    """V2: a null the schema does not allow, or a placeholder word (`"<unknown>"`, ...) that is not an enum value."""
    if value is None:
        allowed = isinstance(schema, dict) and (schema.get("type") == "null" or "null" in (schema.get("type") or []))
        return not allowed
    if isinstance(value, str) and value.lower() in config.placeholder_values:
        enum = schema.get("enum") if isinstance(schema, dict) else None
        return not (isinstance(enum, list) and value in enum)
    return False


def check_schema_value(
    value: Any, validator: Any, schema: Any, path: str, findings: list[Finding], config: ValidationConfig
) -> Any:
    """T1/T4/V1/V4 from the tool's jsonschema validator; a case-only enum mismatch is repaired (V1)."""
    if validator is not None and not validator.is_valid(value):
        errors = list(validator.iter_errors(value))
        if (
            len(errors) == 1
            and errors[0].validator == "enum"
            and not errors[0].absolute_path
            and isinstance(value, str)
        ):
            matches = [e for e in schema["enum"] if isinstance(e, str) and e.casefold() == value.casefold()]
            if len(matches) == 1:
                findings.append(Finding("V1", "repair", f"{path}: {value!r} -> enum value {matches[0]!r}"))
                return matches[0]
        for error in errors:
            where = path + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
            if error.validator == "enum":
                code = "V1"
            elif error.validator == "pattern":
                code = "V4"
            elif error.absolute_path:
                code = "T4"
            else:
                code = "T1"
            action = config.format_action if code == "V4" else "reject"
            findings.append(Finding(code, action, f"{where}: {error.message}"))
    return value


def check_value(value: Any, check: Any, name: str, arg: str, ctx: ValueContext, findings: list[Finding]) -> Any:
    """T/V/C8 rules on one allowed value of argument `arg` of a call of `name` (whose tool checks are `check`, a
    `funrl.data.rules_schema` tool check); returns the (repaired) value, or `DROP`."""
    config = ctx.config
    schema = check.properties.get(arg)
    path = f"{name}.{arg}"
    original = None
    if check.dict_kinds.get(arg) is not None:
        value, original = unwrap_allowed(value, schema, ctx.bfcl_form)
        if original is not None and value is original:
            return value  # several alternatives per key (BFCL data): left as is
    canonical = check.canonical.get(arg)
    skip = canonical is not None and original is None and canonical(value)
    if not skip:
        value = conform(value, schema, path, findings, config)
    if is_placeholder(value, schema, config):
        if arg in check.required:
            findings.append(Finding("V2", "reject", f"{path}: placeholder {value!r} for a required parameter"))
        else:
            findings.append(Finding("V2", "repair", f"{path}: placeholder {value!r} dropped"))
        return DROP
    fast = check.fast.get(arg)
    if not skip and (fast is None or not fast(value)):
        value = check_schema_value(value, check.validators.get(arg), schema, path, findings, config)
    if arg in check.formats:
        for failure in format_failures(value, schema, path):
            findings.append(Finding("V4", config.format_action, failure))
    for text in [value] if isinstance(value, str) else list(strings(value)):
        if ("<" in text or "{" in text or "result" in text) and _DEPENDENCY_RE.search(text):
            findings.append(Finding("C8", "reject", f"{path}: {text!r} refers to another call's result"))
        if config.check_grounding and len(text) >= config.grounding_min_length:
            low = text.lower()
            if low not in ctx.conversation and low not in check.grounding:
                findings.append(Finding("V5", "warn", f"possibly_hallucinated: {path}={text!r}"))
    if check.dict_kinds.get(arg) is not None:
        wrapped = wrap_allowed(value, schema, original)
        if original is None and wrapped is not value:
            findings.append(Finding("C3", "repair", f"{path}: dict value -> per-key allowed values"))
        value = wrapped
    return value
