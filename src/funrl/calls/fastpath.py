"""A fast decoder for the common shape of a call list, with the full `ast` decoder as the fallback.

Almost every model output (and every rendered ground truth) is a list of calls with keyword arguments whose
values are plain literals:

    [get_weather(city='Paris', days=3), math.hypot(x=-1.5, y=2e3, opts={'exact': True, 'tags': ['a', None]})]

`fast_decode(code)` reads exactly that restricted grammar with a small tokenizer (one regular expression)
and a recursive-descent reader, and returns the calls `[{name: {arg: value}}]` that `ast.parse` plus
BFCL's resolve rules (`funrl.calls.decode`) would produce. On anything outside the grammar it returns
`None` and the caller runs the full decoder, so the fast path only ever decides inputs whose meaning is
unambiguous:

    code     := "[" [call ("," call)* [","]] "]"
    call     := NAME ("." NAME)* "(" [kwarg ("," kwarg)* [","]] ")"
    kwarg    := NAME "=" value
    value    := STRING | NUMBER | "-" NUMBER | True | False | None | list | dict
    list     := "[" [value ("," value)* [","]] "]"
    dict     := "{" [value ":" value ("," value ":" value)* [","]] "}"     (keys: strings, numbers, bools, None)

with NAME an ASCII identifier that is not a Python keyword (non-ASCII identifiers are NFKC-normalised by
Python: left to `ast`), STRING a one-line `'...'` / `"..."` literal without backslashes or prefixes, NUMBER
a decimal integer without leading zeros (at most `MAX_FAST_DIGITS` digits) or a decimal float, and only
spaces, tabs and newlines between tokens. Everything else (positional arguments, bare names, tuples,
arithmetic, escapes, comments, sets, deeper than `MAX_FAST_DEPTH`, ...) falls back; none of the notes of
`ParseResult.notes` can arise inside this grammar. `tests/test_calls_fastpath.py` proves the two paths
equal on the golden corpus, the hostile corpus and hypothesis-generated call lists.
"""

from __future__ import annotations

import keyword
import re

MAX_FAST_DEPTH = 50  # nesting of values beyond which the full decoder (and its bounds) decide
MAX_FAST_DIGITS = 100  # longer numbers go to the full decoder (int-size bounds, float corner cases)

