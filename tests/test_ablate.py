"""funrl.toy.ablate aggregation on synthetic inputs: mean ± std over seeds, paired differences, common-step curves;
and its options (TRL's parser, like train and sft)."""

from __future__ import annotations

import math

import pytest

from funrl.toy.ablate import (
    aggregate,
    difference,
    main,
    make_parser,
    mean_curve,
    mean_std,
    parse_seeds,
    plot_ablation,
    results_markdown,
)
from funrl.toy.pipeline import Plan


def _rows(sft, grpo, funrl, control, pm_funrl=None):
    def cats(overall, pm=None):
        return {"simple": overall, "multiple": overall, "parallel": overall, "parallel_multiple": pm,
                "irrelevance": 1.0, "overall": overall}  # fmt: skip

    return {"start (warm-up)": cats(sft), "+ GRPO": cats(grpo), "+ FunRL": cats(funrl, pm_funrl),
            "+ SFT control": cats(control)}  # fmt: skip


PER_SEED = {
    0: _rows(0.30, 0.32, 0.36, 0.33, 0.2),
    1: _rows(0.40, 0.41, 0.45, 0.42, None),
    2: _rows(0.20, 0.20, 0.26, 0.22),
}


@pytest.mark.parametrize(
    "values, mean, std",
    [
        ([0.5], 0.5, 0.0),  # one seed: no spread
        ([0.2, 0.4], 0.3, math.sqrt(0.02)),  # sample std (n - 1)
        ([0.1, 0.1, 0.1], 0.1, 0.0),
    ],
)
def test_mean_std(values, mean, std):
    m, s = mean_std(values)
    assert m == pytest.approx(mean) and s == pytest.approx(std)


def test_aggregate_means_and_missing_categories():
    agg = aggregate(PER_SEED)
    # table order, whatever dict order
    assert list(agg) == ["start (warm-up)", "+ GRPO", "+ FunRL", "+ SFT control"]
    overall = agg["+ FunRL"]["overall"]
    assert overall["mean"] == pytest.approx((0.36 + 0.45 + 0.26) / 3) and overall["n"] == 3
    assert agg["+ FunRL"]["parallel_multiple"]["n"] == 1  # None (not scored) is left out, not counted as 0
    assert agg["start (warm-up)"]["parallel_multiple"] == {"mean": None, "std": None, "n": 0, "values": []}
    # calling: the mean of the scored calling categories; multi_call: of parallel and parallel_multiple
    assert agg["+ FunRL"]["calling"]["values"] == pytest.approx([(0.36 * 3 + 0.2) / 4, 0.45, 0.26])
    assert agg["+ FunRL"]["multi_call"]["values"] == pytest.approx([(0.36 + 0.2) / 2, 0.45, 0.26])


@pytest.mark.parametrize(
    "a, b, mean_points, beats",
    [
        ("+ FunRL", "+ SFT control", (3 + 3 + 4) / 3, True),  # consistent +3..+4 points: beyond 2 standard errors
        ("+ GRPO", "+ SFT control", (-1 - 1 - 2) / 3, False),  # negative: never "beats"
        ("+ GRPO", "start (warm-up)", (2 + 1 + 0) / 3, False),  # +1 ± 1 over 3 seeds: within 2 standard errors
    ],
)
def test_paired_difference(a, b, mean_points, beats):
    d = difference(PER_SEED, a, b)
    assert 100 * d["mean"] == pytest.approx(mean_points)
    assert d["beats_noise"] is beats


def test_single_seed_never_beats_noise():
    d = difference({0: PER_SEED[0]}, "+ FunRL", "start (warm-up)")
    assert d["mean"] == pytest.approx(0.06) and d["beats_noise"] is False


def test_mean_curve_uses_common_steps_only():
    h1 = [{"step": 1, "reward": 0.0}, {"step": 2, "reward": 0.5}, {"step": 3, "reward": 1.0}, {"train_runtime": 9}]
    h2 = [{"step": 1, "reward": 0.2}, {"step": 2, "reward": 0.1}]  # a slower seed stopped earlier
    steps, mean, low, high = mean_curve([h1, h2], "reward")
    assert steps == [1, 2]
    assert mean == pytest.approx([0.1, 0.3]) and low == [0.0, 0.1] and high == [0.2, 0.5]
    assert mean_curve([h1, h2], "kl") == ([], [], [], [])  # never logged


def test_paired_difference_on_a_summary_key():
    d = difference(PER_SEED, "+ FunRL", "+ GRPO", key="multi_call")
    # seed 0: FunRL multi_call = (0.36 + 0.2) / 2 against GRPO's parallel only (its parallel_multiple is None)
    assert [100 * v for v in d["values"]] == pytest.approx([28.0 - 32.0, 4.0, 6.0])


def test_results_markdown_and_plot(tmp_path):
    agg = aggregate(PER_SEED)
    diffs = {"FunRL - control": difference(PER_SEED, "+ FunRL", "+ SFT control"),
             "nothing": difference({}, "a", "b")}  # fmt: skip
    text = results_markdown({"in distribution": agg}, [0, 1, 2], diffs, "settings line", ["- seed 0: signal"])
    assert "## in distribution" in text and "settings line" in text and "- seed 0: signal" in text
    assert "| + FunRL | 35.7 ± 9.5 |" in text
    assert "FunRL - control: +3.3 ± 0.6 (+3.0, +3.0, +4.0); exceeds the noise" in text
    assert "nothing: not available" in text
    hist = [[{"step": s, "reward": s / 10, "kl": s / 100, "entropy": 1.0} for s in range(1, 6)]]
    plot_ablation({"grpo": hist, "funrl": hist}, tmp_path / "c.png", "t")
    assert (tmp_path / "c.png").stat().st_size > 1000


# ---- the options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("0,1,2", [0, 1, 2]), (" 3 , ", [3]), ("5", [5]), ([4, 7], [4, 7])],  # a recipe gives a list
)
def test_parse_seeds(value, expected):
    assert parse_seeds(value) == expected


@pytest.mark.parametrize(
    "value, message", [("0,a", "is not a comma-separated list of integers"), ("", "empty"), (",", "empty")]
)
def test_parse_seeds_errors(value, message):
    with pytest.raises(ValueError, match=message):
        parse_seeds(value)


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_parser().parse_args_and_config(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, value in (("seeds", "0,1,2"), ("warmup-steps", Plan.warmup_steps), ("rl-steps", Plan.rl_steps),
                          ("rl-lr", Plan.rl_lr), ("threads", 2)):  # fmt: skip
        assert f"--{option}" in text and f"(default: {value})" in text, option


def test_bad_seeds_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--output", str(tmp_path / "ab"), "--seeds", "0,x"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "funrl ablate: error: --seeds '0,x' is not a comma-separated list of integers\n"
    assert not (tmp_path / "ab").exists()


def test_recipe_yaml_and_flags(tmp_path):
    recipe = tmp_path / "ablate.yaml"
    recipe.write_text("output: runs/ab\nseeds: [0, 3]\nrl_steps: 20\neval_split: validation\n")
    (args,) = make_parser().parse_args_and_config(["--config", str(recipe), "--rl_steps", "10", "--smoke"])
    assert (args.output, args.seed_list, args.rl_steps, args.eval_split, args.smoke) == (
        "runs/ab", [0, 3], 10, "validation", True)  # fmt: skip
