"""A missing optional dependency (vLLM, DeepSpeed, TensorBoard, tree-sitter) is one line saying what to install, not
a traceback from inside TRL or transformers, and it comes before any model loads.

The vLLM and DeepSpeed cases run for real where those packages are absent (CPU machines); TensorBoard and
tree-sitter, which the dev extra installs, are hidden from `importlib.util.find_spec`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from funrl.cli import main as funrl
from funrl.optional import MissingDependency, available, missing_dependencies, require

REPO = Path(__file__).resolve().parents[1]
SMOKE = ["--config", str(REPO / "recipes" / "smoke" / "funrl.yaml")]
needs_no_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
needs_no_deepspeed = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="installed")


def hide(monkeypatch, *modules: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in modules else real(name, *a))


def one_line_error(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        code = funrl(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@needs_no_vllm
def test_train_use_vllm_without_vllm(tmp_path, capsys):
    err = one_line_error(capsys, ["train", *SMOKE, "--use_vllm", "true", "--output_dir", str(tmp_path / "r")])
    assert err.startswith("funrl train: error: use_vllm: true") and "pip install 'funrl[vllm]'" in err
    assert not (tmp_path / "r" / "tiny-model").exists()  # nothing was built: the check comes first


@needs_no_deepspeed
def test_train_deepspeed_config_without_deepspeed(tmp_path, capsys):
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config

    config = tmp_path / "ds.json"
    config.write_text(json.dumps({"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto"}))
    try:
        argv = ["train", *SMOKE, "--deepspeed", str(config), "--output_dir", str(tmp_path / "r")]
        err = one_line_error(capsys, argv)
    finally:  # transformers registers the half-built DeepSpeed config process-wide: later tests must not see it
        unset_hf_deepspeed_config()
    assert "needs DeepSpeed" in err and "pip install 'funrl[deepspeed]'" in err


def test_sft_tensorboard_without_tensorboard(tmp_path, capsys, monkeypatch):
    hide(monkeypatch, "tensorboard", "tensorboardX")
    argv = ["sft", "--config", str(REPO / "recipes" / "smoke" / "sft.yaml"), "--report_to", "tensorboard"]
    err = one_line_error(capsys, [*argv, "--output_dir", str(tmp_path / "s")])
    assert "report_to: tensorboard needs TensorBoard" in err and "funrl[tensorboard]" in err


@needs_no_vllm
def test_eval_vllm_backend_without_vllm(bfcl_dir, tmp_path, capsys):
    capsys.readouterr()
    args = ["--model", "Qwen/Qwen2.5-0.5B-Instruct", "--backend", "vllm", "--data-dir", str(bfcl_dir), "--limit", "1"]
    assert funrl(["eval", *args, "--categories", "simple_python", "--output", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("funrl eval: error: the vllm backend (funrl eval --backend vllm) needs vLLM")


def test_eval_warns_how_to_score_java(bfcl_dir, tmp_path, capsys, monkeypatch):
    hide(monkeypatch, "tree_sitter_java")
    assert not available("tree-sitter")
    args = ["--model", "m", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "1"]
    funrl(["eval", *args, "--data-dir", str(bfcl_dir), "--categories", "simple_java", "--limit", "1", "--output",
           str(tmp_path / "e"), "--timeout", "2"])  # fmt: skip
    err = capsys.readouterr().err
    assert "warning: simple_java needs the tree-sitter Java/JavaScript grammars" in err
    assert "pip install 'funrl[bfcl-java]'" in err


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(ImportError("vLLM is not available and `use_vllm` is set to True."), "needs vLLM", id="trl"),
        pytest.param(
            importlib.metadata.PackageNotFoundError("The 'deepspeed>=0.9.3' distribution was not found"),
            "needs DeepSpeed",
            id="transformers require_version",
        ),
        pytest.param(ImportError("No module named 'tree_sitter_java'"), "needs the tree-sitter", id="grammar"),
    ],
)
def test_library_import_errors_become_one_line(error, expected):
    with pytest.raises(MissingDependency, match=expected):
        with missing_dependencies("funrl train"):
            raise error


def test_other_import_errors_pass_through():
    with pytest.raises(ImportError, match="numpyy") as info:
        with missing_dependencies():
            raise ImportError("No module named 'numpyy'")
    assert not isinstance(info.value, MissingDependency)


def test_require(monkeypatch):
    require("tensorboard", "x")  # installed by the dev extra: no error
    hide(monkeypatch, "tensorboard", "tensorboardX")
    with pytest.raises(MissingDependency, match="^report_to: tensorboard needs TensorBoard"):
        require("tensorboard", "report_to: tensorboard")
    assert isinstance(MissingDependency("m"), ValueError)  # funrl.errors.user_errors prints it as one line
