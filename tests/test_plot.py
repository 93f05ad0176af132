"""`funrl plot` on synthetic run folders (trainer_state.json, checkpoints, tensorboard events) and on a real smoke run.

.venv/bin/python -m pytest tests/test_plot.py -q                 # synthetic runs, seconds
.venv/bin/python -m pytest tests/test_plot.py -q -m slow         # + a real 2-step `funrl train` run
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from funrl.curves import (
    DEFAULT_METRICS,
    curves_figure,
    find_event_files,
    load_run,
    plot_runs,
    read_trainer_state,
    smooth,
)
from funrl.plot import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(steps: int, funrl: bool, seed: int = 0) -> list[dict]:
    """A log_history shaped like FunRLTrainer's: one entry per step, plus the final summary entry."""
    history = []
    for step in range(1, steps + 1):
        entry = {
            "step": step,
            "epoch": step / steps,
            "loss": 0.01 * math.sin(step + seed),
            "reward": 0.6 + 0.3 * (1 - math.exp(-step / 20)) + 0.02 * math.sin(3 * step + seed),
            "kl": 0.001 * step * (1.2 if funrl else 1.0),
            "entropy": 0.8 - 0.002 * step,
            "learning_rate": 1e-6,
        }
        if funrl:
            entry["entropy_adv/bonus_mean"] = 0.05 + 0.01 * math.cos(step)
        history.append(entry)
    history.append({"step": steps, "train_runtime": 12.5, "train_loss": 0.001, "total_flos": 0.0})
    return history


