"""BFCL multi-turn entries: questions per turn, function docs, held-out functions, ground truth per turn.

    from funrl.multiturn.data import load_entries
    entries = load_entries("../shared/bfcl_data", ["multi_turn_base"], limit=5)

The data folder is the single-turn one (`funrl.bfcl.find_data_dir`): `BFCL_v4_<category>.json`,
`possible_answer/` and `multi_turn_func_doc/`. As BFCL does, an entry's functions are the docs of its involved
classes, in order; in `multi_turn_miss_func` the functions of `missed_function` are taken out of that list and
shown to the model at the turn they belong to (that turn has no user message of its own).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.bfcl import read_json_lines
from funrl.multiturn import MULTI_TURN_CATEGORIES, MULTI_TURN_GROUP
from funrl.multiturn.apis import CLASSES
from funrl.schema import SchemaError


@dataclass
class MultiTurnEntry:
    """One BFCL multi-turn entry.

    Args:
        id: BFCL id, e.g. `multi_turn_base_0`.
        category: one of `MULTI_TURN_CATEGORIES`.
        turns: the messages of each turn (a held-out-function turn has none).
        functions: BFCL function docs shown from the start.
        missed: turn index -> function docs revealed at that turn (miss_func only).
        initial_config: class name -> scenario.
        involved_classes: API classes, in BFCL's order.
        ground_truth: call strings per turn (an empty list: the model should not be able to act).
        api_classes: classes that are not BFCL's, by name (the toy world's); BFCL's are loaded from bfcl-eval.
    """

    id: str
    category: str
    turns: list[list[dict[str, Any]]]
    functions: list[dict[str, Any]]
    initial_config: dict[str, Any]
    involved_classes: list[str]
    ground_truth: list[list[str]]
    missed: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    api_classes: dict[str, type] = field(default_factory=dict)

    @property
    def long_context(self) -> bool:
        return "long_context" in self.category


def expand_multi_turn(spec: str | list[str]) -> list[str]:
    """Multi-turn names in `spec` (names or the group `multi_turn`), in BFCL order; other names are ignored."""
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    wanted = set(MULTI_TURN_CATEGORIES) if MULTI_TURN_GROUP in names else set(names)
    return [c for c in MULTI_TURN_CATEGORIES if c in wanted]


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return read_json_lines(path)


def load_function_docs(root: Path, class_name: str) -> list[dict[str, Any]]:
    """The BFCL function docs of one API class (`multi_turn_func_doc/<file>.json`, one doc per line)."""
    if class_name not in CLASSES:
        raise SchemaError(f"unknown BFCL API class {class_name!r}; funrl runs {', '.join(CLASSES)}")
    return _rows(root / "multi_turn_func_doc" / CLASSES[class_name][1])


def load_entries(
    data_dir: str | os.PathLike | None, categories: str | list[str], limit: int | None = None
) -> list[MultiTurnEntry]:
    """Load multi-turn categories (names or the `multi_turn` group); `limit` keeps the first N of each."""
    from funrl.bfcl import find_data_dir

    root = find_data_dir(data_dir)
    docs_cache: dict[str, list[dict[str, Any]]] = {}
    out: list[MultiTurnEntry] = []
    for category in expand_multi_turn(categories):
        qpath = root / f"BFCL_v4_{category}.json"
        apath = root / "possible_answer" / f"BFCL_v4_{category}.json"
        answers = {row["id"]: row["ground_truth"] for row in _rows(apath)}
        rows = _rows(qpath)
        for lineno, row in enumerate(rows[:limit] if limit else rows, start=1):
            where = f"{qpath}:{lineno}"
            if row.get("id") not in answers:
                raise SchemaError(f"{where}: no ground truth for id {row.get('id')!r} in {apath}")
            functions: list[dict[str, Any]] = []
            for class_name in row["involved_classes"]:
                if class_name not in docs_cache:
                    docs_cache[class_name] = load_function_docs(root, class_name)
                functions.extend(json.loads(json.dumps(docs_cache[class_name])))
            missed: dict[int, list[dict[str, Any]]] = {}
            for turn, names in (row.get("missed_function") or {}).items():
                missed[int(turn)] = []
                for name in names:
                    for i, doc in enumerate(functions):
                        if doc["name"] == name:
                            missed[int(turn)].append(functions.pop(i))
                            break
            truth = answers[row["id"]]
            if len(truth) != len(row["question"]):
                raise SchemaError(f"{where}: {len(row['question'])} turns but {len(truth)} ground-truth turns")
            out.append(
                MultiTurnEntry(
                    id=row["id"],
                    category=category,
                    turns=row["question"],
                    functions=functions,
                    initial_config=row.get("initial_config") or {},
                    involved_classes=list(row["involved_classes"]),
                    ground_truth=truth,
                    missed=missed,
                )
            )
    return out
