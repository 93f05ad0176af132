"""Tests of funrl.calls.render: rendering styles, round trips through the parser (hypothesis), and
ground_truth_to_calls against the official tool's `gt` renderings (stored in tests/data/bfcl_decode_expected.jsonl.gz)."""

from __future__ import annotations

import gzip
import json
import keyword
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funrl.calls.parse import parse_calls
from funrl.calls.render import ground_truth_to_calls, render_calls, render_funrl

DATA = Path(__file__).parent / "data"

# (calls, style, expected text, why)
RENDER_CASES = [
    ([{"f": {"a": 1, "b": "x"}}], "python", "[f(a=1, b='x')]", "keyword args in order, repr quotes"),
    ([{"f": {"b": "x", "a": 1}}], "python", "[f(b='x', a=1)]", "given order kept"),
    ([{"f": {"a": 1.0, "b": -2.5, "c": True, "d": None}}], "python", "[f(a=1.0, b=-2.5, c=True, d=None)]", "scalars"),
    ([{"f": {"a": "it's"}}], "python", '[f(a="it\'s")]', "repr picks double quotes"),
    (
        [{"f": {"a": [1, [2.0]], "b": {"k": "v"}, "c": (1,)}}],
        "python",
        "[f(a=[1, [2.0]], b={'k': 'v'}, c=(1,))]",
        "nest",
    ),
    ([{"f": {"a": float("inf"), "b": -float("inf")}}], "python", "[f(a=1e999, b=-1e999)]", "infinities"),
    ([{"a.b.c": {}}, {"g": {}}], "python", "[a.b.c(), g()]", "dotted names, several calls"),
    ([], "python", "[]", "no call"),
    ([{"f": {"a": 1}}], "qwen-fc", '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>', "qwen block"),
    ([], "qwen-fc", "", "no call in qwen-fc: empty text"),
    (
        [{"f": {"a": "é"}}],
        "json",
        '[{"type": "function", "function": {"name": "f", "arguments": "{\\"a\\": \\"é\\"}"}}]',
        "openai tool_calls, arguments as a JSON string",
    ),
]


@pytest.mark.parametrize(("calls", "style", "text", "why"), RENDER_CASES, ids=[c[3] for c in RENDER_CASES])
def test_render_cases(calls, style, text, why):
    assert render_calls(calls, style) == text, why


BAD_RENDER = [
    ([{"f": {"a": float("nan")}}], "NaN"),
    ([{"f": {"a": {1, 2}}}], "set"),
    ([{"f": {"a": object()}}], "object"),
    ([{"f-g": {}}], "not a dotted Python identifier"),
    ([{"f": {"class": 1}}], "not a Python identifier"),
    ([{"f": {None: 1}}], "not a Python identifier"),
    ([{"f": 1}], "arguments must be a dict"),
    ([{"f": {}, "g": {}}], "one-key dict"),
    ({"f": {}}, "must be a list"),
]


@pytest.mark.parametrize(("calls", "message"), BAD_RENDER, ids=[b[1] for b in BAD_RENDER])
def test_unrenderable_input_raises_clear_errors(calls, message):
    with pytest.raises(ValueError, match=message):
        render_calls(calls, "python")


def test_unknown_style():
    with pytest.raises(ValueError, match="valid styles"):
        render_calls([], "xml")


def test_render_funrl():
    assert render_funrl([{"f": {"a": 1}}], "t") == "<think>t</think>\n<answer>[f(a=1)]</answer>"
    assert render_funrl([]) == "<think></think>\n<answer>[]</answer>"


# --- round trips ------------------------------------------------------------------------------------------------------
_idents = st.builds(
    lambda head, tail: head + tail, st.sampled_from("abfxyz_Ié"), st.text("abcdefghijklmnopqrstuvwxyz_09", max_size=6)
).filter(lambda s: not keyword.iskeyword(s))
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _scalars, lambda v: st.lists(v, max_size=4) | st.dictionaries(st.text(max_size=6), v, max_size=4), max_leaves=12
)
_py_values = st.recursive(
    _scalars,
    lambda v: (
        st.lists(v, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), v, max_size=4)
        | st.lists(v, max_size=3).map(tuple)
    ),
    max_leaves=12,
)
_func_names = st.lists(_idents, min_size=1, max_size=3).map(".".join)


def _calls(values):
    return st.lists(st.dictionaries(_func_names, st.dictionaries(_idents, values, max_size=4), min_size=1, max_size=1))


PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(_calls(_py_values))
def test_python_roundtrip(calls):
    r = parse_calls(render_calls(calls, "python"), fmt="bfcl-prompt")
    assert r.format_ok
    assert repr(r.calls) == repr(calls)  # repr: 1, 1.0 and True are told apart, tuples from lists


@PROPS
@given(_calls(_py_values), st.text(max_size=30).filter(lambda t: "<" not in t))
def test_funrl_roundtrip(calls, think):
    r = parse_calls(render_funrl(calls, think), fmt="funrl")
    assert r.format_ok and repr(r.calls) == repr(calls) and r.think == think.strip()


@PROPS
@given(_calls(_json_values), st.sampled_from([("qwen-fc", "qwen-fc"), ("json", "openai")]))
def test_json_styles_roundtrip(calls, styles):
    style, fmt = styles
    r = parse_calls(render_calls(calls, style), fmt=fmt)
    assert r.format_ok, r.reason
    assert json.dumps(r.calls) == json.dumps(calls)


def test_negative_zero_and_large_numbers_roundtrip():
    calls = [{"f": {"a": -0.0, "b": 10**40, "c": 1e-300, "d": [-1, -1.5]}}]
    out = parse_calls(render_calls(calls), fmt="bfcl-prompt").calls
    assert repr(out) == repr(calls) and math.copysign(1, out[0]["f"]["a"]) == -1


# --- ground truth -> calls ------------------------------------------------------------------------------------------
GT_CASES = [
    ([{"f": {"a": [1, 2], "b": ["", "x"], "c": [""]}}], None, [{"f": {"a": 1, "b": "x"}}], "first non-empty allowed"),
    ([{"f": {"d": [{"k": ["v", "w"], "j": [""]}]}}], None, [{"f": {"d": {"k": "v"}}}], "dict per-key allowed"),
    ([{"f": {"l": [[{"k": [1]}, {"k": [2]}]]}}], None, [{"f": {"l": [{"k": 1}, {"k": 2}]}}], "list of dicts"),
    ([{"f": {"l": [[1, 2]]}}], None, [{"f": {"l": [1, 2]}}], "list value kept"),
    (
        [{"f": {"a": [""], "z": ["", 3]}}],
        [{"name": "f", "parameters": {"properties": {"a": {}}, "required": ["a"]}}],
        [{"f": {"a": ""}}],
        "required with only '' gives ''; param missing from the doc omitted",
    ),
    ([{"f": {}}, {"g": {"x": [True]}}], None, [{"f": {}}, {"g": {"x": True}}], "parallel"),
]


@pytest.mark.parametrize(("gt", "tools", "calls", "why"), GT_CASES, ids=[c[3] for c in GT_CASES])
def test_ground_truth_to_calls_cases(gt, tools, calls, why):
    assert ground_truth_to_calls(gt, tools) == calls, why


def test_ground_truth_to_calls_rejects_bad_shape():
    with pytest.raises(ValueError, match=r"ground_truth\[0\]"):
        ground_truth_to_calls([{"f": {}, "g": {}}])


def test_ground_truth_rendering_matches_the_official_gt_tool(bfcl_dir):
    """Every ground-truth rendering stored by scripts/bfcl_decode_dump.py (the official tool's `gt` output, prompt
    and Qwen FC mode) is reproduced exactly by render_calls(ground_truth_to_calls(...))."""
    with gzip.open(DATA / "bfcl_decode_expected.jsonl.gz", "rt", encoding="utf-8") as f:
        records = [r for r in map(json.loads, f) if r["kind"] == "gt"]
    by_cat: dict[str, list[dict]] = {}
    for r in records:
        by_cat.setdefault(r["id"].rsplit("_", 1)[0], []).append(r)
    checked, mismatches = 0, []
    for cat, recs in by_cat.items():
        questions = {q["id"]: q for q in map(json.loads, open(bfcl_dir / f"BFCL_v4_{cat}.json", encoding="utf-8"))}
        answers = {a["id"]: a for a in map(json.loads, open(bfcl_dir / "possible_answer" / f"BFCL_v4_{cat}.json"))}
        for r in recs:
            calls = ground_truth_to_calls(answers[r["id"]]["ground_truth"], questions[r["id"]]["function"])
            text = render_calls(calls, "python" if r["fmt"] == "prompt" else "qwen-fc")
            checked += 1
            if text != r["text"]:
                mismatches.append((r["id"], r["fmt"], text[:150], r["text"][:150]))
    assert checked > 500 and mismatches == []
