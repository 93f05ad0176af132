"""The official BFCL cross-check route of docs/evaluation.md works as written:

- tokenizer files funrl saves load in the official tool's transformers 4.x (`funrl.tokenizer_compat`): the
  rewrite is lossless under transformers 5 (default suite) and transformers 4.51.3, the version of bfcl-eval's
  `oss-eval-vllm` stack (vllm 0.8.5), loads it to the same ids and chat template (slow: a throwaway venv);
- `bfcl evaluate` through `scripts/bfcl_register_funrl.py --from-funrl-run` on a `funrl eval` run folder gives
  the counts of that folder's results.json (slow; needs the official checker in .venv-bfcl).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from funrl.bfcl import load_bfcl
from funrl.cli import main as funrl
from funrl.template import render_target
from funrl.tokenizer_compat import is_portable, make_portable, portable_config

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "bfcl_register_funrl.py"
BFCL_PYTHON = Path(os.environ.get("BFCL_VENV_PYTHON") or REPO / ".venv-bfcl" / "bin" / "python")
OFFICIAL_TRANSFORMERS = "4.51.3"  # what vllm 0.8.5 (bfcl-eval[oss-eval-vllm]) was released against
TEXT = "<|im_start|>user\nweather in Paris?<|im_end|>\n"
MESSAGES = [{"role": "system", "content": "tools"}, {"role": "user", "content": "weather in Paris?"}]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            {"extra_special_tokens": ["<a>", "<b>"], "tokenizer_class": "Qwen2Tokenizer"},
            {"additional_special_tokens": ["<a>", "<b>"], "tokenizer_class": "Qwen2Tokenizer"},
            id="list moves to additional_special_tokens",
        ),
        pytest.param(
            {"extra_special_tokens": ["<a>"], "additional_special_tokens": ["<b>", "<a>"]},
            {"additional_special_tokens": ["<b>", "<a>"]},
            id="merged without duplicates",
        ),
        pytest.param(
            {"tokenizer_class": "TokenizersBackend"},
            {"tokenizer_class": "PreTrainedTokenizerFast"},
            id="transformers 5 generic class",
        ),
        pytest.param(
            {"extra_special_tokens": {"image_token": "<img>"}},
            {"extra_special_tokens": {"image_token": "<img>"}},
            id="dict kept",
        ),
    ],
)
def test_portable_config(config, expected):
    assert portable_config(config) == expected
    assert portable_config(expected) == expected  # idempotent


@pytest.fixture(scope="module")
def portable_copy(tiny_model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("portable") / "tok"
    shutil.copytree(tiny_model_dir, out)
    assert not is_portable(out)  # transformers 5 wrote the list form
    assert make_portable(out) and is_portable(out) and not make_portable(out)
    return out


def _tokenizer_facts(tokenizer) -> dict:
    return {
        "ids": tokenizer(TEXT, add_special_tokens=False)["input_ids"],
        "special": sorted(tokenizer.all_special_tokens),
        "eos": tokenizer.eos_token,
        "pad": tokenizer.pad_token,
        "prompt": tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True),
    }


def test_rewrite_is_lossless_in_transformers_5(tiny_model_dir, portable_copy):
    from transformers import AutoTokenizer

    before = _tokenizer_facts(AutoTokenizer.from_pretrained(tiny_model_dir))
    after = _tokenizer_facts(AutoTokenizer.from_pretrained(portable_copy))
    assert after == before
    assert "<|im_start|>" in after["special"]


@pytest.mark.slow
def test_official_transformers_4_loads_the_portable_tokenizer(tiny_model_dir, portable_copy, tmp_path):
    from transformers import AutoTokenizer

    venv = tmp_path / "venv-t4"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"transformers=={OFFICIAL_TRANSFORMERS}", "jinja2"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0 and "Could not find a version" in pip.stderr:
        pytest.skip(f"PyPI not reachable: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr[-2000:]
    probe = (
        "import json, sys\nfrom transformers import AutoTokenizer\n"
        "t = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        f"print(json.dumps({{'ids': t({TEXT!r}, add_special_tokens=False)['input_ids'], "
        "'special': sorted(t.all_special_tokens), 'eos': t.eos_token, 'pad': t.pad_token, "
        f"'prompt': t.apply_chat_template({MESSAGES!r}, tokenize=False, add_generation_prompt=True)}}))"
    )
    proc = subprocess.run([str(python), "-c", probe, str(portable_copy)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == _tokenizer_facts(
        AutoTokenizer.from_pretrained(tiny_model_dir)
    )
    # the file as transformers 5 writes it (list form) is what fails there
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    config = json.loads((broken / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    (broken / "tokenizer_config.json").write_text(json.dumps(config))
    proc = subprocess.run([str(python), "-c", probe, str(broken)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "'list' object has no attribute 'keys'" in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not BFCL_PYTHON.is_file(), reason=f"the official checker needs {BFCL_PYTHON}")
def test_bfcl_evaluate_on_a_funrl_run_folder(bfcl_dir, tmp_path, capsys):
    """`funrl eval` (openai backend, a server answering some entries right and some wrong) -> run folder ->
    `bfcl_register_funrl.py --from-funrl-run RUN evaluate` -> the official counts equal results.json's."""
    categories = "simple_python,multiple,parallel,parallel_multiple,irrelevance,live_simple,live_multiple"
    samples = load_bfcl(bfcl_dir, categories, limit=4)
    by_question = {s.messages[-1]["content"]: s for s in samples}
    wrong = {s.id for k, s in enumerate(samples) if k % 3 == 0}

    def respond(request):
        sample = by_question[request.last_user_content]
        target = render_target(sample, "funrl")
        return target.replace("<answer>", "<answer>[nonexistent_function(x=1)]<!--") if sample.id in wrong else target

    run = tmp_path / "eval-funrl"
    with OpenAIStub(respond) as stub:
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url, "--data-dir", str(bfcl_dir)]
        assert funrl(["eval", *args, "--categories", categories, "--limit", "4", "--output", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    assert 0 < sum(c["correct"] for c in results["categories"].values()) < len(samples)

    name = "funrl-route"
    env = {**os.environ, "BFCL_PROJECT_ROOT": str(tmp_path / "bfcl_root")}
    cmd = [str(BFCL_PYTHON), str(SCRIPT), "--name", name, "--from-funrl-run", str(run), "evaluate", "--model", name]
    cmd += ["--test-category", categories, "--partial-eval"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    for category, info in results["categories"].items():
        group = "live" if category.startswith("live") else "non_live"
        score = tmp_path / "bfcl_root" / "score" / name / group / f"BFCL_v4_{category}_score.json"
        header = json.loads(score.read_text().splitlines()[0])
        assert (header["correct_count"], header["total_count"]) == (info["correct"], info["scored"]), category
