"""`funrl report`: several evaluation runs side by side (markdown table + grouped bar chart).

Reads each run directory's `results.json` (written by `funrl eval`), recomputes the BFCL aggregates from the
per-category counts with `funrl.evaluate.metrics` and writes `report.md` and `report.png` (categories a run did not
score are N/A, never 0; the headline aggregates follow the categories). Partial runs (`--limit`) are marked, and the
share of generations each run cut at its length limit is tabled (`funrl.evaluate.truncation`).

    funrl report runs/eval-base runs/eval-grpo runs/eval-funrl --out runs/report
    funrl report --runs runs/eval-base runs/eval-funrl --out runs/report      # the same; or `runs:` in a --config YAML
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from funrl.evaluate.metrics import DATASET_SIZE, BFCLScores, aggregate, render_markdown
from funrl.evaluate.truncation import load_limits, render_coverage, render_truncation_runs


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


def plot_runs(runs: dict[str, BFCLScores], path: Path, partial=None, truncation=None) -> None:
    from funrl.evaluate.charts import plot_scores

    plot_scores(runs, path, title="BFCL accuracy", partial=partial, truncation=truncation)


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
    limits = dict(zip(names, (load_limits(r) for r in args.runs)))
    partial = {n: bool(cov and cov.get("partial")) for n, (_, cov) in limits.items()}
    parts = [f"- {n}: " + render_coverage(cov) for n, (_, cov) in limits.items() if partial[n]]
    table = "\n\n".join([render_markdown(runs), *(["\n".join(parts)] if parts else [])])
    table += "\n\n" + render_truncation_runs({n: t for n, (t, _) in limits.items()})
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "report.md", table + "\n")
        cut = {n: {c: i["share"] for c, i in t["categories"].items()} for n, (t, _) in limits.items() if t}
        tmp = out / f".report.png.tmp-{os.getpid()}.png"
        plot_runs(runs, tmp, partial=partial, truncation=cut)
        os.replace(tmp, out / "report.png")
        print(f"\nwrote {out}/report.md and {out}/report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
