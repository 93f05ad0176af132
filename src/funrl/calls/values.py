"""Per-parameter checks of the BFCL matcher: the Python type table, string normalisation and value equality.

`check_param(name, value, schema, allowed)` checks one decoded argument against its normalised
parameter schema (`funrl.schema.bfcl_type` gives the BFCL type) and the possible answer's list of
allowed values, and returns `None` or a `Failure(reason, detail)` whose reason is BFCL's error type.
The rules follow the official checker (bfcl-eval 2026.3.23), including its quirks; see `docs/matching.md`:

* types by exact `type(value)`: string/any -> str, integer -> int, float -> float, boolean -> bool,
  array/tuple -> list, dict -> dict (so `True` is not an integer); an int is accepted for a top-level
  float, a tuple for a tuple; array/tuple elements are type-checked one level deep, and only when every
  allowed value is a list;
* "variable" rule: when the allowed values' type differs from the declared one (e.g. a string for an
  integer parameter), a value of the allowed values' type is accepted and compared exactly;
* values: strings (and string elements of lists and dict values) are compared after `normalize_string`;
  lists element-wise in order; dicts one level deep; lists of dicts element by element; others by `==`.

Inputs on which the official checker raises (malformed possible answers) raise here too; `match_calls`
turns them into `checker_exception`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

from funrl.calls.javajs import NESTED_TYPES, TYPES, convert
from funrl.schema import bfcl_type

# BFCL type name -> the Python type the official checker requires (`type(value) == expected`).
PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
# Characters removed by BFCL's string normalisation.
_STRIP = re.compile(r"[ ,./\-_*^]")


class Failure(NamedTuple):
    """A failed check: BFCL error type and a human-readable detail."""

    reason: str
    detail: str


class CheckerCrash(Exception):
    """An input on which the official checker raises (counted as a failure, `checker_exception`)."""


@lru_cache(maxsize=1 << 16)
def normalize_string(text: str) -> str:
    """BFCL's `standardize_string`: drop spaces and `, . / - _ * ^`, lowercase, `'` -> `"`.

    Example: `normalize_string("April 1, 2024")` -> `"april12024"`.
    """
    return _STRIP.sub("", text).lower().replace("'", '"')


def _norm(value: Any) -> Any:
    return normalize_string(value) if type(value) is str else value


def _items(values: Any) -> list[Any]:
    """The elements the official checker visits when it walks `values` by index (a str yields its characters)."""
    return [values[i] for i in range(len(values))]


def _answer_type(allowed: Any) -> type | None:
    """Type of the first allowed value that is not the "may be omitted" marker `""`."""
    for value in allowed:
        if value != "":
            return type(value)
    return None


def python_type(schema: dict[str, Any]) -> tuple[str, type]:
    """(BFCL type name, required Python type) of a normalised parameter schema."""
    name = bfcl_type(schema)
    if name not in PYTHON_TYPES:
        raise CheckerCrash(f"unknown parameter type {name!r}")
    return name, PYTHON_TYPES[name]


def _element_ok(value: Any, allowed: Any, expected: type) -> bool:
    """One-level element check: declared element type, or the type of the allowed elements (variable rule)."""
    if type(value) is expected:
        return True
    answer_type = _answer_type(allowed)
    return answer_type is not None and type(value) is answer_type


def _check_type(param: str, value: Any, allowed: Any, type_name: str, expected: type, nested: type | None):
    """Returns `(failure, is_variable)`."""
    answer_type = _answer_type(allowed)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if nested is None:
            return None, is_variable
        for candidate in allowed:
            # an allowed value that is not a list (e.g. "") imposes no element type
            if type(candidate) is not list or all(_element_ok(v, candidate, nested) for v in value):
                return None, is_variable
        if answer_type is not None and type(value) is answer_type:
            detail = f"parameter {param!r}: elements of {value!r} are not all {nested.__name__}"
            return Failure("type_error:nested", detail), True
    elif answer_type is not None and type(value) is answer_type:
        return None, True
    detail = f"parameter {param!r}: expected {type_name}, got {type(value).__name__} ({value!r})"
    return Failure("type_error:simple", detail), is_variable


def _check_string(param: str, value: str, allowed: list[Any]) -> Failure | None:
    if normalize_string(value) in [normalize_string(a) for a in allowed if type(a) is str]:
        return None
    return Failure("value_error:string", f"parameter {param!r}: {value!r} is not one of {allowed!r}")


def _check_list(param: str, value: list[Any], allowed: list[Any]) -> Failure | None:
    if [_norm(v) for v in value] in [[_norm(a) for a in _items(candidate)] for candidate in _items(allowed)]:
        return None
    return Failure("value_error:list/tuple", f"parameter {param!r}: {value!r} is not one of {allowed!r}")


def check_dict(param: str, value: dict[str, Any], allowed: list[Any]) -> Failure | None:
    """One-level dict check against each allowed dict (`""` candidates skipped); last failure wins."""
    failure = Failure("dict_checker:unclear", f"parameter {param!r}: no allowed dict to compare with")
    for candidate in _items(allowed):
        if candidate == "":
            continue
        failure = None
        for key, item in value.items():
            if key not in candidate:
                failure = Failure("value_error:dict_key", f"parameter {param!r}: unexpected key {key!r}")
                break
            if _norm(item) not in [_norm(a) for a in _items(candidate[key])]:
                detail = f"parameter {param!r}: key {key!r} = {item!r} is not one of {candidate[key]!r}"
                failure = Failure("value_error:dict_value", detail)
                break
        # the official checker looks for missing keys even after a failed value (its error type wins)
        for key, options in candidate.items():
            if key not in value and "" not in options:
                failure = Failure("value_error:dict_key", f"parameter {param!r}: missing key {key!r}")
                break
        if failure is None:
            return None
    return failure


def _check_list_of_dicts(param: str, value: list[Any], allowed: list[Any]) -> Failure | None:
    failure = Failure("list_dict_checker:unclear", f"parameter {param!r}: no allowed list to compare with")
    for candidate in _items(allowed):
        if len(value) != len(candidate):
            failure = Failure(
                "value_error:list_dict_count", f"parameter {param!r}: {len(value)} dicts, expected {len(candidate)}"
            )
            continue
        failure = None
        for position in range(len(value)):
            failure = check_dict(f"{param}[{position}]", value[position], [candidate[position]])
            if failure is not None:
                break
        if failure is None:
            return None
    return failure


# id(schema) -> (schema, its kind): the type table is looked up once per parameter schema, not once per check.
# Holding the schema keeps its id from being reused; the cache is emptied when it grows past _MAX_KINDS.
_KINDS: dict[int, tuple[dict, tuple[str, type, type | None]]] = {}
_MAX_KINDS = 1 << 16


def _param_kind(schema: dict[str, Any]) -> tuple[str, type, type | None]:
    """(BFCL type name, required Python type, element type of an array/tuple or None) of a parameter schema."""
    type_name, expected = python_type(schema)
    nested = None
    if type_name in ("array", "tuple"):
        items = schema.get("items")
        if isinstance(items, dict):
            nested = python_type(items)[1]
    if len(_KINDS) >= _MAX_KINDS:
        _KINDS.clear()
    _KINDS[id(schema)] = (schema, (type_name, expected, nested))
    return type_name, expected, nested


def check_param(param: str, value: Any, schema: dict[str, Any], allowed: list[Any]) -> Failure | None:
    """Check one argument of a call.

    Args:
        param (`str`): parameter name (for messages).
        value: the decoded argument.
        schema (`dict`): the normalised parameter schema (JSON-schema type plus `x-bfcl-type`).
        allowed (`list`): the possible answer's allowed values (`""` = may be omitted).

    Returns:
        `None` when the argument passes, else a `Failure` with BFCL's error type.
    """
    hit = _KINDS.get(id(schema))
    if hit is not None and hit[0] is schema:
        type_name, expected, nested = hit[1]
    else:
        type_name, expected, nested = _param_kind(schema)
    if type_name == "tuple" and type(value) is tuple:
        value = list(value)
    if type_name == "float" and type(value) is int:
        value = float(value)
    return check_value(param, value, allowed, type_name, expected, nested)


def check_source_param(param: str, value: Any, schema: dict[str, Any], allowed: list[Any], language: str):
    """Check one argument of a Java / JavaScript call: its source text converted by the declared type, then checked.

    Args:
        param (`str`): parameter name (for messages).
        value: the decoded argument (source text, as `funrl.calls.treesitter` decodes it).
        schema (`dict`): the parameter schema with its BFCL language type (`x-bfcl-type` or `type`) and, for
            `Array` / `ArrayList` / `array`, its element type (`items.type` in BFCL's raw docs,
            `x-bfcl-items-type` in normalised tools).
        allowed (`list`): the possible answer's allowed values.
        language (`str`): `"java"` or `"javascript"`.

    Returns:
        `None` or a `Failure`; a value that is not text fails with `type_error:java` / `type_error:js`.

    Raises:
        `CheckerCrash` (or the converter's error) where the official checker raises: an unknown type, a missing
        element type, a `Set` / `Hashtable` / `Queue` / `Stack` parameter.
    """
    table = TYPES[language]
    type_name = schema.get("x-bfcl-type", schema.get("type"))
    if type_name not in table:
        raise CheckerCrash(f"unknown {language} parameter type {type_name!r}")
    expected = table[type_name]
    if type(value) is not str:
        code = "type_error:java" if language == "java" else "type_error:js"
        return Failure(code, f"parameter {param!r}: expected source text, got {type(value).__name__} ({value!r})")
    nested = None
    if type_name in NESTED_TYPES:
        items = schema.get("items")
        if isinstance(items, dict) and "type" in items:  # BFCL's raw docs
            nested_name = items["type"]
        elif "x-bfcl-items-type" in schema:  # normalised tools (funrl.schema)
            nested_name = schema["x-bfcl-items-type"]
        else:
            raise CheckerCrash(f"parameter {param!r}: no element type for {type_name}")
        if nested_name not in table:
            raise CheckerCrash(f"unknown {language} element type {nested_name!r}")
        nested = table[nested_name]
        value = convert(value, type_name, language, nested_name)
    else:
        value = convert(value, type_name, language)
    return check_value(param, value, allowed, type_name, expected, nested)


def check_value(param: str, value: Any, allowed: list[Any], type_name: str, expected: type, nested: type | None):
    """The official checks after typing: type table (with the "variable" rule), then the value rules."""
    failure, is_variable = _check_type(param, value, allowed, type_name, expected, nested)
    if failure is not None:
        return failure
    if not is_variable:
        if expected is dict:
            return check_dict(param, value, allowed)
        if expected is list and nested is dict:
            return _check_list_of_dicts(param, value, allowed)
        if expected is str:
            return _check_string(param, value, allowed)
        if expected is list:
            return _check_list(param, value, allowed)
    if value not in allowed:
        return Failure("value_error:others", f"parameter {param!r}: {value!r} is not one of {allowed!r}")
    return None
