"""BFCL prompt-mode decoding of a Python call list, with safety bounds: `[f(a=1), g.h(b='x')]` -> calls.

Reproduces what bfcl-eval's prompt-mode decoder (`default_decode_ast_prompting`, `ast_parse`,
`resolve_ast_by_type`) returns for a model's text, quirks included, without evaluating model text:

- backticks, newlines and spaces are stripped from both ends, then `[` / `]` are added when missing;
- the text must parse (`ast.parse(mode="eval")`) as a list whose elements are all calls;
- dotted names are joined (`a.b.c`); a callee that is not a name chain keeps only its attribute parts;
- only keyword arguments are read, positional ones are dropped; `**kw` gives the key `None`;
- values: constants as they are (`...` -> `"..."`), any unary operator on a constant negates it,
  lists / dicts / tuples recursively, a bare name -> its identifier, a call without keywords -> its
  source text, a call with keywords -> a nested `{name: {arg: value}}`, a subscript -> its source text;
  a binary operation is evaluated, here by a bounded evaluator that computes only literal arithmetic
  (numbers, strings, bytes, lists, tuples, sets, dicts); anything else in it is refused
  (`unsafe_expression`) where BFCL would run it with Python's `eval`.

Use `decode_prompt(text) -> Decoded`; callers normally go through `funrl.calls.parse_calls`.
Every failure is reported as a reason code (see `funrl.calls.parse.REASONS`), never raised.
"""

from __future__ import annotations

import ast
import itertools
import operator
import re
import warnings
from dataclasses import dataclass

from funrl.calls.fastpath import fast_decode, surely_syntax_error

# --- safety bounds (see docs/parsing.md) -------------------------------------------------------------------------
MAX_CODE_CHARS = 20_000  # characters handed to ast.parse / json.loads (BFCL answers are at most ~1,300)
MAX_DEPTH = 200  # bracket nesting, checked before parsing (Python's own limit); also the value-nesting depth
MAX_CALLS = 128  # calls in one completion
MAX_INT_DIGITS = 4_300  # any integer (literal or computed): Python's own limit for str(int) and int literals
MAX_INT_BITS = 14_300  # cheap pre-check of computations (a 4300-digit integer has at most 14,285 bits)
MAX_SEQ_LEN = 100_000  # size of one computed value (string length, or elements counted through nesting)
MAX_COMPUTED = 1_000_000  # total size of all values computed by binary operations in one decode
MAX_FORMAT_WIDTH = 10_000  # width / precision in a `'%5d' % x` string formatting


