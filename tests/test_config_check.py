"""`funrl.config_check`: recipe values of the wrong type, missing local paths and missing engines are one-line errors
before anything heavy loads (a table of cases over the real train / sft parsers)."""

from __future__ import annotations

import pytest

from funrl.config_check import check_config, check_dataset_name, check_model_name, looks_local

BASE = ["--dataset_name", "toy", "--model_name_or_path", "funrl-tiny", "--use_cpu", "true", "--bf16", "false"]


def parse(tmp_path, *extra: str, recipe: str | None = None):
    from funrl.rl_trainer import make_parser

    args = [*BASE, "--output_dir", str(tmp_path / "run"), *extra]
    if recipe is not None:
        (tmp_path / "r.yaml").write_text(recipe)
        args += ["--config", str(tmp_path / "r.yaml")]
    return make_parser().parse_args_and_config(args)


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ("learning_rate: [1, 2]\n", "learning_rate: expected float, got list"),
        ("seed: [1]\n", "seed: expected int, got list"),
        ("beta: true\n", "beta: expected float, got bool"),
        ("reward_funcs: funrl\n", "reward_funcs: expected"),
    ],
)
def test_wrong_types_in_a_recipe_are_named(tmp_path, recipe, message):
    with pytest.raises(ValueError, match=message):
        check_config(*parse(tmp_path, recipe=recipe))


def test_a_good_config_passes(tmp_path):
    check_config(*parse(tmp_path, recipe="learning_rate: 1.0e-6\nnum_generations: 4\n"))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("toy", None),
        ("org/name", None),  # a Hub id: left to the Hub
        ("my_data", "nor a Hub dataset id"),  # the 30 s of Hub retries, now at once
        ("./data/train", "no such file or folder"),
        ("data/a/b", "no such file or folder"),
        ("missing.jsonl", "no such file or folder"),
    ],
)
def test_dataset_names(name, error, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if error is None:
        check_dataset_name(name)
    else:
        with pytest.raises(ValueError, match=error):
            check_dataset_name(name)


def test_local_looking_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    assert looks_local("out/xlam") and not looks_local("Qwen/Qwen2.5-7B")
    with pytest.raises(ValueError, match="no such folder"):
        check_model_name("out/sft-model")
    check_model_name("Qwen/Qwen2.5-7B")
    check_model_name("funrl-tiny:tiny")


def test_use_vllm_without_vllm_is_one_line(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(ValueError, match=r"use_vllm: true .*needs vLLM, which is not installed: pip install"):
        check_config(*parse(tmp_path, "--use_vllm", "true"))
