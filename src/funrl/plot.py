"""`funrl plot`: learning curves of one or more training runs, overlaid (the paper's GRPO vs FunRL figure).

A thin command over the library plotter `funrl.curves` (how logs are found and read, what is drawn). Options are
`PlotArguments`, filled by TRL's `TrlParser` like train/sft (`--help` shows every default; `--config` takes YAML).

    funrl plot runs/grpo runs/funrl --labels GRPO FunRL --out curves.png
    funrl plot runs/qwen/grpo runs/qwen/funrl --smooth 0.9 --metrics reward kl entropy entropy_adv/cap_frac

Default metrics: `reward`, `kl`, `entropy` (TRL's) and `entropy_adv/bonus_mean` (FunRL's; absent from GRPO runs, whose
panel then shows the FunRL runs only). A run folder without any logs is an error that says what was looked for.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from funrl.curves import DEFAULT_METRICS, load_run, plot_runs, summary


@dataclass
class PlotArguments:
    """Options of `funrl plot` (the run folders are positional). Filled by TRL's `TrlParser`, like train/sft, so
    `--config plot.yaml` works too and `--help` shows every default.

    Parameters:
        out (`str`, *optional*, defaults to `"curves.png"`):
            Figure file; `.png`, `.pdf` or `.svg`.
        labels (`list[str]` or `None`, *optional*):
            One label per run (default: the folder names, or full paths when the names clash).
        metrics (`list[str]`, *optional*, defaults to `DEFAULT_METRICS`):
            Logged keys to draw, one panel each.
        smooth (`float`, *optional*, defaults to `0.0`):
            EMA weight in [0, 1) over the raw curves, e.g. 0.9.
    """

    out: str = field(default="curves.png", metadata={"help": "Figure file; .png, .pdf or .svg."})
    labels: list[str] | None = field(default=None, metadata={"help": "One label per run (default: the folder names)."})
    metrics: list[str] = field(
        default_factory=lambda: list(DEFAULT_METRICS), metadata={"help": "Logged keys to draw, one panel each."}
    )
    smooth: float = field(default=0.0, metadata={"help": "EMA weight in [0, 1) over the raw curves, e.g. 0.9."})

    def __post_init__(self):
        if not 0.0 <= self.smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {self.smooth}")


def make_parser():
    """The `TrlParser` over `PlotArguments`, plus the positional run folders."""
    from trl import TrlParser

    parser = TrlParser(PlotArguments, prog="funrl plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (output_dir of funrl train / sft)")
    return parser


def _default_labels(run_dirs: list[str]) -> list[str]:
    names = [Path(d).name or str(d) for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [str(Path(d)) for d in run_dirs]  # folder names clash (runs/a/funrl, runs/b/funrl): full paths


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors

    with user_errors("funrl plot"):  # bad flags or values: one line, exit code 2
        args, rest = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
        if args.labels and len(args.labels) != len(rest.runs):
            raise ValueError(f"--labels gives {len(args.labels)} label(s) for {len(rest.runs)} run(s)")
    labels = args.labels or _default_labels(rest.runs)
    try:
        runs = [load_run(run_dir, label) for run_dir, label in zip(rest.runs, labels)]
        out = plot_runs(runs, args.out, tuple(args.metrics), args.smooth)
    except (FileNotFoundError, ValueError) as exc:
        print(f"funrl plot: {exc}", file=sys.stderr)
        return 1
    print(summary(runs, tuple(args.metrics), args.smooth))
    print(f"funrl plot: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
