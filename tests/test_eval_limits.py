"""`funrl eval` never cuts a chain of thought silently: per-generation `truncated` flags (hf: no eos; openai:
`finish_reason == "length"`), their per-category counts in results.json / results.md / `funrl report`, partial
(`--limit`) runs marked as such, the default budget, and charts that draw a category not run as N/A, not 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_stub import OpenAIStub, StubReply

from funrl.bfcl import load_bfcl
from funrl.cli import main as funrl
from funrl.evaluate.charts import HEADLINES, chart_values
from funrl.evaluate.metrics import aggregate
from funrl.evaluate.truncation import (
    DEFAULT_MAX_NEW_TOKENS,
    coverage,
    default_max_new_tokens,
    render_coverage,
    render_truncation,
    truncation_stats,
)
from funrl.template import render_target

CATS = "simple_python,irrelevance"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------------
# the counting itself


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param([False, False], (0, 2, 0, 0.0), id="none cut"),
        pytest.param([True, False, True, True], (3, 4, 0, 0.75), id="three of four"),
        pytest.param([None, True], (1, 1, 1, 1.0), id="unknown flags are not counted as generated"),
        pytest.param([None], (0, 0, 1, None), id="nothing known: share N/A"),
    ],
)
def test_truncation_stats(flags, expected):
    rows = [{"category": "simple_python", "truncated": f} for f in flags]
    stats = truncation_stats(rows, max_new_tokens=64)
    assert (stats["truncated"], stats["generated"], stats["unknown"], stats["share"]) == expected
    assert stats["categories"]["simple_python"]["share"] == expected[3]
    text = render_truncation(stats)
    assert "max_new_tokens=64" in text
    assert ("| simple_python |" in text) == bool(expected[0])  # the table only when something was cut


@pytest.mark.parametrize(
    ("entries", "limit", "bfcl", "partial_cats"),
    [
        pytest.param({"simple_python": 400, "irrelevance": 240}, None, True, [], id="full BFCL run"),
        pytest.param({"simple_python": 5, "irrelevance": 240}, 5, True, ["simple_python"], id="limit cuts one"),
        pytest.param({"toy_a": 5, "toy_b": 3}, 5, False, ["toy_a"], id="samples: limit reached"),
        pytest.param({"toy_a": 5}, None, False, [], id="samples without limit"),
    ],
)
def test_coverage(entries, limit, bfcl, partial_cats):
    info = coverage(entries, limit, bfcl)
    assert sorted(info["categories"]) == partial_cats
    assert info["partial"] == bool(partial_cats)
    assert bool(render_coverage(info)) == bool(partial_cats)


def test_chart_draws_not_run_categories_and_aggregates_as_na():
    scores = aggregate({"simple_python": (3, 4)})
    labels, values = chart_values({"m": scores}, categories=["simple_python", "simple_java"])
    assert labels == ["simple_python", "simple_java", *(label for _, label in HEADLINES)]
    assert values["m"][:2] == [75.0, None]  # not scored: N/A, never 0
    assert values["m"][2:] == [None] * len(HEADLINES)  # aggregates missing categories: N/A
    full = {c: (1, 2) for c in ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel")}
    full.update(parallel_multiple=(1, 2))
    _, values = chart_values({"m": aggregate(full)}, categories=["simple_python"])
    assert values["m"][1] == pytest.approx(50.0)  # Non-Live AST is drawn when it can be computed


def test_default_budget_comes_from_the_models_training(tmp_path, capsys):
    assert default_max_new_tokens(str(tmp_path)) == (DEFAULT_MAX_NEW_TOKENS, "the default")
    (tmp_path / "funrl_training.json").write_text(json.dumps({"max_completion_length": 512}))
    assert default_max_new_tokens(str(tmp_path))[0] == 512
    with pytest.raises(SystemExit):
        funrl(["eval", "--help"])
    assert f"else {DEFAULT_MAX_NEW_TOKENS}" in " ".join(capsys.readouterr().out.split())


# ---------------------------------------------------------------------------------------------------
# end to end: hf and openai backends, funrl report


@pytest.fixture(scope="module")
def hf_cut_run(tiny_model_dir, bfcl_dir, tmp_path_factory) -> Path:
    """The tiny model never writes eos in 6 tokens: every generation is cut."""
    out = tmp_path_factory.mktemp("limits") / "hf-cut"
    args = ["--model", str(tiny_model_dir), "--data-dir", str(bfcl_dir), "--categories", CATS, "--limit", "2"]
    assert funrl(["eval", *args, "--max-new-tokens", "6", "--device", "cpu", "--output", str(out)]) == 0
    return out


def test_hf_flags_every_cut_generation(hf_cut_run):
    generations = read_jsonl(hf_cut_run / "generations.jsonl")
    per_entry = read_jsonl(hf_cut_run / "per_entry.jsonl")
    assert [g["truncated"] for g in generations] == [True] * 4
    assert [r["truncated"] for r in per_entry] == [True] * 4
    results = json.loads((hf_cut_run / "results.json").read_text())
    assert results["truncation"]["max_new_tokens"] == 6
    assert {c: (i["truncated"], i["generated"]) for c, i in results["truncation"]["categories"].items()} == {
        "simple_python": (2, 2),
        "irrelevance": (2, 2),
    }
    assert results["coverage"]["partial"] is True
    md = (hf_cut_run / "results.md").read_text()
    assert "**Partial run (--limit 2)**" in md
    assert "4 of 4 (100.0%)" in md and "| simple_python | 2 | 2 | 100.0% |" in md


def test_torn_rewrite_keeps_the_flags(hf_cut_run, tiny_model_dir, bfcl_dir, tmp_path):
    out = tmp_path / "torn"
    out.mkdir()
    for name in ("generations.jsonl", "run_config.json"):
        (out / name).write_text((hf_cut_run / name).read_text())
    with (out / "generations.jsonl").open("a") as handle:
        handle.write('{"id": "simple_python_9", "out')  # a killed run's torn last line
    args = ["--model", str(tiny_model_dir), "--data-dir", str(bfcl_dir), "--categories", CATS, "--limit", "2"]
    assert funrl(["eval", *args, "--max-new-tokens", "6", "--device", "cpu", "--output", str(out)]) == 0
    assert [g["truncated"] for g in read_jsonl(out / "generations.jsonl")] == [True] * 4


def test_openai_finish_reason_length_is_counted(bfcl_dir, tmp_path, capsys):
    samples = load_bfcl(bfcl_dir, CATS, limit=3)
    by_question = {s.messages[-1]["content"]: s for s in samples}
    cut = {samples[0].id, samples[4].id}

    def respond(request):
        sample = by_question[request.last_user_content]
        if sample.id in cut:
            return StubReply(content="<think>a long chain of thought that ran out of", finish_reason="length")
        return render_target(sample, "funrl")

    out = tmp_path / "api"
    with OpenAIStub(respond) as stub:
        args = ["--model", "served", "--backend", "openai", "--base-url", stub.base_url, "--data-dir", str(bfcl_dir)]
        code = funrl(["eval", *args, "--categories", CATS, "--limit", "3", "--output", str(out)])
    assert code == 0, capsys.readouterr().err
    flags = {g["id"]: g["truncated"] for g in read_jsonl(out / "generations.jsonl")}
    assert {i for i, f in flags.items() if f} == cut
    results = json.loads((out / "results.json").read_text())
    assert results["truncation"]["truncated"] == 2 and results["truncation"]["generated"] == 6
    assert results["truncation"]["categories"]["simple_python"]["truncated"] == 1
    assert results["categories"]["simple_python"]["correct"] == 2  # the cut answer scores as wrong

    capsys.readouterr()
    assert funrl(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| api | 2048 | 2/6 | 1/3 | 1/3 |" in report  # the default budget, overall and per category
    assert "**Partial run (--limit 3)**" in report
    assert (tmp_path / "report" / "report.png").read_bytes()[:4] == b"\x89PNG"
