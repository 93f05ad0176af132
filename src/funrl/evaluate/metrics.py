"""BFCL aggregation: per-category (correct, scored) counts -> accuracies, BFCL group scores and a markdown table.

Shared by `funrl score` and the evaluator, so every number funrl prints is computed here once. The rules are
BFCL's (bfcl-eval `generate_leaderboard_csv`, see the BFCL scoring spec, section 4):

* **v4 Non-Live AST**: unweighted mean of Simple, Multiple, Parallel, Parallel Multiple, where Simple is the
  unweighted mean of simple_python, simple_java, simple_javascript (irrelevance is not part of it);
* **v4 Live AST**: mean of the 4 live AST categories weighted by their BFCL entry counts;
* **v4 Hallucination**: unweighted mean of irrelevance and live_irrelevance;
* **v4 Live relevance**: live_relevance alone (shown by BFCL, not part of any overall);
* **Multi-turn**: unweighted mean of the 4 multi-turn categories (`funrl eval --categories multi_turn`);
* **v3 Non-Live**: unweighted mean of Simple, Multiple, Parallel, Parallel Multiple and Irrelevance;
* **v3 Live**: the 6 live categories (4 AST + live_irrelevance + live_relevance) weighted by entry count;
* **v3 Overall**: unweighted mean of v3 Non-Live, v3 Live and Multi-turn. Multi-turn is not single-turn: when
  it was not scored it counts as 0, as BFCL does for a category that was not run, and the note says so;
* **v4 Overall**: 0.1 Non-Live AST + 0.1 Live AST + 0.1 Hallucination + 0.3 Multi-turn + 0.4 Agentic. The agentic
  categories (web search, memory) cannot be scored offline: they count as 0, as BFCL counts a category that was
  not run, so the value is at most 60% and the note says so. Reported only once the other four are scored;
* **Paper overall**: (v4 Non-Live AST + v4 Live AST) / 2, the "Overall" column of the FunRL / FunReason tables.
  Not a BFCL number; labelled as such.

A group whose categories were not all scored is `None` and its note says which are missing, as in
the official script. Weights are BFCL's entry counts (`dataset_size`), not the number of lines scored.

    from funrl.evaluate.metrics import aggregate, render_markdown
    scores = aggregate({"simple_python": (380, 400), "multiple": (180, 200)})
    scores.groups["v4_non_live_ast"].value     # None: simple_java, ... were not scored
    print(render_markdown({"my-model": scores}))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from funrl.bfcl import HALLUCINATION, LIVE_AST, SINGLE_TURN

MULTI_TURN: dict[str, int] = {
    "multi_turn_base": 200,
    "multi_turn_miss_func": 200,
    "multi_turn_miss_param": 200,
    "multi_turn_long_context": 200,
}
DATASET_SIZE: dict[str, int] = {**SINGLE_TURN, **MULTI_TURN}
SIMPLE = ("simple_python", "simple_java", "simple_javascript")
V3_LIVE = (*LIVE_AST, "live_irrelevance", "live_relevance")

# group key -> human label (the order is the order of printing)
GROUP_LABELS: dict[str, str] = {
    "v4_non_live_ast": "Non-Live AST (v4 Non-Live)",
    "v4_live_ast": "Live AST (v4 Live)",
    "paper_overall": "Overall (paper: mean of Non-Live AST and Live AST; not a BFCL number)",
    "v4_hallucination": "Hallucination (v4)",
    "v4_live_relevance": "Live relevance (v4, not in any overall)",
    "multi_turn": "Multi-turn",
    "v3_non_live": "v3 Non-Live",
    "v3_live": "v3 Live",
    "v3_overall": "v3 Overall",
    "v4_overall": "v4 Overall (agentic counted as 0)",
}


@dataclass
class CategoryScore:
    """Counts of one category. `accuracy` = correct / scored (`None` when nothing was scored)."""

    correct: int
    scored: int
    dataset_size: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


@dataclass
class GroupScore:
    """One aggregate: `value` in [0, 1] or `None`, and a `note` saying why it is `None` or what it assumes.

    `missing` lists the categories that were not scored (the reason for a `None`)."""

    value: float | None
    note: str = ""
    missing: tuple[str, ...] = ()


@dataclass
class BFCLScores:
    """Per-category scores plus the BFCL group scores (keys of `GROUP_LABELS`)."""

    categories: dict[str, CategoryScore]
    groups: dict[str, GroupScore] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Machine-readable form (what `funrl score --json` prints)."""
        return {
            "categories": {
                name: {
                    "accuracy": c.accuracy,
                    "correct": c.correct,
                    "scored": c.scored,
                    "dataset_size": c.dataset_size,
                }
                for name, c in self.categories.items()
            },
            "groups": {
                key: {"value": g.value, "label": GROUP_LABELS[key], "note": g.note, "missing": list(g.missing)}
                for key, g in self.groups.items()
            },
        }


