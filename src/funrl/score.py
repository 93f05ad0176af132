"""`funrl score`: score raw model outputs on BFCL single-turn entries with funrl's parser and matcher.

Each line of the outputs file is `{"id": <BFCL id>, "output": <raw model text>, ...}`. Lines are scored
independently with `funrl.calls.check_output` (the checker the reward uses), so the same id may appear several
times (several samples per question); accuracy is then the mean over lines. The command prints per-category
accuracy and the BFCL aggregates of `funrl.metrics` (v4 Non-Live AST, Live AST, Hallucination, live relevance,
v3 overall, and the paper's overall = mean of Non-Live AST and Live, labelled as such).

    funrl score --outputs examples/bfcl_outputs_example.jsonl --data-dir ../shared/bfcl_data
    funrl score --outputs out.jsonl --format bfcl-prompt --per-entry verdicts.jsonl --json
    funrl score --outputs runs/eval-toy/generations.jsonl --samples heldout.jsonl   # canonical samples, not BFCL

Multi-turn lines (ids of `multi_turn_base`, `multi_turn_miss_func`, `multi_turn_miss_param`,
`multi_turn_long_context`) have BFCL's result-file shape, `{"id": ..., "result": [[step text, ...], ...]}` (one list
of raw step texts per turn, e.g. `funrl eval`'s `generations_multi_turn.jsonl` or bfcl's own result files), and are
scored by `funrl.multiturn.checker` (the bfcl-eval API classes must be installed: `bash scripts/setup.sh dev`).

With `--samples FILE` the ids are looked up in that canonical JSONL file (`funrl.schema`; e.g. the samples given to
`funrl eval --samples`, or a `funrl prepare` split) instead of the BFCL data, and categories that are not BFCL
names are reported with their own line counts.

`--per-entry` writes one line per input line, in input order: the input line's fields plus `category`,
`valid` and `reason` (`null` when valid; BFCL's error type otherwise). Entries the matcher does not support
(Java / JavaScript: `unsupported_language`) get `valid: null`, are left out of the accuracies, and are counted
under `unsupported` (a warning says so), so a group that needs them is N/A rather than silently wrong.

Errors (exit code 2, message naming file and line): a line that is not a JSON object, a missing or non-string
`id`/`output` (`result` for multi-turn), an id of an agentic category, an id absent from the BFCL data (or from `--samples`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.bfcl import SINGLE_TURN, category_of, find_data_dir, load_category
from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS
from funrl.metrics import BFCLScores, aggregate, render_markdown
from funrl.multiturn import is_multi_turn
from funrl.multiturn.evaluate import valid_result
from funrl.schema import SchemaError

UNSUPPORTED = "unsupported_language"


class ScoreInputError(ValueError):
    """A bad line in the outputs file; the message names the file and line."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funrl score", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--outputs", required=True, help='JSONL file, one {"id": <BFCL id>, "output": <text>} per line'
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="BFCL data folder (default: $BFCL_DATA_DIR, else the installed bfcl-eval data)",
    )
    parser.add_argument(
        "--format", default="funrl", choices=FORMATS, help="output format the model was trained in (default: funrl)"
    )
    parser.add_argument(
        "--samples", default=None, help="canonical JSONL samples to score against instead of BFCL (ids must match)"
    )
    parser.add_argument("--per-entry", default=None, help="write per-line verdicts (input fields + valid, reason)")
    parser.add_argument("--json", action="store_true", help="print the machine-readable result instead of tables")
    return parser


