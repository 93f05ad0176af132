"""Readers: every supported input format -> canonical `funrl.schema.Sample`s, one `ReadItem` per input record.

    from funrl.data.readers import READERS, ReaderOptions, read_source

    for item in read_source("xlam.jsonl", "xlam"):          # JSONL / JSON list / Parquet file
        if item.rejection: ...                              # names file, line and field; never an exception
        else: samples.extend(item.samples)                  # a dialog gives one sample per assistant call step
    read_source("saved_dataset_dir", "openai")              # `datasets.save_to_disk` folder
    read_source("org/name", "sharegpt")                     # any `datasets.load_dataset` name (all splits)
    read_source(Dataset.from_list(rows), "hermes", source="mine")

Formats (`READERS`): xlam, toolace, glaive, hermes, openai, sharegpt, bfcl, canonical; see docs/data.md
("Input formats") for what each reads and repairs. An unknown format is a `ValueError` listing the valid
ones; an input that cannot be read at all (missing file, bad JSON list, unknown dataset) a `SourceError`.

Each format module has `read_record(record, ctx) -> list[Sample]` (raising `RecordError` for a bad record)
or, for BFCL, `read_items(spec, source, options) -> Iterator[ReadItem]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from funrl.data.readers import bfcl, canonical, glaive, hermes, openai_chat, sharegpt, toolace, xlam
from funrl.data.readers.common import ReadContext, ReaderOptions, record_id
from funrl.data.records import ReadItem, RecordError, Rejection, SourceError
from funrl.jsonl import LineError, load_file, problem, read_lines

READERS = {
    "xlam": xlam,
    "toolace": toolace,
    "glaive": glaive,
    "hermes": hermes,
    "openai": openai_chat,
    "sharegpt": sharegpt,
    "bfcl": bfcl,
    "canonical": canonical,
}
FORMATS = tuple(READERS)

__all__ = ["FORMATS", "READERS", "ReadContext", "ReaderOptions", "SourceError", "iter_records", "read_source"]


def get_reader(fmt: str):
    if fmt not in READERS:
        raise ValueError(f"unknown input format {fmt!r}; valid formats: {', '.join(READERS)}")
    return READERS[fmt]


# ---------------------------------------------------------------------------------------------------
# Input records: (origin, record | None, from_arrow, error reason | None)

Record = tuple[dict[str, Any], Any, bool, "dict[str, str] | None"]


def _jsonl(path: Path) -> Iterator[Record]:
    index = 0
    for line in read_lines(path):
        origin = {"file": str(path), "line": line.lineno, "index": index}
        index += 1
        if line.error is not None:
            yield origin, line.text, False, {"code": line.error.code, "detail": line.error.message}
        else:
            yield origin, line.value, False, None


def _json_or_jsonl(path: Path) -> Iterator[Record]:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"["):
        yield from _jsonl(path)  # BFCL and many exports write JSON Lines under a .json name
        return
    try:
        rows = load_file(path)
    except LineError as exc:
        raise SourceError(
            f"invalid JSON list: {exc.message} (a JSON list is read whole: fix it, or write JSON Lines)"
        ) from None
    if not isinstance(rows, list):
        raise SourceError(f"{path}: expected a JSON list of records, got {type(rows).__name__}")
    for index, row in enumerate(rows):
        yield {"file": str(path), "line": None, "index": index}, row, False, None


def _parquet(path: Path) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise SourceError(f"{path}: not a readable Parquet file ({exc})") from None
    index = 0
    for batch in reader.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield {"file": str(path), "line": None, "index": index}, row, True, None
            index += 1


def _dataset(ds: Any, name: str) -> Iterator[Record]:
    from datasets import DatasetDict

    splits = list(ds.items()) if isinstance(ds, DatasetDict) else [(None, ds)]
    for split, part in splits:
        for row_index, row in enumerate(part):
            origin = {"dataset": name, "row": row_index}
            if split is not None:
                origin["split"] = split
            yield origin, row, True, None


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any(
        (path / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json")
    )


def looks_local(spec: str) -> bool:
    """A name that can only mean a local file or folder (not a Hub id `org/name` or `name`)."""
    return (
        spec.startswith((".", "/", "~"))
        or "\\" in spec
        or spec.count("/") > 1
        or Path(spec).suffix.lower() in (".jsonl", ".json", ".parquet", ".ndjson", ".csv", ".txt")
    )


def _load_dataset(spec: str) -> Any:
    import datasets

    path = Path(spec)
    try:
        if _is_saved_dataset(path):
            return datasets.load_from_disk(str(path))
        return datasets.load_dataset(spec)
    except Exception as exc:  # datasets raises many error types (FileNotFoundError, DatasetNotFoundError, ...)
        raise SourceError(f"cannot read input {spec!r}: not a file, nor a loadable dataset ({exc})") from None


def iter_records(spec: Any) -> Iterator[Record]:
    """Raw records of an input: a JSONL / JSON-list / Parquet file, a `datasets` folder or name, or a
    `datasets.Dataset` / `DatasetDict` object. Raises `SourceError` when the input cannot be read."""
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        if path.is_file():
            suffix = path.suffix.lower()
            try:
                if suffix == ".parquet":
                    yield from _parquet(path)
                elif suffix in (".jsonl", ".ndjson"):
                    yield from _jsonl(path)
                elif suffix == ".json":
                    yield from _json_or_jsonl(path)
                else:
                    raise SourceError(f"{path}: unknown file type {suffix!r} (use .jsonl, .json or .parquet)")
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
            return
        if path.is_dir() and not _is_saved_dataset(path):
            raise SourceError(f"input {path} is a folder, not a data file nor a saved dataset (`save_to_disk`)")
        if not path.exists() and looks_local(str(spec)):
            raise SourceError(f"input file {path} not found")
        yield from _dataset(_load_dataset(str(spec)), str(spec))
        return
    if hasattr(spec, "column_names") or type(spec).__name__ in ("Dataset", "DatasetDict"):
        yield from _dataset(spec, getattr(getattr(spec, "info", None), "dataset_name", None) or "dataset")
        return
    raise SourceError(f"cannot read input of type {type(spec).__name__}: pass a path, a dataset name or a Dataset")


def default_source(spec: Any) -> str:
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        return path.stem if path.suffix else path.name
    name = getattr(getattr(spec, "info", None), "dataset_name", None)
    return name or "dataset"


def read_source(
    spec: Any, fmt: str, *, source: str | None = None, options: ReaderOptions | None = None
) -> Iterator[ReadItem]:
    """Read one input in format `fmt`: one `ReadItem` per input record, in input order.

    Args:
        spec: a file path (JSONL / JSON list / Parquet), a `datasets` folder or hub name, or a `Dataset`.
        fmt: one of `FORMATS`.
        source: the name recorded in `Sample.source` and sample ids (default: the file stem / dataset name).
        options: `ReaderOptions` (no-call steps, xLAM default policy, BFCL categories).

    Raises:
        ValueError: unknown format. `SourceError`: the input cannot be read at all.
    """
    module = get_reader(fmt)
    options = options or ReaderOptions()
    if hasattr(module, "read_items"):
        yield from module.read_items(spec, source, options)
        return
    source = source or default_source(spec)
    for origin, record, from_arrow, error in iter_records(spec):
        index = origin.get("index", origin.get("row"))
        # `#` keeps positional ids apart from ids built from a record's own `id` field (`{source}-{id}`)
        fallback_id = f"{source}-{origin['split']}-#{index}" if origin.get("split") else f"{source}-#{index}"
        if error is not None:
            yield ReadItem(origin, [], Rejection(fallback_id, origin, "read", [error], record))
            continue
        ctx = ReadContext(source=source, fmt=fmt, origin=origin, options=options, from_arrow=from_arrow)
        found = problem(record) if (from_arrow or origin.get("line") is None) else None  # JSONL is checked on read
        if found is not None:
            reason = {"code": found[0], "detail": f"{ctx.where}: {found[1]}"}
            yield ReadItem(origin, [], Rejection(fallback_id, origin, "read", [reason], record))
            continue
        try:
            if not isinstance(record, dict):
                raise RecordError("READ_FIELD", f"expected a JSON object, got {type(record).__name__}")
            ctx.record_id = record_id(record, ctx)
            samples = module.read_record(record, ctx)
        except RecordError as err:
            rid = f"{source}-{ctx.record_id}" if ctx.record_id else fallback_id
            yield ReadItem(origin, [], err.to_rejection(rid, origin, raw=record))
            continue
        except Exception as exc:  # a reader bug must not hide the record either: report it as a rejection
            reason = {"code": "READ_INTERNAL", "detail": f"{ctx.where}: {type(exc).__name__}: {exc}"}
            yield ReadItem(origin, [], Rejection(fallback_id, origin, "read", [reason], record))
            continue
        yield ReadItem(origin, samples)
