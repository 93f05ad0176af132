"""`funrl prepare`: turn function-calling data into a verified, deduplicated, split training set.

Pipeline, one pass over every input in order: readers (`funrl.data.readers`) -> AST validation
(`funrl.data.validate`) -> dedup and BFCL decontamination (`funrl.data.dedup`) -> optional LLM judge
(`funrl.data.judge`, every correction re-validated) -> a post-judge exact dedup -> deterministic split -> write.
Dedup runs before the judge so duplicates and contaminated samples cost no judge calls (docs/judge.md, "Costs").

Outputs in `--output DIR`:

* `train.jsonl`, `validation.jsonl`: one sample per line. `layout: row` (default) writes `Sample.to_row()`:
  `messages`, `tools`, `ground_truth` and `meta` as JSON strings, so `datasets.load_dataset("json", ...)` never
  has to unify heterogeneous tool schemas into one Arrow struct (rule D5); `layout: nested` writes
  `Sample.to_dict()`. Both read back with `funrl.schema.read_samples`.
* `rejected.jsonl`: every dropped record or sample (`Rejection`: id, origin, stage, reasons with codes, raw).
* `report.json`: the per-source funnel, reason-code histograms and call/no-call mix (`funrl.data.report`),
  also printed as a table. For every source, input = kept + rejected.

Every file is written to a temporary name and renamed, so a run killed at any point (even `kill -9`) leaves
either the previous outputs or none; re-running the same command rebuilds the same bytes. Judge answers are
cached on disk (`judge_cache.jsonl` in the output folder by default), so a resumed run repeats no judge call.
Samples of one input record (multi-turn steps) always fall in the same split.

    funrl prepare --input data/xlam.jsonl --format xlam --output out/xlam
    funrl prepare --config recipes/data/prepare_xlam.yaml --judge http://127.0.0.1:8000/v1 --judge-model Qwen/QwQ-32B
    funrl prepare --input a.jsonl --format canonical --output out --no-decontaminate --val-ratio 0.1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from funrl.data.dedup import BFCLDataNotFound, DedupConfig, Deduper
from funrl.data.records import Rejection, SourceError, dataclass_from_dict
from funrl.data.report import PrepareReport, print_report
from funrl.data.validate import Finding, ValidationConfig, ValidationResult, Validator
from funrl.schema import Sample

LAYOUTS = ("row", "nested")


@dataclass
class InputSpec:
    """One input: a file or dataset, its format, the source name, and per-source overrides."""

    path: str
    format: str
    source: str | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    reader: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrepareConfig:
    """Everything a `funrl prepare` run depends on (a recipe YAML maps onto it; command-line flags override it).

    Args:
        inputs (`list[InputSpec]`): the inputs, in order.
        output (`str`): output folder.
        val_ratio (`float`, *optional*, defaults to `0.05`): share of input records that go to `validation.jsonl`.
        seed (`int`, *optional*, defaults to `0`): seed of the split hash.
        layout (`str`, *optional*, defaults to `"row"`): `"row"` (JSON-string columns) or `"nested"`.
        judge (`dict` or `None`): `JudgeConfig` fields (`base_url`, `model`, ...); `None` runs no judge.
        validation (`dict`): `ValidationConfig` fields for every source (an input's own `validation` wins).
        reader (`dict`): `ReaderOptions` fields for every source (an input's own `reader` wins).
        dedup (`dict`): `DedupConfig` fields.
        target_no_call_ratio (`float` or `None`): R4 target share of no-call samples, warned about when off.
        progress (`bool`, *optional*, defaults to `True`): progress bars on stderr.
    """

    inputs: list[InputSpec] = field(default_factory=list)
    output: str = ""
    val_ratio: float = 0.05
    seed: int = 0
    layout: str = "row"
    judge: dict[str, Any] | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    reader: dict[str, Any] = field(default_factory=dict)
    dedup: dict[str, Any] = field(default_factory=dict)
    target_no_call_ratio: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("no input: pass --input FILE_OR_DATASET (or `inputs:` in the recipe)")
        if not self.output:
            raise ValueError("no output folder: pass --output DIR (or `output:` in the recipe)")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not 0.0 <= self.val_ratio < 1.0:
            raise ValueError(f"val_ratio must be in [0, 1), got {self.val_ratio}")
        from funrl.data.readers import FORMATS

        DedupConfig.from_dict(self.dedup)  # unknown keys and bad values fail here, before any work
        for spec in self.inputs:
            if spec.format not in FORMATS:
                raise ValueError(
                    f"unknown input format {spec.format!r} for {spec.path}; valid formats: {', '.join(FORMATS)}"
                )
            ValidationConfig.from_dict({**self.validation, **spec.validation}, f"{spec.path}: validation")
            reader_options({**self.reader, **spec.reader}, f"{spec.path}: reader")


def reader_options(values: dict[str, Any], where: str) -> Any:
    """`ReaderOptions` from a recipe mapping; an unknown key raises `ValueError` listing the valid ones."""
    from funrl.data.readers import ReaderOptions

    return dataclass_from_dict(ReaderOptions, values, where)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funrl prepare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="recipe YAML (flags given here override it)")
    parser.add_argument("--input", nargs="+", metavar="FILE_OR_DATASET", help="input files or datasets")
    parser.add_argument(
        "--format", help="input format: xlam, toolace, glaive, hermes, openai, sharegpt, bfcl, canonical"
    )
    parser.add_argument("--source", nargs="+", help="source names of the inputs (default: file stem)")
    parser.add_argument("--output", help="output folder")
    parser.add_argument("--judge", help="'none', or the base URL of an OpenAI-compatible endpoint")
    parser.add_argument("--judge-model", help="judge model id (required with --judge URL)")
    parser.add_argument("--judge-cache", help="judge cache file (default: OUTPUT/judge_cache.jsonl)")
    parser.add_argument("--val-ratio", type=float, help="share of records in validation.jsonl (default 0.05)")
    parser.add_argument("--seed", type=int, help="seed of the split (default 0)")
    parser.add_argument("--layout", choices=LAYOUTS, help="row: JSON-string columns (default); nested: to_dict")
    parser.add_argument("--bfcl-data-dir", help="BFCL data folder for decontamination (default $BFCL_DATA_DIR)")
    parser.add_argument("--no-decontaminate", action="store_true", help="skip D3 decontamination against BFCL")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _load_yaml(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise SourceError(f"cannot read recipe {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe must be a mapping, got {type(data).__name__}")
    return data


def build_config(args: argparse.Namespace) -> PrepareConfig:
    """Recipe YAML (if any) with the command-line flags on top."""
    data = _load_yaml(args.config) if args.config else {}
    where = args.config or "prepare"
    known = {f.name for f in fields(PrepareConfig)} | {"format"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(known)}")
    default_format = args.format or data.get("format")
    if args.input:
        names = args.source or []
        if names and len(names) != len(args.input):
            raise ValueError(f"--source names {len(names)} value(s) for {len(args.input)} input(s)")
        raw_inputs: list[Any] = [
            {"path": p, **({"source": names[i]} if names else {})} for i, p in enumerate(args.input)
        ]
    else:
        raw_inputs = list(data.get("inputs") or [])
    inputs = []
    for i, raw in enumerate(raw_inputs):
        raw = {"path": raw} if isinstance(raw, str) else dict(raw)
        raw.setdefault("format", default_format)
        if not raw.get("format"):
            raise ValueError(f"input {raw.get('path')!r}: no format; pass --format (one of the reader formats)")
        try:
            inputs.append(InputSpec(**raw))
        except TypeError as exc:
            raise ValueError(f"{where}: inputs[{i}]: {exc}") from None
    values = {k: v for k, v in data.items() if k not in ("inputs", "format")}
    values["inputs"] = inputs
    for flag, key in (("output", "output"), ("val_ratio", "val_ratio"), ("seed", "seed"), ("layout", "layout")):
        if getattr(args, flag) is not None:
            values[key] = getattr(args, flag)
    dedup = dict(values.get("dedup") or {})
    if args.bfcl_data_dir:
        dedup["bfcl_data_dir"] = args.bfcl_data_dir
    if args.no_decontaminate:
        dedup["decontaminate"] = False
    values["dedup"] = dedup
    judge = values.get("judge")
    judge = None if judge in (None, "none", False) else dict(judge)
    if args.judge is not None:
        judge = None if args.judge == "none" else {**(judge or {}), "base_url": args.judge}
    if judge is not None:
        if args.judge_model:
            judge["model"] = args.judge_model
        if args.judge_cache:
            judge["cache_path"] = args.judge_cache
    if judge is None and (args.judge_model or args.judge_cache):
        raise ValueError("--judge-model / --judge-cache need a judge: pass --judge URL (or `judge:` in the recipe)")
    values["judge"] = judge
    if args.no_progress:
        values["progress"] = False
    return PrepareConfig(**values)


# ---------------------------------------------------------------------------------------------------
# The pipeline


def _split_of(sample: Sample, seed: int, val_ratio: float) -> str:
    """`train` / `validation` from a hash of the sample's source and input record, so the steps of one dialog
    never straddle the split and the result does not depend on the order or number of other records."""
    origin = dict(sample.meta.get("origin") or {"id": sample.id})
    if "file" in origin:  # the file name, not where it lives: the same data splits the same on every machine
        origin["file"] = Path(str(origin["file"])).name
    record = json.dumps([sample.source, origin], sort_keys=True, default=str)
    digest = hashlib.blake2b(f"{seed}:{record}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") / 2**64 < val_ratio else "train"


def _write_atomic(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _rejection(sample: Sample, stage: str, reasons: list[dict[str, str]]) -> Rejection:
    return Rejection(sample.id, dict(sample.meta.get("origin") or {}), stage, reasons, sample.to_dict())


def run_prepare(config: PrepareConfig) -> dict[str, Any]:
    """Run the pipeline of the module docstring; returns the report dict (also written to `report.json`)."""
    from tqdm.auto import tqdm

    from funrl.data.readers import default_source, read_source

    out_dir = Path(config.output)
    judge_config = _judge_config(config, out_dir) if config.judge is not None else None  # fail fast on bad settings
    dedup = Deduper(DedupConfig.from_dict(config.dedup))  # loads BFCL (D3) before any work
    report = PrepareReport(config.target_no_call_ratio)
    rejected: list[tuple[int, Rejection]] = []
    survivors: list[tuple[int, Sample]] = []  # (input position, sample) in input order
    validators: dict[str, Validator] = {}
    repaired: set[int] = set()  # positions of samples changed by validation or the judge
    position = 0
    for spec in config.inputs:
        validation = ValidationConfig.from_dict({**config.validation, **spec.validation}, f"{spec.path}: validation")
        options = reader_options({**config.reader, **spec.reader}, f"{spec.path}: reader")
        validator = Validator(validation)
        bar = tqdm(desc=f"read+validate {spec.path}", unit="rec", disable=None if config.progress else True)
        default_name = spec.source or default_source(spec.path)
        for item in read_source(spec.path, spec.format, source=spec.source, options=options):
            bar.update(1)
            if item.rejection is not None:
                report.add_record(default_name, 1)
                report.add_rejection(default_name, "read", item.rejection.codes)
                rejected.append((position, item.rejection))
                position += 1
                continue
            report.add_record(item.samples[0].source if item.samples else default_name, len(item.samples))
            for sample in item.samples:
                validators.setdefault(sample.source, validator)
                try:
                    result = validator(sample)
                except Exception as exc:  # a validator bug must not hide the sample: it is reported as rejected
                    detail = f"{sample.id}: {type(exc).__name__}: {exc}"
                    result = ValidationResult("rejected", None, [Finding("VALIDATE_INTERNAL", "reject", detail)])
                if result.status == "rejected":
                    reasons = [{"code": f.code, "detail": f.detail} for f in result.findings if f.action == "reject"]
                    report.add_rejection(sample.source, "validate", result.reasons)
                    rejected.append((position, _rejection(sample, "validate", reasons)))
                else:
                    survivors.append((position, result.sample))
                    if result.status == "repaired":
                        repaired.add(position)
                position += 1
        bar.close()
    kept: list[tuple[int, Sample]] = []
    for pos, sample in tqdm(survivors, desc="dedup", unit="sample", disable=None if config.progress else True):
        finding = dedup.check(sample)
        if finding is None:
            kept.append((pos, sample))
        else:
            report.add_rejection(sample.source, "dedup", [finding.code])
            rejected.append((pos, _rejection(sample, "dedup", [{"code": finding.code, "detail": finding.detail}])))
    if judge_config is not None:
        kept = _judge(kept, judge_config, out_dir, validators, report, rejected, repaired)
    final: list[tuple[int, Sample]] = []
    ids: set[str] = set()
    for pos, sample in kept:
        if sample.id in ids:
            reason = {"code": "D1", "detail": f"sample id {sample.id!r} already kept (ids must be unique)"}
            report.add_rejection(sample.source, "dedup", ["D1"])
            rejected.append((pos, _rejection(sample, "dedup", [reason])))
            continue
        ids.add(sample.id)
        report.add_kept(sample.source, sample, pos in repaired)
        final.append((pos, sample))
    report.check()
    splits: dict[str, list[str]] = {"train": [], "validation": []}
    for _, sample in final:
        row = sample.to_row() if config.layout == "row" else sample.to_dict()
        splits[_split_of(sample, config.seed, config.val_ratio)].append(
            json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
        )
    rejected.sort(key=lambda r: r[0])
    data = report.to_dict()
    data["config"] = _config_dict(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("train.jsonl", "validation.jsonl", "rejected.jsonl", "report.json"):
        for stale in out_dir.glob(f".{name}.tmp-*"):  # left by a run killed while writing
            stale.unlink()
    for name, lines in splits.items():
        _write_atomic(out_dir / f"{name}.jsonl", lines)
    _write_atomic(
        out_dir / "rejected.jsonl",
        [json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for _, r in rejected],
    )
    data["files"] = {f"{name}.jsonl": len(lines) for name, lines in splits.items()} | {"rejected.jsonl": len(rejected)}
    _write_atomic(out_dir / "report.json", [json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n"])
    return data


def _judge_config(config: PrepareConfig, out_dir: Path) -> Any:
    from funrl.data.judge import JudgeConfig

    values = dict(config.judge or {})
    values.setdefault("cache_path", str(out_dir / "judge_cache.jsonl"))
    values.setdefault("progress", config.progress)
    try:
        return JudgeConfig(**values)
    except TypeError as exc:
        raise ValueError(f"judge: {exc}") from None


def _judge(kept, judge_config, out_dir, validators, report, rejected, repaired) -> list[tuple[int, Sample]]:
    from funrl.data.dedup import exact_key
    from funrl.data.judge import run_judge

    out_dir.mkdir(parents=True, exist_ok=True)

    def validate(sample: Sample) -> tuple[Sample | None, list[str]]:
        return validators[sample.source].judge_callback(sample)

    outcomes = run_judge([s for _, s in kept], judge_config, validate)
    survivors, seen = [], set()
    for (pos, sample), outcome in zip(kept, outcomes):
        if outcome.status == "rejected" or outcome.sample is None:
            details = [a.get("detail", "") for a in outcome.audit if a.get("action") == "reject"]
            codes = [c.split(":")[0] for c in outcome.reasons] or ["J6"]
            reasons = [
                {"code": c.split(":")[0], "detail": c + (f": {details[-1]}" if details else "")}
                for c in outcome.reasons or ["J6"]
            ]
            report.add_rejection(sample.source, "judge", codes)
            rejected.append((pos, _rejection(sample, "judge", reasons)))
            continue
        final = outcome.sample
        key = exact_key(final)
        if outcome.status == "repaired" and key in seen:  # a correction may turn a sample into another's twin
            report.add_rejection(sample.source, "dedup", ["D1"])
            rejected.append(
                (pos, _rejection(final, "dedup", [{"code": "D1", "detail": "exact duplicate after judge correction"}]))
            )
            continue
        seen.add(key)
        if outcome.status == "repaired":
            repaired.add(pos)
        survivors.append((pos, final))
    return survivors


def _config_dict(config: PrepareConfig) -> dict[str, Any]:
    out = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("progress", "output")}
    out["inputs"] = [dict(vars(spec)) for spec in config.inputs]
    out["validation"] = ValidationConfig.from_dict(config.validation).to_dict()
    out["dedup"] = DedupConfig.from_dict(config.dedup).to_dict()
    if out["judge"]:
        out["judge"] = {k: v for k, v in out["judge"].items() if k not in ("progress", "cache_path")}
    return out


def main(argv: list[str] | None = None) -> int:
    from funrl.data.judge import JudgeError

    args = make_parser().parse_args(argv)
    try:
        config = build_config(args)
        data = run_prepare(config)
    except (ValueError, SourceError, BFCLDataNotFound, JudgeError, OSError) as exc:
        print(f"funrl prepare: error: {exc}", file=sys.stderr)
        return 2
    print_report(data)
    files = ", ".join(f"{name} ({n})" for name, n in data["files"].items())
    print(f"wrote {files} and report.json to {config.output}")
    kept = data["files"].get("train.jsonl", 0) + data["files"].get("validation.jsonl", 0)
    if kept == 0:
        # an empty training set is almost always a wrong --format or a broken input: fail loudly
        print(
            "funrl prepare: error: no sample was kept; see the reason histogram above and rejected.jsonl "
            "(a wrong --format rejects every record as READ_FIELD)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
