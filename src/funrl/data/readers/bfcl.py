"""Reader for BFCL single-turn data: question files joined by `id` with their possible-answer files.

    read_source("../shared/bfcl_data", "bfcl")                                  # categories from options
    read_source("../shared/bfcl_data/BFCL_v4_simple_python.json", "bfcl")      # one category

The input is a BFCL data folder (`BFCL_v4_<category>.json` + `possible_answer/`, see `funrl.bfcl`), read for
`ReaderOptions.bfcl_categories` (default: all single-turn categories), or one question file whose answers sit
in `possible_answer/` beside it. Each line becomes one sample by `funrl.bfcl.entry_sample`, the builder `funrl.bfcl.load_category` uses too
(the BFCL id, the category, flattened turns, tools normalised for the category's language, the possible answer
as `ground_truth`), plus `meta.origin`, `source_format`, `target_kind` and an empty audit. A bad line or a
question without an answer is a rejection naming the file and line; a missing file is a `SourceError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from funrl.bfcl import NO_ANSWER_CATEGORIES, SINGLE_TURN, entry_sample, expand_categories, find_data_dir
from funrl.data.readers.common import ReaderOptions
from funrl.data.records import ReadItem, RecordError, Rejection, SourceError
from funrl.jsonl import read_lines
from funrl.schema import Sample

_FILE = re.compile(r"^BFCL_(v\d+)_(.+)\.json$")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    yield lineno, line
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read BFCL file {path}: {exc}") from None


def _answers(path: Path) -> dict[str, list]:
    if not path.is_file():
        raise SourceError(f"{path} not found: BFCL questions need their possible answers")
    out = {}
    for lineno, line in _lines(path):
        try:
            row = json.loads(line)
            out[str(row["id"])] = row["ground_truth"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SourceError(f"{path}:{lineno}: bad possible-answer line ({exc})") from None
    return out


def _sample(row: dict[str, Any], category: str, answers: dict[str, list], source: str, origin: dict) -> Sample:
    for name in ("id", "question", "function"):
        if name not in row or row[name] is None:
            raise RecordError("READ_FIELD", "missing", field=name)
    if not isinstance(row["question"], list) or not all(isinstance(t, list) for t in row["question"]):
        raise RecordError("READ_FIELD", "expected a list of turns (lists of messages)", field="question")
    if not isinstance(row["function"], list):
        raise RecordError("READ_FIELD", "expected a list of functions", field="function")
    entry_id = str(row["id"])
    if category not in NO_ANSWER_CATEGORIES and entry_id not in answers:
        raise RecordError("READ_FIELD", f"no possible answer for id {entry_id!r}", field="ground_truth")
    no_call = category in ("irrelevance", "live_irrelevance")
    meta = {"origin": origin, "source_format": "bfcl", "target_kind": "no_call" if no_call else "call", "audit": []}
    try:
        return entry_sample(row, category, answers.get(entry_id, []), source, meta)
    except (AttributeError, TypeError) as exc:
        raise RecordError("S4", f"tool schema cannot be normalised ({exc})", field="function") from None


def read_file(qpath: Path, category: str, apath: Path, source: str) -> Iterator[ReadItem]:
    answers = {} if category in NO_ANSWER_CATEGORIES else _answers(apath)
    try:
        lines = list(read_lines(qpath))
    except OSError as exc:
        raise SourceError(f"cannot read BFCL file {qpath}: {exc}") from None
    for index, line in enumerate(lines):
        lineno, row = line.lineno, line.value
        origin = {"file": str(qpath), "line": lineno, "index": index}
        if line.error is not None:
            reason = {"code": line.error.code, "detail": line.error.message}
            yield ReadItem(origin, [], Rejection(f"{source}-{category}-{index}", origin, "read", [reason], line.text))
            continue
        try:
            if not isinstance(row, dict):
                raise RecordError("READ_FIELD", f"expected a JSON object, got {type(row).__name__}")
            yield ReadItem(origin, [_sample(row, category, answers, source, origin)])
        except RecordError as err:
            rid = str(row.get("id")) if isinstance(row, dict) and row.get("id") else f"{source}-{category}-{index}"
            yield ReadItem(origin, [], err.to_rejection(rid, origin, raw=row))


def read_items(spec: Any, source: str | None, options: ReaderOptions) -> Iterator[ReadItem]:
    if not isinstance(spec, (str, Path)):
        raise SourceError("the bfcl format reads a BFCL data folder or one BFCL_v4_<category>.json file")
    path = Path(spec)
    source = source or "bfcl"
    if path.is_file():
        match = _FILE.match(path.name)
        if match is None or match.group(2) not in SINGLE_TURN:
            raise SourceError(f"{path}: not a BFCL single-turn question file (BFCL_v4_<category>.json)")
        yield from read_file(path, match.group(2), path.parent / "possible_answer" / path.name, source)
        return
    if not path.is_dir():
        raise SourceError(f"BFCL input {path} is neither a data folder nor a question file")
    try:
        root = find_data_dir(path)
        categories = expand_categories(options.bfcl_categories)
    except (FileNotFoundError, ValueError) as exc:
        raise SourceError(str(exc)) from None
    for category in categories:
        qpath = root / f"BFCL_v4_{category}.json"
        if not qpath.is_file():
            raise SourceError(f"{qpath} not found (BFCL data folder {root})")
        yield from read_file(qpath, category, root / "possible_answer" / qpath.name, source)
