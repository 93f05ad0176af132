"""funrl quickstart: a smoke run of the whole pipeline from the shipped toy base (a few steps per stage), its step
plan, the results tables, and the compact prompt styles of funrl.template that the demo trains with."""

from __future__ import annotations

import json

import pytest

from funrl.schema import Sample
from funrl.template import (
    COMPACT_BFCL_SYSTEM_PROMPT,
    COMPACT_SYSTEM_PROMPT,
    prompt_messages,
    prompt_style,
    tool_signature,
)
from funrl.toy.evaluation import results_markdown
from funrl.toy.pipeline import CONTROL_STEPS_PER_RL_STEP, RL_MIX, Plan
from funrl.toy.quickstart import main, make_parser, parse_mix, plan_from_args
from funrl.toy.world import generate


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "run"
    assert main(["--output", str(out), "--smoke", "--seed", "3"]) == 0
    return out


def test_smoke_run_writes_everything(smoke_run):
    for name in ("results.md", "results.json", "curves.png", "summary.txt", "data/prepared/report.json",
                 "data/warmup.jsonl", "data/rl.jsonl", "data/eval_id.jsonl", "data/eval_ood.jsonl",
                 "warmup/config.json", "funrl/config.json", "sft_control/config.json",
                 "eval/funrl-eval_id/per_entry.jsonl", "eval/warmup-eval_ood/results.json",
                 "eval/start_pass_at_k.json"):  # fmt: skip
        assert (smoke_run / name).is_file(), name
    assert (smoke_run / "curves.png").stat().st_size > 1000


def test_smoke_run_numbers_in_range(smoke_run):
    result = json.loads((smoke_run / "results.json").read_text())
    assert set(result["accuracy"]) == {"eval_id", "eval_ood"}
    for rows in result["accuracy"].values():
        assert set(rows) == {"start (warm-up)", "+ FunRL", "+ SFT control"}
        for acc in rows.values():
            assert acc["overall"] is not None
            assert all(v is None or 0.0 <= v <= 1.0 for v in acc.values())
    pk = result["start_pass_at_k"]
    assert 0.0 <= pk["mean_sampled"] <= pk["pass_at_k"] <= 1.0  # pass@k can never be below sampled pass@1
    stages = {s["stage"]: s for s in result["stages"]}
    assert set(stages) == {"warmup", "funrl", "sft_control"}
    plan = Plan.smoke()
    # step budgets, not seconds: every stage ran exactly its planned steps
    assert [stages[n]["steps"] for n in ("warmup", "funrl", "sft_control")] == [
        plan.warmup_steps, plan.rl_steps, plan.control_steps]  # fmt: skip
    assert 0.0 <= stages["funrl"]["frac_reward_zero_std"] <= 1.0
    table = (smoke_run / "results.md").read_text()
    assert "| + FunRL |" in table and "| start pass@2 |" in table and "frac_reward_zero_std" in table


def test_smoke_run_data_split(smoke_run):
    """Warm-up demonstrations and RL prompts are disjoint, compact, and never hold an evaluation query."""
    from funrl.schema import read_samples

    sets = {
        name: read_samples(smoke_run / "data" / f"{name}.jsonl") for name in ("warmup", "rl", "eval_id", "eval_ood")
    }
    assert sets["warmup"] and sets["rl"]
    assert not {s.id for s in sets["warmup"]} & {s.id for s in sets["rl"]}
    assert all(s.meta["prompt_style"] == "compact" for samples in sets.values() for s in samples)
    train_queries = {s.messages[-1]["content"] for s in sets["warmup"] + sets["rl"]}
    assert not train_queries & {s.messages[-1]["content"] for s in sets["eval_id"] + sets["eval_ood"]}
    assert all(s.meta["split"] == "heldout_id" for s in sets["eval_id"])
    assert all(s.meta["split"] == "heldout" for s in sets["eval_ood"])


def test_resume_keeps_finished_stages(smoke_run, capsys):
    """--resume on a finished run trains nothing again: the stage summaries and models are kept as they were."""
    before = {
        name: (smoke_run / name / "stage_summary.json").read_text() for name in ("warmup", "funrl", "sft_control")
    }
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
        ({"simple": 1, "parallel": 0.5}, {"simple": 1.0, "parallel": 0.5}),  # a recipe's mapping
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
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


# ---- the options: TRL's parser, like train and sft ---------------------------------------------------------------


