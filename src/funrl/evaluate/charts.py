"""Bar charts of evaluation runs: per-category accuracy, then the headline aggregates, with nothing invented.

One plotter serves `funrl eval` (`per_category.png`, one run) and `funrl report` (`report.png`, runs side by
side). A category a run did not score is drawn as a hatched "N/A" slot, never as a 0 bar; the headline aggregates
(Non-Live AST, Live, BFCL v3 overall, the paper's overall) follow the categories after a gap; a partial run
(`--limit`) is marked in the legend and the title; categories where generations hit the length limit carry the
share that was cut.

    plot_scores({"funrl": scores}, Path("per_category.png"), title="funrl (funrl format)",
                categories=["simple_python", "simple_java"], partial={"funrl": True},
                truncation={"funrl": {"simple_python": 0.1}})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from funrl.evaluate.metrics import BFCLScores

# (group key of `funrl.evaluate.metrics`, label on the chart)
HEADLINES: tuple[tuple[str, str], ...] = (
    ("v4_non_live_ast", "Non-Live AST"),
    ("v4_live_ast", "Live"),
    ("v3_overall", "Overall (v3)"),
    ("paper_overall", "Overall (paper)"),
)


def chart_values(
    runs: Mapping[str, BFCLScores], categories: Sequence[str] | None = None
) -> tuple[list[str], dict[str, list[float | None]]]:
    """`(slot labels, values in % per run)`: the categories (given, else every category any run scored), then the
    headline aggregates; `None` where a run has no value (drawn as N/A)."""
    if categories is None:
        categories = list(dict.fromkeys(c for s in runs.values() for c in s.categories))
    labels = [*categories, *(label for _, label in HEADLINES)]
    values: dict[str, list[float | None]] = {}
    for name, scores in runs.items():
        row: list[float | None] = []
        for cat in categories:
            acc = scores.categories[cat].accuracy if cat in scores.categories else None
            row.append(None if acc is None else 100 * acc)
        for key, _ in HEADLINES:
            group = scores.groups.get(key)
            row.append(None if group is None or group.value is None else 100 * group.value)
        values[name] = row
    return labels, values


def plot_scores(
    runs: Mapping[str, BFCLScores],
    path: str | Path,
    title: str = "",
    categories: Sequence[str] | None = None,
    partial: Mapping[str, bool] | None = None,
    truncation: Mapping[str, Mapping[str, float | None]] | None = None,
) -> None:
    """Write a grouped bar chart (PNG) of `runs`; see the module docstring for what it shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, values = chart_values(runs, categories)
    n_cats = len(labels) - len(HEADLINES)
    xs = [i + (0.8 if i >= n_cats else 0.0) for i in range(len(labels))]  # a gap before the aggregates
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(labels) * max(1, len(runs)) ** 0.5 + 2), 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, row) in enumerate(values.items()):
        color = colors[k % len(colors)]
        label = f"{name} (partial)" if partial and partial.get(name) else name
        cut = (truncation or {}).get(name) or {}
        offsets = [x + k * width - 0.4 + width / 2 for x in xs]
        drawn = [(x, v) for x, v in zip(offsets, row) if v is not None]
        ax.bar([x for x, _ in drawn], [v for _, v in drawn], width, color=color, label=label)
        for i, (x, v) in enumerate(zip(offsets, row)):
            if v is None:  # not scored: an empty hatched slot, never a 0 bar
                ax.bar(x, 100, width, fill=False, hatch="//", edgecolor="#BBBBBB", linewidth=0)
                ax.text(x, 50, "N/A", ha="center", va="center", rotation=90, fontsize=7, color="#777777")
                continue
            text = f"{v:.1f}"
            share = cut.get(labels[i]) if i < n_cats else None
            if share:
                text += f"\ncut {100 * share:.0f}%"
            ax.text(x, v + 1, text, ha="center", va="bottom", fontsize=6)
    ax.axvline(n_cats - 0.5 + 0.4, color="#999999", linewidth=0.8, linestyle=":")
    ax.set_xticks(xs, labels, rotation=45, ha="right", fontsize=8)
    for tick in ax.get_xticklabels()[n_cats:]:
        tick.set_fontweight("bold")
    ax.set_ylim(0, 112)
    ax.set_ylabel("accuracy (%)")
    if partial and any(partial.values()):
        title = (title + "\n" if title else "") + "partial run (--limit): not BFCL scores"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
