"""Tests of `funrl.evaluate.metrics`: BFCL group scores against the official script's numbers, null rules, rendering.

    .venv/bin/python -m pytest tests/test_metrics.py -q

`tests/data/score/mixed_official.json` is the output of `../shared/tools/bfcl_official_check.py score` (official
bfcl-eval 2026.3.23 checker) on `tests/data/score/mixed_outputs.jsonl`: 12 lines per single-turn category and 3
per multi-turn category, about 40% deliberately wrong.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import funrl.evaluate.metrics
from funrl.evaluate.metrics import DATASET_SIZE, GROUP_LABELS, aggregate, render_markdown

DATA = Path(__file__).parent / "data" / "score"
OFFICIAL = json.loads((DATA / "mixed_official.json").read_text())
OFFICIAL_COUNTS = {cat: (c["correct"], c["scored"]) for cat, c in OFFICIAL["categories"].items()}
MULTI_TURN = [c for c in OFFICIAL_COUNTS if c.startswith("multi_turn")]

# our group key -> the official script's aggregate key
OFFICIAL_KEYS = {
    "v4_non_live_ast": "v4_non_live_ast",
    "v4_live_ast": "v4_live_ast",
    "v4_hallucination": "v4_irrelevance(hallucination)",
    "v4_live_relevance": "v4_live_relevance",
    "multi_turn": "v4_multi_turn",
    "v3_non_live": "v3_non_live_overall",
    "v3_live": "v3_live_overall",
    "v3_overall": "v3_overall",
    "v4_overall": "v4_overall_without_agentic",
}


def test_doctests():
    assert doctest.testmod(funrl.evaluate.metrics).failed == 0


class TestAgainstOfficial:
    def test_fixture_covers_every_category(self):
        # the expected data must exercise every weight and every group
        assert set(OFFICIAL_COUNTS) == set(DATASET_SIZE)

    def test_category_accuracies(self):
        scores = aggregate(OFFICIAL_COUNTS)
        for cat, info in OFFICIAL["categories"].items():
            assert scores.categories[cat].accuracy == pytest.approx(info["accuracy"], abs=1e-12), cat
            assert scores.categories[cat].dataset_size == info["dataset_size"], cat

    @pytest.mark.parametrize("key", sorted(OFFICIAL_KEYS))
    def test_groups_equal_official(self, key):
        scores = aggregate(OFFICIAL_COUNTS)
        expected = OFFICIAL["aggregates"][OFFICIAL_KEYS[key]]
        assert expected is not None
        assert scores.groups[key].value == pytest.approx(expected, abs=1e-12)

    def test_paper_overall_is_mean_of_non_live_ast_and_live(self):
        agg = OFFICIAL["aggregates"]
        scores = aggregate(OFFICIAL_COUNTS)
        expected = (agg["v4_non_live_ast"] + agg["v4_live_ast"]) / 2
        assert scores.groups["paper_overall"].value == pytest.approx(expected, abs=1e-12)
        assert "not a BFCL" in scores.groups["paper_overall"].note

    def test_v3_overall_counts_missing_multi_turn_as_zero(self):
        # funrl scores single-turn only: v3 overall = (non-live + live + 0) / 3, and the note says so
        single = {c: v for c, v in OFFICIAL_COUNTS.items() if c not in MULTI_TURN}
        scores = aggregate(single)
        agg = OFFICIAL["aggregates"]
        expected = (agg["v3_non_live_overall"] + agg["v3_live_overall"] + 0.0) / 3
        assert scores.groups["v3_overall"].value == pytest.approx(expected, abs=1e-12)
        assert "multi-turn counted as 0" in scores.groups["v3_overall"].note
        assert scores.groups["multi_turn"].value is None


# (counts, group key, expected missing categories): a group with a category not scored is None
NULL_CASES = [
    # java not scored: Simple, hence Non-Live AST and v3 Non-Live, are undefined
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "simple_java"}, "v4_non_live_ast", ("simple_java",)),
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "simple_java"}, "v3_non_live", ("simple_java",)),
    # live_parallel missing: the weighted live score is undefined, so is the paper overall
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "live_parallel"}, "v4_live_ast", ("live_parallel",)),
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "live_parallel"}, "paper_overall", ("live_parallel",)),
    # irrelevance missing: hallucination undefined, v3 overall undefined (not counted as 0: it is single-turn)
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "irrelevance"}, "v4_hallucination", ("irrelevance",)),
    ({c: v for c, v in OFFICIAL_COUNTS.items() if c != "irrelevance"}, "v3_overall", ("irrelevance",)),
    # a category present with 0 lines scored counts as not scored
    ({**OFFICIAL_COUNTS, "live_relevance": (0, 0)}, "v4_live_relevance", ("live_relevance",)),
    # nothing at all
    ({}, "v4_non_live_ast", ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
                             "parallel_multiple")),
]  # fmt: skip


@pytest.mark.parametrize(("counts", "key", "missing"), NULL_CASES)
def test_group_is_null_when_a_category_is_missing(counts, key, missing):
    group = aggregate(counts).groups[key]
    assert group.value is None
    assert group.missing == missing
    assert group.note == "not scored: " + ", ".join(missing)


class TestInputs:
    def test_accepts_tuples_mappings_and_category_scores(self):
        a = aggregate({"multiple": (3, 4)})
        b = aggregate({"multiple": {"correct": 3, "scored": 4}})
        c = aggregate({"multiple": a.categories["multiple"]})
        assert a.categories == b.categories == c.categories
        assert a.categories["multiple"].accuracy == 0.75

    def test_unknown_category_is_an_error(self):
        with pytest.raises(ValueError, match="unknown BFCL categories.*'simple'"):
            aggregate({"simple": (1, 1)})  # v3 name: the caller must map it

    def test_impossible_counts_are_an_error(self):
        with pytest.raises(ValueError, match="live_simple: correct=5"):
            aggregate({"live_simple": (5, 4)})

    def test_live_is_weighted_by_dataset_size_not_lines_scored(self):
        # 1 line scored in live_multiple still weighs 1053 entries, as in BFCL
        counts = {"live_simple": (10, 10), "live_multiple": (0, 1), "live_parallel": (1, 1),
                  "live_parallel_multiple": (1, 1)}  # fmt: skip
        expected = (258 + 16 + 24) / (258 + 1053 + 16 + 24)
        assert aggregate(counts).groups["v4_live_ast"].value == pytest.approx(expected)

    def test_custom_dataset_size(self):
        counts = {"live_simple": (1, 1), "live_multiple": (0, 1), "live_parallel": (0, 1),
                  "live_parallel_multiple": (0, 1)}  # fmt: skip
        sizes = {"live_simple": 1, "live_multiple": 1, "live_parallel": 1, "live_parallel_multiple": 1}
        assert aggregate(counts, sizes).groups["v4_live_ast"].value == pytest.approx(0.25)

    def test_to_dict_is_json(self):
        d = aggregate(OFFICIAL_COUNTS).to_dict()
        assert set(d["groups"]) == set(GROUP_LABELS)
        json.dumps(d)


class TestMarkdown:
    def test_paper_layout_and_values(self):
        scores = aggregate(OFFICIAL_COUNTS)
        text = render_markdown({"mixed": scores})
        lines = text.splitlines()
        assert lines[0].startswith("| Model | Non-Live AST | Live | Overall (paper) | v3 Overall |")
        agg = OFFICIAL["aggregates"]
        row = lines[2].split(" | ")
        assert row[1] == f"{100 * agg['v4_non_live_ast']:.2f}"
        assert row[2] == f"{100 * agg['v4_live_ast']:.2f}"
        assert row[3] == f"{100 * (agg['v4_non_live_ast'] + agg['v4_live_ast']) / 2:.2f}"
        assert row[4] == f"{100 * agg['v3_overall']:.2f}"
        cat_header = next(line for line in lines if line.startswith("| Model | simple_python"))
        assert cat_header.count("|") == len(DATASET_SIZE) + 2  # one column per scored category

    def test_na_and_reason(self):
        text = render_markdown({"run": aggregate({"simple_python": (1, 2)})})
        assert "N/A" in text
        assert "run: Non-Live AST: not scored: simple_java" in text

    def test_several_runs_side_by_side(self):
        text = render_markdown({"a": aggregate({"multiple": (1, 2)}), "b": aggregate({"parallel": (2, 2)})})
        cat_header = next(line for line in text.splitlines() if line.startswith("| Model | multiple"))
        assert cat_header == "| Model | multiple | parallel |"
        assert "| a | 50.00 | N/A |" in text and "| b | N/A | 100.00 |" in text
