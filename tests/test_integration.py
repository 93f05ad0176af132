"""Integration tests: the pieces used together as a user would (command entry points, user errors, the files one
stage writes and the next reads).

    .venv/bin/python -m pytest tests/test_integration.py -q
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from funrl.cli import COMMANDS
from funrl.cli import main as cli_main
from funrl.errors import user_errors
from funrl.schema import write_samples

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "recipes" / "smoke"
CPU = ["--bf16", "false", "--report_to", "none", "--save_strategy", "no", "--max_steps", "1"]


def run_cli(argv: list[str], capsys, out: bool = False) -> tuple[int, str]:
    """`funrl <argv>` in-process: `(exit code, stderr)` (stdout with `out=True`); SystemExit gives its code."""
    try:
        code = cli_main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out if out else captured.err


@pytest.fixture(scope="module")
def toy_jsonl(tmp_path_factory) -> Path:
    from funrl.toy.world import generate

    path = tmp_path_factory.mktemp("toy") / "heldout.jsonl"
    write_samples(generate("heldout", n=10, seed=1), path)
    return path


@pytest.fixture(scope="module")
def no_template_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with its chat template removed (a base model's tokenizer)."""
    out = tmp_path_factory.mktemp("no-template")
    for item in Path(tiny_model_dir).iterdir():
        if item.name != "chat_template.jinja":
            shutil.copy(item, out / item.name)
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


class TestUserErrors:
    def test_value_error_becomes_one_line_and_exit_2(self, capsys):
        with pytest.raises(SystemExit) as info, user_errors("funrl x"):
            raise ValueError("data.jsonl:3: field 'tools' is missing")
        assert info.value.code == 2
        assert capsys.readouterr().err == "funrl x: error: data.jsonl:3: field 'tools' is missing\n"

    def test_traceback_on_request(self, monkeypatch):
        monkeypatch.setenv("FUNRL_TRACEBACK", "1")
        with pytest.raises(FileNotFoundError), user_errors("funrl x"):
            raise FileNotFoundError("no such file")

    def test_other_exceptions_pass_through(self):
        # a bug (not bad input) keeps its traceback
        with pytest.raises(ZeroDivisionError), user_errors("funrl x"):
            1 / 0  # noqa: B018


class TestHelp:
    @pytest.mark.parametrize("command", ["score", "prepare", "report", "plot", "tiny-model", "quickstart", "ablate"])
    def test_every_light_command_has_help(self, command, capsys):
        code, text = run_cli([command, "--help"], capsys, out=True)
        assert code == 0 and text.startswith(f"usage: funrl {command}")

    def test_table_names_importable_modules_with_main(self):
        import importlib

        for name, (module, _) in COMMANDS.items():
            if name in ("sft", "train", "eval"):  # torch-heavy; their help is covered below
                continue
            assert callable(importlib.import_module(module).main), name

    def test_unknown_command_is_exit_2(self, capsys):
        code, err = run_cli(["trian"], capsys)
        assert code == 2 and "unknown command 'trian'" in err and "train" in err


class TestScoreCanonicalSamples:
    """`funrl eval --samples` writes generations of canonical samples; `funrl score --samples` re-scores them."""

    def test_rendered_targets_all_correct(self, toy_jsonl, tmp_path, capsys):
        from funrl.schema import read_samples
        from funrl.template import render_target

        samples = read_samples(toy_jsonl)
        outputs = tmp_path / "generations.jsonl"
        outputs.write_text("".join(json.dumps({"id": s.id, "output": render_target(s)}) + "\n" for s in samples))
        code, text = run_cli(["score", "--outputs", str(outputs), "--samples", str(toy_jsonl), "--json"], capsys, True)
        assert code == 0
        result = json.loads(text)
        assert sum(c["scored"] for c in result["categories"].values()) == len(samples)
        assert all(c["accuracy"] == 1.0 for c in result["categories"].values())
        assert "simple" in result["categories"]  # a toy category, not a BFCL name

    def test_unknown_id_and_duplicate_ids(self, toy_jsonl, tmp_path, capsys):
        outputs = tmp_path / "generations.jsonl"
        outputs.write_text(json.dumps({"id": "not-there", "output": "[]"}) + "\n")
        code, err = run_cli(["score", "--outputs", str(outputs), "--samples", str(toy_jsonl)], capsys)
        assert code == 2 and f"{outputs}:1: id 'not-there' not found in {toy_jsonl}" in err
        doubled = tmp_path / "doubled.jsonl"
        doubled.write_text(toy_jsonl.read_text() * 2)
        code, err = run_cli(["score", "--outputs", str(outputs), "--samples", str(doubled)], capsys)
        assert code == 2 and "appears twice" in err


