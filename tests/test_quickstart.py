"""funrl quickstart: a smoke run of the whole pipeline (tiny model, seconds per stage), its budget plan, the results
table, and the opt-in compact prompt style of funrl.template that the quickstart trains with."""

from __future__ import annotations

import argparse
import json

import pytest

from funrl.toy.quickstart import Plan, main, parse_mix, results_markdown
from funrl.schema import Sample
from funrl.template import COMPACT_SYSTEM_PROMPT, prompt_messages, prompt_style, tool_signature
from funrl.toy.world import generate


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "run"
    assert main(["--output", str(out), "--smoke", "--seed", "3"]) == 0
    return out


def test_smoke_run_writes_everything(smoke_run):
    for name in ("results.md", "results.json", "curves.png", "summary.txt", "data/prepared/report.json",
                 "data/sft.jsonl", "data/rl.jsonl", "data/heldout.jsonl", "sft/config.json", "funrl/config.json",
                 "sft_control/config.json", "eval/funrl/per_entry.jsonl"):  # fmt: skip
        assert (smoke_run / name).is_file(), name
    assert (smoke_run / "curves.png").stat().st_size > 1000


def test_smoke_run_numbers_in_range(smoke_run):
    result = json.loads((smoke_run / "results.json").read_text())
    assert set(result["accuracy"]) == {"SFT", "SFT + FunRL", "SFT control (same compute)"}
    for acc in result["accuracy"].values():
        assert acc["overall"] is not None
        assert all(v is None or 0.0 <= v <= 1.0 for v in acc.values())
    pk = result["pass_at_k"]
    assert 0.0 <= pk["mean_sampled"] <= pk["pass_at_k"] <= 1.0  # pass@k can never be below sampled pass@1
    stages = {s["stage"]: s for s in result["stages"]}
    assert set(stages) == {"sft", "funrl", "sft_control"}
    assert all(s["steps"] >= 1 for s in stages.values())
    # the control trains for at least the seconds RL used (it stops at the first step end past them)
    assert stages["sft_control"]["seconds"] >= stages["funrl"]["seconds"]
    table = (smoke_run / "results.md").read_text()
    assert "| SFT + FunRL |" in table and "| SFT pass@2" in table


def test_smoke_run_data_split(smoke_run):
    """The SFT set demonstrates no parallel_multiple sample; the RL prompts hold some; every set is compact."""
    from funrl.schema import read_samples

    sft = read_samples(smoke_run / "data" / "sft.jsonl")
    rl = read_samples(smoke_run / "data" / "rl.jsonl")
    assert sft and rl and not any(s.category == "parallel_multiple" for s in sft)
    assert any(s.category == "parallel_multiple" for s in rl)
    assert not {s.id for s in sft} & {s.id for s in rl}
    assert all(s.meta["prompt_style"] == "compact" for s in sft + rl)


def test_resume_keeps_finished_stages(smoke_run, capsys):
    """--resume on a finished run trains nothing again: the stage summaries and models are kept as they were."""
    before = {name: (smoke_run / name / "stage_summary.json").read_text() for name in ("sft", "funrl", "sft_control")}
    weights = (smoke_run / "funrl" / "model.safetensors").stat().st_mtime_ns
    assert main(["--output", str(smoke_run), "--smoke", "--seed", "3", "--resume"]) == 0
    out = capsys.readouterr().out
    assert out.count("already trained: kept") == 3
    assert {name: (smoke_run / name / "stage_summary.json").read_text() for name in before} == before
    assert (smoke_run / "funrl" / "model.safetensors").stat().st_mtime_ns == weights


