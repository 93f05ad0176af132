"""The official checker's Java / JavaScript value conversion: argument source text -> Python value, by parameter type.

BFCL's decoders keep Java / JavaScript argument values as source text (`funrl.calls.treesitter`); its checker then
converts each value with the parameter's declared type and checks the result with the same rules as Python
(`funrl.calls.values`). This module reproduces that conversion (bfcl-eval 2026.3.23, its `java_type_converter` and
`js_type_converter`), quirks included, because the verdicts must be identical:

* a value that does not look like its type stays a string (`"12"` for a `long` without `L`), which then fails
  the type check (`type_error:simple`) unless the possible answer itself is a string ("variable" rule);
* Java: `long` needs an `L` suffix, `float` an `f` suffix, `char` never converts; `Array` reads `new T[]{a, b}`,
  `ArrayList` reads `new ArrayList<>(Arrays.asList(a, b))` or `new ArrayList<>() {{ add(a); }}` (elements split at
  every comma, quotes cut from String / char elements), `HashMap` reads `new HashMap<..>() {{ put("k", v); }}`;
  `Set`, `Hashtable`, `Queue` and `Stack` raise (the official checker crashes: `checker_exception`);
* JavaScript: `Bigint` needs an `n` suffix; arrays (`[a, b]`, `new Array(a, b)`, one level of nesting) and
  objects (`{k: v}`) are read with the official regular expressions, and fall back to the text when those fail.

`convert(value, type_name, language, nested)` is the entry point; `TYPES[language]` the official type tables.
"""

from __future__ import annotations

import re
from typing import Any

# BFCL type name -> Python type, per language (the official JAVA_TYPE_CONVERSION / JS_TYPE_CONVERSION tables).
TYPES: dict[str, dict[str, type]] = {
    "java": {
        "byte": int,
        "short": int,
        "integer": int,
        "float": float,
        "double": float,
        "long": int,
        "boolean": bool,
        "char": str,
        "Array": list,
        "ArrayList": list,
        "Set": set,
        "HashMap": dict,
        "Hashtable": dict,
        "Queue": list,
        "Stack": list,
        "String": str,
        "any": str,
    },
    "javascript": {
        "String": str,
        "integer": int,
        "float": float,
        "Bigint": int,
        "Boolean": bool,
        "dict": dict,
        "array": list,
        "any": str,
    },
}
NESTED_TYPES = ("Array", "ArrayList", "array")  # types whose element type (`items.type`) is converted too

