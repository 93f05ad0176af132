"""The one plotter: learning curves of training runs, read from their logs and overlaid, one panel per metric.

A run's scalars are read from the `log_history` of `trainer_state.json` (the run folder's own, or its newest
`checkpoint-*`'s), or the tensorboard event files under it (`report_to: tensorboard`); when both exist, the source
that reaches the later step wins (a run killed between checkpoints has later steps in tensorboard only). Each
metric gets a panel, each run a colour; a smoothing weight draws an exponential moving average over the raw curve
(faint). `funrl plot` is the command over it; the CPU demo draws its in-process histories with `curves_figure`.

    from funrl.curves import load_run, plot_runs, curves_figure
    plot_runs([load_run("runs/grpo", "GRPO"), load_run("runs/funrl", "FunRL")], "curves.png", smoothing=0.9)
    load_run("runs/funrl").series["reward"]                                     # (steps, values)
    curves_figure([trainer.state.log_history], ("reward", "kl")).savefig("curves.png")   # in-process histories

Default metrics: `reward`, `kl`, `entropy` (TRL's) and `entropy_adv/bonus_mean` (FunRL's; absent from GRPO runs, whose
panel then shows the FunRL runs only). A run folder without any logs is an error that says what was looked for.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_METRICS = ("reward", "kl", "entropy", "entropy_adv/bonus_mean")
TITLES = {
    "reward": "reward (mean of the step's rollouts)",
    "kl": "KL to the reference",
    "entropy": "token entropy",
    "entropy_adv/bonus_mean": "entropy bonus per token",
}
TB_PREFIX = "train/"  # transformers' tensorboard callback writes training metrics under train/<key>
Series = tuple[list[int], list[float]]


@dataclass
class RunLog:
    """The logged scalars of one run.

    Args:
        name (`str`): label in the figure.
        source (`str`): the file or folder the metrics were read from.
        series (`dict[str, tuple[list[int], list[float]]]`): metric -> (steps, values), steps increasing.
    """

    name: str
    source: str
    series: dict[str, Series] = field(default_factory=dict)

    @property
    def last_step(self) -> int:
        return max((steps[-1] for steps, _ in self.series.values() if steps), default=0)


# ---------------------------------------------------------------------------------------------------
# Reading logs


def _checkpoint_step(path: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", path.name)
    return int(match.group(1)) if match else -1


def find_trainer_state(run_dir: str | Path) -> Path | None:
    """The `trainer_state.json` of a run: the file itself, the run folder's own, else its newest checkpoint's.

    The run folder's own file wins unless a checkpoint is further along (`global_step`), as after a run whose final
    state was not saved.
    """
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return run_dir
    candidates = [run_dir / "trainer_state.json"]
    checkpoints = sorted((p for p in run_dir.glob("checkpoint-*") if p.is_dir()), key=_checkpoint_step)
    candidates += [p / "trainer_state.json" for p in reversed(checkpoints)]
    found = [p for p in candidates if p.is_file()]
    if not found:
        return None
    return max(found, key=lambda p: (_global_step(p), p.parent == run_dir))


def _global_step(path: Path) -> int:
    try:
        return int(json.loads(path.read_text(encoding="utf-8")).get("global_step") or 0)
    except (OSError, ValueError, AttributeError):
        return -1  # unreadable: read_trainer_state reports it if it is the only candidate


def read_trainer_state(path: str | Path) -> dict[str, Series]:
    """Metric -> (steps, values) from the `log_history` of a `trainer_state.json` (numeric entries only)."""
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise ValueError(f"{path}: no `log_history` list; is this a transformers trainer_state.json?")
    return series_from_history(history, str(path))


def series_from_history(history: list[dict], where: str = "log_history") -> dict[str, Series]:
    """Metric -> (steps, values) from a transformers `log_history` (`trainer.state.log_history`), numeric entries
    only; an entry without an integer `step` is an error naming `where` and its index."""
    points: dict[str, dict[int, float]] = {}
    for i, entry in enumerate(history):
        if not isinstance(entry, dict) or not isinstance(entry.get("step"), int):
            raise ValueError(f"{where}: log_history[{i}] is not a log entry with an integer `step`: {entry!r:.120}")
        for key, value in entry.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                points.setdefault(key, {})[entry["step"]] = float(value)  # a resumed run re-logs a step: last wins
    return {key: _as_series(by_step) for key, by_step in points.items()}


def find_event_files(run_dir: str | Path) -> list[Path]:
    """Tensorboard event files anywhere under `run_dir` (transformers writes them to `<output_dir>/runs/<id>/`)."""
    run_dir = Path(run_dir)
    return sorted(run_dir.rglob("events.out.tfevents.*")) if run_dir.is_dir() else []


def read_tensorboard(event_files: list[Path]) -> dict[str, Series]:
    """Metric -> (steps, values) from tensorboard event files; `train/` is dropped from tags, later writes win."""
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except ImportError:
        raise ImportError(
            f"reading {event_files[0]} needs the `tensorboard` package: pip install tensorboard"
        ) from None

    points: dict[str, dict[int, tuple[float, float]]] = {}
    for path in event_files:
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                number = _scalar(value)
                if number is None:
                    continue
                tag = value.tag[len(TB_PREFIX) :] if value.tag.startswith(TB_PREFIX) else value.tag
                previous = points.setdefault(tag, {}).get(event.step)
                if previous is None or event.wall_time >= previous[0]:
                    points[tag][event.step] = (event.wall_time, number)
    return {tag: _as_series({s: v for s, (_, v) in by_step.items()}) for tag, by_step in points.items()}


def _scalar(value) -> float | None:
    """The number in a tensorboard summary value (legacy `simple_value` or a 0-d float tensor), else `None`."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor") and not value.tensor.tensor_shape.dim:
        tensor = value.tensor
        for values in (tensor.float_val, tensor.double_val):
            if len(values) == 1:
                return float(values[0])
        if tensor.tensor_content and tensor.dtype in (1, 2):  # DT_FLOAT, DT_DOUBLE
            import numpy as np

            return float(
                np.frombuffer(tensor.tensor_content, dtype=np.float32 if tensor.dtype == 1 else np.float64)[0]
            )
    return None


