"""The stages of `funrl prepare`, in the order they run; each takes the surviving samples and returns a `Stage`:
the samples it kept and the rejections it made. Nothing else is shared between them.

1. `read_inputs`: readers (`funrl.data.readers`), one item per input record or per dialog step;
2. `validate`: AST validation against the sample's own tools (`funrl.data.validate`);
3. `dedup`: BFCL decontamination, exact and near duplicates (`funrl.data.dedup`), before the judge so that
   duplicates cost no judge call;
4. `judge`: the optional LLM judge (`funrl.data.judge`), every correction validated again (stage 2);
5. `unique`: an exact duplicate made by a judge correction, or a repeated sample id, is dropped.

A stage never raises for one sample: a bug in a rule or a hostile value that escapes the readers' checks is a
rejection with the code `<STAGE>_INTERNAL` naming the sample. The report (`funrl.data.report.build_report`) is
built once, from the records read, the kept samples and the rejections.

    items = read_inputs(inputs)                  # Stage(kept=[Item], rejected=[Dropped]), records, validators
    checked = validate(items.kept, validators)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from funrl.data.records import Rejection
from funrl.data.validate import Validator
from funrl.schema import Sample


@dataclass
class Item:
    """A sample on its way through the stages: its position in the input (the output order) and whether a stage
    changed it (`repaired`)."""

    position: int
    sample: Sample
    repaired: bool = False


@dataclass
class Dropped:
    """A rejection with the source it counts against and its input position (`rejected.jsonl` is in input order)."""

    position: int
    source: str
    rejection: Rejection


@dataclass
class Stage:
    """What a stage returns: the items it kept, in order, and the rejections it made."""

    kept: list[Item] = field(default_factory=list)
    rejected: list[Dropped] = field(default_factory=list)


@dataclass
class Inputs(Stage):
    """`read_inputs`' result: a `Stage`, plus the input records per source and each source's validator."""

    records: Counter = field(default_factory=Counter)
    validators: dict[str, Validator] = field(default_factory=dict)


def reject(item: Item, stage: str, reasons: list[dict[str, str]], sample: Sample | None = None) -> Dropped:
    """A `Dropped` for `item` (or its changed `sample`) at `stage` with `reasons` (`[{"code", "detail"}]`)."""
    sample = sample or item.sample
    origin = dict(sample.meta.get("origin") or {})
    return Dropped(item.position, sample.source, Rejection(sample.id, origin, stage, reasons, sample.to_dict()))


def _internal(item: Item, stage: str, exc: BaseException) -> Dropped:
    detail = f"{item.sample.id}: {type(exc).__name__}: {exc}"[:500]
    return reject(item, stage, [{"code": f"{stage.upper()}_INTERNAL", "detail": detail}])


def _bar(items: Iterable[Any], desc: str, progress: bool, unit: str = "sample") -> Iterable[Any]:
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit=unit, disable=None if progress else True)


def read_inputs(inputs: list[tuple[Any, Validator]], progress: bool = True) -> Inputs:
    """Stage 1: read every input spec (`InputSpec`-like: `path`, `format`, `source`) with its reader options.

    Args:
        inputs: `(spec, validator)` pairs, in order; `spec` has `path`, `format`, `source` and the resolved
            reader `options` (`ReaderOptions`), `validator` validates that input's samples in stage 2.
    """
    from funrl.data.readers import default_source, read_source

    out = Inputs()
    position = 0
    for spec, validator in inputs:
        default_name = spec.source or default_source(spec.path)
        reader = read_source(spec.path, spec.format, source=spec.source, options=spec.options)
        for read in _bar(reader, f"read {spec.path}", progress, unit="rec"):
            if read.rejection is not None:
                out.records[default_name] += 1
                out.rejected.append(Dropped(position, default_name, read.rejection))
                position += 1
                continue
            out.records[read.samples[0].source if read.samples else default_name] += 1
            for sample in read.samples:
                out.validators.setdefault(sample.source, validator)
                out.kept.append(Item(position, sample))
                position += 1
    return out


def validate(items: list[Item], validators: dict[str, Validator], progress: bool = True) -> Stage:
    """Stage 2: AST validation; a repaired sample replaces the original."""
    out = Stage()
    for item in _bar(items, "validate", progress):
        try:
            result = validators[item.sample.source](item.sample)
        except Exception as exc:  # a validator bug must not hide the sample: it is reported as rejected
            out.rejected.append(_internal(item, "validate", exc))
            continue
        if result.status == "rejected":
            reasons = [{"code": f.code, "detail": f.detail} for f in result.findings if f.action == "reject"]
            out.rejected.append(reject(item, "validate", reasons))
        else:
            out.kept.append(Item(item.position, result.sample, item.repaired or result.status == "repaired"))
    return out


def dedup(items: list[Item], deduper: Any, progress: bool = True) -> Stage:
    """Stage 3: D3 decontamination, D1 exact and D2 near duplicates (`funrl.data.dedup.Deduper`)."""
    out = Stage()
    for item in _bar(items, "dedup", progress):
        try:
            finding = deduper.check(item.sample)
        except Exception as exc:
            out.rejected.append(_internal(item, "dedup", exc))
            continue
        if finding is None:
            out.kept.append(item)
        else:
            out.rejected.append(reject(item, "dedup", [{"code": finding.code, "detail": finding.detail}]))
    return out


def judge(items: list[Item], judge_config: Any, validators: dict[str, Validator]) -> Stage:
    """Stage 4: the LLM judge (`funrl.data.judge.run_judge`); corrections are validated again by stage 2's
    validator of the sample's source, and a correction that makes a sample the exact twin of one already kept
    is dropped (D1). Raises `JudgeError` for what concerns every sample (a dead endpoint, too many transport
    failures)."""
    from funrl.data.dedup import exact_key
    from funrl.data.judge import run_judge

    def check(sample: Sample) -> tuple[Sample | None, list[str]]:
        return validators[sample.source].judge_callback(sample)

    out = Stage()
    seen: set[str] = set()
    outcomes = run_judge([item.sample for item in items], judge_config, check)
    for item, outcome in zip(items, outcomes):
        if outcome.status == "rejected" or outcome.sample is None:
            details = [a.get("detail", "") for a in outcome.audit if a.get("action") == "reject"]
            reasons = [
                {"code": c.split(":")[0], "detail": c + (f": {details[-1]}" if details else "")}
                for c in outcome.reasons or ["J6"]
            ]
            out.rejected.append(reject(item, "judge", reasons))
            continue
        try:
            key = exact_key(outcome.sample)
        except Exception as exc:
            out.rejected.append(_internal(item, "judge", exc))
            continue
        if outcome.status == "repaired" and key in seen:
            detail = "exact duplicate after judge correction"
            out.rejected.append(reject(item, "dedup", [{"code": "D1", "detail": detail}], outcome.sample))
            continue
        seen.add(key)
        out.kept.append(Item(item.position, outcome.sample, item.repaired or outcome.status == "repaired"))
    return out


def unique(items: list[Item]) -> Stage:
    """Stage 5: one sample per id (ids name samples in every later step: training logs, evaluation, scores)."""
    out = Stage()
    ids: set[str] = set()
    for item in items:
        if item.sample.id in ids:
            detail = f"sample id {item.sample.id!r} already kept (ids must be unique)"
            out.rejected.append(reject(item, "dedup", [{"code": "D1", "detail": detail}]))
            continue
        ids.add(item.sample.id)
        out.kept.append(item)
    return out