def test_report_table_keeps_non_bfcl_categories():
    # a canonical-sample run's own categories (toy "simple") used to be dropped from the per-category table
    from funrl.evaluate.metrics import aggregate, render_markdown

    table = render_markdown({"toy": aggregate({"simple": (1, 4), "parallel": (2, 2)}, dataset_size={"simple": 4})})
    assert "| Model | parallel | simple |" in table and "| toy | 100.00 | 25.00 |" in table


torch = pytest.importorskip("torch")
pytest.importorskip("trl")


class TestTrainAndSftUserErrors:
    """Bad input to `funrl train` / `funrl sft` ends with one line naming it and exit code 2, before any training."""

    @pytest.mark.parametrize("command", ["train", "sft"])
    @pytest.mark.parametrize(
        "extra, message",
        [
            # a missing local file must not be looked up on the Hub (was a ConnectionError traceback)
            (["--dataset_name", "missing/dir/data.jsonl"], "dataset_name='missing/dir/data.jsonl': no such file"),
            (["--model_name_or_path", "/nonexistent/model"], "model_name_or_path='/nonexistent/model': no such"),
            (["--bogus_flag", "3"], "--bogus_flag"),  # TRL's parser error, without its traceback
            (["--bf16", "true"], "bf16"),  # TRL's check on a machine without a GPU (skipped on GPU machines below)
        ],
    )
    def test_bad_input(self, command, extra, message, tiny_model_dir, toy_jsonl, tmp_path, capsys):
        if extra[0] == "--bf16" and torch.cuda.is_available():
            pytest.skip("bf16 is valid with a GPU")
        argv = [command, "--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(toy_jsonl)]
        argv += ["--output_dir", str(tmp_path / "out"), *CPU, *extra]
        code, err = run_cli(argv, capsys)
        assert code == 2
        assert err.startswith(f"funrl {command}: error: ") and message in err and "Traceback" not in err

    @pytest.mark.parametrize("command", ["train", "sft"])
    def test_model_without_chat_template(self, command, no_template_model, toy_jsonl, tmp_path, capsys):
        argv = [command, "--model_name_or_path", str(no_template_model), "--dataset_name", str(toy_jsonl)]
        code, err = run_cli([*argv, "--output_dir", str(tmp_path / "out"), *CPU], capsys)
        assert code == 2 and "no chat template" in err and str(no_template_model) in err

    def test_unknown_reward_and_broken_jsonl(self, tiny_model_dir, toy_jsonl, tmp_path, capsys):
        base = ["train", "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path / "o"), *CPU]
        code, err = run_cli([*base, "--dataset_name", str(toy_jsonl), "--reward_funcs", "nope"], capsys)
        assert code == 2 and "unknown reward function 'nope'" in err
        broken = tmp_path / "broken.jsonl"
        broken.write_text(toy_jsonl.read_text().splitlines()[0] + "\n{not json\n")
        code, err = run_cli([*base, "--dataset_name", str(broken)], capsys)
        assert code == 2 and f"{broken}:2: invalid JSON" in err

    def test_missing_recipe(self, tmp_path, capsys):
        code, err = run_cli(["train", "--config", str(tmp_path / "none.yaml")], capsys)
        assert code == 2 and "none.yaml" in err


class TestRunsCanBePlotted:
    """`funrl plot` reads `trainer_state.json`: a run saved with save_strategy "no" used to leave none."""

    def test_train_then_plot(self, tmp_path, capsys):
        out = tmp_path / "run"
        argv = ["train", "--config", str(SMOKE / "funrl.yaml"), "--output_dir", str(out), "--max_steps", "1"]
        argv += ["--max_train_samples", "4", "--tiny_model_dir", str(tmp_path / "tiny")]
        assert run_cli(argv, capsys)[0] == 0
        state = json.loads((out / "trainer_state.json").read_text())
        assert state["global_step"] == 1 and "reward" in state["log_history"][0]
        assert run_cli(["plot", str(out), "--out", str(tmp_path / "c.png")], capsys)[0] == 0
        assert (tmp_path / "c.png").stat().st_size > 0

    def test_sft_writes_trainer_state(self, tiny_model_dir, toy_jsonl, tmp_path, capsys):
        out = tmp_path / "sft"
        argv = ["sft", "--config", str(SMOKE / "sft.yaml"), "--model_name_or_path", str(tiny_model_dir)]
        argv += ["--dataset_name", str(toy_jsonl), "--output_dir", str(out), "--max_steps", "1"]
        assert run_cli(argv, capsys)[0] == 0
        assert "loss" in json.loads((out / "trainer_state.json").read_text())["log_history"][0]


def test_unreachable_judge_is_an_error_not_an_empty_dataset():
    # every sample failing with connection errors used to be 64 J5 rejections, an empty train.jsonl and exit 0
    import socket

    from funrl.data.judge import JudgeConfig, JudgeError, run_judge
    from funrl.data.validate import Validator
    from funrl.toy.world import generate

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = JudgeConfig(
        base_url=f"http://127.0.0.1:{port}/v1", model="judge", api_key_env=None, max_retries=0, progress=False
    )
    with pytest.raises(JudgeError, match="could not be reached: all 3 samples failed with connection errors"):
        run_judge(generate("train", n=3, seed=0), config, Validator().judge_callback)


def test_prepare_output_folder_trains_on_its_train_split_only(toy_jsonl, tmp_path):
    # `dataset_name: <funrl prepare output>` used to read train.jsonl AND validation.jsonl (and rejected.jsonl)
    from funrl.configs import FunRLScriptArguments
    from funrl.loading import load_samples
    from funrl.schema import read_samples

    samples = read_samples(toy_jsonl)
    write_samples(samples[:7], tmp_path / "train.jsonl")
    write_samples(samples[7:], tmp_path / "validation.jsonl")
    (tmp_path / "rejected.jsonl").write_text('{"id": "x", "raw": "{}", "reasons": ["S1"]}\n')
    train = load_samples(FunRLScriptArguments(dataset_name=str(tmp_path)))
    assert [s.id for s in train] == [s.id for s in samples[:7]]
    val = load_samples(FunRLScriptArguments(dataset_name=str(tmp_path), dataset_train_split="validation"))
    assert [s.id for s in val] == [s.id for s in samples[7:]]
    shards = tmp_path / "shards"
    shards.mkdir()
    write_samples(samples[:4], shards / "a.jsonl")
    write_samples(samples[4:], shards / "b.jsonl")
    assert len(load_samples(FunRLScriptArguments(dataset_name=str(shards)))) == len(samples)


def test_tiny_model_refuses_to_overwrite_a_folder(tmp_path, capsys):
    # `funrl tiny-model --output <an SFT output>` used to replace a trained model with random weights silently
    (tmp_path / "config.json").write_text("{}")
    code, err = run_cli(["tiny-model", "--output", str(tmp_path)], capsys)
    assert code == 2 and "exists and is not an empty folder" in err and "--overwrite" in err
    assert (tmp_path / "config.json").read_text() == "{}"
