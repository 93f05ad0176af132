"""BFCL data: category names, groups, and a loader from BFCL question + possible-answer files to `Sample`s.

The data comes from a directory laid out like bfcl-eval's `data/` folder (`BFCL_v4_<category>.json`
and `possible_answer/BFCL_v4_<category>.json`), e.g. `../shared/bfcl_data` in this project's tests, or
from the installed `bfcl-eval` package (found without importing it: its import chain loads every API SDK).

    from funrl.bfcl import load_bfcl, expand_categories
    samples = load_bfcl("../shared/bfcl_data", expand_categories("non_live"))
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from funrl.schema import Sample, SchemaError, language_of, normalize_tools

# Single-turn categories (v4 names) with their entry counts in BFCL v4.
SINGLE_TURN: dict[str, int] = {
    "simple_python": 400,
    "simple_java": 100,
    "simple_javascript": 50,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
    "live_simple": 258,
    "live_multiple": 1053,
    "live_parallel": 16,
    "live_parallel_multiple": 24,
    "live_irrelevance": 884,
    "live_relevance": 16,
}
NON_LIVE_AST = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple")
LIVE_AST = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
HALLUCINATION = ("irrelevance", "live_irrelevance")
GROUPS: dict[str, tuple[str, ...]] = {
    "single_turn": tuple(SINGLE_TURN),
    "non_live": (*NON_LIVE_AST, "irrelevance"),
    "non_live_ast": NON_LIVE_AST,
    "live": (*LIVE_AST, "live_irrelevance", "live_relevance"),
    "live_ast": LIVE_AST,
    "hallucination": HALLUCINATION,
    "python": tuple(c for c in SINGLE_TURN if c not in ("simple_java", "simple_javascript")),
    "ast": (*NON_LIVE_AST, *LIVE_AST),
}
# v3 names still seen in older result files and papers.
V3_ALIASES = {"simple": "simple_python", "java": "simple_java", "javascript": "simple_javascript"}
NO_ANSWER_CATEGORIES = ("irrelevance", "live_irrelevance", "live_relevance")


def expand_categories(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """Turn `"simple_python,live"` (names, v3 aliases or group names) into an ordered list of categories.

    An unknown name raises `ValueError` listing the valid ones.
    """
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for name in filter(None, names):
        name = V3_ALIASES.get(name, name)
        if name in GROUPS:
            members = GROUPS[name]
        elif name in SINGLE_TURN:
            members = (name,)
        else:
            raise ValueError(
                f"unknown BFCL category {name!r}; valid categories: {', '.join(SINGLE_TURN)}; "
                f"groups: {', '.join(GROUPS)}"
            )
        out.extend(m for m in members if m not in out)
    return out


def category_of(entry_id: str) -> str:
    """`live_parallel_multiple_3-2-1` -> `live_parallel_multiple`; `simple_python_12` -> `simple_python`."""
    head = entry_id.rsplit("_", 1)[0]
    if head in SINGLE_TURN:
        return head
    for name in sorted(SINGLE_TURN, key=len, reverse=True):
        if entry_id.startswith(name + "_"):
            return name
    raise ValueError(f"cannot tell the BFCL category of id {entry_id!r}")


def find_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the BFCL data folder: the given path, else `$BFCL_DATA_DIR`, else the installed bfcl-eval data."""
    candidates: list[Path] = []
    if data_dir:
        candidates.append(Path(data_dir))
    elif os.environ.get("BFCL_DATA_DIR"):
        candidates.append(Path(os.environ["BFCL_DATA_DIR"]))
    else:
        spec = importlib.util.find_spec("bfcl_eval")  # locates the package without importing it
        if spec is not None and spec.submodule_search_locations:
            candidates.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    for path in candidates:
        if (path / "possible_answer").is_dir():
            return path
    tried = ", ".join(str(p) for p in candidates) or "nothing"
    raise FileNotFoundError(
        f"BFCL data not found (tried {tried}). Pass --data-dir pointing at a folder with BFCL_v4_<category>.json "
        "and possible_answer/, set BFCL_DATA_DIR, or `pip install bfcl-eval`."
    )


def read_json_lines(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SchemaError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
    return rows


def entry_sample(
    row: dict[str, Any], category: str, ground_truth: list, source: str = "bfcl", meta: dict[str, Any] | None = None
) -> Sample:
    """The one BFCL entry -> `Sample` builder (used by `load_category` and the `bfcl` reader of `funrl prepare`).

    `row` is one line of a question file (`id`, `question`: a list of turns, `function`: BFCL's docs), `category`
    its single-turn category and `ground_truth` its possible answer (`[]` for the no-answer categories). The
    turns are flattened into `messages`, the tools normalised for the category's language (`language_of`), and
    BFCL's own docs kept as `meta["bfcl_functions"]` (the Java / JavaScript matcher reads their element types);
    `meta` adds fields after it. Raises `AttributeError` / `TypeError` for docs that cannot be normalised.
    """
    functions = row.get("function") or []
    return Sample(
        id=str(row["id"]),
        source=source,
        category=category,
        messages=[m for turn in row.get("question") or [] for m in turn],
        tools=normalize_tools(functions, language_of(category)),
        ground_truth=ground_truth,
        meta={"bfcl_functions": functions, **(meta or {})},
    )


def load_category(data_dir: str | os.PathLike | None, category: str, version: str = "v4") -> list[Sample]:
    """Load one single-turn category as `Sample`s (multi-turn and agentic categories are not single-turn)."""
    if category not in SINGLE_TURN:
        expand_categories(category)  # raises the listing error for unknown names
        raise ValueError(f"{category!r} is a group; use expand_categories() first")
    root = find_data_dir(data_dir)
    qpath = root / f"BFCL_{version}_{category}.json"
    if not qpath.is_file():
        raise FileNotFoundError(f"{qpath} not found (BFCL data folder {root})")
    answers: dict[str, list] = {}
    apath = root / "possible_answer" / f"BFCL_{version}_{category}.json"
    if category not in NO_ANSWER_CATEGORIES:
        if not apath.is_file():
            raise FileNotFoundError(f"{apath} not found: category {category} needs its possible answers")
        answers = {row["id"]: row["ground_truth"] for row in read_json_lines(apath)}
    samples = []
    for lineno, row in enumerate(read_json_lines(qpath), start=1):
        if category not in NO_ANSWER_CATEGORIES and row["id"] not in answers:
            raise SchemaError(f"{apath}: no possible answer for id {row['id']!r} ({qpath}:{lineno})")
        samples.append(entry_sample(row, category, answers.get(row["id"], [])))
    return samples


def load_bfcl(
    data_dir: str | os.PathLike | None = None, categories: str | list[str] = "single_turn", limit: int | None = None
) -> list[Sample]:
    """Load several categories (names or groups); `limit` keeps the first N entries of each category."""
    out: list[Sample] = []
    for category in expand_categories(categories):
        entries = load_category(data_dir, category)
        out.extend(entries[:limit] if limit else entries)
    return out