@pytest.mark.parametrize(
    "text, expected",
    [
        ("simple=0.5,parallel=0.5", {"simple": 0.5, "parallel": 0.5}),
        (" simple=1 , ", {"simple": 1.0}),  # spaces and a trailing comma are fine
    ],
)
def test_parse_mix(text, expected):
    assert parse_mix(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("simple", "expected category=weight"),
        ("nested=1", "expected category=weight"),  # not a toy-world category
        ("simple=x", "weight 'x' is not a number"),
        ("simple=0", "no category with a positive weight"),
    ],
)
def test_parse_mix_errors(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_mix(text)


def test_refuses_non_empty_output(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["--output", str(tmp_path), "--smoke"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "x").read_text() == "keep me"


@pytest.mark.parametrize(
    "minutes, spent_s, sft_s, rl_s",
    [
        (10, 0, 202.5, 123.75),  # 600 s - 150 s evaluation reserve = 450 s of training: 45% / 27.5% / 27.5%
        (10, 50, 180.0, 110.0),  # set-up took 50 s: the training stages shrink so the total still fits
        (20, 0, 472.5, 288.75),
        (2, 0, 27.0, 16.5),  # less than the reserve left: 60 s of training at least
    ],
)
def test_plan_fits_the_budget(minutes, spent_s, sft_s, rl_s):
    plan = Plan.for_budget(minutes, spent_s=spent_s)
    assert (plan.sft_s, plan.rl_s) == pytest.approx((sft_s, rl_s))
    assert plan.size == "small"


def test_results_markdown_marks_missing_categories():
    rows = {"SFT": {"simple": 0.5, "multiple": None, "overall": 0.25}}
    meta = {"split": "heldout", "entries": 4, "seed": 0, "threads": 1, "load": 0.5,
            "stages": [{"stage": "sft", "seconds": 1.0, "clock": "cpu", "wall_seconds": 2.0, "steps": 3}]}  # fmt: skip
    text = results_markdown(rows, None, meta)
    assert "| SFT | 50.0 | — | — | — | — | 25.0 |" in text
    assert "- sft: 1 s cpu, 2 s wall, 3 steps" in text


# ---- the compact prompt style of funrl.template -----------------------------------------------------------------

WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            "city": {"type": "string", "description": "City name."},
            "days": {"type": "integer"},
        },
        "required": ["city"],
    },
}


@pytest.mark.parametrize(
    "tool, expected",
    [
        # required parameters first, then optional ones with their default (None when undeclared), enums listed
        (
            WEATHER,
            "get_weather(city: str, unit: str in ['celsius', 'fahrenheit'] = 'celsius', days: int = None) - "
            "Current weather for a city.",
        ),  # fmt: skip
        ({"name": "ping", "parameters": {"type": "object", "properties": {}}}, "ping()"),  # no description
        (
            {
                "name": "f",
                "description": " x ",
                "parameters": {"type": "object", "properties": {"a": {}}, "required": ["a"]},
            },
            "f(a: any) - x",
        ),  # untyped parameter  # fmt: skip
        (
            {
                "name": "g",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": "number"}, "t": {"type": "array"}},
                    "required": ["n", "t"],
                },
            },
            "g(n: float, t: list)",
        ),  # fmt: skip
    ],
)
def test_tool_signature(tool, expected):
    assert tool_signature(tool) == expected


def test_compact_prompt_is_opt_in_and_shorter():
    sample = generate("train", n=1, seed=0)[0]
    default = prompt_messages(sample, "funrl")[0]["content"]
    assert '"parameters"' in default  # JSON schemas unless asked otherwise
    sample.meta["prompt_style"] = "compact"
    compact = prompt_messages(sample, "funrl")[0]["content"]
    assert compact.startswith(COMPACT_SYSTEM_PROMPT) and '"parameters"' not in compact
    assert all(t["name"] + "(" in compact for t in sample.tools)
    assert len(compact) < len(default) / 2


def test_unknown_prompt_style_is_an_error():
    sample = Sample(id="s1", messages=[{"role": "user", "content": "hi"}], tools=[], ground_truth=[],
                    meta={"prompt_style": "tiny"})  # fmt: skip
    with pytest.raises(ValueError, match="s1.*prompt_style='tiny'.*json, compact"):
        prompt_style(sample)