def _help_text(parser, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args_and_config(["--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines: compare with single spaces


def test_help_shows_the_plan_defaults(capsys):
    text = _help_text(make_parser(), capsys)
    for option, value in (("warmup-steps", Plan.warmup_steps), ("rl-steps", Plan.rl_steps), ("rl-lr", Plan.rl_lr),
                          ("max-stage-minutes", Plan.max_stage_minutes), ("seed", 0), ("threads", 2)):  # fmt: skip
        assert f"--{option}" in text and f"(default: {value})" in text, option
    assert "unset: " in text and all(f"{name}=" in text for name in RL_MIX)  # the mix used without --rl-mix
    assert "{heldout,validation}" in text  # the evaluation splits are choices


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--rl-mix", "simple=x"], "funrl quickstart: error: --rl-mix: 'simple=x': weight 'x' is not a number"),
        (["--rl-mix", "nested=1"], "funrl quickstart: error: --rl-mix: 'nested=1': expected category=weight"),
        (["--rl-steps", "0"], "funrl quickstart: error: --rl-steps must be a positive integer, got 0"),
        (["--rl-lr", "-1"], "funrl quickstart: error: --rl-lr must be > 0, got -1.0"),
    ],
)
def test_bad_option_is_one_clear_line(tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["--output", str(out), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not out.exists()  # refused before anything is written


def test_recipe_yaml_and_flags(tmp_path):
    """A `--config` YAML sets the options (a mapping for the mix), a flag beats the recipe, both spellings work."""
    recipe = tmp_path / "qs.yaml"
    recipe.write_text("output: runs/qs\nsmoke: true\nrl_steps: 5\nrl_mix: {simple: 0.5, parallel: 0.5}\nseed: 4\n")
    (args,) = make_parser().parse_args_and_config(["--config", str(recipe), "--seed", "2", "--plain-grpo",
                                                   "--no_control", "--warmup-steps", "3"])  # fmt: skip
    assert (args.output, args.seed, args.plain_grpo, args.no_control) == ("runs/qs", 2, True, True)
    assert args.rl_mix == {"simple": 0.5, "parallel": 0.5}
    plan = plan_from_args(args)
    smoke = Plan.smoke()
    assert (plan.rl_steps, plan.warmup_steps, plan.rl_mix) == (5, 3, {"simple": 0.5, "parallel": 0.5})
    assert (plan.n_eval, plan.num_generations, plan.rl_lr) == (smoke.n_eval, smoke.num_generations, smoke.rl_lr)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], Plan()),  # the full plan
        (["--smoke"], Plan.smoke()),  # the smoke plan
        (["--rl-steps", "80", "--rl-lr", "0.001"], Plan(rl_steps=80, rl_lr=0.001)),
        # with --smoke, an option set away from its default still applies
        (["--smoke", "--rl-steps", "4"], Plan(**{**Plan.smoke().__dict__, "rl_steps": 4})),
        (["--rl-mix", "simple=1"], Plan(rl_mix={"simple": 1.0})),
    ],
)
def test_plan_from_options(flags, expected):
    (args,) = make_parser().parse_args_and_config(["--output", "runs/qs", *flags])
    assert plan_from_args(args) == expected


def test_refuses_non_empty_output(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["--output", str(tmp_path), "--smoke"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "x").read_text() == "keep me"


@pytest.mark.parametrize(
    "rl_steps, control_steps",
    [
        (60, round(60 * CONTROL_STEPS_PER_RL_STEP)),  # the control gets RL's compute in SFT steps
        (1, max(1, round(CONTROL_STEPS_PER_RL_STEP))),
    ],
)
def test_control_gets_rl_compute_in_steps(rl_steps, control_steps):
    assert Plan(rl_steps=rl_steps).control_steps == control_steps


def test_results_markdown_tables():
    acc = {"simple": 0.5, "multiple": None, "parallel": 0.25, "parallel_multiple": 0.0, "irrelevance": 1.0,
           "overall": 0.4}  # fmt: skip
    table = {"eval_id": {"start (warm-up)": acc}, "eval_ood": {"start (warm-up)": {**acc, "simple": None}}}
    meta = {"split": "heldout", "entries": 4, "seed": 0, "threads": 1, "total_wall_seconds": 12.0,
            "stages": [{"stage": "funrl", "steps": 3, "planned_steps": 5, "capped_by_safety_net": True,
                        "wall_seconds": 2.0, "frac_reward_zero_std": 0.25, "reward_first_10": 0.1,
                        "reward_last_10": 0.3}]}  # fmt: skip
    text = results_markdown(table, None, meta)
    # calling = mean of the scored calling categories: (50 + 25 + 0) / 3
    assert "| start (warm-up) | 50.0 | — | 25.0 | 0.0 | 100.0 | 25.0 | 40.0 |" in text
    assert "| start (warm-up) | — | — | 25.0 | 0.0 | 100.0 | 12.5 | 40.0 |" in text
    assert (
        "- funrl: 3/5 steps (stopped by the wall-clock safety net), 2 s wall; mean frac_reward_zero_std 0.25" in text
    )


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


def test_compact_bfcl_prompt_is_plain_calls():
    """The toy base's prompt: the compact signatures under a one-line instruction for plain calls (no think)."""
    sample = generate("train", n=1, seed=0)[0]
    sample.meta["prompt_style"] = "compact"
    system = prompt_messages(sample, "bfcl-prompt")[0]["content"]
    assert system.startswith(COMPACT_BFCL_SYSTEM_PROMPT) and "<think>" not in system
    assert all(tool_signature(t) in system for t in sample.tools)


def test_unknown_prompt_style_is_an_error():
    sample = Sample(id="s1", messages=[{"role": "user", "content": "hi"}], tools=[], ground_truth=[],
                    meta={"prompt_style": "tiny"})  # fmt: skip
    with pytest.raises(ValueError, match="s1.*prompt_style='tiny'.*json, compact"):
        prompt_style(sample)