def _as_series(by_step: dict[int, float]) -> Series:
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def load_run(run_dir: str | Path, name: str | None = None) -> RunLog:
    """Read a run's metrics: `trainer_state.json` or tensorboard events, whichever reaches the later step.

    Raises:
        `FileNotFoundError`: the folder does not exist, or holds neither log.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"{run_dir}: no such run folder")
    name = name or run_dir.name
    candidates = []
    state = find_trainer_state(run_dir)
    if state is not None:
        candidates.append(RunLog(name, str(state), read_trainer_state(state)))
    events = find_event_files(run_dir)
    if events:
        source = str(events[0].parent if len(events) == 1 else run_dir)
        candidates.append(RunLog(name, source, read_tensorboard(events)))
    candidates = [c for c in candidates if c.series]
    if not candidates:
        raise FileNotFoundError(
            f"{run_dir}: no training logs: looked for trainer_state.json in it and in its checkpoint-* folders, and "
            "for tensorboard event files (events.out.tfevents.*) under it. Train with logging_steps >= 1 and either "
            "save_strategy: steps (checkpoints keep trainer_state.json) or report_to: tensorboard."
        )
    return max(candidates, key=lambda run: run.last_step)  # ties: trainer_state.json (first)


# ---------------------------------------------------------------------------------------------------
# Plotting


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with bias correction (tensorboard's smoothing); `weight` 0 returns `values`.

    Examples:

    ```python
    >>> smooth([1.0, 0.0, 0.0], 0.5)
    [1.0, 0.3333333333333333, 0.14285714285714285]

    ```
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    if weight == 0.0:
        return list(values)
    out, average, norm = [], 0.0, 0.0
    for value in values:
        average = weight * average + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out.append(average / norm)
    return out


def runs_figure(
    runs: list[RunLog], metrics: tuple[str, ...] = DEFAULT_METRICS, smoothing: float = 0.0, title: str | None = None
):
    """The one plotter: a `matplotlib.figure.Figure` with one panel per metric and every run overlaid (a colour each).

    A metric no run logged gets a "not logged" panel. `smoothing` draws an EMA (`smooth`) over the faint raw curve.
    Built on `matplotlib.figure.Figure` (no pyplot state, no display needed).
    """
    from matplotlib.figure import Figure

    ncols = 1 if len(metrics) == 1 else 2
    nrows = math.ceil(len(metrics) / ncols)
    fig = Figure(figsize=(6.0 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for ax, metric in zip(axes, metrics):
        drawn = False
        for run, color in zip(runs, colors):
            if metric not in run.series:
                continue
            steps, values = run.series[metric]
            if smoothing > 0:
                ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
            ax.plot(steps, smooth(values, smoothing), color=color, linewidth=1.6, label=run.name)
            drawn = True
        ax.set_title(TITLES.get(metric, metric) + (f"  [{metric}]" if metric in TITLES else ""), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"{metric}: not logged by these runs", ha="center", va="center", transform=ax.transAxes)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def curves_figure(
    histories: list[list[dict]],
    keys: tuple[str, ...] = DEFAULT_METRICS,
    labels: list[str] | None = None,
    title: str | None = None,
    smoothing: float = 0.0,
):
    """The plotter for in-process callers (the CPU demo): transformers log histories (`trainer.state.log_history`,
    one list per run) and the keys to draw -> a `Figure` (`runs_figure`); save it with `fig.savefig(path)`.

    Examples:

    ```python
    >>> fig = curves_figure([[{"step": 1, "reward": 0.0}, {"step": 2, "reward": 0.5}]], ("reward", "kl"), ["FunRL"])
    >>> len(fig.axes)
    2

    ```
    """
    labels = labels or [f"run {i}" for i in range(len(histories))]
    if len(labels) != len(histories):
        raise ValueError(f"{len(labels)} label(s) for {len(histories)} log histories")
    runs = [RunLog(label, "log_history", series_from_history(h, label)) for h, label in zip(histories, labels)]
    return runs_figure(runs, tuple(keys), smoothing, title)


def plot_runs(
    runs: list[RunLog], out: str | Path, metrics: tuple[str, ...] = DEFAULT_METRICS, smoothing: float = 0.0
) -> Path:
    """Draw `runs_figure` and save it (format from the suffix of `out`).

    Raises:
        `ValueError`: no run logged any of `metrics` (the message lists the metrics the runs do have).
    """
    if not any(m in run.series for run in runs for m in metrics):
        available = sorted({k for run in runs for k in run.series})
        raise ValueError(f"none of the runs logged {list(metrics)}; logged metrics: {available}")
    fig = runs_figure(runs, metrics, smoothing)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def summary(runs: list[RunLog], metrics: tuple[str, ...], smoothing: float) -> str:
    """One line per run: its source, last step, and the last (smoothed) value of each metric."""
    lines = []
    for run in runs:
        values = []
        for metric in metrics:
            if metric in run.series:
                values.append(f"{metric}={smooth(run.series[metric][1], smoothing)[-1]:.4g}")
        lines.append(f"{run.name}: step {run.last_step}, {', '.join(values) or 'no plotted metric'} ({run.source})")
    return "\n".join(lines)