class DecodeError(Exception):
    """Internal: carries a reason code out of the recursive decoder."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Decoded:
    """Result of `decode_prompt`: `calls` (None on failure), `reason` (None on success) and the `notes`
    (quirks applied, in order of first use)."""

    calls: list[dict] | None
    reason: str | None
    notes: tuple[str, ...]


_STRINGS_AND_COMMENTS = re.compile(
    r"'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"  # triple-quoted strings (unrolled loops: linear time)
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"  # single-line strings
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
    r"|#[^\n]*",  # comments
    re.S,
)
_NOT_BRACKET = re.compile(r"[^\[\](){}]+")
_DELTA = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def bracket_depth(code: str) -> int:
    """Deepest nesting of `()[]{}` in `code` (Python or JSON text), skipping string literals and comments.

    Unbalanced closing brackets lower the count (they are a syntax error for the parser anyway)."""
    if code.count("(") + code.count("[") + code.count("{") <= MAX_DEPTH:
        return 0 if not any(c in code for c in "([{") else 1  # cannot exceed the bound: skip the scan
    brackets = _NOT_BRACKET.sub("", _STRINGS_AND_COMMENTS.sub("", code))
    return max(itertools.accumulate(map(_DELTA.__getitem__, brackets)), default=0)


class _Decoder:
    def __init__(self):
        self.notes: dict[str, None] = {}
        self.computed = 0
        self._weights: dict[int, tuple[object, int]] = {}

    def note(self, code: str) -> None:
        self.notes.setdefault(code, None)

    # --- calls ------------------------------------------------------------------------------------------------
    def call(self, node: ast.Call, depth: int) -> dict:
        parts = []
        func = node.func
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Name):
            parts.append(func.id)
        else:
            self.note("function_name_truncated")
        if node.args:
            self.note("positional_args_dropped")
        args: dict = {}
        for kw in node.keywords:
            if kw.arg is None:
                self.note("kwargs_unpacked")
            args[kw.arg] = self.value(kw.value, depth + 1)
        return {".".join(reversed(parts)): args}

    # --- argument values (BFCL's resolve rules) ---------------------------------------------------------------------
    def value(self, node: ast.AST, depth: int):
        if depth > MAX_DEPTH:
            raise DecodeError("too_deep")
        if isinstance(node, ast.Constant):
            if node.value is Ellipsis:
                self.note("ellipsis_as_string")
                return "..."
            return self.check_int(node.value)
        if isinstance(node, ast.UnaryOp):
            operand = node.operand
            if not isinstance(operand, ast.Constant):
                raise DecodeError("unsupported_value")
            if not isinstance(node.op, ast.USub):
                self.note("unary_as_minus")
            try:
                return self.check_int(-operand.value)
            except TypeError:
                raise DecodeError("unsupported_value") from None
        if isinstance(node, ast.List):
            return [self.value(v, depth + 1) for v in node.elts]
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise DecodeError("unsupported_value")
                key = self.value(k, depth + 1)
                val = self.value(v, depth + 1)
                try:
                    out[key] = val
                except TypeError:
                    raise DecodeError("unsupported_value") from None
            return out
        if isinstance(node, ast.BinOp):
            self.note("binop_evaluated")
            return self.literal(node, depth)
        if isinstance(node, ast.Name):
            self.note("bare_name_as_string")
            return node.id
        if isinstance(node, ast.Call):
            if not node.keywords:
                self.note("call_as_string")
                return self.unparse(node)
            self.note("nested_call_as_dict")
            return self.call(node, depth)
        if isinstance(node, ast.Tuple):
            self.note("tuple_value")
            return tuple(self.value(v, depth + 1) for v in node.elts)
        if isinstance(node, ast.Subscript):
            self.note("subscript_as_string")
            return self.unparse(node.value) + "[" + self.unparse(node.slice) + "]"
        raise DecodeError("unsupported_value")  # lambda, attribute, set, comparison, f-string, comprehension...

    @staticmethod
    def unparse(node: ast.AST) -> str:
        try:
            return ast.unparse(node)
        except Exception:
            raise DecodeError("unsupported_value") from None

    @staticmethod
    def check_int(v):
        if isinstance(v, int) and abs(v).bit_length() > 14_000 and abs(v) >= _INT_LIMIT:
            raise DecodeError("literal_too_large")
        return v

    # --- bounded evaluation of literal arithmetic (what BFCL hands to eval) ---------------------------------------
    def literal(self, node: ast.AST, depth: int):
        if depth > MAX_DEPTH:
            raise DecodeError("too_deep")
        if isinstance(node, ast.Constant):
            return self.check_int(node.value)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            v = self.literal(node.operand, depth + 1)
            return self.checked(_apply(_UNARY[type(node.op)], v))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left = self.literal(node.left, depth + 1)
            right = self.literal(node.right, depth + 1)
            self.guard(node.op, left, right)
            return self.checked(_apply(_BINARY[type(node.op)], left, right))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise DecodeError("unsafe_expression")
            items = [self.literal(e, depth + 1) for e in node.elts]
            if isinstance(node, ast.List):
                return items
            if isinstance(node, ast.Tuple):
                return tuple(items)
            return _apply(set, items)
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise DecodeError("unsafe_expression")
            pairs = [(self.literal(k, depth + 1), self.literal(v, depth + 1)) for k, v in zip(node.keys, node.values)]
            return _apply(dict, pairs)
        raise DecodeError("unsafe_expression")  # names, calls, attributes...: BFCL would run real code

    def guard(self, op: ast.operator, a, b) -> None:
        """Refuse, before computing, operations whose result would exceed the bounds."""
        ints = _is_int(a) and _is_int(b)
        if isinstance(op, ast.Pow) and ints and b > 0 and abs(a) > 1:
            if (abs(a).bit_length() - 1) * b > MAX_INT_BITS:
                raise DecodeError("literal_too_large")
        elif isinstance(op, ast.LShift) and ints and b > 0 and a != 0:
            if a.bit_length() + b > MAX_INT_BITS:
                raise DecodeError("literal_too_large")
        elif isinstance(op, ast.Mult):
            if ints and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
                raise DecodeError("literal_too_large")
            for seq, n in ((a, b), (b, a)):
                if isinstance(seq, (str, bytes, list, tuple)) and _is_int(n) and n > 0:
                    size = len(seq) if isinstance(seq, (str, bytes)) else self.weight(seq) - 1
                    if size * n > MAX_SEQ_LEN:
                        raise DecodeError("literal_too_large")
        elif isinstance(op, ast.Mod) and isinstance(a, (str, bytes)):
            spec = a if isinstance(a, str) else a.decode("latin-1")
            for m in _PERCENT.finditer(spec):
                if "*" in m.group():
                    raise DecodeError("unsafe_expression")
                if any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", m.group())):
                    raise DecodeError("literal_too_large")

    def checked(self, v):
        self.check_int(v)
        w = self.weight(v)
        self.computed += w
        if w > MAX_SEQ_LEN or self.computed > MAX_COMPUTED:
            raise DecodeError("literal_too_large")
        return v

    def weight(self, v) -> int:
        """Size of a value: string length, or elements counted through nesting (shared parts counted once per use)."""
        if isinstance(v, (str, bytes)):
            return max(len(v), 1)
        if isinstance(v, int):
            return 1 + v.bit_length() // 64
        if not isinstance(v, (list, tuple, set, frozenset, dict)):
            return 1
        hit = self._weights.get(id(v))
        if hit is not None and hit[0] is v:
            return hit[1]
        items = [x for kv in v.items() for x in kv] if isinstance(v, dict) else v
        w = 1 + sum(self.weight(x) for x in items)
        self._weights[id(v)] = (v, w)  # keeps v alive so its id cannot be reused during this decode
        return w


_INT_LIMIT = 10**MAX_INT_DIGITS
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?")
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.not_}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
    ast.MatMult: operator.matmul,
}


def _is_int(v) -> bool:
    return isinstance(v, int)


def _apply(fn, *args):
    try:
        return fn(*args)
    except DecodeError:
        raise
    except Exception:
        raise DecodeError("eval_error") from None


def prompt_preprocess(text: str) -> tuple[str, list[str]]:
    """BFCL prompt-mode preprocessing shared by every language: strip backticks, newlines and spaces from both
    ends, then add `[` / `]` where missing. Returns the code and the notes (`code_fence_stripped`,
    `brackets_added`)."""
    notes: list[str] = []
    code = text.strip("`\n ")
    if code != text.strip("\n ") and "`" in text:
        notes.append("code_fence_stripped")
    if not code.startswith("["):
        code = "[" + code
        notes.append("brackets_added")
    if not code.endswith("]"):
        code = code + "]"
        if "brackets_added" not in notes:
            notes.append("brackets_added")
    return code, notes


def decode_prompt(text: str, fast: bool = True) -> Decoded:
    """Decode BFCL prompt-mode output (`[f(a=1)]`, `f(a=1)`, a bare ``` fence) the way bfcl-eval does.

    Args:
        text: the model output (the whole completion in prompt mode, the answer body in the funrl template).
        fast: try `funrl.calls.fastpath.fast_decode` first (same result, several times faster on plain call
            lists); `False` always runs the full `ast` decoder (for the differential tests).

    Returns:
        `Decoded(calls, reason, notes)`: `calls` is `[{name: {arg: value}}]` or None with a reason code.
    """
    # preprocessing and the fast paths first: no decoder state is needed unless the full decoder runs
    code, notes = prompt_preprocess(text)
    code = code.strip().strip("'")  # as bfcl-eval's ast_parse; a no-op once the brackets are there
    if len(code) > MAX_CODE_CHARS:
        return Decoded(None, "input_too_long", tuple(notes))
    if fast:  # before the depth scan: a fast decode nests at most MAX_FAST_DEPTH < MAX_DEPTH
        try:
            calls = fast_decode(code)
            rejected = calls is None and surely_syntax_error(code)  # prose: what ast.parse would say
        except Exception:  # pragma: no cover - defensive: the full decoder decides
            calls, rejected = None, False
        if calls is not None:
            if len(calls) > MAX_CALLS:
                return Decoded(None, "too_many_calls", tuple(notes))
            return Decoded(calls, None, tuple(notes))
        if rejected:
            return Decoded(None, "syntax_error", tuple(notes))
    dec = _Decoder()
    for note in notes:
        dec.note(note)
    try:
        if bracket_depth(code) > MAX_DEPTH:
            raise DecodeError("too_deep")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                body = ast.parse(code, mode="eval").body
        except Exception:
            raise DecodeError("syntax_error") from None
        if isinstance(body, ast.Call):
            elements = [body]
        elif isinstance(body, (ast.List, ast.Tuple, ast.Set)):
            elements = body.elts
        else:
            raise DecodeError("not_a_call")
        if len(elements) > MAX_CALLS:
            raise DecodeError("too_many_calls")
        calls = []
        for element in elements:
            if not isinstance(element, ast.Call):
                raise DecodeError("not_a_call")
            calls.append(dec.call(element, 1))
        return Decoded(calls, None, tuple(dec.notes))
    except DecodeError as e:
        return Decoded(None, e.reason, tuple(dec.notes))
    except RecursionError:
        return Decoded(None, "too_deep", tuple(dec.notes))
    except Exception:
        return Decoded(None, "syntax_error", tuple(dec.notes))
