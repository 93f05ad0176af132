"""Strict JSON Lines, read and written the same way by every funrl command (prepare, score, eval).

Reading (`read_lines`) never raises for one bad line: every non-blank line comes back as a `Line` holding either
the decoded value or a `LineError` with a stable code and the file:line, so a caller turns it into a rejection
(prepare) or a per-entry verdict (score, eval) and goes on. Only a whole-file problem (missing, a folder,
unreadable) raises `OSError`.

    for line in read_lines("data.jsonl"):
        if line.error: reject(line.error.code, line.error.message)     # "data.jsonl:12: invalid JSON (...)"
        else: use(line.value)

What a line may not be (codes):

* `READ_JSON`: not valid JSON (a truncated line, a bare `\\r` inside a string, garbage).
* `READ_ENCODING`: bytes that are not UTF-8; the line is named, the other lines are read as usual.
* `READ_NONFINITE`: `NaN`, `Infinity` or a number too large for a float (`1e999`): not JSON (RFC 8259), and
  a training file holding one is unreadable by strict parsers.
* `READ_SURROGATE`: a lone UTF-16 surrogate escape (`"\\ud800"`): legal JSON text, but no Unicode string; it
  cannot be written as UTF-8.
* `READ_DEPTH`: nested deeper than `MAX_DEPTH` (a `[` x 100000 line would exhaust Python's recursion).
* `READ_SIZE`: longer than `max_line_bytes`.

Lines are split on `\\n` only (a bare `\\r` inside a line does not start a new record; `\\r\\n` endings are
fine) and a UTF-8 byte-order mark at the start of the file is skipped.

Writing (`dumps`) is strict too: `allow_nan=False`, and a string holding a lone surrogate is written as a
`\\uXXXX` escape rather than breaking the file's UTF-8.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_DEPTH = 100  # nesting of objects and arrays; real tool schemas and calls stay far below
MAX_LINE_BYTES = 64 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
LINE_CODES = ("READ_JSON", "READ_ENCODING", "READ_NONFINITE", "READ_SURROGATE", "READ_DEPTH", "READ_SIZE")


class LineError(ValueError):
    """One unreadable line: `code` (one of `LINE_CODES`), `message` naming file and line."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class Line:
    """A non-blank line: its 1-based number, the decoded value or the error, and the text (for the report)."""

    lineno: int
    value: Any = None
    error: LineError | None = None
    text: str = ""


class _NonFinite(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NonFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


STRICT = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def problem(value: Any, depth: int = 0) -> tuple[str, str] | None:
    """`(code, detail)` when a decoded value holds what funrl refuses (a lone surrogate, a non-finite float from a
    Parquet or `datasets` row, nesting deeper than `MAX_DEPTH`), else None. Iterative: no recursion limit."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                return "READ_SURROGATE", f"lone surrogate in string {item[:40]!r}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "READ_NONFINITE", f"non-finite number {item!r}"
        elif isinstance(item, (dict, list, tuple)):
            if level >= MAX_DEPTH:
                return "READ_DEPTH", f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                for key, sub in item.items():
                    if isinstance(key, str) and _has_surrogate(key):
                        return "READ_SURROGATE", f"lone surrogate in key {key[:40]!r}"
                    stack.append((sub, level + 1))
            else:
                stack.extend((sub, level + 1) for sub in item)
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def loads(text: str, where: str = "<text>") -> Any:
    """Decode one JSON text strictly; raises `LineError` (see the module docstring for the codes)."""
    try:
        value = STRICT.decode(text)
    except _NonFinite as exc:
        raise LineError("READ_NONFINITE", f"{where}: non-finite number {exc.args[0]} (not JSON)") from None
    except json.JSONDecodeError as exc:
        raise LineError("READ_JSON", f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise LineError("READ_DEPTH", f"{where}: JSON nested too deeply") from None
    # only an escape can make a lone surrogate out of valid UTF-8; only many brackets can nest deeply
    if "\\u" in text or text.count("[") + text.count("{") > MAX_DEPTH:
        found = problem(value)
        if found is not None:
            raise LineError(found[0], f"{where}: {found[1]}")
    return value


def read_lines(path: str | Path, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[Line]:
    """Every non-blank line of a JSON Lines file, decoded strictly, in order (see the module docstring).

    Raises:
        `OSError`: the file is missing, a folder, or unreadable (`IsADirectoryError`, `PermissionError`, ...).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a JSON Lines file")
    with path.open("rb") as handle:
        lineno = 0
        while True:
            raw = handle.readline(max_line_bytes + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                size = len(raw)
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = handle.readline(max_line_bytes)
                    size += len(raw)
                message = f"{path}:{lineno}: line of {size} bytes, longer than the limit of {max_line_bytes}"
                yield Line(lineno, error=LineError("READ_SIZE", message))
                continue
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = f"{where}: not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})"
                yield Line(lineno, error=LineError("READ_ENCODING", message), text=raw.decode("utf-8", "replace"))
                continue
            text = text.rstrip("\n")
            try:
                yield Line(lineno, loads(text, where), text=text)
            except LineError as err:
                yield Line(lineno, error=err, text=text)


def load_file(path: str | Path) -> Any:
    """A whole JSON document (e.g. a JSON list of records), decoded strictly; `LineError` names the file."""
    data = Path(path).read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LineError("READ_ENCODING", f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x})") from None
    try:
        return STRICT.decode(text)
    except _NonFinite as exc:
        raise LineError("READ_NONFINITE", f"{path}: non-finite number {exc.args[0]} (not JSON)") from None
    except json.JSONDecodeError as exc:
        raise LineError("READ_JSON", f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise LineError("READ_DEPTH", f"{path}: JSON nested too deeply") from None


def dumps(value: Any, **kwargs: Any) -> str:
    """Strict JSON text (`allow_nan=False`, `ensure_ascii=False`); lone surrogates escaped as `\\uXXXX`.

    Raises `ValueError` for a non-finite float: nothing funrl writes may hold one."""
    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(value, allow_nan=False, **kwargs)
    if not kwargs["ensure_ascii"] and _has_surrogate(text):
        text = json.dumps(value, allow_nan=False, **{**kwargs, "ensure_ascii": True})
    return text


def dump_line(value: Any, **kwargs: Any) -> str:
    """`dumps(value) + "\\n"`: one JSON Lines record."""
    return dumps(value, **kwargs) + "\n"
