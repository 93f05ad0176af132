"""`funrl eval` / `funrl report` end to end: the hf backend on a tiny model, the openai backend against a loopback
server, resumability, batching correctness and clear errors on bad input.

The tiny model of `funrl.toy.tiny_model` has near-zero random weights and writes the same text whatever the prompt,
which would hide a padding bug; `varied_model_dir` re-draws its weights with a large scale so that the greedy
output depends on the prompt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from openai_stub import OpenAIStub, StubReply

from funrl.bfcl import load_bfcl
from funrl.calls import treesitter
from funrl.cli import main as funrl
from funrl.template import render_target

CATEGORIES = "simple_python,parallel,irrelevance,live_multiple,live_relevance,simple_java"
LIMIT = 2
COMMON = ["--limit", str(LIMIT), "--max-new-tokens", "8", "--batch-size", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def varied_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with N(0, 1) weights: its greedy output varies with the prompt."""
    from test_eval_official import varied_model

    return varied_model(tiny_model_dir, tmp_path_factory.mktemp("varied-model"), seed=1)


def run_eval(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = funrl(["eval", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def hf_run(varied_model_dir, bfcl_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "hf-run"
    args = ["--model", str(varied_model_dir), "--data-dir", str(bfcl_dir), "--categories", CATEGORIES]
    assert funrl(["eval", *args, "--output", str(out), *COMMON]) == 0
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def eval_args(model: Path, bfcl_dir: Path, out: Path) -> list[str]:
    return ["--model", str(model), "--data-dir", str(bfcl_dir), "--categories", CATEGORIES, "--output", str(out)]


# ---------------------------------------------------------------------------------------------------
# hf backend, end to end


def test_hf_run_writes_every_output(hf_run, bfcl_dir):
    expected = [s.id for s in load_bfcl(bfcl_dir, CATEGORIES, limit=LIMIT)]
    generations = read_jsonl(hf_run / "generations.jsonl")
    assert sorted(g["id"] for g in generations) == sorted(expected)  # each entry once
    assert len({g["output"] for g in generations}) > 3  # the varied model answers each prompt differently
    per_entry = read_jsonl(hf_run / "per_entry.jsonl")
    assert [r["id"] for r in per_entry] == expected
    java = {r["id"]: r["valid"] for r in per_entry if r["category"] == "simple_java"}
    results = json.loads((hf_run / "results.json").read_text())
    assert results["entries"] == len(expected)
    assert results["format"] == "funrl" and results["backend"] == "hf"
    if treesitter.available("java"):  # decoded with BFCL's tree-sitter grammar: scored like any category
        assert all(v in (True, False) for v in java.values())
        assert set(results["categories"]) == set(CATEGORIES.split(","))
        assert not results["unsupported"]
    else:  # unsupported language: not scored, not counted as wrong
        assert java == {i: None for i in expected if i.startswith("simple_java")}
        assert set(results["categories"]) == set(CATEGORIES.split(",")) - {"simple_java"}
        assert results["unsupported"] == {"simple_java": LIMIT}
    for cat, info in results["categories"].items():
        assert info["scored"] == LIMIT
        valid = [r["valid"] for r in per_entry if r["category"] == cat]
        assert info["correct"] == sum(valid)
    assert "| Non-Live AST | Live | Overall (paper) |" in (hf_run / "results.md").read_text()
    assert (hf_run / "per_category.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((hf_run / "run_config.json").read_text())["max_new_tokens"] == 8


def test_funrl_score_reproduces_results(hf_run, bfcl_dir, capsys):
    capsys.readouterr()
    args = ["--outputs", str(hf_run / "generations.jsonl"), "--data-dir", str(bfcl_dir), "--json"]
    assert funrl(["score", *args, "--format", "funrl"]) == 0
    scored = json.loads(capsys.readouterr().out)
    results = json.loads((hf_run / "results.json").read_text())
    assert scored["categories"] == results["categories"]
    assert scored["groups"] == results["groups"]
    assert scored["unsupported"] == results["unsupported"]


def test_rerun_generates_nothing(hf_run, varied_model_dir, bfcl_dir, capsys, monkeypatch):
    before = (hf_run / "generations.jsonl").read_bytes()
    results_before = json.loads((hf_run / "results.json").read_text())

    def no_backend(*args, **kwargs):
        raise AssertionError("a complete run must not build a backend")

    monkeypatch.setattr("funrl.evaluate.run.make_backend", no_backend)
    code, _, err = run_eval(capsys, *eval_args(varied_model_dir, bfcl_dir, hf_run), *COMMON)
    assert code == 0, err
    assert "already generated" in err
    assert (hf_run / "generations.jsonl").read_bytes() == before
    results = json.loads((hf_run / "results.json").read_text())
    assert results["categories"] == results_before["categories"]


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param("half", id="killed mid-line"),
        pytest.param("no-newline", id="killed before the newline"),
    ],
)
def test_torn_run_resumes(hf_run, varied_model_dir, bfcl_dir, tmp_path, capsys, tail):
    """A run killed while writing: the torn line is dropped, missing entries are generated again, and greedy
    decoding gives them the same text as in the complete run (whatever the batch they land in)."""
    run = tmp_path / "torn"
    shutil.copytree(hf_run, run)
    lines = (hf_run / "generations.jsonl").read_text().splitlines(keepends=True)
    kept = lines[:5]
    torn = lines[5][: len(lines[5]) // 2] if tail == "half" else lines[5].rstrip("\n")
    (run / "generations.jsonl").write_text("".join(kept) + torn)
    code, _, err = run_eval(capsys, *eval_args(varied_model_dir, bfcl_dir, run), *COMMON)
    assert code == 0, err
    if tail == "half":
        assert "dropping a generation line (" in err and "generations.jsonl:6: invalid JSON" in err
        assert f"5 entries already generated, {len(lines) - 5} to go" in err
    else:
        assert f"6 entries already generated, {len(lines) - 6} to go" in err
    resumed = read_jsonl(run / "generations.jsonl")
    assert len(resumed) == len(lines)
    assert {g["id"]: g["output"] for g in resumed} == {g["id"]: g["output"] for g in map(json.loads, lines)}
    assert (
        json.loads((run / "results.json").read_text())["categories"]
        == json.loads((hf_run / "results.json").read_text())["categories"]
    )


def test_appended_duplicate_and_bad_middle_line_change_no_verdict(
    hf_run, varied_model_dir, bfcl_dir, tmp_path, capsys
):
    """A duplicate line appended to a resumed run's generations keeps the first output (the verdict does not flip);
    a broken line in the middle is dropped with its line and that entry generated again."""
    run = tmp_path / "dup"
    shutil.copytree(hf_run, run)
    lines = (hf_run / "generations.jsonl").read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    duplicate = json.dumps({"id": first["id"], "output": "[not_the_answer()]"}) + "\n"
    (run / "generations.jsonl").write_text(lines[0] + "{broken\n" + "".join(lines[2:]) + duplicate)
    code, _, err = run_eval(capsys, *eval_args(varied_model_dir, bfcl_dir, run), *COMMON)
    assert code == 0, err
    assert f"generations.jsonl:{len(lines) + 1}: id {first['id']!r} already generated" in err
    assert "generations.jsonl:2: invalid JSON" in err
    resumed = read_jsonl(run / "generations.jsonl")
    assert {g["id"]: g["output"] for g in resumed} == {g["id"]: g["output"] for g in map(json.loads, lines)}
    assert (
        json.loads((run / "results.json").read_text())["categories"]
        == json.loads((hf_run / "results.json").read_text())["categories"]
    )


def test_resume_with_other_settings_is_refused(hf_run, varied_model_dir, bfcl_dir, capsys):
    args = eval_args(varied_model_dir, bfcl_dir, hf_run)
    code, _, err = run_eval(capsys, *args, *COMMON, "--format", "bfcl-prompt")
    assert code == 2
    assert "other settings (format: 'funrl' -> 'bfcl-prompt')" in err and "another --output" in err


def test_corrupt_generations_line_names_file_and_line(hf_run, varied_model_dir, bfcl_dir, tmp_path, capsys):
    run = tmp_path / "corrupt"
    shutil.copytree(hf_run, run)
    lines = (run / "generations.jsonl").read_text().splitlines(keepends=True)
    lines[2] = '{"id": "simple_python_0"}\n'
    (run / "generations.jsonl").write_text("".join(lines))
    code, _, err = run_eval(capsys, *eval_args(varied_model_dir, bfcl_dir, run), *COMMON)
    assert code == 0, err  # the bad line is dropped, named, and its entry generated again
    assert 'generations.jsonl:3: expected {"id": str, "output": str}' in err
    assert len(read_jsonl(run / "generations.jsonl")) == len(lines)


def test_batched_generation_equals_one_by_one(varied_model_dir, bfcl_dir):
    """Left padding: a prompt's greedy completion does not depend on the batch it is in. Right padding (the bug
    the check guards against) changes them, which shows the check can fail."""
    import torch

    from funrl.evaluate.backends import HFBackend
    from funrl.template import render_prompt

    torch.manual_seed(0)
    samples = load_bfcl(bfcl_dir, "simple_python,parallel,irrelevance", limit=2)
    backend = HFBackend(str(varied_model_dir), batch_size=3, max_new_tokens=4, device="cpu")
    prompts = [render_prompt(backend.tokenizer, s, "funrl") for s in samples]
    lengths = {len(backend.tokenizer(p)["input_ids"]) for p in prompts}
    assert len(lengths) > 3  # batches really are padded
    batched = backend.generate_ids(prompts)
    backend.batch_size = 1
    single = backend.generate_ids(prompts)
    assert batched == single
    assert len({tuple(ids) for ids in single}) > 3
    backend.batch_size = 3
    backend.tokenizer.padding_side = "right"
    assert backend.generate_ids(prompts) != single


# ---------------------------------------------------------------------------------------------------
# openai backend against the loopback server

OPENAI_CATEGORIES = "simple_python,multiple,parallel,irrelevance,live_simple"


def perfect_responder(samples, fmt: str, tool_calls: bool = True):
    """A server that answers each question with its ground truth rendered in `fmt` (for qwen-fc as real
    `tool_calls` when `tool_calls`, else as `<tool_call>` text, as vLLM serve without a tool parser does)."""
    from funrl.calls.render import ground_truth_to_calls

    by_question = {s.messages[-1]["content"]: s for s in samples}

    def respond(request):
        sample = by_question[request.last_user_content]
        if fmt != "qwen-fc" or not tool_calls:
            return render_target(sample, fmt)
        calls = ground_truth_to_calls(sample.ground_truth, sample.tools)
        if not calls:
            return render_target(sample, fmt)  # a plain sentence: no call
        blocks = [
            {"id": f"call_{k}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for k, call in enumerate(calls)
            for name, args in call.items()
        ]
        message = {"role": "assistant", "content": None, "tool_calls": blocks}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}

    return respond


@pytest.mark.parametrize(
    ("fmt", "tool_calls"),
    [
        pytest.param("funrl", False, id="funrl text"),
        pytest.param("qwen-fc", True, id="qwen-fc tool_calls"),
        pytest.param("qwen-fc", False, id="qwen-fc text"),
    ],
)
def test_openai_backend_with_retried_faults(bfcl_dir, tmp_path, capsys, fmt, tool_calls):
    samples = load_bfcl(bfcl_dir, OPENAI_CATEGORIES, limit=LIMIT)
    out = tmp_path / f"api-{fmt}"
    with OpenAIStub(perfect_responder(samples, fmt, tool_calls)) as stub:
        stub.inject(StubReply(status=429, headers={"Retry-After": "0"}))
        stub.inject(StubReply(status=500))
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url, "--format", fmt]
        args += ["--data-dir", str(bfcl_dir), "--categories", OPENAI_CATEGORIES, "--limit", str(LIMIT)]
        code, _, err = run_eval(capsys, *args, "--output", str(out), "--concurrency", "4")
        requests = stub.chat_requests()
    assert code == 0, err
    assert len(requests) == len(samples) + 2  # the two faulted requests were sent again
    assert sorted(r.status for r in requests) == [200] * len(samples) + [429, 500]
    body = requests[-1].body
    assert body["model"] == "served" and body["temperature"] == 0.0
    assert ("tools" in body) == (fmt == "qwen-fc")  # funrl lists the tools in its system prompt
    results = json.loads((out / "results.json").read_text())
    assert {c: (i["correct"], i["scored"]) for c, i in results["categories"].items()} == {
        c: (LIMIT, LIMIT) for c in OPENAI_CATEGORIES.split(",")
    }
    if fmt == "qwen-fc":
        outputs = [g["output"] for g in read_jsonl(out / "generations.jsonl")]
        assert sum(o.startswith("<tool_call>\n{") for o in outputs) == len(samples) - LIMIT  # all but irrelevance
        assert any(o.count("<tool_call>") > 1 for o in outputs)  # parallel calls: one block each


def test_openai_unrecoverable_error_keeps_finished_entries(bfcl_dir, tmp_path, capsys):
    samples = load_bfcl(bfcl_dir, "simple_python", limit=3)
    responder = perfect_responder(samples, "funrl")
    bad = samples[1].messages[-1]["content"]

    def respond(request):
        return (
            StubReply(status=400, content="context too long")
            if request.last_user_content == bad
            else responder(request)
        )

    out = tmp_path / "api-fail"
    with OpenAIStub(respond) as stub:
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url, "--concurrency", "1"]
        args += ["--data-dir", str(bfcl_dir), "--categories", "simple_python", "--limit", "3"]
        code, _, err = run_eval(capsys, *args, "--output", str(out))
        base_url = stub.base_url
    assert code == 2
    assert f"entry {samples[1].id!r}: BadRequestError" in err and "re-run the same command to resume" in err
    assert "1 of 3 entries failed" in err and base_url in err  # the server is named
    # the failed entry does not stop the others: every answer received is kept
    assert [g["id"] for g in read_jsonl(out / "generations.jsonl")] == [samples[0].id, samples[2].id]


# ---------------------------------------------------------------------------------------------------
# funrl report


def test_report_puts_runs_side_by_side(hf_run, bfcl_dir, tmp_path, capsys):
    samples = load_bfcl(bfcl_dir, OPENAI_CATEGORIES, limit=LIMIT)
    api = tmp_path / "api"
    with OpenAIStub(perfect_responder(samples, "funrl")) as stub:
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url, "--name", "perfect"]
        args += ["--data-dir", str(bfcl_dir), "--categories", OPENAI_CATEGORIES, "--limit", str(LIMIT)]
        assert run_eval(capsys, *args, "--output", str(api))[0] == 0
    code = funrl(["report", str(hf_run), str(api), "--out", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == 0
    table = (tmp_path / "report" / "report.md").read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "hf-run" in rows and "perfect" in rows
    # the per-category table: the perfect run scores 100 on every category it ran
    cat_header = next(line for line in table.splitlines() if line.startswith("| Model | simple_python"))
    cats = [c.strip() for c in cat_header.strip("|").split("|")][1:]
    lines = table.splitlines()
    cat_rows = lines[lines.index(cat_header) + 2 :]
    perfect_row = next(line for line in cat_rows if line.startswith("| perfect |"))
    cells = dict(zip(cats, [c.strip() for c in perfect_row.strip("|").split("|")][1:]))
    assert {c: cells[c] for c in OPENAI_CATEGORIES.split(",")} == {c: "100.00" for c in OPENAI_CATEGORIES.split(",")}
    assert (tmp_path / "report" / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert table.strip() in out


def test_report_bad_run_dir(tmp_path, capsys):
    assert funrl(["report", str(tmp_path)]) == 2
    assert f"{tmp_path / 'results.json'} not found" in capsys.readouterr().err
    (tmp_path / "results.json").write_text('{"name": "x"}')
    assert funrl(["report", str(tmp_path)]) == 2
    assert "not a `funrl eval` results file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# bad input


def test_unknown_category(tiny_model_dir, bfcl_dir, tmp_path, capsys):
    code, _, err = run_eval(
        capsys, "--model", str(tiny_model_dir), "--data-dir", str(bfcl_dir), "--output", str(tmp_path / "r"),
        "--categories", "simple_python,simpel_java",
    )  # fmt: skip
    assert code == 2
    assert "unknown BFCL category 'simpel_java'; valid categories: simple_python" in err
    assert not (tmp_path / "r").exists()  # nothing written


def test_missing_data_dir(tiny_model_dir, tmp_path, capsys):
    missing = tmp_path / "no-such-dir"
    out = tmp_path / "r"
    code, _, err = run_eval(capsys, "--model", str(tiny_model_dir), "--data-dir", str(missing), "--output", str(out))
    assert code == 2
    assert f"BFCL data not found (tried {missing})" in err and "--data-dir" in err


def test_model_without_chat_template(tiny_model_dir, bfcl_dir, tmp_path, capsys):
    model = tmp_path / "no-template"
    shutil.copytree(tiny_model_dir, model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    code, _, err = run_eval(
        capsys, "--model", str(model), "--data-dir", str(bfcl_dir), "--output", str(tmp_path / "r"),
        "--categories", "simple_python", "--limit", "1",
    )  # fmt: skip
    assert code == 2
    assert f"{model} has no chat template" in err and "tok.chat_template = funrl.template.CHAT_TEMPLATE" in err


def test_openai_backend_needs_base_url(bfcl_dir, tmp_path, capsys):
    code, _, err = run_eval(
        capsys, "--model", "m", "--backend", "openai", "--data-dir", str(bfcl_dir), "--output", str(tmp_path / "r"),
        "--categories", "simple_python", "--limit", "1",
    )  # fmt: skip
    assert code == 2 and "needs --base-url" in err


# ---------------------------------------------------------------------------------------------------
# canonical samples (--samples)


def canonical_samples(bfcl_dir: Path) -> list:
    """BFCL entries renamed into a held-out set with funrl's own category names (`simple`, `irrelevance`)."""
    import dataclasses

    samples = load_bfcl(bfcl_dir, "simple_python,irrelevance", limit=3)
    return [
        dataclasses.replace(s, id=f"heldout-{k}", category=s.category.replace("simple_python", "simple"))
        for k, s in enumerate(samples)
    ]


def test_canonical_samples_run_and_report(bfcl_dir, tmp_path, capsys):
    from funrl.schema import write_samples

    samples = canonical_samples(bfcl_dir)
    write_samples(samples, tmp_path / "heldout.jsonl")
    out = tmp_path / "heldout-run"
    with OpenAIStub(perfect_responder(samples, "funrl")) as stub:
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url]
        code, _, err = run_eval(capsys, *args, "--samples", str(tmp_path / "heldout.jsonl"), "--output", str(out))
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert {c: (i["correct"], i["scored"], i["dataset_size"]) for c, i in results["categories"].items()} == {
        "simple": (3, 3, 3),  # a non-BFCL category weighs its own line count
        "irrelevance": (3, 3, 240),
    }
    assert funrl(["report", str(out)]) == 0
    assert "| heldout-run | " in capsys.readouterr().out


def test_canonical_samples_with_repeated_id(bfcl_dir, tmp_path, capsys):
    from funrl.schema import write_samples

    samples = canonical_samples(bfcl_dir)
    samples[4].id = samples[1].id
    write_samples(samples, tmp_path / "dup.jsonl")
    code, _, err = run_eval(
        capsys, "--model", "m", "--samples", str(tmp_path / "dup.jsonl"), "--output", str(tmp_path / "r")
    )
    assert code == 2
    assert f"dup.jsonl: sample 5 repeats id {samples[1].id!r} (first at sample 2)" in err


@pytest.mark.parametrize(
    ("names", "dirs", "expected"),
    [
        (["base", "funrl"], ["r/base", "r/funrl"], ["base", "funrl"]),  # distinct names kept
        (["eval", "eval"], ["a/eval", "b/eval"], ["eval (a/eval)", "eval (b/eval)"]),  # told apart by folder
        (["x", "x"], ["r/x", "r/x"], ["x (r/x) #1", "x (r/x) #2"]),  # the same folder twice: by position
    ],
)
def test_report_run_names_are_unique(names, dirs, expected):
    from funrl.evaluate.report import unique_names

    assert unique_names(names, dirs) == expected


# ---------------------------------------------------------------------------------------------------
# LoRA adapters


def test_lora_adapter_dir_is_merged(varied_model_dir, hf_run, bfcl_dir, tmp_path, capsys):
    """`--model ADAPTER_DIR` (no tokenizer files in it): the base comes from adapter_config.json, the tokenizer from
    the base, and the generations equal those of the model merged by hand (and differ from the base's)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(varied_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(base, config)
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    assert not (adapter / "tokenizer_config.json").exists()
    merged = tmp_path / "merged"
    peft_model.merge_and_unload().save_pretrained(merged)
    for path in varied_model_dir.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(path, merged)

    outputs = {}
    for name, model in (("adapter", adapter), ("merged", merged)):
        args = ["--model", str(model), "--data-dir", str(bfcl_dir), "--output", str(tmp_path / name)]
        code, _, err = run_eval(capsys, *args, "--categories", "simple_python,live_multiple", *COMMON)
        assert code == 0, err
        outputs[name] = {g["id"]: g["output"] for g in read_jsonl(tmp_path / name / "generations.jsonl")}
    assert outputs["adapter"] == outputs["merged"]
    base_outputs = {g["id"]: g["output"] for g in read_jsonl(hf_run / "generations.jsonl")}
    assert len(outputs["adapter"]) == 2 * LIMIT
    assert outputs["adapter"] != {i: base_outputs[i] for i in outputs["adapter"]}


# ---------------------------------------------------------------------------------------------------
# argument checks (found by integration QA)


@pytest.mark.parametrize("flag", ["--limit", "--batch-size", "--max-new-tokens"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_counts_must_be_positive(flag, value, tmp_path, capsys):
    from funrl.evaluate.run import main

    assert main(["--model", "m", "--output", str(tmp_path / "o"), flag, value]) == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_samples_with_unknown_category(tmp_path, capsys):
    from funrl.evaluate.run import main
    from funrl.schema import write_samples
    from funrl.toy.world import generate

    write_samples(generate("heldout", n=5, seed=0), tmp_path / "h.jsonl")
    args = ["--model", "m", "--output", str(tmp_path / "o"), "--samples", str(tmp_path / "h.jsonl")]
    assert main([*args, "--categories", "simpel"]) == 2
    assert "no samples of categories ['simpel']" in capsys.readouterr().err


def test_missing_model_folder(tmp_path, bfcl_dir, capsys):
    from funrl.evaluate.run import main

    args = ["--model", str(tmp_path / "nope"), "--output", str(tmp_path / "o"), "--data-dir", str(bfcl_dir)]
    assert main([*args, "--categories", "simple_python", "--limit", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_toy_categories_weighted_by_their_own_counts():
    from funrl.evaluate.scoring import score_samples
    from funrl.toy.world import generate

    samples = generate("heldout", n=20, seed=0)
    result = score_samples([({"id": s.id, "output": "<think></think><answer>[]</answer>"}, s) for s in samples])
    for info in result.to_dict()["categories"].values():
        assert info["dataset_size"] == info["scored"]  # not BFCL's entry counts (e.g. 240 for irrelevance)