def read_outputs(path: str | Path, bfcl: bool = True) -> list[tuple[int, dict[str, Any], str | None]]:
    """Read and validate the outputs file: `(line number, record, category)` per non-blank line.

    With `bfcl=False` (outputs of canonical samples) ids are not checked against BFCL's and the category is `None`."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScoreInputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                raise ScoreInputError(f"{where}: expected a JSON object, got {type(record).__name__}")
            for name in ("id",) if is_multi_turn(str(record.get("id"))) and bfcl else ("id", "output"):
                if name not in record:
                    raise ScoreInputError(f"{where}: missing field {name!r}")
                if not isinstance(record[name], str):
                    raise ScoreInputError(
                        f"{where}: field {name!r} must be a string, got {type(record[name]).__name__}"
                    )
            if not bfcl:
                rows.append((lineno, record, None))
                continue
            if is_multi_turn(str(record.get("id"))):  # BFCL's multi-turn result shape: {"id", "result": [[...]]}
                if not valid_result(record.get("result")):
                    raise ScoreInputError(
                        f"{where}: multi-turn id {record.get('id')!r} needs field 'result': a list of turns, each a "
                        "list of step texts (BFCL's result-file shape)"
                    )
                rows.append((lineno, record, record["id"].rsplit("_", 1)[0]))
                continue
            try:
                category = category_of(record["id"])
            except ValueError:
                category = None
            if category not in SINGLE_TURN:
                raise ScoreInputError(
                    f"{where}: id {record['id']!r} is not a BFCL single-turn entry; funrl score handles "
                    f"{', '.join(SINGLE_TURN)} and the 4 multi-turn categories (agentic categories need the official checker)"
                )
            rows.append((lineno, record, category))
    return rows


@dataclass
class ScoreResult:
    """What `score_outputs` returns: verdicts per input line (input order), the scores and error histograms."""

    per_entry: list[dict[str, Any]]
    scores: BFCLScores
    errors: dict[str, Counter] = field(default_factory=dict)
    unsupported: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable result (`--json`): categories with error histograms, groups, unsupported counts."""
        out = self.scores.to_dict()
        for cat, info in out["categories"].items():
            info["errors"] = dict(self.errors.get(cat, Counter()).most_common())
        out["lines"] = len(self.per_entry)
        out["unsupported"] = dict(self.unsupported)
        return out


def score_outputs(
    rows: list[tuple[int, dict[str, Any], str]],
    data_dir: str | Path | None,
    fmt: str = "funrl",
    path: str | Path = "<outputs>",
    progress: bool = True,
) -> ScoreResult:
    """Score rows from `read_outputs` with `check_output`, one verdict per line.

    Raises:
        `ScoreInputError`: an id that is not in the BFCL data (the message names file and line).
    """
    root = find_data_dir(data_dir)
    index: dict[str, Any] = {}
    multi = [cat for cat in dict.fromkeys(cat for _, _, cat in rows) if is_multi_turn(cat)]
    for category in dict.fromkeys(cat for _, _, cat in rows):
        if category not in multi:
            index.update((s.id, s) for s in load_category(root, category))
    if multi:
        from funrl.multiturn.data import load_entries

        index.update((e.id, e) for e in load_entries(root, multi))
    pairs, multi_pairs, order = [], [], []
    for lineno, record, category in rows:
        item = index.get(record["id"])
        if item is None:
            raise ScoreInputError(f"{path}:{lineno}: id {record['id']!r} not found in the BFCL data ({root})")
        order.append(category in multi)
        (multi_pairs if category in multi else pairs).append((record, item))
    result = score_samples(pairs, fmt, progress=progress)
    if not multi_pairs:
        return result
    from funrl.multiturn.evaluate import score_results

    mt_rows, counts, errors = score_results([(r["result"], e) for r, e in multi_pairs], fmt)
    mt_rows = [{**r, **row} for (r, _), row in zip(multi_pairs, mt_rows)]
    merged = merge_multi_turn(result, [], counts, errors)
    single_iter, multi_iter = iter(result.per_entry), iter(mt_rows)
    merged.per_entry = [next(multi_iter) if m else next(single_iter) for m in order]  # input order
    return merged


def merge_multi_turn(
    result: ScoreResult, rows: list[dict[str, Any]], counts: dict[str, list[int]], errors: dict[str, Counter]
) -> ScoreResult:
    """`result` with multi-turn verdicts added (`funrl.multiturn.evaluate.score_results`), aggregates recomputed."""
    cats: dict[str, tuple[int, int]] = {c: (s.correct, s.scored) for c, s in result.scores.categories.items()}
    sizes = {c: s.dataset_size for c, s in result.scores.categories.items()}
    cats.update({c: (v[0], v[1]) for c, v in counts.items()})
    return ScoreResult(
        result.per_entry + rows, aggregate(cats, dataset_size=sizes), {**result.errors, **errors}, result.unsupported
    )