_INT = re.compile(r"^-?\d+$")
_JAVA_FLOAT = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$")
_JAVA_DOUBLE = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_JAVA_LONG = re.compile(r"^-?\d+[lL]$")
_JAVA_CHAR = re.compile(r"^\'.$\'")  # as in the official checker: it can never match, so a char stays text
_F_SUFFIX, _L_SUFFIX = re.compile(r"[fF]$"), re.compile(r"[lL]$")
_AS_LIST = re.compile(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)")
_ADD_BLOCK = re.compile(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", re.DOTALL)
_ADD = re.compile(r"add\((.+?)\)")
_EMPTY_LIST = re.compile(r"new\s+ArrayList<\w*>\(\)")
_ARRAY = re.compile(r"new\s+\w+\[\]\s*\{(.*?)\}")
_PUT_BLOCK = re.compile(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", re.DOTALL)
_PUT = re.compile(r"put\(\"(.*?)\",\s*(.*?)\)")
_EMPTY_MAP = re.compile(r"new\s+HashMap<.*?>\s*\(\)")
_JS_FLOAT = re.compile(r"^-?\d+(\.\d+)?$")
_JS_BIGINT = re.compile(r"^-?\d+n$")
_JS_ARRAY_2D = re.compile(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)")
_JS_ARRAY = re.compile(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)")
_JS_INNER = re.compile(r"\[(.*?)\]")
_JS_OBJECT = re.compile(r"\{(.*?)\}")
_JS_PAIR = re.compile(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)")


def _number(text: str) -> Any:
    """int, else float, else the text (Python's own `int` / `float` spellings, as the official fallback)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# --- Java -----------------------------------------------------------------------------------------------------
def java_literal(text: str) -> Any:
    """A Java element without a declared type: boolean, quoted string, `L` / `f` number, int, float or text."""
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if _JAVA_LONG.match(text):
        return int(text[:-1])
    if _JAVA_FLOAT.match(text):
        return float(_F_SUFFIX.sub("", text))
    return _number(text)


def _java_element(text: str, nested: str | None) -> Any:
    if nested in ("char", "String"):
        return text[1:-1]
    return java_value(text, nested) if nested else java_literal(text)


def java_value(text: str, type_name: str, nested: str | None = None) -> Any:
    """Convert Java source text `text` declared as `type_name` (element type `nested` for Array / ArrayList)."""
    if type_name not in TYPES["java"]:
        raise ValueError(f"unsupported Java type {type_name!r}")
    if type_name in ("byte", "short", "integer"):
        return int(text) if _INT.match(text) else str(text)
    if type_name == "float":
        return float(_F_SUFFIX.sub("", text)) if _JAVA_FLOAT.match(text) else str(text)
    if type_name == "double":
        return float(text) if _JAVA_DOUBLE.match(text) else str(text)
    if type_name == "long":
        return int(_L_SUFFIX.sub("", text)) if _JAVA_LONG.match(text) else str(text)
    if type_name == "boolean":
        return text == "true" if text in ("true", "false") else str(text)
    if type_name == "char":
        return text if _JAVA_CHAR.match(text) else str(text)
    if type_name == "ArrayList":
        found = _AS_LIST.search(text)
        if found:
            return [_java_element(part.strip(), nested) for part in found.group(1).split(",")]
        found = _ADD_BLOCK.search(text)
        if found:
            return [_java_element(part.strip(), nested) for part in _ADD.findall(found.group(1))]
        return [] if _EMPTY_LIST.search(text) else text
    if type_name == "Array":
        found = _ARRAY.search(text)
        if not found:
            return text
        parts = [part.strip() for part in found.group(1).split(",") if part.strip()]
        return [java_value(part, nested) if nested else java_literal(part) for part in parts]
    if type_name == "HashMap":
        found = _PUT_BLOCK.search(text)
        if found:
            body = found.group(1)
            return {key: java_literal(value.strip()) for key, value in _PUT.findall(body)} if body.strip() else {}
        return {} if _EMPTY_MAP.search(text) else text
    if type_name in ("String", "any"):
        return str(text)
    raise NotImplementedError(f"{type_name} conversion is not implemented")  # Set, Hashtable, Queue, Stack


# --- JavaScript ----------------------------------------------------------------------------------------------------
def js_literal(text: str) -> Any:
    """A JavaScript element without a declared type: boolean, quoted string, int, float or text."""
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if (text.startswith('"') and text.endswith('"')) or (text.startswith("'") and text.endswith("'")):
        return text[1:-1]
    return _number(text)


def _js_array(code: str, nested: str | None) -> Any:
    found = _JS_ARRAY_2D.match(code)
    if found:
        rows = []
        for index, inner in enumerate(_JS_INNER.findall(found.group(0))):
            inner = inner.strip()
            if index == 0 and inner.startswith("["):
                inner = inner[1:]
            rows.append([js_literal(part.strip()) for part in inner.split(",")])
        return rows
    found = _JS_ARRAY.match(code)
    if not found:
        return code
    body = found.group(1) if found.group(1) is not None else found.group(2)
    body = (body or "").strip()
    parts = body.split(",") if body else []
    if not nested:
        return [js_literal(part.strip()) for part in parts]
    out = []
    for part in parts:
        part = part.strip()
        quoted = part.startswith("'") or part.startswith('"')
        out.append(js_value(part, nested, "String") if quoted else js_value(part, nested))
    return out


def _js_object(code: str) -> Any:
    if code == "{}":
        return {}
    found = _JS_OBJECT.match(code)
    if not found:
        return code
    out = {}
    for key, value in _JS_PAIR.findall(found.group(1)):
        key, value = key.strip().strip("'\""), value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key] = _js_collection(value, "array")
        elif value.startswith("{") and value.endswith("}"):
            out[key] = _js_collection(value, "dict")
        else:
            out[key] = js_literal(value.strip("'\""))
    return out


def _js_collection(code: str, kind: str, nested: str | None = None) -> Any:
    code = code.strip()
    try:  # the official parser returns the text on any error inside
        return _js_array(code, nested) if kind == "array" else _js_object(code)
    except Exception:
        return code


def js_value(text: str, type_name: str, nested: str | None = None) -> Any:
    """Convert JavaScript source text `text` declared as `type_name` (element type `nested` for arrays)."""
    if type_name not in TYPES["javascript"]:
        raise ValueError(f"unsupported JavaScript type {type_name!r}")
    if type_name == "String":
        quoted = (text.startswith('"') and text.endswith('"')) or (text.startswith("'") and text.endswith("'"))
        return text[1:-1] if quoted else str(text)
    if type_name == "integer":
        return int(text) if _INT.match(text) else str(text)
    if type_name == "float":
        return float(text) if _JS_FLOAT.match(text) else str(text)
    if type_name == "Bigint":
        return int(text[:-1]) if _JS_BIGINT.match(text) else str(text)
    if type_name == "Boolean":
        return text == "true" if text in ("true", "false") else str(text)
    if type_name == "dict":
        return _js_collection(text, "dict", nested)
    if type_name == "array":
        return _js_collection(text, "array", nested)
    return str(text)  # any


def convert(value: str, type_name: str, language: str, nested: str | None = None) -> Any:
    """The official conversion of one argument's source text (raises where the official checker raises)."""
    if language == "java":
        return java_value(value, type_name, nested)
    return js_value(value, type_name, nested)
