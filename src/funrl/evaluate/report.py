"""`funrl report`: several evaluation runs side by side (markdown table + grouped bar chart).

Reads each run directory's `results.json` (written by `funrl eval`), recomputes the BFCL aggregates from the
per-category counts with `funrl.evaluate.metrics` and writes `report.md` and `report.png`.

    funrl report runs/eval-base runs/eval-grpo runs/eval-funrl --out runs/report
    funrl report --runs runs/eval-base runs/eval-funrl --out runs/report      # the same; or `runs:` in a --config YAML
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from funrl.evaluate.metrics import DATASET_SIZE, BFCLScores, aggregate, render_markdown


class ReportError(ValueError):
    """A run directory without a readable `results.json`; the message names the file."""


def load_run(run_dir: str | Path) -> tuple[str, BFCLScores]:
    """`(run name, scores)` of one `funrl eval` output directory."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ReportError(f"{path} not found: is {run_dir} a `funrl eval` output directory?")
    from funrl.jsonl import LineError, load_file

    try:
        data = load_file(path)
        cats = {cat: info for cat, info in data["categories"].items() if info["scored"]}
        counts = {cat: (info["correct"], info["scored"]) for cat, info in cats.items()}
        # canonical (non-BFCL) categories carry their own weights; BFCL ones use BFCL's entry counts
        sizes = {cat: info["dataset_size"] for cat, info in cats.items() if cat not in DATASET_SIZE}
        return data.get("name") or Path(run_dir).name, aggregate(counts, dataset_size=sizes)
    except LineError as exc:
        raise ReportError(exc.message) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: not a `funrl eval` results file ({type(exc).__name__}: {exc})") from None


def unique_names(names: list[str], run_dirs: list[str]) -> list[str]:
    """Run names for the table; runs that share a name are told apart by their directory (and position)."""
    out = [n if names.count(n) == 1 else f"{n} ({d})" for n, d in zip(names, run_dirs)]
    return [n if out.count(n) == 1 else f"{n} #{k + 1}" for k, n in enumerate(out)]


def plot_runs(runs: dict[str, BFCLScores], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cats = list(dict.fromkeys(c for s in runs.values() for c, v in s.categories.items() if v.accuracy is not None))
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(cats) + 2), 4))
    for k, (name, scores) in enumerate(runs.items()):
        values = [100 * (scores.categories[c].accuracy or 0) if c in scores.categories else 0 for c in cats]
        ax.bar([i + k * width for i in range(len(cats))], values, width, label=name)
    ax.set_xticks([i + width * (len(runs) - 1) / 2 for i in range(len(cats))], cats, rotation=45, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@dataclass
class ReportArguments:
    """Options of `funrl report` (flags, or keys of a `--config` YAML; TRL's `TrlParser`, like train and sft)."""

    runs: list[str] = field(default_factory=list, metadata={"help": "`funrl eval` output directories (or positional)"})
    out: str | None = field(
        default=None, metadata={"help": "write report.md and report.png here (default: print only)"}
    )

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("no run: pass the `funrl eval` output directories (funrl report RUN [RUN ...])")


def parse_args(argv: list[str]) -> ReportArguments:
    """`funrl report RUN [RUN ...] [--out DIR]`: leading positional runs are read as `--runs`."""
    from trl import TrlParser

    runs, rest, k = [], [], 0
    while k < len(argv):
        token = argv[k]
        if token.startswith("-"):
            rest.append(token)
            if token in ("--out", "--config") and k + 1 < len(argv):
                rest.append(argv[k + 1])
                k += 1
            elif token == "--runs":
                while k + 1 < len(argv) and not argv[k + 1].startswith("-"):
                    rest.append(argv[k + 1])
                    k += 1
        else:
            runs.append(token)
        k += 1
    if runs:
        rest = ["--runs", *runs, *rest]
    parser = TrlParser(ReportArguments, prog="funrl report", description=__doc__.split("\n\n")[0])
    (args,) = parser.parse_args_and_config(rest)
    return args


def main(argv: list[str] | None = None) -> int:
    from funrl.atomic import write_atomic

    try:
        args = parse_args(list(sys.argv[1:] if argv is None else argv))
        loaded = [load_run(r) for r in args.runs]
    except (ReportError, ValueError, OSError) as exc:
        print(f"funrl report: error: {exc}", file=sys.stderr)
        return 2
    names = unique_names([name for name, _ in loaded], args.runs)
    runs = {name: scores for name, (_, scores) in zip(names, loaded)}
    table = render_markdown(runs)
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "report.md", table + "\n")
        tmp = out / f".report.png.tmp-{os.getpid()}.png"
        plot_runs(runs, tmp)
        os.replace(tmp, out / "report.png")
        print(f"\nwrote {out}/report.md and {out}/report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
