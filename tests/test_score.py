"""Tests of `funrl score`: verdicts equal the official checker's, input errors name file and line, output files.

    .venv/bin/python -m pytest tests/test_score.py -q

`tests/data/score/mixed_outputs.jsonl` holds prompt-mode outputs (right, perturbed, fenced, prose-prefixed) for
every category; `mixed_official.json` has the official checker's verdict for each line (see test_metrics.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from funrl.evaluate.score import main
from funrl.evaluate.scoring import read_outputs, score_outputs
from funrl.multiturn.apis import available

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "score"
EXAMPLE = REPO / "examples" / "bfcl_outputs_example.jsonl"
OFFICIAL = json.loads((DATA / "mixed_official.json").read_text())


@pytest.fixture(scope="module")
def mixed_single_turn(tmp_path_factory) -> Path:
    """The single-turn lines of the mixed file (its multi-turn lines are checked in test_multiturn.py)."""
    path = tmp_path_factory.mktemp("score") / "mixed_single_turn.jsonl"
    lines = [line for line in (DATA / "mixed_outputs.jsonl").read_text().splitlines() if '"output"' in line]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def mixed_result(mixed_single_turn, bfcl_dir):
    return score_outputs(read_outputs(mixed_single_turn), bfcl_dir, "bfcl-prompt", mixed_single_turn, progress=False)


class TestAgainstOfficial:
    def test_every_supported_verdict_equals_official(self, mixed_result):
        compared = 0
        for row in mixed_result.per_entry:
            valid, error_type = OFFICIAL["verdicts"][row["id"]]
            if row["valid"] is None:  # refused explicitly (Java / JavaScript), never guessed
                assert row["reason"] == "unsupported_language", row["id"]
                assert row["category"] in ("simple_java", "simple_javascript")
                continue
            assert row["valid"] == valid, (row["id"], row["output"], row["reason"], error_type)
            assert row["reason"] == error_type, (row["id"], row["output"])
            compared += 1
        assert compared >= 130  # 11 python categories x 12 lines

    def test_category_counts_equal_official(self, mixed_result):
        for cat, info in mixed_result.scores.categories.items():
            official = OFFICIAL["categories"][cat]
            assert (info.correct, info.scored) == (official["correct"], official["scored"]), cat

    def test_groups_equal_official_where_defined(self, mixed_result):
        groups = mixed_result.scores.groups
        agg = OFFICIAL["aggregates"]
        assert groups["v4_live_ast"].value == pytest.approx(agg["v4_live_ast"])
        assert groups["v4_hallucination"].value == pytest.approx(agg["v4_irrelevance(hallucination)"])
        assert groups["v4_live_relevance"].value == pytest.approx(agg["v4_live_relevance"])
        if mixed_result.unsupported:  # Non-Live AST needs java/javascript: N/A with the reason, not a guess
            assert groups["v4_non_live_ast"].value is None
            assert set(groups["v4_non_live_ast"].missing) == set(mixed_result.unsupported)
        else:
            assert groups["v4_non_live_ast"].value == pytest.approx(agg["v4_non_live_ast"])


@pytest.mark.skipif(not available(), reason="bfcl-eval API classes not installed (scripts/setup.sh dev)")
def test_multi_turn_lines_in_result_shape_are_scored_in_input_order(bfcl_dir, tmp_path):
    """The whole mixed file, multi-turn lines in BFCL's result shape and one bad line among them: per-line verdicts
    in input order, multi-turn verdicts and counts equal the official checker's, and the v4 overall is reported."""
    lines = []
    for line in (DATA / "mixed_outputs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "model_output" in row:
            row["result"] = row.pop("model_output")
        lines.append(json.dumps(row))
    lines.insert(len(lines) - 2, '{"id": "multi_turn_base_0", "output": "[]"}')  # not the result shape
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = score_outputs(read_outputs(path), bfcl_dir, "bfcl-prompt", path, progress=False)
    assert [r["id"] for r in result.per_entry] == [json.loads(line)["id"] for line in lines]
    assert [r["reason"] for r in result.rejected] == ["input:READ_FIELD"]
    multi = [r for r in result.per_entry if r["category"] and r["category"].startswith("multi_turn")]
    assert len(multi) == 12 and all("turn" in r and "result" in r for r in multi)
    for row in multi:
        assert [row["valid"], row["reason"]] == OFFICIAL["verdicts"][row["id"]], row["id"]
    for cat, info in result.scores.categories.items():
        official = OFFICIAL["categories"][cat]
        assert (info.correct, info.scored) == (official["correct"], official["scored"]), cat
    groups, agg = result.scores.groups, OFFICIAL["aggregates"]
    assert groups["multi_turn"].value == pytest.approx(agg["v4_multi_turn"])
    if result.unsupported:  # Non-Live AST needs java/javascript: v4 overall N/A, never a guess
        assert groups["v4_overall"].value is None
    else:
        assert groups["v4_overall"].value == pytest.approx(agg["v4_overall_without_agentic"])
        assert groups["v3_overall"].value == pytest.approx(agg["v3_overall"])


class TestCli:
    def test_example_file_text_output(self, bfcl_dir, capsys):
        assert main(["--outputs", str(EXAMPLE), "--data-dir", str(bfcl_dir)]) == 0
        out = capsys.readouterr().out
        assert "| category | correct | scored | accuracy | top errors |" in out
        assert "| Model | Non-Live AST | Live | Overall (paper) | v3 Overall |" in out
        assert "| live_multiple |" in out

    def test_json_and_per_entry(self, bfcl_dir, tmp_path, capsys):
        per_entry = tmp_path / "verdicts.jsonl"
        args = ["--outputs", str(EXAMPLE), "--data-dir", str(bfcl_dir), "--per-entry", str(per_entry), "--json"]
        assert main(args) == 0
        result = json.loads(capsys.readouterr().out)  # stdout is pure JSON (progress goes to stderr)
        inputs = [json.loads(line) for line in EXAMPLE.read_text().splitlines()]
        rows = [json.loads(line) for line in per_entry.read_text().splitlines()]
        assert [r["id"] for r in rows] == [r["id"] for r in inputs]  # input order, duplicates kept
        assert all(r["note"] == i["note"] and r["output"] == i["output"] for r, i in zip(rows, inputs))
        assert all({"valid", "reason", "category"} <= set(r) for r in rows)
        assert result["lines"] == len(inputs)
        scored = sum(c["scored"] for c in result["categories"].values()) + sum(result["unsupported"].values())
        assert scored == len(inputs)
        assert set(result["groups"]) >= {"v4_non_live_ast", "v4_live_ast", "paper_overall", "v3_overall"}

    def test_same_id_several_times_counts_each_line(self, bfcl_dir, tmp_path):
        path = tmp_path / "out.jsonl"
        right = "[calculate_triangle_area(base=10, height=5)]"
        wrong = "[calculate_triangle_area(base=11, height=5)]"
        lines = [{"id": "simple_python_0", "output": o, "sample": k} for k, o in enumerate([right, wrong, right])]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        result = score_outputs(read_outputs(path), bfcl_dir, "bfcl-prompt", path, progress=False)
        assert [r["valid"] for r in result.per_entry] == [True, False, True]
        assert [r["sample"] for r in result.per_entry] == [0, 1, 2]
        cat = result.scores.categories["simple_python"]
        assert (cat.correct, cat.scored) == (2, 3)

    def test_console_script(self, bfcl_dir):
        proc = subprocess.run(
            [sys.executable, "-m", "funrl", "score", "--outputs", str(EXAMPLE), "--data-dir", str(bfcl_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["lines"] > 0


GOOD = '{"id": "simple_python_0", "output": "[calculate_triangle_area(base=10, height=5)]"}\n'

# (bad line, its reason code, expected fragment of the message): the line gets a per-entry verdict naming file:line
BAD_LINES = [
    ("not json", "READ_JSON", ":2: invalid JSON"),
    ('["simple_python_0", "[f()]"]', "READ_FIELD", ":2: expected a JSON object, got list"),
    ('{"id": "simple_python_0"}', "READ_FIELD", ":2: missing field 'output'"),
    ('{"output": "[f()]"}', "READ_FIELD", ":2: missing field 'id'"),
    ('{"id": "simple_python_0", "output": null}', "READ_FIELD", ":2: field 'output' must be a string, got NoneType"),
    ('{"id": 3, "output": "x"}', "READ_FIELD", ":2: field 'id' must be a string, got int"),
    # multi-turn lines have BFCL's result shape {"id", "result": [[step text, ...], ...]}, not "output"
    ('{"id": "multi_turn_base_0", "output": "[]"}', "READ_FIELD",
     ":2: multi-turn id 'multi_turn_base_0' needs field 'result'"),
    ('{"id": "multi_turn_base_0", "result": [["[]"], "x"]}', "READ_FIELD",
     ":2: multi-turn id 'multi_turn_base_0' needs field"),
    ('{"id": "multi_turn_base_0"}', "READ_FIELD", ":2: multi-turn id 'multi_turn_base_0' needs field 'result'"),
    ('{"id": "web_search_3", "output": "x"}', "NOT_SINGLE_TURN", ":2: id 'web_search_3' is not a BFCL single-turn"),
    ('{"id": "nonsense", "output": "x"}', "NOT_SINGLE_TURN", ":2: id 'nonsense' is not a BFCL single-turn"),
    ('{"id": "multi_turn_base_99999", "result": [["[]"]]}', "UNKNOWN_ID", ":2: id 'multi_turn_base_99999' not found"),
    ('{"id": "simple_python_9999", "output": "x"}', "UNKNOWN_ID", ":2: id 'simple_python_9999' not found"),
    ('{"id": "simple_python_1", "output": NaN}', "READ_NONFINITE", ":2: non-finite number NaN"),
    ("[" * 100000, "READ_DEPTH", ":2: JSON nested too deeply"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "code", "fragment"), BAD_LINES)
def test_a_bad_line_is_a_verdict_and_the_rest_is_scored(line, code, fragment, bfcl_dir, tmp_path, capsys):
    path, per_entry = tmp_path / "outputs.jsonl", tmp_path / "v.jsonl"
    path.write_text(GOOD + line + "\n" + GOOD)
    args = [
        "--outputs",
        str(path),
        "--data-dir",
        str(bfcl_dir),
        "--format",
        "bfcl-prompt",
        "--per-entry",
        str(per_entry),
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"{path}{fragment}" in err and "1 of 3 lines not scored" in err
    rows = [json.loads(x) for x in per_entry.read_text().splitlines()]
    assert [r["valid"] for r in rows] == [True, None, True]
    assert rows[1]["reason"] == f"input:{code}" and fragment in rows[1]["detail"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("not json\n", ": none of its 1 lines can be scored (first: "),
        ("\n\n", ": no output lines"),  # empty file
    ],
)
def test_nothing_scorable_is_one_line_error(content, fragment, bfcl_dir, tmp_path, capsys):
    path = tmp_path / "outputs.jsonl"
    path.write_text(content)
    assert main(["--outputs", str(path), "--data-dir", str(bfcl_dir), "--format", "bfcl-prompt"]) == 2
    err = capsys.readouterr().err
    assert f"{path}{fragment}" in err and len(err.strip().splitlines()) == 1


def test_missing_outputs_file(tmp_path, capsys):
    assert main(["--outputs", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_missing_data_dir(tmp_path, capsys):
    path = tmp_path / "o.jsonl"
    path.write_text('{"id": "simple_python_0", "output": "x"}\n')
    assert main(["--outputs", str(path), "--data-dir", str(tmp_path / "no_data")]) == 2
    assert "BFCL data not found" in capsys.readouterr().err
