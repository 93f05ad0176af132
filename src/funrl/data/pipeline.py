"""The `funrl prepare` pipeline as a library: `PrepareConfig` (what a run depends on) and `run_prepare`, which runs the
stages of `funrl.data.stages` in order (read, validate, dedup, judge, post-judge dedup), splits the kept samples and
writes `train.jsonl`, `validation.jsonl`, `rejected.jsonl` and `report.json` as one set.

The `funrl prepare` command (`funrl.data.prepare`) turns its flags and recipe into a `PrepareConfig`; the CPU demo
(`funrl.toy.pipeline`) builds one directly.

    from funrl.data.pipeline import InputSpec, PrepareConfig, run_prepare
    report = run_prepare(PrepareConfig(inputs=[InputSpec("xlam.jsonl", "xlam")], output="out/xlam", val_ratio=0.0))
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from funrl.atomic import check_switchable, write_set
from funrl.data.dedup import DedupConfig, Deduper
from funrl.data.records import dataclass_from_dict
from funrl.data.report import build_report
from funrl.data.validate import ValidationConfig, Validator
from funrl.jsonl import dump_line, dumps
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
    options: Any = field(default=None, repr=False, compare=False)  # the resolved ReaderOptions (set by run_prepare)


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


def _split_of(sample: Sample, seed: int, val_ratio: float) -> str:
    """`train` / `validation` from a hash of the sample's source and input record, so the steps of one dialog
    never straddle the split and the result does not depend on the order or number of other records."""
    origin = dict(sample.meta.get("origin") or {"id": sample.id})
    if "file" in origin:  # the file name, not where it lives: the same data splits the same on every machine
        origin["file"] = Path(str(origin["file"])).name
    record = json.dumps([sample.source, origin], sort_keys=True, default=str)
    digest = hashlib.blake2b(f"{seed}:{record}".encode(), digest_size=8).digest()
    return "validation" if int.from_bytes(digest, "big") / 2**64 < val_ratio else "train"


def run_prepare(config: PrepareConfig) -> dict[str, Any]:
    """Run the stages of `funrl.data.stages` in order, then write the outputs as one set; returns the report dict
    (also written to `report.json`)."""
    from funrl.data import stages

    out_dir = Path(config.output)
    check_switchable(out_dir)  # before any work: an output folder that cannot be switched in as one set
    judge_config = _judge_config(config, out_dir) if config.judge is not None else None  # fail fast on bad settings
    deduper = Deduper(DedupConfig.from_dict(config.dedup))  # loads BFCL (D3) before any work
    inputs = []
    for spec in config.inputs:
        validation = ValidationConfig.from_dict({**config.validation, **spec.validation}, f"{spec.path}: validation")
        spec.options = reader_options({**config.reader, **spec.reader}, f"{spec.path}: reader")
        inputs.append((spec, Validator(validation)))
    read = stages.read_inputs(inputs, config.progress)
    checked = stages.validate(read.kept, read.validators, config.progress)
    unduplicated = stages.dedup(checked.kept, deduper, config.progress)
    steps = [read, checked, unduplicated]
    if judge_config is not None:
        out_dir.mkdir(parents=True, exist_ok=True)  # the judge cache lives there by default
        steps.append(stages.judge(unduplicated.kept, judge_config, read.validators))
    final = stages.unique(steps[-1].kept)
    steps.append(final)
    rejected = sorted((d for step in steps for d in step.rejected), key=lambda d: d.position)
    report = build_report(
        read.records,
        [(item.sample, item.repaired) for item in final.kept],
        [(d.source, d.rejection.stage, d.rejection.codes) for d in rejected],
        config.target_no_call_ratio,
    )
    splits: dict[str, list[str]] = {"train": [], "validation": []}
    for item in final.kept:
        row = item.sample.to_row() if config.layout == "row" else item.sample.to_dict()
        splits[_split_of(item.sample, config.seed, config.val_ratio)].append(dump_line(row, sort_keys=True))
    data = report.to_dict()
    data["config"] = _config_dict(config)
    data["files"] = {f"{name}.jsonl": len(lines) for name, lines in splits.items()} | {"rejected.jsonl": len(rejected)}
    write_set(
        out_dir,
        {
            "train.jsonl": splits["train"],
            "validation.jsonl": splits["validation"],
            "rejected.jsonl": [dump_line(d.rejection.to_dict(), sort_keys=True) for d in rejected],
            "report.json": dumps(data, sort_keys=True, indent=2) + "\n",
        },
    )
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


def _config_dict(config: PrepareConfig) -> dict[str, Any]:
    out = {f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("progress", "output")}
    out["inputs"] = [{k: v for k, v in vars(spec).items() if k != "options"} for spec in config.inputs]
    out["validation"] = ValidationConfig.from_dict(config.validation).to_dict()
    out["dedup"] = DedupConfig.from_dict(config.dedup).to_dict()
    if out["judge"]:
        out["judge"] = {k: v for k, v in out["judge"].items() if k not in ("progress", "cache_path")}
    return out
