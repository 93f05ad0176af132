"""GPU checks (marker `gpu`; skipped without CUDA; `make test-gpu`): the paths a real run takes that the CPU suite
cannot, on a random-init Qwen2.5-0.5B-shaped model with the real Qwen2.5 chat template (tests/gpu_model.py; nothing
is downloaded). They need the GPU stack of README.md ("Tested GPU stack": `pip install -e ".[vllm,deepspeed]"`).

- two FunRL optimizer steps with vLLM colocate (`funrl train` on the smoke recipe, bf16), the entropy bonus logged;
- `funrl eval --backend vllm` on a few BFCL entries: generations with `finish_reason`-based truncation flags, scored.

Each runs as a subprocess, so vLLM's engine and its GPU memory go away with it. Throughput against plain TRL GRPO
is a benchmark, not a test: benchmarks/vllm_step_time.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gpu_model import build_qwen25_shaped

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def qwen_shaped(tmp_path_factory) -> Path:
    pytest.importorskip("vllm", reason="the GPU checks need vLLM: pip install -e '.[vllm]'")
    return build_qwen25_shaped(tmp_path_factory.mktemp("gpu") / "qwen2.5-0.5b-shaped")


def run_funrl(args: list[str], timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "funrl", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def test_two_funrl_steps_with_vllm_colocate(qwen_shaped, tmp_path):
    out = tmp_path / "funrl-vllm"
    args = ["train", "--config", "recipes/smoke/funrl.yaml", "--model_name_or_path", str(qwen_shaped)]
    args += ["--output_dir", str(out), "--max_steps", "2", "--max_train_samples", "16", "--logging_steps", "1"]
    args += ["--bf16", "true", "--dtype", "bfloat16", "--max_completion_length", "64"]
    args += ["--use_vllm", "true", "--vllm_mode", "colocate", "--vllm_gpu_memory_utilization", "0.3"]
    args += ["--vllm_max_model_length", "2048"]
    proc = run_funrl(args)
    assert "vllm" in (proc.stdout + proc.stderr).lower()  # vLLM's engine started (its own log lines)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    logs = [h for h in state["log_history"] if "reward" in h]
    assert len(logs) == 2
    for entry in logs:
        assert entry["completions/mean_length"] > 0
        assert "entropy_adv/bonus_mean" in entry and entry["entropy_adv/cot_entropy"] >= 0
    assert "with **FunRL**" in (out / "README.md").read_text()


def test_eval_with_the_vllm_backend(qwen_shaped, bfcl_dir, tmp_path):
    out = tmp_path / "eval-vllm"
    args = ["eval", "--model", str(qwen_shaped), "--backend", "vllm", "--data-dir", str(bfcl_dir)]
    args += ["--categories", "simple_python,multiple,irrelevance", "--limit", "3", "--max-new-tokens", "32"]
    args += ["--gpu-memory-utilization", "0.3", "--output", str(out)]
    run_funrl(args)
    generations = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert len(generations) == 9
    assert all(isinstance(g["truncated"], bool) for g in generations)  # vLLM's finish_reason, recorded
    results = json.loads((out / "results.json").read_text())
    assert results["backend"] == "vllm" and results["truncation"]["generated"] == 9
    assert sum(c["scored"] for c in results["categories"].values()) == 9
    assert results["coverage"]["partial"] is True
