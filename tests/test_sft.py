"""Tests of `funrl sft`: recipe parsing, the SFT rows, a few real SFTTrainer steps on the tiny model (loss logged,
parameters move, prompt tokens carry label -100) and the wall-clock budget.

    .venv/bin/python -m pytest tests/test_sft.py -q
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from funrl.schema import Sample

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from funrl.sft import main  # noqa: E402
from funrl.sft_trainer import SFTScriptArguments, build_dataset, build_trainer, make_parser  # noqa: E402
from funrl.template import render_target, to_sft_row  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "smoke" / "sft.yaml"


def parse(*extra: str):
    return make_parser().parse_args_and_config(["--config", str(RECIPE), *extra])


class TestParser:
    def test_recipe_parses_with_cpu_settings(self):
        script_args, training_args, model_args = parse()
        assert isinstance(script_args, SFTScriptArguments)
        assert model_args.model_name_or_path == "funrl-tiny"
        assert script_args.prompt_format == "funrl" and script_args.max_time_s == 120
        assert training_args.bf16 is False and training_args.activation_checkpointing is False
        assert training_args.max_steps == 4

    def test_command_line_overrides_recipe(self):
        script_args, training_args, _ = parse("--max_steps", "1", "--prompt_format", "qwen-fc")
        assert training_args.max_steps == 1 and script_args.prompt_format == "qwen-fc"

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("prompt_format", "xml", "valid formats: funrl, bfcl-prompt, qwen-fc"),  # typo in the format name
            ("max_time_s", "0", "must be > 0"),  # a zero budget would stop before training
            ("max_train_samples", "0", "must be >= 1"),
        ],
    )
    def test_bad_values_are_clear_errors(self, field, value, message):
        with pytest.raises(ValueError, match=message):
            parse(f"--{field}", value)


class TestDataset:
    def test_toy_rows_are_prompt_completion(self):
        data = build_dataset(SFTScriptArguments(max_train_samples=6))
        assert data.column_names == ["prompt", "completion"]
        assert data[0]["prompt"][0]["role"] == "system" and data[0]["completion"][0]["role"] == "assistant"
        assert data[0]["completion"][0]["content"].startswith("<think>")

    def test_relevance_samples_are_left_out_with_a_note(self, tmp_path, capsys):
        rows = [
            Sample(id="a", messages=[{"role": "user", "content": "q"}], tools=[], ground_truth=[], category="irrelevance"),
            Sample(id="b", messages=[{"role": "user", "content": "q"}], tools=[], ground_truth=[], category="live_relevance"),
        ]  # fmt: skip
        path = tmp_path / "train.jsonl"
        path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
        data = build_dataset(SFTScriptArguments(dataset_name=str(path)))
        assert len(data) == 1 and data[0]["completion"][0]["content"].endswith("<answer>[]</answer>")
        assert "left out 1 relevance samples" in capsys.readouterr().out

    def test_bad_jsonl_names_file_and_line(self, tmp_path):
        path = tmp_path / "train.jsonl"
        path.write_text('{"id": "x", "messages": [], "tools": []}\n')
        with pytest.raises(ValueError, match=r"train.jsonl:1: missing field 'ground_truth'"):
            build_dataset(SFTScriptArguments(dataset_name=str(path)))


@pytest.fixture()
def tiny_run(tiny_model_dir, tmp_path):
    """Script/training/model args for a 2-step run on the session's tiny model."""
    return parse(
        "--model_name_or_path", str(tiny_model_dir),
        "--output_dir", str(tmp_path / "out"),
        "--max_train_samples", "8",
        "--max_steps", "2",         # two optimizer steps: enough to see the loss and the weights move
        "--per_device_train_batch_size", "4",
        "--max_time_s", "600",      # no budget stop in this run
    )  # fmt: skip


class TestTraining:
    @pytest.mark.parametrize(
        ("assistant_only", "trained_tail"),
        [
            (False, "<|im_end|>\n"),  # completion_only_loss: everything after the prompt, the newline included
            (True, "<|im_end|>"),  # + the template's {% generation %} markers: the assistant turn exactly
        ],
    )
    def test_prompt_tokens_have_label_minus_100(self, tiny_run, assistant_only, trained_tail):
        tiny_run[1].assistant_only_loss = assistant_only
        trainer = build_trainer(*tiny_run)
        tokenizer = trainer.processing_class
        script_args = tiny_run[0]
        from funrl.loading import load_samples

        samples = load_samples(script_args)
        for sample, row in zip(samples, trainer.train_dataset):
            sft = to_sft_row(sample, script_args.prompt_format)
            prompt_ids = tokenizer.apply_chat_template(sft["prompt"], add_generation_prompt=True, return_dict=True)
            n = len(prompt_ids["input_ids"])
            ids, labels = row["input_ids"], row["labels"]
            assert ids[:n] == prompt_ids["input_ids"]
            assert all(label == -100 for label in labels[:n])  # no loss on the prompt (system, tools, user)
            assert tokenizer.decode(ids[n:]) == render_target(sample, "funrl") + "<|im_end|>\n"
            trained = [i for i, label in zip(ids, labels) if label != -100]
            assert [label for label in labels if label != -100] == trained  # labels are the tokens themselves
            assert tokenizer.decode(trained) == render_target(sample, "funrl") + trained_tail  # eos is trained

    def test_truncation_is_reported(self, tiny_run, capsys):
        tiny_run[1].max_length = 200  # toy funrl prompts are ~300 tokens: most rows lose their completion
        trainer = build_trainer(*tiny_run)
        out = capsys.readouterr().out
        assert f"of 8 rows truncated, {8 - len(trainer.train_dataset)} dropped" in out

    def test_trains_loss_logged_parameters_change(self, tiny_run):
        trainer = build_trainer(*tiny_run)
        before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
        trainer.train()
        losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
        assert len(losses) == 2 and all(loss > 0 for loss in losses)
        for name, param in trainer.model.named_parameters():
            assert not torch.equal(param, before[name]), f"{name} did not change"

    def test_main_time_budget_and_saved_model(self, tiny_model_dir, tmp_path):
        out = tmp_path / "budget"
        code = main(
            ["--config", str(RECIPE), "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out),
             "--max_train_samples", "8", "--per_device_train_batch_size", "4",
             "--max_steps", "1000",     # only the budget can end this run early
             "--max_time_s", "0.001"]   # past after the first step
        )  # fmt: skip
        assert code == 0
        summary = json.loads((out / "sft_summary.json").read_text())
        assert summary["stopped_by_time_budget"] is True and summary["global_step"] == 1
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(out)
        AutoModelForCausalLM.from_pretrained(out)
        ids = tokenizer("<think>x</think>\n<answer>[]</answer>", add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>x</think>\n<answer>[]</answer>"


def test_accelerate_launch_two_cpu_processes(tiny_model_dir, tmp_path):
    """`accelerate launch -m funrl.sft` with 2 CPU processes (gloo) trains and stops together on the time budget
    (rank 0's clock is broadcast: a rank that stopped alone would leave the other waiting in all-reduce)."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate CLI not installed")
    out = tmp_path / "ddp"
    cmd = [
        accelerate, "launch", "--cpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "-m", "funrl.sft", "--config", str(RECIPE),
        "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out), "--max_train_samples", "8",
        "--per_device_train_batch_size", "2", "--max_steps", "1000", "--max_time_s", "0.001",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "sft_summary.json").read_text())
    assert summary["stopped_by_time_budget"] is True and summary["global_step"] == 1
