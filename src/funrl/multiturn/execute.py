"""Executing calls on BFCL's API instances without `eval`: BFCL's call strings and a safe interpreter for them.

BFCL turns a model's decoded calls into Python source strings and runs them with `eval` after prefixing each
method name with its instance. funrl builds the same strings (`execution_strings`, so results and quirks are
BFCL's) and runs them with `run_call`, an interpreter over the string's `ast` that knows only literals and calls
of the instances' public methods by name with their arguments:

- prompt formats (`funrl`, `bfcl-prompt`) render values like BFCL's `parse_nested_value`: a dict whose values are
  all dicts becomes a nested call of its first key (an empty dict makes the whole step undecodable, as BFCL's
  `IndexError` does), other dicts have their keys quoted as strings; `qwen-fc` renders `repr` of each value
  (BFCL's `convert_to_function_call`);
- each call gives one result string: the method's return value (a `str` as is, a `dict` as JSON, anything else
  through `str`), or `"Error during execution: <message>"` for a syntax error, a name that is not a public method
  (`name 'x' is not defined`, Python's own message), bad arguments (the `TypeError` of calling the method with
  them), an exception raised by the method, and BFCL's refused names (`kill`, `exit`, ...);
- bounds: a call string longer than `MAX_CALL_CHARS` or nested deeper than `MAX_DEPTH` is refused with an error
  result; nothing but literals, containers, unary signs and method calls is evaluated (anything else is an error
  result naming the construct, where BFCL would run it).
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from funrl.calls.decode import MAX_DEPTH, bracket_depth

MAX_CALL_CHARS = 200_000  # one rendered call (values are already bounded by the parser; repr can grow them)
ERROR_PREFIX = "Error during execution: "
# names BFCL refuses to run (checked on the method name, before evaluation)
FORBIDDEN = ("kill", "exit", "quit", "remove", "unlink", "popen", "Popen", "run")
_NAME_BEFORE_PAREN = re.compile(r"\b([a-zA-Z_]\w*)\s*(?=\()")
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
PROMPT_STYLE, FC_STYLE = "prompt", "fc"


class Undecodable(ValueError):
    """A step BFCL's execution decoder rejects (it raises): the step is ignored, as BFCL ignores it."""


def style_of(fmt: str) -> str:
    """How a format's calls are rendered for execution: `qwen-fc` like BFCL's FC handlers, the rest prompt-style."""
    return FC_STYLE if fmt == "qwen-fc" else PROMPT_STYLE


def _nested(value: Any) -> str:
    """BFCL's `parse_nested_value`: the source text of one decoded argument value (prompt formats)."""
    if isinstance(value, dict):
        if all(isinstance(v, dict) for v in value.values()):
            if not value:
                raise Undecodable("an empty dict argument (BFCL's decoder raises IndexError)")
            name = next(iter(value))
            args = value[name]
            return f"{name}({', '.join(f'{k}={_nested(v)}' for k, v in args.items())})"
        return "{" + ", ".join(f"'{k}': {_nested(v)}" for k, v in value.items()) + "}"
    return repr(value)


def execution_strings(calls: list[dict[str, Any]], style: str = PROMPT_STYLE) -> list[str]:
    """Decoded calls `[{name: {arg: value}}]` -> the call strings BFCL executes (`Undecodable` when BFCL raises)."""
    out = []
    for call in calls:
        for name, args in call.items():
            if not isinstance(args, dict):
                raise Undecodable(f"arguments of {name!r} are not a mapping")
            if style == FC_STYLE:
                out.append(f"{name}({','.join(f'{k}={v!r}' for k, v in args.items())})")
            else:
                out.append(f"{name}({', '.join(f'{k}={_nested(v)}' for k, v in args.items())})")
    return out


def format_result(value: Any) -> str:
    """A method's return value as BFCL stores it: `str` as is, `dict` as JSON (else `str`), others through `str`."""
    if type(value) is str:  # noqa: E721 - BFCL checks the exact type
        return value
    if type(value) is dict:  # noqa: E721
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class _Refused(Exception):
    """A construct funrl does not evaluate (BFCL's `eval` would)."""


def _refused_name(source: str, methods: Mapping[str, Any]) -> str | None:
    """The name BFCL's pre-`eval` check refuses in `source` (it looks at the method part of the prefixed head)."""
    processed = _NAME_BEFORE_PAREN.sub(
        lambda m: f"funrl_instance.{m.group(1)}" if m.group(1) in methods else m.group(1), source
    )
    head = processed.split("(")[0] if "(" in processed else processed
    if "." in head:
        head = head.split(".")[1]
    return head if head in FORBIDDEN else None


class _Interpreter:
    """Evaluates one call expression: literals, containers, unary signs, and calls of public methods by name."""

    def __init__(self, methods: Mapping[str, Callable[..., Any]]):
        self.methods = methods

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise _Refused("starred expression")
            items = [self.value(e) for e in node.elts]
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Refused("dict unpacking")
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](self.value(node.operand))
        if isinstance(node, ast.Name):
            raise NameError(f"name '{node.id}' is not defined")
        if isinstance(node, ast.Attribute):
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                raise NameError(f"name '{root.id}' is not defined")
            raise _Refused(type(node).__name__)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise _Refused(type(node).__name__)

    def call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.methods:
            method = self.methods[func.id]
        else:
            self.value(func)  # raises NameError for a name or a dotted path that is not a method
            raise _Refused("call of " + type(func).__name__)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise _Refused("argument unpacking")
        args = [self.value(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords}
        return method(*args, **kwargs)


def run_call(source: str, methods: Mapping[str, Callable[..., Any]]) -> str:
    """Execute one BFCL call string on `methods` (public method name -> bound method); returns its result string."""
    if len(source) > MAX_CALL_CHARS or bracket_depth(source) > MAX_DEPTH:
        return f"{ERROR_PREFIX}call too large or too deeply nested (funrl's bounds)"
    refused = _refused_name(source, methods)
    if refused is not None:
        return f"{ERROR_PREFIX}Function call {refused} is not allowed."
    try:
        tree = compile(source, "<string>", "eval", ast.PyCF_ONLY_AST)  # parses only: nothing runs
        compile(tree, "<string>", "eval")  # the compiler's own syntax errors (e.g. a repeated keyword); never run
        return format_result(_Interpreter(methods).value(tree.body))
    except _Refused as exc:
        return f"{ERROR_PREFIX}funrl does not evaluate {exc} (only literals and public method calls)"
    except RecursionError:
        return f"{ERROR_PREFIX}call too large or too deeply nested (funrl's bounds)"
    except Exception as exc:  # the method's own error, a TypeError for bad arguments, a NameError, a SyntaxError
        return f"{ERROR_PREFIX}{exc}"
