"""Multi-turn generation and scoring for `funrl eval` and `funrl score`: resumable results in BFCL's file shape.

    done = generate_results(entries, "funrl", out_dir / RESULTS_FILE, backend.generate)
    rows, counts, errors = score_results([(done[e.id], e) for e in entries], "funrl")

Results are written one line per finished entry, `{"id": ..., "result": [[step text, ...], ...]}` (the shape of
BFCL's result files, so `funrl score` and the official checker read them alike). A re-run skips the entries
already there; a torn last line (a killed run) is dropped with a warning and that entry runs again. Scores are
per-category `[correct, scored]` counts and BFCL's error types, for `funrl.evaluate.metrics.aggregate`.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from funrl.multiturn.checker import check_trajectory
from funrl.multiturn.data import MultiTurnEntry
from funrl.multiturn.loop import MAX_STEPS, Conversation, run_conversations
from funrl.schema import Sample

RESULTS_FILE = "generations_multi_turn.jsonl"


class ResultsFileError(ValueError):
    """A results file that cannot be resumed or scored; the message names file and line."""


def valid_result(value: Any) -> bool:
    """Whether `value` has the shape of a multi-turn result: a list of turns, each a list of step texts."""
    return isinstance(value, list) and all(
        isinstance(turn, list) and all(isinstance(s, str) for s in turn) for turn in value
    )


def read_results(path: Path) -> tuple[dict[str, list[list[str]]], bool]:
    """Results already generated: `(result by id, whether the file needs rewriting without a torn last line)`."""
    done: dict[str, list[list[str]]] = {}
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if not text:
        return done, False
    complete = text.endswith("\n")
    lines = text.split("\n")[:-1] if complete else text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
            if not (isinstance(row, dict) and isinstance(row.get("id"), str) and valid_result(row.get("result"))):
                raise ValueError('expected {"id": str, "result": [[str, ...], ...]}')
        except ValueError as exc:
            if lineno == len(lines):
                print(f"funrl eval: {path}:{lineno}: dropping a torn last line (interrupted run)", file=sys.stderr)
                return done, True
            raise ResultsFileError(
                f"{path}:{lineno}: not a multi-turn result line ({exc}); fix or delete it"
            ) from None
        done[row["id"]] = row["result"]
    return done, not complete


def generate_results(
    entries: Sequence[MultiTurnEntry],
    fmt: str,
    path: Path,
    generate: Callable[[list[Sample]], list[str]] | None,
    max_steps: int = MAX_STEPS,
) -> dict[str, list[list[str]]]:
    """Run the conversations of the entries `path` does not hold yet, appending each as it finishes.

    `generate` (a batch of step prompts -> completions) is only needed when something is left to run; pass a
    factory-built one lazily through `funrl eval`."""
    done, rewrite = read_results(path)
    if rewrite:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps({"id": k, "result": v}) + "\n" for k, v in done.items()), encoding="utf-8")
        os.replace(tmp, path)
    todo = [e for e in entries if e.id not in done]
    print(f"funrl eval: multi-turn: {len(entries) - len(todo)} entries done, {len(todo)} to go", file=sys.stderr)
    if not todo:
        return done
    if generate is None:
        raise ValueError("multi-turn entries left to generate but no generator given")
    with path.open("a", encoding="utf-8") as handle:

        def on_done(conv: Conversation) -> None:
            done[conv.entry.id] = conv.result
            handle.write(json.dumps({"id": conv.entry.id, "result": conv.result}, ensure_ascii=False) + "\n")
            handle.flush()

        run_conversations([Conversation(e, fmt, max_steps) for e in todo], generate, on_done)
    return done


def score_results(
    pairs: Sequence[tuple[Any, MultiTurnEntry]], fmt: str
) -> tuple[list[dict[str, Any]], dict[str, list[int]], dict[str, Counter]]:
    """Score `(result, entry)` pairs: per-pair rows (`id`, `category`, `valid`, `reason`, `turn`, `message`),
    per-category `[correct, scored]` counts and error histograms."""
    rows: list[dict[str, Any]] = []
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors: dict[str, Counter] = defaultdict(Counter)
    for result, entry in pairs:
        verdict = check_trajectory(entry, result, fmt)
        counts[entry.category][0] += int(verdict.valid)
        counts[entry.category][1] += 1
        if not verdict.valid:
            errors[entry.category][verdict.reason] += 1
        rows.append(
            {
                "id": entry.id,
                "category": entry.category,
                "valid": verdict.valid,
                "reason": verdict.reason,
                "turn": verdict.turn,
                "message": verdict.message,
            }
        )
    return rows, dict(counts), dict(errors)