def _as_counts(value) -> tuple[int, int]:
    if isinstance(value, CategoryScore):
        return value.correct, value.scored
    if isinstance(value, Mapping):
        return int(value["correct"]), int(value["scored"])
    correct, scored = value
    return int(correct), int(scored)


def _missing(missing: list[str]) -> GroupScore:
    return GroupScore(None, f"not scored: {', '.join(missing)}", tuple(missing))


def _mean(parts: dict[str, GroupScore | float | None]) -> GroupScore:
    """Unweighted mean; `parts` maps a category name to its accuracy, or a sub-group name to its `GroupScore`."""
    missing: list[str] = []
    for name, part in parts.items():
        if isinstance(part, GroupScore):
            missing += [m for m in part.missing if m not in missing]
        elif part is None:
            missing.append(name)
    if missing:
        return _missing(missing)
    values = [p.value if isinstance(p, GroupScore) else p for p in parts.values()]
    return GroupScore(sum(values) / len(values))


def _weighted(cats: dict[str, CategoryScore], names: tuple[str, ...]) -> GroupScore:
    missing = [n for n in names if n not in cats or cats[n].accuracy is None]
    if missing:
        return _missing(missing)
    total = sum(cats[n].dataset_size for n in names)
    return GroupScore(sum(cats[n].accuracy * cats[n].dataset_size for n in names) / total)


def aggregate(counts: Mapping[str, object], dataset_size: Mapping[str, int] | None = None) -> BFCLScores:
    """Compute per-category accuracy and the BFCL group scores from per-category counts.

    Args:
        counts (`Mapping[str, ...]`):
            Category name (BFCL v4 name) -> `(correct, scored)`, a `{"correct", "scored"}` mapping or a
            `CategoryScore`. Single-turn and multi-turn categories are accepted.
        dataset_size (`Mapping[str, int]`, *optional*):
            Entry counts used as weights; defaults to BFCL v4's (`DATASET_SIZE`).

    Returns:
        `BFCLScores`: categories in BFCL order, then the groups of `GROUP_LABELS`.

    Examples:

    ```python
    >>> s = aggregate({"live_simple": (258, 258), "live_multiple": (0, 1053), "live_parallel": (16, 16),
    ...                "live_parallel_multiple": (24, 24)})
    >>> round(s.groups["v4_live_ast"].value, 4)   # weighted by entry count: (258 + 16 + 24) / 1351
    0.2206
    >>> s.groups["v4_non_live_ast"].note
    'not scored: simple_python, simple_java, simple_javascript, multiple, parallel, parallel_multiple'

    ```
    """
    sizes = dict(DATASET_SIZE)
    sizes.update(dataset_size or {})
    unknown = [name for name in counts if name not in sizes]
    if unknown:
        raise ValueError(f"unknown BFCL categories {unknown}; valid: {', '.join(DATASET_SIZE)}")
    cats: dict[str, CategoryScore] = {}
    for name in sizes:  # BFCL order
        if name in counts:
            correct, scored = _as_counts(counts[name])
            if not 0 <= correct <= scored:
                raise ValueError(f"category {name}: correct={correct} must be between 0 and scored={scored}")
            cats[name] = CategoryScore(correct, scored, sizes[name])

    def acc(name: str) -> float | None:
        return cats[name].accuracy if name in cats else None

    simple = _mean({n: acc(n) for n in SIMPLE})
    core = {"simple": simple, **{n: acc(n) for n in ("multiple", "parallel", "parallel_multiple")}}
    non_live = _mean(core)
    live = _weighted(cats, LIVE_AST)
    multi_turn = _mean({n: acc(n) for n in MULTI_TURN})
    v3_non_live = _mean({**core, "irrelevance": acc("irrelevance")})
    v3_live = _weighted(cats, V3_LIVE)

    if v3_non_live.value is None or v3_live.value is None:
        v3_overall = _mean({"v3_non_live": v3_non_live, "v3_live": v3_live})
    elif multi_turn.value is None:
        # BFCL scores a category that was not run as 0 in its overall; say so instead of hiding it.
        v3_overall = GroupScore(
            (v3_non_live.value + v3_live.value) / 3,
            f"multi-turn counted as 0 ({multi_turn.note}); add --categories multi_turn to score it",
        )
    else:
        v3_overall = _mean({"v3_non_live": v3_non_live, "v3_live": v3_live, "multi_turn": multi_turn})

    paper = _mean({"v4_non_live_ast": non_live, "v4_live_ast": live})
    if paper.value is not None:
        paper.note = "mean of Non-Live AST and Live AST, as in the FunRL tables; not a BFCL aggregate"
    hallucination = _mean({n: acc(n) for n in HALLUCINATION})
    v4_overall = _mean({"v4_non_live_ast": non_live, "v4_live_ast": live, "v4_hallucination": hallucination,
                        "multi_turn": multi_turn})  # fmt: skip
    if v4_overall.value is not None:
        v4_overall = GroupScore(
            0.1 * non_live.value + 0.1 * live.value + 0.1 * hallucination.value + 0.3 * multi_turn.value,
            "agentic (web search, memory; 40% of it) not run: counted as 0, as BFCL does, so at most 60%",
        )
    relevance = acc("live_relevance")
    groups = {
        "v4_non_live_ast": non_live,
        "v4_live_ast": live,
        "paper_overall": paper,
        "v4_hallucination": hallucination,
        "v4_live_relevance": GroupScore(relevance) if relevance is not None else _missing(["live_relevance"]),
        "multi_turn": multi_turn,
        "v3_non_live": v3_non_live,
        "v3_live": v3_live,
        "v3_overall": v3_overall,
        "v4_overall": v4_overall,
    }
    return BFCLScores(categories=cats, groups=groups)