def score_against_samples(
    rows: list[tuple[int, dict[str, Any], Any]],
    samples_path: str | Path,
    fmt: str = "funrl",
    path: str | Path = "<outputs>",
    progress: bool = True,
) -> ScoreResult:
    """Score rows from `read_outputs(..., bfcl=False)` against the canonical samples of `samples_path`.

    Raises:
        `ScoreInputError`: an id that is not in the samples file, or an id the samples file holds twice (the output
        could not be matched to one sample).
    """
    from funrl.schema import read_samples

    index: dict[str, Any] = {}
    for sample in read_samples(samples_path):
        if sample.id in index:
            raise ScoreInputError(f"{samples_path}: id {sample.id!r} appears twice; outputs are matched by id")
        index[sample.id] = sample
    pairs = []
    for lineno, record, _ in rows:
        sample = index.get(record["id"])
        if sample is None:
            raise ScoreInputError(f"{path}:{lineno}: id {record['id']!r} not found in {samples_path}")
        pairs.append((record, sample))
    return score_samples(pairs, fmt, progress=progress)


def score_samples(pairs: list[tuple[dict[str, Any], Any]], fmt: str = "funrl", progress: bool = True) -> ScoreResult:
    """Score `(record, sample)` pairs (`record["output"]` is the raw text) with `check_output`, one verdict per pair.

    Works for any canonical `Sample`s (BFCL entries or, e.g., the toy world's held-out split); categories that
    are not BFCL names are aggregated with their own line counts as weights."""
    from tqdm import tqdm

    from funrl.calls import check_output

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors: dict[str, Counter] = defaultdict(Counter)
    unsupported: Counter = Counter()
    per_entry = []
    # tqdm writes to stderr; disable=None turns the bar off when stderr is not a terminal.
    for record, sample in tqdm(pairs, desc="scoring", unit="line", disable=None if progress else True):
        category = sample.category
        verdict = check_output(record["output"], sample, fmt)
        valid: bool | None = verdict.ok
        if verdict.reason == UNSUPPORTED:
            valid = None
            unsupported[category] += 1
        else:
            counts[category][1] += 1
            counts[category][0] += int(verdict.ok)
            if not verdict.ok:
                errors[category][verdict.reason] += 1
        per_entry.append({**record, "category": category, "valid": valid, "reason": verdict.reason})
    # BFCL entries weigh groups by BFCL's entry counts; other samples (e.g. the toy world, whose category names
    # can coincide with BFCL's) by their own line counts
    bfcl = all(sample.source == "bfcl" for _, sample in pairs)
    extra_sizes = {cat: c[1] for cat, c in counts.items() if cat not in SINGLE_TURN or not bfcl}
    scores = aggregate({cat: tuple(c) for cat, c in counts.items()}, dataset_size=extra_sizes)
    return ScoreResult(per_entry, scores, dict(errors), unsupported)


def render_text(result: ScoreResult, name: str) -> str:
    """Per-category table (with the 3 most frequent errors) followed by `funrl.metrics.render_markdown`."""
    lines = ["| category | correct | scored | accuracy | top errors |", "|---|---:|---:|---:|---|"]
    for cat, info in result.scores.categories.items():
        top = ", ".join(f"{r} ({n})" for r, n in result.errors.get(cat, Counter()).most_common(3))
        lines.append(f"| {cat} | {info.correct} | {info.scored} | {100 * info.accuracy:.2f} | {top} |")
    for cat, n in result.unsupported.items():
        lines.append(f"| {cat} | - | 0 | N/A | {UNSUPPORTED} ({n}) |")
    return "\n".join(lines) + "\n\n" + render_markdown({name: result.scores}, categories=False)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        rows = read_outputs(args.outputs, bfcl=args.samples is None)
        if not rows:
            raise ScoreInputError(f"{args.outputs}: no output lines")
        if args.samples is not None:
            result = score_against_samples(rows, args.samples, args.format, args.outputs)
        else:
            result = score_outputs(rows, args.data_dir, args.format, args.outputs)
    except (ScoreInputError, SchemaError, FileNotFoundError) as exc:
        print(f"funrl score: error: {exc}", file=sys.stderr)
        return 2
    if args.per_entry:
        with open(args.per_entry, "w", encoding="utf-8") as handle:
            for row in result.per_entry:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if result.unsupported:
        print(
            "funrl score: warning: not scored (the matcher does not support their language): "
            + ", ".join(f"{cat}: {n} lines" for cat, n in result.unsupported.items()),
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps({**result.to_dict(), "outputs": args.outputs, "format": args.format}, indent=2))
    else:
        print(f"{len(rows)} lines from {args.outputs} (format {args.format})\n")
        print(render_text(result, Path(args.outputs).stem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
