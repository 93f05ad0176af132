"""Tests of funrl.configs, the shared loaders of funrl.loading and the resume resolution of funrl.train (no training).

.venv/bin/python -m pytest tests/test_configs.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from funrl.configs import DataArguments, FunRLConfig, FunRLScriptArguments
from funrl.loading import load_samples, resolve_model
from funrl.rl_trainer import make_parser
from funrl.train import _resume_arg

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
CPU = dict(output_dir="unused", report_to="none", bf16=False)


class TestFunRLConfig:
    def test_paper_defaults_per_form(self):
        cheng = FunRLConfig(**CPU)
        assert (cheng.entropy_adv_alpha, cheng.entropy_adv_kappa, cheng.entropy_adv_lambda) == (0.4, 2.0, None)
        assert cheng.entropy_adv_cap == 0.5  # bonus <= |A|/2
        egpo = FunRLConfig(**CPU, entropy_adv_form="egpo")
        assert (egpo.entropy_adv_alpha, egpo.entropy_adv_lambda) == (2.0, 0.4)
        assert egpo.entropy_adv_cap == pytest.approx(0.2)  # bonus <= 0.4 |A| / 2

    @pytest.mark.parametrize(
        "overrides, message",
        [
            (dict(entropy_adv_form="sigmoid"), "entropy_adv_form"),  # unknown form
            (dict(entropy_adv_level="word"), "entropy_adv_level"),  # unknown level
            (dict(entropy_adv_span="answer"), "entropy_adv_span"),  # unknown span
            (dict(entropy_adv_kappa=1.0), "set it to 2"),  # kappa <= 1 could flip the sign of A
            (dict(entropy_adv_alpha=-0.1), ">= 0"),  # a negative weight is a penalty, not a bonus
            (dict(entropy_adv_lambda=0.4), "entropy_adv_form='egpo'"),  # lambda belongs to form egpo
            (dict(entropy_adv_form="egpo", entropy_adv_lambda=2.0), "lambda=0.4, alpha=2"),  # cap >= |A|
            (dict(entropy_adv_form="egpo", entropy_adv_alpha=0.0), "clip constant"),  # division by zero
            (dict(entropy_adv_think_end=""), "entropy_adv_think_end"),  # the span needs a closing tag
            (dict(loss_type="cispo"), "set loss_type"),  # loss types where the bonus is undefined
            (dict(loss_type="sapo"), "use_entropy_adv=False"),
        ],
    )
    def test_errors_say_what_to_set(self, overrides, message):
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            FunRLConfig(**CPU, **overrides)

    def test_other_loss_types_allowed_without_the_bonus(self):
        assert FunRLConfig(**CPU, loss_type="cispo", use_entropy_adv=False).loss_type == "cispo"

    def test_script_arguments(self):
        assert FunRLScriptArguments().reward_funcs == ["funrl"]
        with pytest.raises(ValueError, match="max_train_samples"):
            FunRLScriptArguments(max_train_samples=0)
        with pytest.raises(ValueError, match="reward_funcs"):
            FunRLScriptArguments(reward_funcs=[])
        with pytest.raises(ValueError, match="prompt_format='xml'; valid formats: funrl, bfcl-prompt, qwen-fc"):
            FunRLScriptArguments(prompt_format="xml")

    def test_one_data_arguments_dataclass_for_train_and_sft(self):
        from dataclasses import fields

        from funrl.sft_trainer import SFTScriptArguments

        data = [f.name for f in fields(DataArguments)]
        assert issubclass(FunRLScriptArguments, DataArguments) and issubclass(SFTScriptArguments, DataArguments)
        # each command adds only its own fields; none repeats a data field
        assert [f.name for f in fields(FunRLScriptArguments)] == [*data, "reward_funcs"]
        assert [f.name for f in fields(SFTScriptArguments)] == [*data, "max_time_s"]


@pytest.mark.parametrize(
    "recipe", [RECIPES / "smoke" / "funrl.yaml", RECIPES / "smoke" / "grpo.yaml"], ids=lambda p: p.name
)
def test_smoke_recipes_parse(recipe):
    script_args, training_args, model_args = make_parser().parse_args_and_config(["--config", str(recipe)])
    assert model_args.model_name_or_path == "funrl-tiny" and script_args.dataset_name == "toy"
    assert training_args.use_entropy_adv is (recipe.stem == "funrl")
    assert (training_args.loss_type, training_args.beta, training_args.bf16) == ("grpo", 0.001, False)


def test_command_line_overrides_the_recipe():
    argv = ["--config", str(RECIPES / "smoke" / "funrl.yaml"), "--entropy_adv_level", "token", "--beta", "0"]
    _, training_args, _ = make_parser().parse_args_and_config(argv)
    assert (training_args.entropy_adv_level, training_args.beta) == ("token", 0.0)


class TestData:
    def test_toy(self):
        samples = load_samples(FunRLScriptArguments(max_train_samples=5))
        assert len(samples) == 5 and samples[0].id.startswith("toy-train-0-")

    def test_jsonl_file_and_folder(self, tmp_path):
        from funrl.schema import write_samples

        samples = load_samples(FunRLScriptArguments(max_train_samples=6))
        write_samples(samples[:4], tmp_path / "a.jsonl")
        write_samples(samples[4:], tmp_path / "b.jsonl")
        one = load_samples(FunRLScriptArguments(dataset_name=str(tmp_path / "a.jsonl")))
        assert [s.id for s in one] == [s.id for s in samples[:4]]
        both = load_samples(FunRLScriptArguments(dataset_name=str(tmp_path), max_train_samples=5))
        assert [s.id for s in both] == [s.id for s in samples[:5]]

    def test_empty_folder(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no \\*.jsonl"):
            load_samples(FunRLScriptArguments(dataset_name=str(tmp_path)))

    def test_bad_record_names_file_and_line(self, tmp_path):
        (tmp_path / "bad.jsonl").write_text('{"id": "x", "messages": [], "tools": []}\n')
        with pytest.raises(ValueError, match="bad.jsonl.*ground_truth"):
            load_samples(FunRLScriptArguments(dataset_name=str(tmp_path / "bad.jsonl")))


def test_resolve_model_and_resume(tmp_path):
    assert resolve_model("org/model", FunRLScriptArguments(), str(tmp_path)) == "org/model"
    with pytest.raises(ValueError, match="model_name_or_path"):
        resolve_model(None, FunRLScriptArguments(), str(tmp_path))
    assert _resume_arg(None, str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _resume_arg("last", str(tmp_path))
    (tmp_path / "checkpoint-3").mkdir()
    assert _resume_arg("last", str(tmp_path)) == str(tmp_path / "checkpoint-3")
