"""`funrl report`: several evaluation runs side by side (markdown table + grouped bar chart).

Reads each run directory's `results.json` (written by `funrl eval`), recomputes the BFCL aggregates from the
per-category counts with `funrl.metrics` and writes `report.md` and `report.png` (categories a run did not score are
N/A, never 0; the headline aggregates follow the categories). Partial runs (`--limit`) are marked, and the share of
generations each run cut at its length limit is tabled (`funrl.evaluate.truncation`).

    funrl report runs/eval-base runs/eval-grpo runs/eval-funrl --out runs/report
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from funrl.evaluate.truncation import load_limits, render_coverage, render_truncation_runs
from funrl.metrics import DATASET_SIZE, BFCLScores, aggregate, render_markdown


class ReportError(ValueError):
    """A run directory without a readable `results.json`; the message names the file."""


def load_run(run_dir: str | Path) -> tuple[str, BFCLScores]:
    """`(run name, scores)` of one `funrl eval` output directory."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ReportError(f"{path} not found: is {run_dir} a `funrl eval` output directory?")
    try:
        data = json.loads(path.read_text())
        cats = {cat: info for cat, info in data["categories"].items() if info["scored"]}
        counts = {cat: (info["correct"], info["scored"]) for cat, info in cats.items()}
        # canonical (non-BFCL) categories carry their own weights; BFCL ones use BFCL's entry counts
        sizes = {cat: info["dataset_size"] for cat, info in cats.items() if cat not in DATASET_SIZE}
        return data.get("name") or Path(run_dir).name, aggregate(counts, dataset_size=sizes)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: not a `funrl eval` results file ({type(exc).__name__}: {exc})") from None


def unique_names(names: list[str], run_dirs: list[str]) -> list[str]:
    """Run names for the table; runs that share a name are told apart by their directory (and position)."""
    out = [n if names.count(n) == 1 else f"{n} ({d})" for n, d in zip(names, run_dirs)]
    return [n if out.count(n) == 1 else f"{n} #{k + 1}" for k, n in enumerate(out)]


def plot_runs(runs: dict[str, BFCLScores], path: Path, partial=None, truncation=None) -> None:
    from funrl.evaluate.charts import plot_scores

    plot_scores(runs, path, title="BFCL accuracy", partial=partial, truncation=truncation)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="funrl report", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="`funrl eval` output directories")
    parser.add_argument("--out", default=None, help="write report.md and report.png here (default: print only)")
    args = parser.parse_args(argv)
    try:
        loaded = [load_run(r) for r in args.runs]
    except ReportError as exc:
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
        (out / "report.md").write_text(table + "\n")
        cut = {n: {c: i["share"] for c, i in t["categories"].items()} for n, (t, _) in limits.items() if t}
        plot_runs(runs, out / "report.png", partial=partial, truncation=cut)
        print(f"\nwrote {out}/report.md and {out}/report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
