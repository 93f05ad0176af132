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

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from funrl.data.dedup import BFCLDataNotFound

# The pipeline itself (`PrepareConfig`, `run_prepare`) is the library module `funrl.data.pipeline`; import it from
# there.
from funrl.data.pipeline import LAYOUTS, InputSpec, PrepareConfig, run_prepare
from funrl.data.readers import FORMATS
from funrl.data.records import SourceError
from funrl.data.report import print_report
from funrl.fields import option_help

__all__ = ["PrepareArguments", "build_config", "main", "make_parser", "parse_config"]


@dataclass
class PrepareArguments:
    """The options of `funrl prepare`: command-line flags, or keys of a recipe YAML given with `--config` (TRL's
    `TrlParser`, like train and sft: dataclass default < recipe < flag). `build_config` turns them into a
    `PrepareConfig`. Mappings (`validation`, `reader`, `dedup`, `judge`) are YAML mappings in a recipe, or JSON text
    on the command line."""

    input: list[str] | None = field(
        default=None, metadata=option_help("input files or datasets (replace the recipe's)")
    )
    format: str | None = field(
        default=None, metadata=option_help(f"input format of every input: {', '.join(FORMATS)}")
    )
    source: list[str] | None = field(
        default=None, metadata=option_help("source names of the inputs (default: file stem)")
    )
    output: str | None = field(
        default=None, metadata=option_help("output folder (its outputs are switched in as one set)")
    )
    judge: str | None = field(
        default=None,
        metadata=option_help("'none', or the base URL of an OpenAI-compatible endpoint; a recipe may give a mapping of "
                       "JudgeConfig fields"),
    )  # fmt: skip
    judge_model: str | None = field(default=None, metadata=option_help("judge model id (required with --judge URL)"))
    judge_cache: str | None = field(
        default=None, metadata=option_help("judge cache file (default: OUTPUT/judge_cache.jsonl)")
    )
    val_ratio: float = field(default=0.05, metadata=option_help("share of input records that go to validation.jsonl"))
    seed: int = field(default=0, metadata=option_help("seed of the split hash"))
    layout: str = field(
        default="row",
        metadata=option_help("row: JSON-string columns; nested: Sample.to_dict()", choices=list(LAYOUTS)),
    )
    bfcl_data_dir: str | None = field(
        default=None, metadata=option_help("BFCL data folder for decontamination (default $BFCL_DATA_DIR)")
    )
    no_decontaminate: bool = field(default=False, metadata=option_help("skip D3 decontamination against BFCL"))
    progress: bool = field(default=True, metadata=option_help("progress bars on stderr (--no-progress: none)"))
    inputs: list[str] | None = field(
        default=None,
        metadata=option_help(
            "recipe: the inputs, each a path or a mapping {path, format, source, validation, reader}"
        ),
    )
    validation: str | None = field(default=None, metadata=option_help("ValidationConfig fields for every source"))
    reader: str | None = field(default=None, metadata=option_help("ReaderOptions fields for every source"))
    dedup: str | None = field(default=None, metadata=option_help("DedupConfig fields"))
    target_no_call_ratio: float | None = field(
        default=None, metadata=option_help("R4 target share of no-call samples, warned about when off")
    )


def make_parser():
    """The `TrlParser` over `PrepareArguments`."""
    from trl import TrlParser

    return TrlParser(PrepareArguments, prog="funrl prepare", description=__doc__.split("\n\n")[0])


def parse_config(argv: list[str] | None = None) -> PrepareConfig:
    """Flags (and the recipe of `--config`) -> `PrepareConfig`; bad values raise `ValueError`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    (args,) = make_parser().parse_args_and_config(argv)
    recipe_judge = None
    if "--config" in argv and argv.index("--config") + 1 < len(argv):
        import yaml

        with open(argv[argv.index("--config") + 1], encoding="utf-8") as handle:
            recipe = yaml.safe_load(handle) or {}
        recipe_judge = recipe.get("judge") if isinstance(recipe.get("judge"), dict) else None
    return build_config(args, recipe_judge)


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}: expected a mapping (JSON text on the command line): {exc.msg}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected a mapping, got {type(value).__name__}")
    return dict(value)


def build_config(args: PrepareArguments, recipe_judge: dict[str, Any] | None = None) -> PrepareConfig:
    """`PrepareArguments` (recipe values with the flags on top) -> `PrepareConfig`. `recipe_judge`: the recipe's
    judge mapping, which a `--judge URL` flag completes rather than replaces."""
    if args.input:
        names = args.source or []
        if names and len(names) != len(args.input):
            raise ValueError(f"--source names {len(names)} value(s) for {len(args.input)} input(s)")
        raw_inputs: list[Any] = [
            {"path": p, **({"source": names[i]} if names else {})} for i, p in enumerate(args.input)
        ]
    else:
        raw_inputs = list(args.inputs or [])
    inputs = []
    for i, raw in enumerate(raw_inputs):
        raw = {"path": raw} if isinstance(raw, str) else dict(raw)
        raw.setdefault("format", args.format)
        if not raw.get("format"):
            raise ValueError(f"input {raw.get('path')!r}: no format; pass --format (one of the reader formats)")
        try:
            inputs.append(InputSpec(**raw))
        except TypeError as exc:
            raise ValueError(f"inputs[{i}]: {exc}") from None
    dedup = _mapping(args.dedup, "dedup")
    if args.bfcl_data_dir:
        dedup["bfcl_data_dir"] = args.bfcl_data_dir
    if args.no_decontaminate:
        dedup["decontaminate"] = False
    judge: Any = args.judge
    if judge in (None, "none", False):
        judge = None
    elif isinstance(judge, str) and not judge.lstrip().startswith("{"):
        judge = {**(recipe_judge or {}), "base_url": judge}
    else:
        judge = _mapping(judge, "judge")
    if judge is not None:
        if args.judge_model:
            judge["model"] = args.judge_model
        if args.judge_cache:
            judge["cache_path"] = args.judge_cache
    elif args.judge_model or args.judge_cache:
        raise ValueError("--judge-model / --judge-cache need a judge: pass --judge URL (or `judge:` in the recipe)")
    return PrepareConfig(
        inputs=inputs,
        output=args.output or "",
        val_ratio=args.val_ratio,
        seed=args.seed,
        layout=args.layout,
        judge=judge,
        validation=_mapping(args.validation, "validation"),
        reader=_mapping(args.reader, "reader"),
        dedup=dedup,
        target_no_call_ratio=args.target_no_call_ratio,
        progress=args.progress,
    )


def main(argv: list[str] | None = None) -> int:
    from funrl.data.judge import JudgeError

    try:
        config = parse_config(argv)
        data = run_prepare(config)
    except (ValueError, SourceError, BFCLDataNotFound, JudgeError, OSError) as exc:
        print(f"funrl prepare: error: {exc}", file=sys.stderr)
        return 2
    print_report(data)
    files = ", ".join(f"{name} ({n})" for name, n in data["files"].items())
    print(f"wrote {files} and report.json to {config.output}")
    kept = data["files"].get("train.jsonl", 0) + data["files"].get("validation.jsonl", 0)
    if kept == 0 and data["total"]["records"] == 0:
        inputs = ", ".join(spec.path for spec in config.inputs)
        print(
            f"funrl prepare: error: no sample was kept: the inputs hold no record ({inputs} empty?)", file=sys.stderr
        )
        return 1
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