# ---------------------------------------------------------------------------------------------------
# Rendering


def _pct(value: float | None) -> str:
    return "N/A" if value is None else f"{100 * value:.2f}"


# Columns of the summary table: paper layout first, then the v3 overall and the v4 sub-scores.
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("v4_non_live_ast", "Non-Live AST"),
    ("v4_live_ast", "Live"),
    ("paper_overall", "Overall (paper)"),
    ("v3_overall", "v3 Overall"),
    ("v4_hallucination", "Hallucination"),
    ("v4_live_relevance", "Live relevance"),
    ("multi_turn", "Multi-turn"),
    ("v4_overall", "v4 Overall"),
)


def render_markdown(runs: Mapping[str, BFCLScores], categories: bool = True) -> str:
    """Markdown tables (accuracy in %) for one or more runs side by side.

    The first table has the paper's layout (Non-Live AST | Live | Overall) followed by the v3 overall and the
    v4 sub-scores; the second (with `categories=True`) has one column per category that any run scored.
    `N/A` marks a score that could not be computed; the notes under the tables say why.

    Examples:

    ```python
    >>> print(render_markdown({"m": aggregate({"irrelevance": (200, 240), "live_irrelevance": (884, 884)})},
    ...                       categories=False).splitlines()[2])
    | m | N/A | N/A | N/A | N/A | 91.67 | N/A | N/A | N/A |

    ```
    """
    head = "| Model | " + " | ".join(label for _, label in SUMMARY_COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * len(SUMMARY_COLUMNS)]
    for name, scores in runs.items():
        cells = [_pct(scores.groups[key].value) for key, _ in SUMMARY_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if categories:
        # BFCL categories in BFCL order, then other (canonical-sample) categories in the order the runs give them
        seen = dict.fromkeys(c for s in runs.values() for c in s.categories)
        names = [c for c in DATASET_SIZE if c in seen] + [c for c in seen if c not in DATASET_SIZE]
        if names:
            lines += ["", "| Model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
            for name, scores in runs.items():
                cells = [_pct(scores.categories[c].accuracy) if c in scores.categories else "N/A" for c in names]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = []
    for name, scores in runs.items():
        for key, label in SUMMARY_COLUMNS:
            note = scores.groups[key].note
            if note and (scores.groups[key].value is None or key in ("v3_overall", "v4_overall")):
                notes.append(f"- {name}: {label}: {note}")
    if notes:
        lines += ["", *notes]
    lines += ["", "Paper overall = (Non-Live AST + Live) / 2 as in the FunRL tables; not a BFCL aggregate."]
    return "\n".join(lines)