# One token per match, after optional whitespace: a string, a number, a name, or any single other character.
# A character the grammar does not know (a backslash, a quote that opens an unterminated or multi-line
# string, `#`, `+`, `*`, `@`, a non-ASCII letter outside strings...) comes out as a one-character token that
# no rule accepts, which sends the input to the full decoder.
_TOKEN = re.compile(
    r"""[ \t\n]*([\[\](){},:=-]"""  # punctuation (most tokens); `.` is not here, it may start a number
    r"""|'[^'\\\n\r\x00]*'|"[^"\\\n\r\x00]*\""""  # one-line strings without escapes
    r"""|[A-Za-z_][A-Za-z0-9_]*"""  # ASCII names
    r"""|(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+(?:[eE][+-]?[0-9]+)?"""  # numbers
    r"""|.)""",  # the alternatives start with disjoint characters, so their order does not change the tokens
    re.S,
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_NAMES = frozenset(keyword.kwlist) | {"__debug__"}
_KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
MAX_REJECT_BRACKETS = 200  # = funrl.calls.decode.MAX_DEPTH: below it the depth scan cannot fire
MAX_REJECT_CHARS = 1_000  # longer texts are left to `ast` (which may report too_deep rather than syntax_error)
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUMBER_START = frozenset("0123456789")
_CONSTANTS = {"True": True, "False": False, "None": None}
_FLOAT_CHARS = frozenset(".eE")


class _Fallback(Exception):
    """Internal: the input leaves the fast grammar."""


def _number(token: str):
    if len(token) > MAX_FAST_DIGITS:
        raise _Fallback
    if _FLOAT_CHARS.isdisjoint(token):
        if token[0] == "0" and len(token) > 1:  # `007` is a syntax error, `00` is 0: let `ast` say which
            raise _Fallback
        return int(token)
    return float(token)


def _name(token: str) -> str:
    if token[0] not in _NAME_START or token in _NOT_NAMES:
        raise _Fallback
    return token


# The readers below get `nxt` (the token iterator's `__next__`; running out raises StopIteration, which
# `fast_decode` turns into a fallback) and the token already read, and consume exactly their construct.


def _call(nxt, token: str) -> dict:
    name = _name(token)
    token = nxt()
    while token == ".":
        name = name + "." + _name(nxt())
        token = nxt()
    if token != "(":
        raise _Fallback
    args: dict = {}
    token = nxt()
    while token != ")":
        key = _name(token)
        if nxt() != "=":
            raise _Fallback
        args[key] = _value(nxt, nxt(), 1)
        token = nxt()
        if token == ",":
            token = nxt()
        elif token != ")":
            raise _Fallback
    return {name: args}


def _value(nxt, token: str, depth: int):
    first = token[0]
    if first == "'" or first == '"':
        if len(token) < 2:
            raise _Fallback
        return token[1:-1]
    if first in _NUMBER_START or (first == "." and len(token) > 1):
        return _number(token)
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    if first == "-":
        token = nxt()
        first = token[0]
        if first in _NUMBER_START or (first == "." and len(token) > 1):
            return -_number(token)
        raise _Fallback
    if depth >= MAX_FAST_DEPTH:
        raise _Fallback
    if first == "[":
        items = []
        token = nxt()
        while token != "]":
            items.append(_value(nxt, token, depth + 1))
            token = nxt()
            if token == ",":
                token = nxt()
            elif token != "]":
                raise _Fallback
        return items
    if first == "{":
        out = {}
        token = nxt()
        while token != "}":
            key = _value(nxt, token, depth + 1)
            if type(key) is list or type(key) is dict:  # unhashable: the full decoder reports it
                raise _Fallback
            if nxt() != ":":
                raise _Fallback
            out[key] = _value(nxt, nxt(), depth + 1)
            token = nxt()
            if token == ",":
                token = nxt()
            elif token != "}":
                raise _Fallback
        return out
    raise _Fallback


def fast_decode(code: str) -> list[dict] | None:
    """Decode `code` (already stripped and bracketed, as `decode_prompt` prepares it) in the fast grammar.

    Args:
        code (`str`): text starting with `[` and ending with `]`.

    Returns:
        `list[dict]` or `None`: the calls, exactly as the full decoder returns them, or `None` when the text
        is outside the fast grammar (the caller then runs the full decoder).
    """
    if not code.isascii() and _SURROGATE.search(code):  # not encodable: `ast.parse` fails, let it say so
        return None
    tokens = iter(_TOKEN.findall(code))
    nxt = tokens.__next__
    try:
        if nxt() != "[":
            return None
        calls: list[dict] = []
        token = nxt()
        while token != "]":
            calls.append(_call(nxt, token))
            token = nxt()
            if token == ",":
                token = nxt()
            elif token != "]":
                return None
    except (_Fallback, StopIteration):
        return None
    if next(tokens, None) is not None:  # text after the closing bracket
        return None
    return calls


def surely_syntax_error(code: str) -> bool:
    """True when `code` (prepared as for `fast_decode`) is certainly not valid Python: prose such as
    `[Here you go: [f(a=1)]]` or `[None of the functions apply.]`, which the full decoder reports as
    `syntax_error` after a costly `ast.parse`.

    The proof is two adjacent identifiers that are not (soft) keywords (`you go`, `of the`), which no Python
    expression contains, found by the fast tokenizer in a text it reads exactly as Python does: no backslash,
    comment or triple quote, every quote inside a one-line string, at most `MAX_REJECT_CHARS` characters
    (so `ast.parse` cannot fail with a recursion error instead) and at most `MAX_DEPTH` brackets (so the depth
    bound cannot be the reason). False means "not known", never "valid".
    """
    if len(code) > MAX_REJECT_CHARS or "\\" in code or "#" in code or "'''" in code or '"""' in code:
        return False
    if code.count("(") + code.count("[") + code.count("{") > MAX_REJECT_BRACKETS:
        return False
    if not code.isascii() and _SURROGATE.search(code):
        return False
    previous_is_name = False
    for token in _TOKEN.findall(code):
        first = token[0]
        if first == "'" or first == '"':
            if len(token) < 2:  # a quote that opens no one-line string: the tokenizer may misread what follows
                return False
            previous_is_name = False
        elif first in _NAME_START and token not in _KEYWORDS:
            if previous_is_name:
                return True
            previous_is_name = True
        else:
            previous_is_name = False
    return False
