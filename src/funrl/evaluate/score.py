"""`funrl score`: score raw model outputs on BFCL single-turn and multi-turn entries (or canonical samples) with
funrl's parser and matcher (`funrl.evaluate.scoring`), and print per-category accuracy and the BFCL aggregates.

    funrl score --outputs examples/bfcl_outputs_example.jsonl --data-dir ../shared/bfcl_data
    funrl score --outputs out.jsonl --format bfcl-prompt --per-entry verdicts.jsonl --json
    funrl score --outputs runs/eval-toy/generations.jsonl --samples heldout.jsonl   # canonical samples, not BFCL
    funrl score --config score.yaml --format qwen-fc                              # a YAML of the options below
    funrl score --outputs runs/eval-mt/generations_multi_turn.jsonl --data-dir ../shared/bfcl_data   # multi-turn

Multi-turn lines have BFCL's result-file shape, `{"id": ..., "result": [[step text, ...], ...]}` (one list of raw
step texts per turn), and are scored by `funrl.multiturn.checker`; the v4 overall is printed once they are.

With `--samples FILE` the ids are looked up in that canonical JSONL file (`funrl.schema`; e.g. the samples given to
`funrl eval --samples`, or a `funrl prepare` split) instead of the BFCL data, and categories that are not BFCL
names are reported with their own line counts.

`--per-entry` writes one line per input line, in input order: the input line's fields plus `category`, `valid` and
`reason` (`null` when valid; BFCL's error type otherwise). A line that cannot be scored (not JSON, a missing field,
an unknown id, ...) gets `valid: null`, `reason: "input:<CODE>"` and a `detail` naming file and line; a warning
counts such lines, and the scoring goes on. Only an outputs file that cannot be read at all, or one with no
scorable line, is an error (exit code 2, one line naming the file).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS
from funrl.evaluate.scoring import (
    ScoreInputError,
    duplicate_ids,
    read_outputs,
    render_text,
    score_against_samples,
    score_outputs,
)


@dataclass
class ScoreArguments:
    """Options of `funrl score` (flags, or keys of a `--config` YAML)."""

    outputs: str = field(
        default="",
        metadata={
            "help": 'JSONL file, one {"id": <BFCL id>, "output": <raw model text>} per line (multi-turn ids: '
            '{"id", "result": [[step text, ...], ...]})'
        },
    )
    data_dir: str | None = field(
        default=None,
        metadata={"help": "BFCL data folder (default: $BFCL_DATA_DIR, else the installed bfcl-eval data)"},
    )
    format: str = field(
        default="funrl", metadata={"help": "output format the model was trained in", "choices": list(FORMATS)}
    )
    samples: str | None = field(
        default=None, metadata={"help": "canonical JSONL samples to score against instead of BFCL (ids must match)"}
    )
    per_entry: str | None = field(
        default=None, metadata={"help": "write per-line verdicts (input fields + category, valid, reason) here"}
    )
    json: bool = field(default=False, metadata={"help": "print the machine-readable result instead of tables"})

    def __post_init__(self) -> None:
        if not self.outputs:
            raise ValueError("no outputs file: pass --outputs FILE (JSON Lines of {id, output})")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")


def make_parser():
    """The `TrlParser` over `ScoreArguments` (the same parser as train and sft: YAML `--config`, flags on top)."""
    from trl import TrlParser

    return TrlParser(ScoreArguments, prog="funrl score", description=__doc__.split("\n\n")[0])


def parse_args(argv: list[str] | None) -> ScoreArguments:
    (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    return args


def _warn(message: str) -> None:
    print(f"funrl score: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from funrl.atomic import write_atomic
    from funrl.jsonl import dump_line, dumps

    args = parse_args(argv)
    try:
        if args.per_entry and Path(args.per_entry).is_dir():
            raise ValueError(f"--per-entry {args.per_entry} is a folder; pass a file name")
        rows = read_outputs(args.outputs, bfcl=args.samples is None)
        if not rows:
            raise ScoreInputError(f"{args.outputs}: no output lines (the file is empty)")
        if args.samples is not None:
            result = score_against_samples(rows, args.samples, args.format, args.outputs)
        else:
            result = score_outputs(rows, args.data_dir, args.format, args.outputs)
        if len(result.rejected) == len(rows):
            first = result.rejected[0]["detail"]
            raise ScoreInputError(f"{args.outputs}: none of its {len(rows)} lines can be scored (first: {first})")
    except (ValueError, OSError) as exc:  # SchemaError, ScoreInputError, a missing file or data folder
        print(f"funrl score: error: {exc}", file=sys.stderr)
        return 2
    if args.per_entry:
        Path(args.per_entry).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(args.per_entry, [dump_line(row) for row in result.per_entry])
    if result.rejected:
        shown = "; ".join(r["detail"] for r in result.rejected[:3])
        more = f" (and {len(result.rejected) - 3} more)" if len(result.rejected) > 3 else ""
        _warn(f"{len(result.rejected)} of {len(rows)} lines not scored: {shown}{more}")
    repeated = duplicate_ids(rows)
    if repeated:
        rid, lines = next(iter(repeated.items()))
        _warn(
            f"{len(repeated)} ids appear on more than one line (e.g. {rid!r} at lines {', '.join(map(str, lines))}); "
            "each line is scored on its own"
        )
    if result.unsupported:
        _warn(
            "not scored (the matcher does not support their language): "
            + ", ".join(f"{cat}: {n} lines" for cat, n in result.unsupported.items())
        )
    if args.json:
        print(dumps({**result.to_dict(), "outputs": args.outputs, "format": args.format}, indent=2))
    else:
        print(f"{len(rows)} lines from {args.outputs} (format {args.format})\n")
        print(render_text(result, Path(args.outputs).stem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
