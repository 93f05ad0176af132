"""funrl's multi-turn checker must give the official bfcl-eval verdict on every golden trajectory.

`tests/data/golden/multiturn_verdicts.json.gz` (made by `scripts/make_multiturn_golden.py` with bfcl-eval
2026.3.23's own runner) holds trajectories in the `bfcl-prompt`, `funrl` and `qwen-fc` formats: the ground truth
(one step per turn, one step per call, the literal ground-truth strings) and perturbations (a wrong argument, a
missing call, a repeated call, a call of a later turn made early, a call moved to the turn before, an unparseable
step, a turn without calls, a dropped last turn, hostile calls), with the official verdict and error type.
Skipped when the bfcl-eval API classes are not installed (`bash scripts/setup.sh dev` installs them).
"""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

import pytest

from funrl.multiturn.apis import available

pytestmark = pytest.mark.skipif(not available(), reason="bfcl-eval API classes not installed (scripts/setup.sh dev)")

GOLDEN = Path(__file__).parent / "data" / "golden" / "multiturn_verdicts.json.gz"
REQUIRED_KINDS = {
    "gt", "gt_stepwise", "wrong_arg", "missing_call", "repeated_call", "extra_call_from_later_turn",
    "call_at_wrong_turn", "unparseable_step", "no_call_in_turn", "dropped_last_turn", "hostile_calls",
}  # fmt: skip


@pytest.fixture(scope="module")
def golden():
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def entries(bfcl_dir):
    from funrl.multiturn.data import load_entries

    return {e.id: e for e in load_entries(bfcl_dir, "multi_turn")}


def test_golden_covers_every_kind_format_and_category(golden):
    rows = golden["rows"]
    assert golden["bfcl_eval"] == "2026.3.23"
    assert {r["kind"] for r in rows} >= REQUIRED_KINDS
    assert {r["format"] for r in rows} == {"bfcl-prompt", "funrl", "qwen-fc"}
    assert {r["id"].rsplit("_", 1)[0] for r in rows} == {
        "multi_turn_base",
        "multi_turn_miss_func",
        "multi_turn_miss_param",
        "multi_turn_long_context",
    }
    errors = collections.Counter(r["error_type"] for r in rows)
    # the golden set exercises every verdict the checker can give on well-formed results, and passes
    for reason in (
        None,
        "multi_turn:force_terminated",
        "multi_turn:empty_turn_model_response",
        "multi_turn:instance_state_mismatch",
        "multi_turn:execution_response_mismatch",
    ):
        assert errors[reason] > 0, reason
    assert all(r["error_type"] is None for r in rows if r["kind"] in ("gt", "gt_stepwise"))


def test_every_verdict_equals_the_official_checker(golden, entries):
    from funrl.multiturn.checker import check_trajectory

    mismatches = []
    for row in golden["rows"]:
        verdict = check_trajectory(entries[row["id"]], row["result"], row["format"])
        if (verdict.valid, verdict.reason) != (row["error_type"] is None, row["error_type"]):
            mismatches.append((row["id"], row["kind"], row["format"], verdict.reason, row["error_type"]))
    assert not mismatches, f"{len(mismatches)} of {len(golden['rows'])} differ, e.g. {mismatches[:5]}"
