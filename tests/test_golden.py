"""Our parser + matcher must score exactly like the official BFCL checker on the golden verdicts.

`tests/data/golden/verdicts_<format>.json.gz` holds the official checker's verdict (bfcl-eval, via
`../shared/tools/bfcl_official_check.py`) for every output that `tests/perturbations.py` generates: the
ground truth of every single-turn BFCL entry rendered as model output plus systematic perturbations,
in prompt mode (all 13 categories) and Qwen FC mode (Python categories). This test regenerates the
outputs (checked against the stored hashes), scores them with `funrl.calls.check_output` and requires
100% agreement on validity and on BFCL's error type, Java / JavaScript entries included when the tree-sitter
packages are installed (`funrl[bfcl-java]`); without them those entries must be refused explicitly
(`unsupported_language`). Regenerate the verdicts with `python scripts/make_golden.py`.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
from pathlib import Path

import pytest
from perturbations import outputs_for, outputs_hash

from funrl.bfcl import SINGLE_TURN, load_bfcl
from funrl.calls import check_output
from funrl.calls.treesitter import available

JAVA_JS = available("java") and available("javascript")

GOLDEN = Path(__file__).parent / "data" / "golden"
FORMATS = {"prompt": "bfcl-prompt", "qwen_fc": "qwen-fc"}
# Perturbation kinds the issue asks for, by the generator's names.
REQUIRED_KINDS = {
    "gt", "wrong_value", "wrong_type", "int_to_float", "float_to_int", "drop_required", "drop_optional",
    "extra_param", "wrong_name", "swapped_name", "reorder_calls", "duplicate_call", "extra_call", "str_upper",
    "str_punct", "list_reversed", "dict_value_changed", "dict_drop_key", "positional_first", "prose_before",
    "prose_after",
}  # fmt: skip


@pytest.fixture(scope="module")
def samples(bfcl_dir):
    return {s.id: s for s in load_bfcl(bfcl_dir, "single_turn")}


def _load(fmt: str) -> dict:
    with gzip.open(GOLDEN / f"verdicts_{fmt}.json.gz", "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _compare(fmt: str, samples) -> dict:
    payload = _load(fmt)
    codes = payload["codes"]
    stats = collections.Counter()
    changed, valid_mismatch, reason_mismatch, refused = [], [], [], collections.Counter()
    kinds = set()
    for entry_id, digest, verdicts in payload["entries"]:
        sample = samples[entry_id]
        outputs = outputs_for(sample, fmt)
        if outputs_hash(outputs) != digest or len(outputs) != len(verdicts):
            changed.append(entry_id)
            continue
        for (kind, text), code in zip(outputs, verdicts, strict=True):
            kinds.add(kind)
            official = codes[code]
            result = check_output(text, sample, FORMATS[fmt])
            if sample.language != "python" and "relevance" not in sample.category:
                stats["source_outputs"] += 1
                if not JAVA_JS:
                    refused[result.reason] += 1
                    continue
            stats["outputs"] += 1
            ours = "ok" if result.ok else result.reason
            if result.ok != (official == "ok"):
                valid_mismatch.append((entry_id, kind, official, ours, text[:200]))
            elif ours != official:
                reason_mismatch.append((entry_id, kind, official, ours, text[:200]))
    return {
        "payload": payload,
        "stats": stats,
        "changed": changed,
        "valid_mismatch": valid_mismatch,
        "reason_mismatch": reason_mismatch,
        "refused": refused,
        "kinds": kinds,
    }


_CACHE: dict[str, dict] = {}


def _compared(fmt: str, samples) -> dict:
    if fmt not in _CACHE:
        _CACHE[fmt] = _compare(fmt, samples)
    return _CACHE[fmt]


@pytest.fixture(scope="module", params=list(FORMATS))
def comparison(request, samples):
    return request.param, _compared(request.param, samples)


def test_golden_outputs_unchanged(comparison):
    fmt, result = comparison
    assert not result["changed"], (
        f"{fmt}: the generator's outputs changed for {len(result['changed'])} entries "
        f"(e.g. {result['changed'][:5]}); rerun `python scripts/make_golden.py`"
    )


def test_golden_validity_agrees_100_percent(comparison):
    fmt, result = comparison
    mismatches = result["valid_mismatch"]
    n = result["stats"]["outputs"]
    print(f"{fmt}: {n - len(mismatches)}/{n} verdicts agree with the official checker")
    assert n > 40_000
    assert not mismatches, f"{fmt}: {len(mismatches)} verdicts differ, e.g. (id, kind, official, ours, output): " + (
        "\n".join(map(repr, mismatches[:10]))
    )


def test_golden_error_type_agrees(comparison):
    fmt, result = comparison
    mismatches = result["reason_mismatch"]
    n = result["stats"]["outputs"]
    print(f"{fmt}: error types agree on {n - len(mismatches)}/{n} outputs")
    assert not mismatches, f"{fmt}: {len(mismatches)} error types differ, e.g.: " + (
        "\n".join(map(repr, mismatches[:10]))
    )


def test_golden_java_javascript_scored_or_refused_explicitly(samples):
    # Java / JavaScript outputs exist in prompt mode only; with tree-sitter (funrl[bfcl-java]) they are scored
    # and take part in the 100% agreement tests above, without it they are refused explicitly.
    result = _compared("prompt", samples)
    assert result["stats"]["source_outputs"] >= 880
    if JAVA_JS:
        assert not result["refused"]
    else:
        assert dict(result["refused"]) == {"unsupported_language": result["stats"]["source_outputs"]}


def test_golden_covers_every_category_and_kind(comparison, samples):
    fmt, result = comparison
    categories = {samples[entry_id].category for entry_id, _, _ in result["payload"]["entries"]}
    expected = set(SINGLE_TURN) if fmt == "prompt" else {c for c in SINGLE_TURN if "java" not in c}
    assert categories == expected
    assert len(result["payload"]["entries"]) == sum(n for c, n in SINGLE_TURN.items() if c in expected)
    missing = (
        REQUIRED_KINDS
        - result["kinds"]
        - ({"prose_before", "prose_after", "positional_first"} if fmt != "prompt" else set())
    )
    assert not missing, f"{fmt}: perturbation kinds missing: {missing}"


def test_golden_file_is_compact():
    for fmt in FORMATS:
        assert (GOLDEN / f"verdicts_{fmt}.json.gz").stat().st_size < 200_000


def test_golden_java_javascript_from_normalised_tools_alone(samples):
    """The reward builds samples from dataset columns (normalised tools, no raw BFCL docs): same verdicts."""
    if not JAVA_JS:
        pytest.skip("tree-sitter packages (funrl[bfcl-java]) not installed")
    payload, n, differ = _load("prompt"), 0, []
    for entry_id, _, verdicts in payload["entries"]:
        sample = samples[entry_id]
        if sample.language == "python" or "relevance" in sample.category:
            continue
        bare = dataclasses.replace(sample, meta={})
        for (kind, text), code in zip(outputs_for(sample, "prompt"), verdicts, strict=True):
            n += 1
            result = check_output(text, bare, "bfcl-prompt")
            if ("ok" if result.ok else result.reason) != payload["codes"][code]:
                differ.append((entry_id, kind, result.reason, payload["codes"][code]))
    assert n >= 880 and not differ, differ[:10]
