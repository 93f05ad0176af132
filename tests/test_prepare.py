"""`funrl prepare` end to end: funnel accounting, determinism, outputs loadable with `datasets`, bad inputs, and
the LLM judge against a real loopback OpenAI-compatible server, including a `kill -9` / resume run.

    .venv/bin/python -m pytest tests/test_prepare.py -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_stub import OpenAIStub

from funrl.data.pipeline import run_prepare
from funrl.data.prepare import main, parse_config
from funrl.rewards import score_completion
from funrl.schema import read_samples
from funrl.template import render_target

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "prepare" / "xlam_mini.jsonl"
OUTPUTS = ("train.jsonl", "validation.jsonl", "rejected.jsonl", "report.json")


def config_for(out: Path, bfcl_dir: Path, *extra: str):
    argv = ["--input", str(FIXTURE), "--format", "xlam", "--output", str(out), "--bfcl-data-dir", str(bfcl_dir)]
    return parse_config([*argv, "--no-progress", "--val-ratio", "0.3", *extra])


def rejected_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]


def kept_samples(out: Path):
    return read_samples(out / "train.jsonl") + read_samples(out / "validation.jsonl")


def judge_responder(request):
    """Scripted judge: JUDGE_FAIL samples are unfixable, the JUDGE_FIX sample (wrong target currency) is corrected
    once, everything else passes (evaluate and final prompts alike)."""
    text = request.last_user_content
    verdict = {
        "reasoning": "checked",
        "verdict": "pass",
        "failure_type": None,
        "fixable": False,
        "corrected_calls": None,
    }
    if "JUDGE_FAIL" in text:
        verdict.update(verdict="fail", failure_type="hallucinated_value", fixable=False)
    elif "JUDGE_FIX" in text and '"dst": "USD"' in text:
        fixed = [{"name": "convert_currency", "arguments": {"amount": 30.0, "src": "GBP", "dst": "EUR"}}]
        verdict.update(verdict="fail", failure_type="wrong_value", fixable=True, corrected_calls=fixed)
    return json.dumps(verdict)


# ---------------------------------------------------------------------------------------------------
# Rule stages only


def test_funnel_and_reasons(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    report = run_prepare(config_for(out, bfcl_dir))
    funnel = report["sources"]["xlam_mini"]["funnel"]
    # 14 lines: 2 unreadable (bad JSON, missing field) + 12 samples; C4, C1, T1 fail validation; D1 and D3 dedup
    assert funnel == {
        "input": 14, "parsed": 12, "schema-ok": 12, "calls-ok": 10, "types-ok": 9, "dedup-ok": 7, "judge-ok": 7,
        "repaired": 2, "kept": 7,
    }  # fmt: skip
    reasons = report["sources"]["xlam_mini"]["reasons"]
    assert reasons == {"C1": 1, "C4": 1, "D1": 1, "D3": 1, "READ_FIELD": 1, "READ_JSON": 1, "T1": 1}
    rows = rejected_rows(out)
    assert len(rows) == 7 and all(r["stage"] in ("read", "validate", "dedup") and r["reasons"] for r in rows)
    by_code = {r["reasons"][0]["code"]: r for r in rows}
    assert "xlam_mini.jsonl:5" in by_code["READ_JSON"]["reasons"][0]["detail"]  # names file and line
    assert "answers" in by_code["READ_FIELD"]["reasons"][0]["detail"]  # names the field
    assert by_code["D3"]["stage"] == "dedup" and "simple_python_0" in by_code["D3"]["reasons"][0]["detail"]
    assert "xlam_mini-1" in by_code["D1"]["reasons"][0]["detail"]


def test_accounting_identity_and_files(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    report = run_prepare(config_for(out, bfcl_dir))
    for data in [*report["sources"].values(), report["total"]]:
        assert data["funnel"]["input"] == data["funnel"]["kept"] + data["rejected"]
    kept = kept_samples(out)
    assert len(kept) == report["total"]["funnel"]["kept"] == 7
    assert len(rejected_rows(out)) == report["total"]["rejected"]
    assert len({s.id for s in kept}) == len(kept)
    assert report["files"] == {"train.jsonl": len(read_samples(out / "train.jsonl")),
                               "validation.jsonl": len(read_samples(out / "validation.jsonl")),
                               "rejected.jsonl": 7}  # fmt: skip
    assert report["total"]["mix"]["no_call"] == 1  # the joke request: a no-call target


def test_kept_samples_score_one_with_the_reward(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    run_prepare(config_for(out, bfcl_dir))
    for sample in kept_samples(out):
        text = render_target(sample, "funrl", think="checking the values")
        assert score_completion(text, sample.ground_truth, sample.tools, sample.category, "funrl") == (1.0, "ok")
        assert any(a["rule"] for a in sample.meta.get("audit", []))  # the reader's S4/S6 conversions are audited


def test_repairs_are_recorded(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    run_prepare(config_for(out, bfcl_dir))
    by_id = {s.id: s for s in kept_samples(out)}
    two = by_id["xlam_mini-2"]
    assert two.ground_truth == [
        {"convert_currency": {"amount": [120.0], "src": ["EUR"], "dst": ["JPY"]}},
        {"top_k": {"nums": [[4, 9, 1]], "k": [2]}},
    ]
    rules = {(a["rule"], a["action"]) for a in two.meta["audit"]}
    assert {("T2", "repair"), ("T3", "repair")} <= rules
    madrid = by_id["xlam_mini-13"]  # the default unit is omitted (V3 policy "omit")
    assert madrid.ground_truth == [{"get_weather": {"city": ["Madrid"]}}]
    assert by_id["xlam_mini-14"].category == "parallel"


def test_deterministic_bytes(tmp_path, bfcl_dir):
    run_prepare(config_for(tmp_path / "a", bfcl_dir))
    run_prepare(config_for(tmp_path / "b", bfcl_dir))
    for name in OUTPUTS:
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        if name == "report.json":  # the output folder is not part of the report; everything else is identical
            assert a == b
        assert a == b, name


def test_rerun_into_the_same_folder_is_identical(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    run_prepare(config_for(out, bfcl_dir))
    first = {name: (out / name).read_bytes() for name in OUTPUTS}
    (out / ".train.jsonl.tmp-99999").write_text("half a line")  # as a run killed while writing leaves it
    run_prepare(config_for(out, bfcl_dir))
    assert first == {name: (out / name).read_bytes() for name in OUTPUTS}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_outputs_load_with_datasets(tmp_path, bfcl_dir):
    import datasets

    out = tmp_path / "out"
    run_prepare(config_for(out, bfcl_dir))
    ds = datasets.load_dataset("json", data_files={"train": str(out / "train.jsonl")}, split="train")
    assert set(ds.column_names) == {"id", "source", "category", "messages", "tools", "ground_truth", "meta"}
    assert isinstance(json.loads(ds[0]["tools"]), list)  # JSON strings: heterogeneous schemas never meet Arrow
    nested = tmp_path / "nested"
    run_prepare(config_for(nested, bfcl_dir, "--layout", "nested"))
    assert [s.to_dict() for s in read_samples(nested / "train.jsonl")] == [
        s.to_dict() for s in read_samples(out / "train.jsonl")
    ]


def test_split_is_by_record_and_stable(tmp_path, bfcl_dir):
    splits = {}
    for seed in range(3):
        out = tmp_path / f"seed{seed}"
        run_prepare(config_for(out, bfcl_dir, "--val-ratio", "0.5", "--seed", str(seed)))
        train = {s.id for s in read_samples(out / "train.jsonl")}
        val = {s.id for s in read_samples(out / "validation.jsonl")}
        assert not train & val and len(train | val) == 7
        splits[seed] = val
    assert len({frozenset(v) for v in splits.values()}) > 1  # the seed moves records between splits
    again = tmp_path / "again"
    run_prepare(config_for(again, bfcl_dir, "--val-ratio", "0.5", "--seed", "1"))
    assert {s.id for s in read_samples(again / "validation.jsonl")} == splits[1]


def test_recipe_and_flags(tmp_path, bfcl_dir):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"inputs:\n  - path: {FIXTURE}\n    format: xlam\n    source: mini\n    validation: {{default_policy: keep}}\n"
        f"output: {tmp_path / 'from_yaml'}\nval_ratio: 0.2\ndedup:\n  bfcl_data_dir: {bfcl_dir}\n  near_cap: 1\n"
    )
    config = parse_config(["--config", str(recipe), "--val-ratio", "0.4", "--no-progress"])
    assert config.val_ratio == 0.4 and config.inputs[0].source == "mini"  # the flag overrides the recipe
    report = run_prepare(config)
    assert "mini" in report["sources"]
    kept = {s.id: s for s in kept_samples(tmp_path / "from_yaml")}
    assert kept["mini-13"].ground_truth == [{"get_weather": {"city": ["Madrid"], "unit": ["celsius"]}}]  # keep


def test_example_recipe_parses():
    config = parse_config(["--config", str(REPO / "recipes" / "data" / "prepare_xlam.yaml")])
    assert config.inputs and config.inputs[0].format == "xlam" and config.judge is None


# ---------------------------------------------------------------------------------------------------
# Bad inputs


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--format", "xlamm"], "valid formats"),
        (["--format", "xlam", "--bfcl-data-dir", "/nonexistent/bfcl"], "--no-decontaminate"),
    ],
)
def test_bad_arguments_exit_nonzero(tmp_path, capsys, argv, message):
    code = main(["--input", str(FIXTURE), "--output", str(tmp_path / "o"), "--no-progress", *argv])
    assert code != 0 and message in capsys.readouterr().err
    assert not (tmp_path / "o" / "train.jsonl").exists()


def test_unreadable_file_exits_nonzero(tmp_path, capsys):
    missing = tmp_path / "missing.jsonl"
    code = main(["--input", str(missing), "--format", "xlam", "--output", str(tmp_path / "o"), "--no-decontaminate"])
    assert code != 0 and "missing.jsonl" in capsys.readouterr().err


def test_unknown_recipe_key(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"inputs: [{FIXTURE}]\nformat: xlam\noutput: {tmp_path}\nval_ration: 0.1\n")
    assert main(["--config", str(recipe)]) != 0 and "val_ration" in capsys.readouterr().err


@pytest.mark.parametrize(
    "block,message",
    [
        ("validation: {default_polcy: omit}", "default_polcy"),
        ("reader: {no_call_step: true}", "no_call_step"),
        ("dedup: {near_cap: 0}", "near_cap"),
    ],
)
def test_bad_recipe_options_fail_before_any_work(tmp_path, capsys, block, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"inputs: [{FIXTURE}]\nformat: xlam\noutput: {tmp_path / 'o'}\n{block}\n")
    assert main(["--config", str(recipe), "--no-decontaminate"]) != 0 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_judge_url_needs_a_model(tmp_path, capsys):
    code = main(
        [
            "--input",
            str(FIXTURE),
            "--format",
            "xlam",
            "--output",
            str(tmp_path),
            "--judge",
            "http://x/v1",
            "--no-decontaminate",
        ]
    )
    assert code != 0 and "model" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------
# With the LLM judge on a loopback OpenAI-compatible server


def test_judge_stage(tmp_path, bfcl_dir):
    out = tmp_path / "out"
    with OpenAIStub(judge_responder) as stub:
        config = config_for(out, bfcl_dir, "--judge", stub.base_url, "--judge-model", "judge-m")
        report = run_prepare(config)
        first = len(stub.requests)
        run_prepare(config)  # a re-run is answered from the cache
        assert len(stub.requests) == first
    funnel = report["sources"]["xlam_mini"]["funnel"]
    assert funnel["dedup-ok"] == 7 and funnel["judge-ok"] == 6 and funnel["kept"] == 6
    judged = [r for r in rejected_rows(out) if r["stage"] == "judge"]
    assert [r["reasons"][0]["code"] for r in judged] == ["J1"] and "JUDGE_FAIL" in json.dumps(judged[0]["raw"])
    fixed = {s.id: s for s in kept_samples(out)}["xlam_mini-12"]
    assert fixed.ground_truth == [{"convert_currency": {"amount": [30.0], "src": ["GBP"], "dst": ["EUR"]}}]
    assert any(a["rule"].startswith("J") for a in fixed.meta["audit"])  # the correction is audited
    assert report["sources"]["xlam_mini"]["funnel"]["repaired"] == 3  # T2/T3 and V3 repairs + the correction


def test_kill_and_resume(tmp_path, bfcl_dir):
    """kill -9 during the judge stage; a re-run with the same arguments finishes with the same bytes as an
    uninterrupted run and sends no request whose answer was cached before the kill."""
    with OpenAIStub(judge_responder, latency_s=0.25) as stub:
        recipe = tmp_path / "judge.yaml"
        recipe.write_text("judge:\n  concurrency: 1\n  max_retries: 0\n")
        args = [sys.executable, "-m", "funrl.data.prepare", "--config", str(recipe), "--input", str(FIXTURE)]
        args += ["--format", "xlam", "--output", str(tmp_path / "out"), "--bfcl-data-dir", str(bfcl_dir)]
        args += ["--judge", stub.base_url, "--judge-model", "judge-m", "--no-progress", "--val-ratio", "0.3"]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while len(stub.requests) < 5 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not (tmp_path / "out" / "report.json").exists()  # nothing half-written: outputs come last
        cache = tmp_path / "out" / "judge_cache.jsonl"
        cached = len(cache.read_text().splitlines()) if cache.exists() else 0
        assert cached >= 3
        before = len(stub.requests)
        subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        resumed = [json.dumps(r.messages, sort_keys=True) for r in stub.requests[before:]]
        first_run = [json.dumps(r.messages, sort_keys=True) for r in stub.requests[:before]]
        total = len(set(first_run) | set(resumed))
        assert len(resumed) == len(set(resumed))  # no request twice within the resumed run
        assert len(resumed) <= total - cached  # nothing answered from the cache was asked again
        reference = tmp_path / "reference"
        run_prepare(config_for(reference, bfcl_dir, "--judge", stub.base_url, "--judge-model", "judge-m"))
    for name in ("train.jsonl", "validation.jsonl", "rejected.jsonl"):
        assert (tmp_path / "out" / name).read_bytes() == (reference / name).read_bytes(), name
    a = json.loads((tmp_path / "out" / "report.json").read_text())
    b = json.loads((reference / "report.json").read_text())
    a["config"]["judge"].pop("concurrency"), a["config"]["judge"].pop("max_retries")
    assert a == b


# ---------------------------------------------------------------------------------------------------
# Report accounting


def test_report_accounting_and_mix():
    import io

    from rich.console import Console

    from funrl.data.report import PrepareReport, failure_class, print_report
    from funrl.schema import Sample

    report = PrepareReport(target_no_call_ratio=0.5, tolerance=0.1)
    call = Sample("a", [], [], [{"f": {}}], meta={"audit": [{"rule": "T2", "action": "repair", "detail": "x"}]})
    report.add_record("src", 3)
    report.add_kept("src", call, repaired=True)
    report.add_kept("src", Sample("b", [], [], [], category="irrelevance"), repaired=False)
    report.add_rejection("src", "validate", ["C4", "T1"])
    report.check()
    data = report.to_dict()["sources"]["src"]
    assert data["funnel"] == {"input": 3, "parsed": 3, "schema-ok": 3, "calls-ok": 2, "types-ok": 2,
                              "dedup-ok": 2, "judge-ok": 2, "repaired": 1, "kept": 2}  # fmt: skip
    assert data["reasons"] == {"C4": 1, "T1": 1} and data["repairs"] == {"T2": 1}
    assert data["mix"]["no_call_ratio"] == 0.5 and data["mix"]["warning"] is None
    report.add_record("src", 1)
    report.add_kept("src", call, repaired=False)  # 1 of 3 is no-call: off the 0.5 target by more than 0.1
    assert "R4" in report.to_dict()["sources"]["src"]["mix"]["warning"]
    out = io.StringIO()
    print_report(report.to_dict(), Console(file=out, width=120))
    assert "types-ok" in out.getvalue() and "C4" in out.getvalue() and "R4" in out.getvalue()
    report.add_record("src", 1)  # an item that is neither kept nor rejected breaks the identity
    with pytest.raises(AssertionError, match="accounting"):
        report.check()
    assert failure_class("read", ["S1"]) == "parse" and failure_class("validate", ["S9"]) == "schema"
    assert failure_class("validate", ["V2"]) == "types" and failure_class("judge", ["J1"]) == "judge"


def test_nothing_kept_exits_non_zero(tmp_path, capsys):
    """A wrong --format rejects every record: the run must fail, not write an empty training set with exit 0."""
    import json

    from funrl.data.prepare import main
    from funrl.toy.world import generate, to_xlam

    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps(to_xlam(s)) + "\n" for s in generate("train", n=5, seed=0)))
    args = ["--input", str(raw), "--output", str(tmp_path / "out"), "--no-decontaminate", "--no-progress"]
    assert main([*args, "--format", "toolace"]) == 1
    assert "no sample was kept" in capsys.readouterr().err
    assert main([*args, "--format", "xlam"]) == 0
