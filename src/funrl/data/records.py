"""Records shared by the data pipeline: what a reader yields (`ReadItem`), why a record was dropped
(`Rejection`), and the small helpers every stage uses to build them.

A reader yields exactly one `ReadItem` per input record, in input order: either the canonical samples it
produced (a multi-turn dialog gives one per assistant call step) or a `Rejection` naming the file, line
and field. Nothing is silently dropped and no exception escapes for a bad record.

    from funrl.data.records import ReadItem, Rejection, RecordError, add_audit, ground_truth_from_calls

    try:
        ...  # format-specific work on one record
        raise RecordError("S1", "field 'tools' is not valid JSON", field="tools")
    except RecordError as err:
        item = ReadItem(origin, [], err.to_rejection(record_id, origin, raw=record))

Conventions (see the interface notes in docs/data.md):

* `origin`: `{"file": path, "line": n, "index": i}` for files (`line` is the 1-based JSONL line, or
  `None` for JSON lists / Parquet rows; `index` is the 0-based record index), or
  `{"dataset": name, "split": split, "row": i}` for `datasets` datasets.
* `Sample.meta["audit"]`: a list of `{"rule": "S4", "action": "repair" | "warn" | "split", "detail": ...}`,
  appended by every stage that changes or flags a sample (`add_audit`).
* `Sample.ground_truth` from concrete calls `[{"name": n, "arguments": {...}}]` is `[{n: {arg: [value]}}]`
  (`ground_truth_from_calls`); a no-call target is `[]` with category `"irrelevance"`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from typing import Any

STAGES = ("read", "validate", "judge", "dedup")
RAW_LIMIT = 2000  # characters of the input record kept in a rejection


def truncate_raw(raw: Any, limit: int = RAW_LIMIT) -> Any:
    """Keep a rejected input record for the report without letting one huge row bloat `rejected.jsonl`.

    Small JSON-serialisable values are kept as they are; anything whose JSON text is longer than `limit`
    characters (or that is not JSON-serialisable) becomes a string cut at `limit` with a `...[+N chars]`
    marker.
    """
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(raw)
    else:
        if len(text) <= limit:
            return raw
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[+{len(text) - limit} chars]"


def where(origin: dict[str, Any] | None) -> str:
    """A human-readable location for messages: `data.jsonl:12`, `data.json[3]`, `org/ds[train][5]`."""
    if not origin:
        return "<record>"
    if "file" in origin:
        if origin.get("line") is not None:
            return f"{origin['file']}:{origin['line']}"
        return f"{origin['file']}[{origin.get('index')}]"
    if "dataset" in origin:
        split = f"[{origin['split']}]" if origin.get("split") else ""
        return f"{origin['dataset']}{split}[{origin.get('row')}]"
    return json.dumps(origin, sort_keys=True)


@dataclass
class Rejection:
    """A record dropped by some stage, with stable reason codes.

    Args:
        id: the sample id, or for a record that never became a sample a derived id (`<source>:<line>`).
        origin: where the record came from (see module docstring).
        stage: one of `STAGES`: `"read"`, `"validate"`, `"judge"`, `"dedup"`.
        reasons: `[{"code": "S1", "detail": "data.jsonl:3: field 'tools': ..."}]`; codes are rule IDs of
            docs/data.md (or `READ_JSON` / `READ_FIELD` style codes for the reader's own checks).
        raw: the input record, truncated by `truncate_raw`.
    """

    id: str
    origin: dict[str, Any]
    stage: str
    reasons: list[dict[str, str]]
    raw: Any = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown rejection stage {self.stage!r}; valid stages: {', '.join(STAGES)}")
        for reason in self.reasons:
            if not isinstance(reason, dict) or "code" not in reason:
                raise ValueError(f"a rejection reason must be a dict with a 'code', got {reason!r}")
        self.raw = truncate_raw(self.raw)

    @property
    def codes(self) -> list[str]:
        return [r["code"] for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Rejection:
        return cls(
            id=str(row["id"]),
            origin=dict(row.get("origin") or {}),
            stage=row["stage"],
            reasons=list(row.get("reasons") or []),
            raw=row.get("raw"),
        )


@dataclass
class ReadItem:
    """What a reader yields for one input record.

    Args:
        origin: where the record came from.
        samples: canonical samples built from it (empty when rejected; several for a multi-turn dialog,
            one per assistant call step).
        rejection: set when the record could not be read; then `samples` is empty.
    """

    origin: dict[str, Any]
    samples: list[Any] = field(default_factory=list)  # list[funrl.schema.Sample]
    rejection: Rejection | None = None

    @property
    def ok(self) -> bool:
        return self.rejection is None


class SourceError(ValueError):
    """A whole input cannot be read (missing or unreadable file, unknown dataset, unknown format).

    Unlike `RecordError` this stops the run: the CLI prints the message and exits with a non-zero code.
    """


class RecordError(ValueError):
    """One bad record: raised inside a reader, turned into a `Rejection` by `read_source`.

    Args:
        code: a stable reason code (a rule ID such as `"S1"`, `"P3"`, `"M2"`, or `"READ_FIELD"`).
        detail: what is wrong, in words.
        field: the offending field (dotted path, e.g. `"conversations[3].value"`), named in the message.
    """

    def __init__(self, code: str, detail: str, field: str | None = None):
        self.code = code
        self.detail = detail
        self.field = field
        super().__init__(f"{code}: field {field!r}: {detail}" if field else f"{code}: {detail}")

    def reason(self, origin: dict[str, Any] | None = None) -> dict[str, str]:
        loc = where(origin) if origin else ""
        text = f"field {self.field!r}: {self.detail}" if self.field else self.detail
        return {"code": self.code, "detail": f"{loc}: {text}" if loc else text}

    def to_rejection(self, id: str, origin: dict[str, Any], raw: Any = None, stage: str = "read") -> Rejection:
        return Rejection(id=id, origin=origin, stage=stage, reasons=[self.reason(origin)], raw=raw)


def add_audit(meta: dict[str, Any], rule: str, action: str, detail: str) -> None:
    """Append `{"rule", "action", "detail"}` to `meta["audit"]` (created if missing)."""
    meta.setdefault("audit", []).append({"rule": rule, "action": action, "detail": detail})


def _allowed(value: Any) -> Any:
    """A concrete value in BFCL's possible-answer form: dicts (and lists of dicts) list allowed values per key."""
    if isinstance(value, dict):
        return {k: [v] for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [{k: [x] for k, x in v.items()} for v in value]
    return value


def ground_truth_from_calls(calls: list[dict[str, Any]]) -> list[dict[str, dict[str, list[Any]]]]:
    """`[{"name": n, "arguments": {a: v}}]` -> BFCL possible-answer form `[{n: {a: [v]}}]` (a dict value `{k: x}`
    becomes `{k: [x]}`, as in BFCL's answers, so the matcher reads it per key)."""
    return [{call["name"]: {k: [_allowed(v)] for k, v in call["arguments"].items()}} for call in calls]


def calls_from_ground_truth(ground_truth: list[dict[str, dict[str, list[Any]]]]) -> list[dict[str, Any]]:
    """Inverse of `ground_truth_from_calls`: one concrete call list (first allowed value of each parameter,
    per-key dict answers resolved), via the renderer's `ground_truth_to_calls`."""
    from funrl.calls.render import ground_truth_to_calls

    return [
        {"name": name, "arguments": args}
        for call in ground_truth_to_calls(ground_truth)
        for name, args in call.items()
    ]


def category_for(calls: list[dict[str, Any]], n_tools: int) -> str:
    """The prepared-data category of a target: `irrelevance` (no call), `simple` (1 call, 1 tool),
    `multiple` (1 call, several tools), `parallel` (several calls of one function), `parallel_multiple`."""
    if not calls:
        return "irrelevance"
    if len(calls) == 1:
        return "simple" if n_tools <= 1 else "multiple"
    return "parallel" if len({c["name"] for c in calls}) == 1 else "parallel_multiple"


def dataclass_from_dict(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build a config dataclass from a recipe mapping; an unknown key raises `ValueError` listing the valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {unknown}; valid options: {sorted(names)}")
    return cls(**values)
