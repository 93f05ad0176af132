"""Generations cut at the length limit, and runs that cover only part of a benchmark: counted, never silent.

A generation that stops at `max_new_tokens` instead of finishing (hf: no eos; vllm and openai:
`finish_reason == "length"`) usually has no closed answer, so it scores as a parse failure; a chain of thought cut
this way lowers the table without saying why. `funrl eval` records a `truncated` flag per generation
(`generations.jsonl`, `per_entry.jsonl`) and this module turns the flags into per-category counts and shares for
`results.json`, `results.md`, the chart and `funrl report`. It also says which categories a run covered only in
part (`--limit`), so a partial run is never read as a full BFCL score.

    stats = truncation_stats(per_entry, max_new_tokens=2048)     # rows with "category" and "truncated"
    print(render_truncation(stats))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# FunRL chains of thought average ~350 tokens (the recipes' comment) and the recipes train with
# max_completion_length 2048: evaluating with less would cut what training allowed.
DEFAULT_MAX_NEW_TOKENS = 2048
TRAINING_INFO = "funrl_training.json"  # written beside a saved model by `funrl.model_card`


def default_max_new_tokens(model: str) -> tuple[int, str]:
    """`(budget, where it comes from)`: the model's own `max_completion_length` when it was trained by funrl
    (its `funrl_training.json`), else `DEFAULT_MAX_NEW_TOKENS`."""
    path = Path(model) / TRAINING_INFO
    if path.is_file():
        try:
            value = json.loads(path.read_text()).get("max_completion_length")
        except (json.JSONDecodeError, AttributeError):
            value = None
        if isinstance(value, int) and value > 0:
            return value, f"max_completion_length of {path}"
    return DEFAULT_MAX_NEW_TOKENS, "the default"


def read_truncated(path: str | Path) -> dict[str, bool | None]:
    """The `truncated` flag of each id in a `generations.jsonl` (None: a line written before flags were recorded,
    or by another tool). Lines that are not JSON objects are skipped (`funrl eval` validates the file itself,
    `funrl.jsonl.read_lines`); an id on several lines keeps its first flag, as it keeps its first output."""
    from funrl.jsonl import read_lines

    flags: dict[str, bool | None] = {}
    path = Path(path)
    if not path.is_file():
        return flags
    for line in read_lines(path):
        row = line.value
        if line.error is None and isinstance(row, dict) and isinstance(row.get("id"), str) and row["id"] not in flags:
            value = row.get("truncated")
            flags[row["id"]] = value if isinstance(value, bool) else None
    return flags


def truncation_stats(rows: Iterable[Mapping[str, Any]], max_new_tokens: int | None) -> dict[str, Any]:
    """Per-category counts of generations that hit the limit.

    Args:
        rows: per-entry rows with `category` and `truncated` (True, False, or None when unknown).
        max_new_tokens: the generation budget of the run.

    Returns:
        `{"max_new_tokens", "truncated", "generated", "unknown", "share", "categories": {cat: {...}}}`; `share` is
        truncated / generated over the entries whose flag is known (None when none is known).
    """
    cats: dict[str, dict[str, Any]] = {}
    for row in rows:
        info = cats.setdefault(row["category"], {"truncated": 0, "generated": 0, "unknown": 0})
        flag = row.get("truncated")
        if flag is None:
            info["unknown"] += 1
        else:
            info["generated"] += 1
            info["truncated"] += int(bool(flag))
    for info in cats.values():
        info["share"] = info["truncated"] / info["generated"] if info["generated"] else None
    total = {k: sum(c[k] for c in cats.values()) for k in ("truncated", "generated", "unknown")}
    share = total["truncated"] / total["generated"] if total["generated"] else None
    return {"max_new_tokens": max_new_tokens, **total, "share": share, "categories": cats}


def _share(value: float | None) -> str:
    return "N/A" if value is None else f"{100 * value:.1f}%"


def render_truncation(stats: Mapping[str, Any]) -> str:
    """Markdown: one line saying how many generations hit the limit, and the per-category table when any did."""
    limit = stats.get("max_new_tokens")
    head = (
        f"Generations cut at the length limit (max_new_tokens={limit}): {stats['truncated']} of "
        f"{stats['generated']} ({_share(stats['share'])})"
    )
    if stats.get("unknown"):
        head += f"; {stats['unknown']} generations without a recorded flag"
    if not stats["truncated"]:
        return head + "."
    lines = [
        head + ". A cut generation usually has no closed answer and scores as wrong: raise --max-new-tokens.",
        "",
        "| category | truncated | generated | share |",
        "|---|---:|---:|---:|",
    ]
    for cat, info in stats["categories"].items():
        lines.append(f"| {cat} | {info['truncated']} | {info['generated']} | {_share(info['share'])} |")
    return "\n".join(lines)


def render_truncation_runs(runs: Mapping[str, Mapping[str, Any] | None]) -> str:
    """Markdown for `funrl report`: per run, the share of generations cut at the limit, overall and per category."""
    cats = list(dict.fromkeys(c for s in runs.values() if s for c in s["categories"]))
    lines = [
        "Generations cut at the length limit (truncated / generated):",
        "",
        "| Model | max_new_tokens | all | " + " | ".join(cats) + " |",
        "|---|---:|---:|" + "---:|" * len(cats),
    ]
    for name, stats in runs.items():
        if not stats:
            lines.append(f"| {name} | N/A | not recorded |" + " |" * len(cats))
            continue
        cells = [f"{stats['truncated']}/{stats['generated']}"]
        for cat in cats:
            info = stats["categories"].get(cat)
            cells.append(f"{info['truncated']}/{info['generated']}" if info else "N/A")
        lines.append(f"| {name} | {stats.get('max_new_tokens')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def coverage(entries: Mapping[str, int], limit: int | None, bfcl: bool) -> dict[str, Any]:
    """Which categories a run covered only in part.

    Args:
        entries: category -> entries evaluated.
        limit: the run's `--limit` (first N entries of each category), or None.
        bfcl: whether the entries are BFCL's (their full sizes are known: `funrl.evaluate.metrics.DATASET_SIZE`).

    Returns:
        `{"partial": bool, "limit", "categories": {cat: {"evaluated", "total"}}}` listing the categories evaluated
        in part (`total` None when unknown: a `--limit` run on canonical samples).
    """
    from funrl.evaluate.metrics import DATASET_SIZE

    part: dict[str, dict[str, int | None]] = {}
    for cat, n in entries.items():
        total = DATASET_SIZE.get(cat) if bfcl else None
        if total is not None and n < total:
            part[cat] = {"evaluated": n, "total": total}
        elif total is None and limit is not None and n >= limit:
            part[cat] = {"evaluated": n, "total": None}
    return {"partial": bool(part), "limit": limit, "categories": part}


def render_coverage(info: Mapping[str, Any]) -> str:
    """One markdown line warning that a run is partial (empty when it is not)."""
    if not info.get("partial"):
        return ""
    parts = [
        f"{cat} {c['evaluated']}/{c['total']}" if c["total"] else f"{cat} first {c['evaluated']}"
        for cat, c in info["categories"].items()
    ]
    limit = f" (--limit {info['limit']})" if info.get("limit") else ""
    return (
        f"**Partial run{limit}**: only part of these categories was evaluated, so the scores are not BFCL scores: "
        + ", ".join(parts)
        + "."
    )


def load_limits(run_dir: str | Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """`(truncation, coverage)` recorded in a run's `results.json` (None for runs made before they were recorded)."""
    try:
        data = json.loads((Path(run_dir) / "results.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None, None
    return data.get("truncation"), data.get("coverage")
