"""funrl's model card on every saved model and checkpoint: FunRL's paper (not DeepSeekMath), TRL as the trainer, a
real `base_model`, the dataset and recipe, and the BFCL results once `funrl eval --update-card` has run.

The end-to-end tests train one step on the tiny model (`funrl-tiny`) with the smoke recipes, saving a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from funrl.cli import main as funrl
from funrl.model_card import (
    FUNRL_PAPER,
    RESULTS_END,
    RESULTS_START,
    CardInfo,
    render_card,
    resolve_base_model,
    update_card_results,
)
from funrl.tokenizer_compat import is_portable

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "recipes" / "smoke"
ONE_STEP = ["--max_steps", "1", "--save_strategy", "steps", "--save_steps", "1", "--max_train_samples", "4"]


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


@pytest.fixture(scope="module")
def funrl_trainer(tmp_path_factory):
    """`funrl train` of the smoke recipe, one step with a checkpoint; returns the trainer (its card is tested)."""
    from funrl.rl_trainer import make_parser
    from funrl.train import run, setup

    root = tmp_path_factory.mktemp("card")
    argv = ["--config", str(SMOKE / "funrl.yaml"), "--output_dir", str(root / "funrl-run"), *ONE_STEP]
    argv += ["--tiny_model_dir", str(root / "tiny")]
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer, resume = setup(script_args, training_args, model_args)
    trainer.funrl_card.record_command(argv, "funrl train")  # what `funrl train` (main) does
    return run(trainer, resume, training_args)


@pytest.fixture(scope="module")
def funrl_run(funrl_trainer) -> Path:
    return Path(funrl_trainer.args.output_dir)


@pytest.mark.parametrize("folder", ["", "checkpoint-1"])
def test_funrl_card_cites_funrl_not_deepseekmath(funrl_run, folder):
    card = (funrl_run / folder / "README.md").read_text()
    assert "DeepSeekMath" not in card and "shao2024" not in card  # what TRL's GRPO card would say
    assert f"https://huggingface.co/papers/{FUNRL_PAPER['id']}" in card
    assert "@article{hao2025funrl" in card and "@software{vonwerra2020trl" in card
    assert "with **FunRL**" in card and "`GRPOTrainer`" in card
    tiny = str(funrl_run.parent / "tiny")
    assert f"- base model: `{tiny}/" in card  # a local model: its path, never "None"
    assert "None" not in card.split("## Training")[1].split("Recipe")[0]
    assert "- dataset: `toy`" in card
    assert "entropy_adv_alpha: 0.4" in card  # the recipe itself
    assert "--max_steps 1" in card  # and the command's overrides
    meta = front_matter(card)
    assert "funrl" in meta["tags"] and "base_model" not in meta  # a local path is not a hub base_model
    facts = json.loads((funrl_run / folder / "funrl_training.json").read_text())
    assert facts["method"] == "FunRL" and facts["max_completion_length"] == 32
    assert is_portable(funrl_run / folder)  # the official BFCL tool's transformers 4.x loads its tokenizer


def test_push_to_hub_path_writes_the_funrl_card(funrl_trainer, tmp_path):
    """`push_to_hub` and TRL's `_save_checkpoint` call `create_model_card`: it must write funrl's card."""
    from funrl.trainer import FunRLTrainer

    assert FunRLTrainer._paper["id"] == FUNRL_PAPER["id"]  # TRL's own card path also names FunRL's paper
    output_dir = funrl_trainer.args.output_dir
    funrl_trainer.args.output_dir = str(tmp_path)
    try:
        funrl_trainer.create_model_card(model_name="pushed")
    finally:
        funrl_trainer.args.output_dir = output_dir
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\n") and "# pushed" in card and "@article{hao2025funrl" in card
    assert "DeepSeekMath" not in card and "--max_steps 1" in card


def test_eval_update_card_adds_bfcl_results(funrl_run, bfcl_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["--model", str(funrl_run), "--data-dir", str(bfcl_dir), "--categories", "simple_python,irrelevance"]
    assert funrl(["eval", *args, "--limit", "2", "--device", "cpu", "--output", str(out), "--update-card"]) == 0
    err = capsys.readouterr().err
    assert "max_new_tokens=32 (max_completion_length of" in err  # the budget the model was trained with
    card = (funrl_run / "README.md").read_text()
    section = card.split(RESULTS_START)[1].split(RESULTS_END)[0]
    assert "| Non-Live AST | Live | Overall (paper) |" in section
    assert "| simple_python | irrelevance |" in section
    assert "**Partial run (--limit 2)**" in section
    assert "Generations cut at the length limit (max_new_tokens=32)" in section
    assert "Not evaluated yet" not in card
    # a second eval replaces the section rather than appending one
    results = json.loads((out / "results.json").read_text())
    update_card_results(funrl_run, results, out)
    assert (funrl_run / "README.md").read_text().count(RESULTS_START) == 1


def test_update_card_needs_a_local_folder(bfcl_dir, tmp_path, capsys):
    args = ["--model", "org/model", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"]
    code = funrl(["eval", *args, "--data-dir", str(bfcl_dir), "--output", str(tmp_path / "e"), "--update-card"])
    assert code == 2
    assert "--update-card needs a local model folder" in capsys.readouterr().err


def test_sft_card(tiny_model_dir, tmp_path):
    out = tmp_path / "sft"
    argv = ["sft", "--config", str(SMOKE / "sft.yaml"), "--model_name_or_path", str(tiny_model_dir)]
    assert funrl([*argv, "--output_dir", str(out), "--max_steps", "1", "--max_train_samples", "4"]) == 0
    card = (out / "README.md").read_text()
    assert "with **SFT**" in card and "`SFTTrainer`" in card
    assert f"- base model: `{tiny_model_dir}`" in card
    assert json.loads((out / "funrl_training.json").read_text())["method"] == "SFT"


# ---------------------------------------------------------------------------------------------------
# base_model resolution and rendering


def test_base_model_of_a_local_checkpoint(tmp_path):
    assert resolve_base_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_base_model(None) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    assert resolve_base_model(str(plain)) == str(plain)
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "config.json").write_text(json.dumps({"_name_or_path": "Qwen/Qwen2.5-Coder-7B-Instruct"}))
    assert resolve_base_model(str(recorded)) == "Qwen/Qwen2.5-Coder-7B-Instruct"
    sft = tmp_path / "sft"  # a funrl SFT output: the hub id it was trained from
    sft.mkdir()
    (sft / "funrl_training.json").write_text(json.dumps({"base_model": "meta-llama/Llama-3.2-3B-Instruct"}))
    assert resolve_base_model(str(sft)) == "meta-llama/Llama-3.2-3B-Instruct"


def test_card_metadata_for_hub_models():
    info = CardInfo.from_run(
        "GRPO", "Qwen/Qwen2.5-0.5B-Instruct", dataset="Salesforce/xlam-function-calling-60k", argv=["--max_steps", "2"]
    )
    card = render_card(info, "my-model")
    meta = front_matter(card)
    assert meta["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert meta["datasets"] == ["Salesforce/xlam-function-calling-60k"]
    assert "plain GRPO in the FunRL harness" in card and "@article{hao2025funrl" in card
    assert "funrl train --max_steps 2" in card
