"""Reader for funrl's own canonical sample JSONL (what `funrl.schema.write_samples` and `funrl prepare` write).

    {"id": "...", "messages": [...], "tools": [...], "ground_truth": [...], "category": "...", "source": "...",
     "meta": {...}}

Rows from Arrow/Parquet may carry `messages` / `tools` / `ground_truth` / `meta` as JSON strings
(`Sample.to_row`); both shapes are read. Tools are normalised again (idempotent). The sample's `meta` is kept
as it is (its `origin` still names the first source); missing `origin`, `source_format`, `audit` and
`target_kind` keys are filled in, so reading back what a reader wrote gives the same samples.
"""

from __future__ import annotations

from typing import Any

from funrl.data.readers.common import ReadContext
from funrl.data.records import RecordError
from funrl.schema import Sample, SchemaError, normalize_tools


def read_record(record: dict[str, Any], ctx: ReadContext) -> list[Sample]:
    try:
        sample = Sample.from_dict(record, where=ctx.where)
    except SchemaError as exc:
        text = str(exc)
        field = text.split("field '", 1)[1].split("'", 1)[0] if "field '" in text else None
        detail = "missing" if "missing field" in text else text.split(": ", 1)[-1]
        raise RecordError("READ_FIELD", detail, field=field) from None
    try:
        sample.tools = normalize_tools(sample.tools)
    except (AttributeError, TypeError) as exc:
        raise RecordError("S4", f"tool schema cannot be normalised ({exc})", field="tools") from None
    if not sample.source:
        sample.source = ctx.source
    meta = sample.meta
    meta.setdefault("origin", dict(ctx.origin))
    meta.setdefault("source_format", "canonical")
    meta.setdefault("target_kind", "call" if sample.ground_truth else "no_call")
    meta.setdefault("audit", [])
    return [sample]