def _write_state(folder: Path, history: list[dict], global_step: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trainer_state.json"
    state = {"global_step": global_step or history[-1]["step"], "log_history": history}
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def _check_png(path: Path, min_bytes: int = 20_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes: an empty figure?"


@pytest.fixture
def two_runs(tmp_path):
    """A GRPO run with its final trainer_state.json, and a FunRL run with checkpoints only."""
    grpo = tmp_path / "grpo"
    _write_state(grpo, _history(60, funrl=False))
    funrl = tmp_path / "funrl"
    _write_state(funrl / "checkpoint-20", _history(20, funrl=True, seed=1))
    _write_state(funrl / "checkpoint-50", _history(50, funrl=True, seed=1))  # newest: the one to read
    return grpo, funrl


def test_read_trainer_state_keeps_numeric_series(two_runs):
    series = read_trainer_state(two_runs[0] / "trainer_state.json")
    steps, rewards = series["reward"]
    assert steps == list(range(1, 61)) and len(rewards) == 60
    assert "entropy_adv/bonus_mean" not in series  # GRPO logs no bonus
    assert series["train_runtime"] == ([60], [12.5])


def test_load_run_takes_the_newest_checkpoint(two_runs):
    run = load_run(two_runs[1])
    assert run.source.endswith("checkpoint-50/trainer_state.json")
    assert run.last_step == 50 and run.series["reward"][0][-1] == 50


def test_run_folder_state_loses_to_a_later_checkpoint(tmp_path):
    """A stale final state (from an earlier, shorter run) must not hide a later checkpoint."""
    _write_state(tmp_path / "run", _history(10, funrl=True))
    _write_state(tmp_path / "run" / "checkpoint-30", _history(30, funrl=True))
    assert load_run(tmp_path / "run").last_step == 30


def test_plot_two_runs(two_runs, tmp_path, capsys):
    out = tmp_path / "figs" / "curves.png"
    assert main([str(two_runs[0]), str(two_runs[1]), "--out", str(out), "--labels", "GRPO", "FunRL"]) == 0
    _check_png(out)
    printed = capsys.readouterr().out
    assert "GRPO: step 60" in printed and "FunRL: step 50" in printed and "entropy_adv/bonus_mean=" in printed


def test_smoothing_changes_the_figure(two_runs, tmp_path):
    raw, smoothed = tmp_path / "raw.png", tmp_path / "smooth.png"
    assert main([str(two_runs[0]), "--out", str(raw)]) == 0
    assert main([str(two_runs[0]), "--out", str(smoothed), "--smooth", "0.9"]) == 0
    _check_png(raw)
    _check_png(smoothed)
    assert raw.read_bytes() != smoothed.read_bytes()


@pytest.mark.parametrize(
    "values, weight, expected",
    [
        ([1.0, 2.0, 3.0], 0.0, [1.0, 2.0, 3.0]),  # weight 0: unchanged
        ([5.0, 5.0, 5.0], 0.9, [5.0, 5.0, 5.0]),  # bias-corrected: a constant stays constant from the first point
        ([1.0, 0.0], 0.5, [1.0, 1 / 3]),  # (0.5*0.5*1 + 0.5*0) / (1 - 0.25)
        ([], 0.5, []),
    ],
)
def test_smooth(values, weight, expected):
    assert smooth(values, weight) == pytest.approx(expected)


def test_smooth_rejects_weight_one():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        smooth([1.0], 1.0)


def test_tensorboard_events(tmp_path):
    """A run that logged to tensorboard only (save_strategy: no, report_to: tensorboard)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "run" / "runs" / "nov24_host"))
    for entry in _history(25, funrl=True)[:-1]:
        for key in DEFAULT_METRICS:
            writer.add_scalar(f"train/{key}", entry[key], entry["step"])
    writer.close()
    run = load_run(tmp_path / "run")
    assert "runs" in run.source
    assert run.series["reward"][0] == list(range(1, 26))
    assert run.series["kl"][1][-1] == pytest.approx(0.03, rel=1e-5)  # 0.001 * 25 * 1.2
    out = tmp_path / "tb.png"
    plot_runs([run], out)
    _check_png(out)


def test_tensorboard_wins_when_it_reaches_further(tmp_path):
    """Killed between checkpoints: tensorboard has the last steps, the newest checkpoint does not."""
    from torch.utils.tensorboard import SummaryWriter

    _write_state(tmp_path / "run" / "checkpoint-10", _history(10, funrl=True))
    writer = SummaryWriter(str(tmp_path / "run" / "runs" / "x"))
    for step in range(1, 16):
        writer.add_scalar("train/reward", 0.5, step)
    writer.close()
    assert load_run(tmp_path / "run").last_step == 15


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "no training logs"),  # an empty folder: says what it looked for
        (lambda d: None, "no such run folder"),  # a typo in the path
        (lambda d: (d.mkdir(), (d / "trainer_state.json").write_text("{bad")), "line 1: not valid JSON"),
        (lambda d: (d.mkdir(), (d / "trainer_state.json").write_text('{"x": 1}')), "no `log_history`"),
        (
            lambda d: (d.mkdir(), (d / "trainer_state.json").write_text('{"log_history": [{"loss": 1}]}')),
            r"log_history\[0\] is not a log entry",
        ),
    ],
)
def test_clear_errors(tmp_path, make, message):
    run = tmp_path / "run"
    make(run)
    with pytest.raises((FileNotFoundError, ValueError), match=message) as info:
        load_run(run)
    assert str(run) in str(info.value)  # names the folder or file


def test_cli_reports_a_folder_without_logs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "no training logs" in err and "events.out.tfevents" in err
    assert not (tmp_path / "x.png").exists()


def test_unknown_metrics_list_what_was_logged(two_runs, tmp_path, capsys):
    assert main([str(two_runs[0]), "--out", str(tmp_path / "x.png"), "--metrics", "rewrd"]) == 1
    assert "logged metrics: [" in capsys.readouterr().err


def test_labels_must_match_runs(two_runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(two_runs[0]), str(two_runs[1]), "--labels", "only-one", "--out", str(tmp_path / "x.png")])
    assert info.value.code == 2
    assert "funrl plot: error: --labels gives 1 label(s) for 2 run(s)" in capsys.readouterr().err


def test_bad_smoothing_is_one_line(two_runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main([str(two_runs[0]), "--smooth", "1.5", "--out", str(tmp_path / "x.png")])
    assert info.value.code == 2 and "smooth must be in [0, 1), got 1.5" in capsys.readouterr().err


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: curves.png)" in out and "(default: 0.0)" in out
    assert f"(default: {list(DEFAULT_METRICS)})" in out


def test_curves_figure_from_log_histories():
    """The in-process plotter (CPU demo): log histories + keys -> one panel per key, one line per history."""
    grpo = [{"step": 1, "reward": 0.0, "kl": 0.1}, {"step": 2, "reward": 0.5, "kl": 0.2}]
    funrl = [{"step": 1, "reward": 0.25, "entropy_adv/bonus_mean": 0.01}, {"step": 2, "loss": 1.0}]
    fig = curves_figure([grpo, funrl], ("reward", "kl", "entropy_adv/bonus_mean"), ["GRPO", "FunRL"], title="t")
    reward, kl, bonus = fig.axes[:3]
    assert [line.get_label() for line in reward.get_lines()] == ["GRPO", "FunRL"]
    assert [list(line.get_xdata()) for line in reward.get_lines()] == [[1, 2], [1]]
    assert [line.get_label() for line in kl.get_lines()] == ["GRPO"]
    assert [line.get_label() for line in bonus.get_lines()] == ["FunRL"]
    assert fig._suptitle.get_text() == "t"
    with pytest.raises(ValueError, match="1 label"):
        curves_figure([grpo, funrl], ("reward",), ["only-one"])


def test_real_smoke_run(tmp_path):
    """A 2-step `funrl train` smoke run logs every default metric under the keys plot reads (about 15 s)."""
    import torch

    from funrl.train import main as train_main

    torch.set_num_threads(1)
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "funrl"
    argv = ["--config", str(repo / "recipes" / "smoke" / "funrl.yaml"), "--output_dir", str(out)]
    argv += ["--max_steps", "2", "--save_strategy", "steps", "--save_steps", "2", "--report_to", "tensorboard"]
    argv += ["--tiny_model_dir", str(tmp_path / "tiny")]
    assert train_main(argv) == 0
    run = load_run(out)
    assert run.last_step == 2
    for key in DEFAULT_METRICS:
        assert key in run.series, f"the FunRL smoke run logged no {key!r}: renamed in TRL or FunRLTrainer?"
    # both sources hold the run: the checkpoint's trainer_state.json and the tensorboard events
    assert (out / "checkpoint-2" / "trainer_state.json").is_file() and find_event_files(out)
    assert main([str(out), "--out", str(tmp_path / "curves.png")]) == 0
    _check_png(tmp_path / "curves.png", min_bytes=10_000)
