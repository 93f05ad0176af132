"""Scoring of raw model outputs with funrl's parser and matcher: the library behind `funrl score` and `funrl eval`.

Each line of an outputs file is `{"id": <id>, "output": <raw model text>, ...}`. Lines are scored independently
with `funrl.calls.check_output` (the checker the reward uses), so the same id may appear several times (several
samples per question; a warning counts them); accuracy is then the mean over lines, aggregated by
`funrl.evaluate.metrics`.

Multi-turn lines (ids of `multi_turn_base`, `multi_turn_miss_func`, `multi_turn_miss_param`,
`multi_turn_long_context`) have BFCL's result-file shape, `{"id": ..., "result": [[step text, ...], ...]}` (one list
of raw step texts per turn, e.g. `funrl eval`'s `generations_multi_turn.jsonl` or bfcl's own result files), and are
scored by `funrl.multiturn.checker` (the bfcl-eval API classes must be installed: `bash scripts/setup.sh dev`); with
them scored, the aggregates include the multi-turn group and the v4 overall.

A bad line never stops the scoring: a line that is not JSON (or not UTF-8, nested too deeply, holding NaN or a lone
surrogate), a missing or non-string `id`/`output` (a missing or malformed `result` for a multi-turn id), an id
of a category funrl does not score (agentic), or an id absent from the BFCL data (or from the samples) gets a per-entry verdict `valid: null` with `reason: "input:<CODE>"` and
a `detail` naming file and line; it is left out of the accuracies and counted under `rejected`.

    rows = read_outputs("out.jsonl")                       # OutputRow per non-blank line, bad ones included
    result = score_outputs(rows, data_dir, "funrl", "out.jsonl")
    result.per_entry, result.rejected, result.scores

Entries the matcher does not support (Java / JavaScript: `unsupported_language`) get `valid: null`, are left
out of the accuracies, and are counted under `unsupported`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.bfcl import SINGLE_TURN, category_of, find_data_dir, load_category
from funrl.evaluate.metrics import BFCLScores, aggregate, render_markdown
from funrl.jsonl import read_lines
from funrl.multiturn import is_multi_turn

UNSUPPORTED = "unsupported_language"


class ScoreInputError(ValueError):
    """An outputs or samples file that cannot be used at all; the message names the file."""


@dataclass
class OutputRow:
    """One non-blank line of an outputs file: the record and its BFCL category, or why it cannot be scored
    (`code`, `detail` naming file and line)."""

    lineno: int
    record: dict[str, Any] | None
    category: str | None = None
    code: str | None = None
    detail: str | None = None

    def verdict(self) -> dict[str, Any]:
        """The per-entry line of a row that cannot be scored."""
        record = self.record if isinstance(self.record, dict) else {}
        rid = record.get("id") if isinstance(record.get("id"), str) else None
        return {
            "line": self.lineno,
            "id": rid,
            "category": self.category,
            "valid": None,
            "reason": f"input:{self.code}",
            "detail": self.detail,
        }


def read_outputs(path: str | Path, bfcl: bool = True) -> list[OutputRow]:
    """Read the outputs file: one `OutputRow` per non-blank line, bad lines included (see the module docstring).

    With `bfcl=False` (outputs of canonical samples) ids are not checked against BFCL's and the category is `None`.

    Raises:
        `OSError`: the file is missing, a folder or unreadable.
    """
    rows = []
    for line in read_lines(path):
        where = f"{path}:{line.lineno}"
        if line.error is not None:
            rows.append(OutputRow(line.lineno, None, code=line.error.code, detail=line.error.message))
            continue
        record = line.value
        if not isinstance(record, dict):
            detail = f"{where}: expected a JSON object, got {type(record).__name__}"
            rows.append(OutputRow(line.lineno, None, code="READ_FIELD", detail=detail))
            continue
        multi = bfcl and isinstance(record.get("id"), str) and is_multi_turn(record["id"])
        problem = None
        for name in ("id",) if multi else ("id", "output"):
            if name not in record:
                problem = f"{where}: missing field {name!r}"
            elif not isinstance(record[name], str):
                problem = f"{where}: field {name!r} must be a string, got {type(record[name]).__name__}"
            if problem:
                break
        if problem:
            rows.append(OutputRow(line.lineno, record, code="READ_FIELD", detail=problem))
            continue
        if not bfcl:
            rows.append(OutputRow(line.lineno, record))
            continue
        if multi:  # BFCL's multi-turn result shape: {"id", "result": [[step text, ...], ...]}
            from funrl.multiturn.evaluate import valid_result

            if not valid_result(record.get("result")):
                detail = (
                    f"{where}: multi-turn id {record['id']!r} needs field 'result': a list of turns, each a list of "
                    "step texts (BFCL's result-file shape)"
                )
                rows.append(OutputRow(line.lineno, record, code="READ_FIELD", detail=detail))
            else:
                rows.append(OutputRow(line.lineno, record, record["id"].rsplit("_", 1)[0]))
            continue
        try:
            category = category_of(record["id"])
        except ValueError:
            category = None
        if category not in SINGLE_TURN:
            detail = (
                f"{where}: id {record['id']!r} is not a BFCL single-turn entry; funrl score handles "
                f"{', '.join(SINGLE_TURN)} and the 4 multi-turn categories (agentic categories need the official checker)"
            )
            rows.append(OutputRow(line.lineno, record, code="NOT_SINGLE_TURN", detail=detail))
            continue
        rows.append(OutputRow(line.lineno, record, category))
    return rows


def duplicate_ids(rows: list[OutputRow]) -> dict[str, list[int]]:
    """Ids held by more than one scorable line -> their line numbers (several samples per question, or a
    mistake: either way the caller says so)."""
    lines: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.code is None and row.record is not None:
            lines[row.record["id"]].append(row.lineno)
    return {rid: nums for rid, nums in lines.items() if len(nums) > 1}


@dataclass
class ScoreResult:
    """What `score_outputs` returns: verdicts per input line (input order), the scores and error histograms."""

    per_entry: list[dict[str, Any]]
    scores: BFCLScores
    errors: dict[str, Counter] = field(default_factory=dict)
    unsupported: Counter = field(default_factory=Counter)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable result (`--json`): categories with error histograms, groups, unsupported counts."""
        out = self.scores.to_dict()
        for cat, info in out["categories"].items():
            info["errors"] = dict(self.errors.get(cat, Counter()).most_common())
        out["lines"] = len(self.per_entry)
        out["unsupported"] = dict(self.unsupported)
        out["rejected"] = len(self.rejected)
        out["rejected_reasons"] = dict(Counter(r["reason"] for r in self.rejected).most_common())
        return out


def score_outputs(
    rows: list[OutputRow],
    data_dir: str | Path | None,
    fmt: str = "funrl",
    path: str | Path = "<outputs>",
    progress: bool = True,
) -> ScoreResult:
    """Score rows from `read_outputs` against the BFCL data, one verdict per row (an unknown id is a rejected row);
    multi-turn rows are scored by `funrl.multiturn.evaluate.score_results` and merged in input order."""
    root = find_data_dir(data_dir)
    index: dict[str, Any] = {}
    categories = list(dict.fromkeys(row.category for row in rows if row.code is None))
    multi = [cat for cat in categories if is_multi_turn(cat)]
    for category in categories:
        if category not in multi:
            index.update((s.id, s) for s in load_category(root, category))
    if multi:
        from funrl.multiturn.data import load_entries

        index.update((e.id, e) for e in load_entries(root, multi))
    return _score_rows(rows, index, f"the BFCL data ({root})", fmt, path, progress)


def merge_multi_turn(
    result: ScoreResult, rows: list[dict[str, Any]], counts: dict[str, list[int]], errors: dict[str, Counter]
) -> ScoreResult:
    """`result` with multi-turn verdicts added (`funrl.multiturn.evaluate.score_results`), aggregates recomputed."""
    cats: dict[str, tuple[int, int]] = {c: (s.correct, s.scored) for c, s in result.scores.categories.items()}
    sizes = {c: s.dataset_size for c, s in result.scores.categories.items()}
    cats.update({c: (v[0], v[1]) for c, v in counts.items()})
    return ScoreResult(
        result.per_entry + rows,
        aggregate(cats, dataset_size=sizes),
        {**result.errors, **errors},
        result.unsupported,
        result.rejected,
    )


def score_against_samples(
    rows: list[OutputRow],
    samples_path: str | Path,
    fmt: str = "funrl",
    path: str | Path = "<outputs>",
    progress: bool = True,
) -> ScoreResult:
    """Score rows from `read_outputs(..., bfcl=False)` against the canonical samples of `samples_path`.

    Raises:
        `ScoreInputError`: an id the samples file holds twice (an output could not be matched to one sample).
    """
    from funrl.schema import read_samples

    index: dict[str, Any] = {}
    for sample in read_samples(samples_path):
        if sample.id in index:
            raise ScoreInputError(f"{samples_path}: id {sample.id!r} appears twice; outputs are matched by id")
        index[sample.id] = sample
    return _score_rows(rows, index, str(samples_path), fmt, path, progress)


def _score_rows(
    rows: list[OutputRow], index: dict[str, Any], where: str, fmt: str, path: str | Path, progress: bool
) -> ScoreResult:
    for row in rows:
        if row.code is None and row.record["id"] not in index:
            row.code, row.detail = "UNKNOWN_ID", f"{path}:{row.lineno}: id {row.record['id']!r} not found in {where}"
    good = [row for row in rows if row.code is None and not _is_multi(row)]
    multi = [row for row in rows if row.code is None and _is_multi(row)]
    result = score_samples([(row.record, index[row.record["id"]]) for row in good], fmt, progress=progress)
    verdicts = iter(result.per_entry)
    if multi:
        from funrl.multiturn.evaluate import score_results

        mt_rows, counts, errors = score_results([(r.record["result"], index[r.record["id"]]) for r in multi], fmt)
        result = merge_multi_turn(result, [], counts, errors)
        mt_verdicts = iter([{**r.record, **v} for r, v in zip(multi, mt_rows)])
    result.rejected = [row.verdict() for row in rows if row.code is not None]
    result.per_entry = [
        row.verdict() if row.code is not None else next(mt_verdicts) if _is_multi(row) else next(verdicts)
        for row in rows
    ]  # input order
    return result


def _is_multi(row: OutputRow) -> bool:
    return row.category is not None and is_multi_turn(row.category)


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
    """Per-category table (with the 3 most frequent errors) followed by `funrl.evaluate.metrics.render_markdown`."""
    lines = ["| category | correct | scored | accuracy | top errors |", "|---|---:|---:|---:|---|"]
    for cat, info in result.scores.categories.items():
        top = ", ".join(f"{r} ({n})" for r, n in result.errors.get(cat, Counter()).most_common(3))
        lines.append(f"| {cat} | {info.correct} | {info.scored} | {100 * info.accuracy:.2f} | {top} |")
    for cat, n in result.unsupported.items():
        lines.append(f"| {cat} | - | 0 | N/A | {UNSUPPORTED} ({n}) |")
    return "\n".join(lines) + "\n\n" + render_markdown({name: result.scores}, categories=False)
