"""Tests of funrl.calls.parse / funrl.calls.decode: formats, BFCL decoding quirks, safety bounds, and agreement with
the official BFCL decoder (tests/data/bfcl_decode_expected.jsonl.gz, written by scripts/bfcl_decode_dump.py)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funrl.calls.decode import MAX_CALLS, decode_prompt
from funrl.calls.parse import DECODE_FAILURES, FORMATS, REASONS, ParseResult, parse_calls
from funrl.calls.render import render_calls, render_funrl

DATA = Path(__file__).parent / "data"
SAFETY_REASONS = {"input_too_long", "too_deep", "too_many_calls", "literal_too_large", "unsafe_expression"}


def read_hostile(path: Path = DATA / "hostile_strings.txt") -> list[str]:
    """One JSON string, or {"parts": [[text, times], ...]}, per non-comment line (same reader as the dump script)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            value = json.loads(line)
            out.append(value if isinstance(value, str) else "".join(t * n for t, n in value["parts"]))
    return out


# --- BFCL prompt mode: (text, expected calls or None, reason, a note that must be present, why) ---------------------
PROMPT_CASES = [
    ("[f(a=1, b='x')]", [{"f": {"a": 1, "b": "x"}}], None, None, "plain call list"),
    ("f(a=1)", [{"f": {"a": 1}}], None, "brackets_added", "bare call gets brackets"),
    ("f(a=1), g(b=2)", [{"f": {"a": 1}}, {"g": {"b": 2}}], None, "brackets_added", "bare calls"),
    ("```\n[f(a=1)]\n```", [{"f": {"a": 1}}], None, "code_fence_stripped", "bare fence stripped"),
    ("```python\n[f(a=1)]\n```", None, "syntax_error", None, "the word python stays: BFCL fails"),
    ("Sure: [f(a=1)]", None, "syntax_error", None, "prose before the call fails"),
    ("", [], None, None, "empty output decodes to no call"),
    ("[]", [], None, None, "empty list"),
    ("[a.b.c(x=1)]", [{"a.b.c": {"x": 1}}], None, None, "dotted names"),
    ("[f(10, 5)]", [{"f": {}}], None, "positional_args_dropped", "positional args silently dropped"),
    ("[f(a=5*2)]", [{"f": {"a": 10}}], None, "binop_evaluated", "BinOp evaluated"),
    ("[f(a='ab' + 'c', b=2**-1)]", [{"f": {"a": "abc", "b": 0.5}}], None, "binop_evaluated", "str concat, pow"),
    ("[f(a=foo)]", [{"f": {"a": "foo"}}], None, "bare_name_as_string", "bare name -> identifier"),
    ("[f(a=true)]", [{"f": {"a": "true"}}], None, "bare_name_as_string", "JSON true is a bare name"),
    ("[f(a=now())]", [{"f": {"a": "now()"}}], None, "call_as_string", "call without keywords -> source"),
    ("[f(a=g(1, b))]", [{"f": {"a": "g(1, b)"}}], None, "call_as_string", "positional call -> source"),
    ("[f(a=g(k=1))]", [{"f": {"a": {"g": {"k": 1}}}}], None, "nested_call_as_dict", "call with keywords -> dict"),
    ("[f(a=(1, 2))]", [{"f": {"a": (1, 2)}}], None, "tuple_value", "tuples stay tuples"),
    ("[f(a=+5, b=not 1)]", [{"f": {"a": -5, "b": -1}}], None, "unary_as_minus", "any unary op is minus"),
    ("[f(a=-True)]", [{"f": {"a": -1}}], None, None, "minus on a bool gives an int"),
    ("[f(a=-x)]", None, "unsupported_value", None, "unary on a name fails in BFCL"),
    ("[f(a=-(2))]", [{"f": {"a": -2}}], None, None, "parenthesised constant is a constant"),
    ("[f(a=-2**2)]", None, "unsupported_value", None, "-(2**2): unary on a BinOp fails in BFCL"),
    ("[f(a=x[1, 2])]", [{"f": {"a": "x[(1, 2)]"}}], None, "subscript_as_string", "subscript source, slice apart"),
    ("[f(a=...)]", [{"f": {"a": "..."}}], None, "ellipsis_as_string", "Ellipsis -> '...'"),
    ("[f(a={'k': 1, 'k': 2})]", [{"f": {"a": {"k": 2}}}], None, None, "duplicate dict keys: last wins"),
    ("[f(a=1, a=2)]", [{"f": {"a": 2}}], None, None, "duplicate keywords: last wins (ast.parse accepts)"),
    ("[f(**kw)]", [{"f": {None: "kw"}}], None, "kwargs_unpacked", "**kw gives the key None"),
    ("[f()(a=1)]", [{"": {"a": 1}}], None, "function_name_truncated", "callee not a name chain"),
    ("['s'.join(a=1)]", [{"join": {"a": 1}}], None, "function_name_truncated", "only attribute parts kept"),
    ("[f(a={1, 2})]", None, "unsupported_value", None, "sets are rejected by BFCL"),
    ("[f(a=x.y)]", None, "unsupported_value", None, "attribute values are rejected by BFCL"),
    ("[f(a=lambda: 1)]", None, "unsupported_value", None, "lambda fails in BFCL"),
    ("[f(a=f'x')]", None, "unsupported_value", None, "f-strings are rejected"),
    ("[f(a=1/0)]", None, "eval_error", None, "arithmetic that raises"),
    ("[f(a=x + 1)]", None, "unsafe_expression", None, "arithmetic on a name is never evaluated"),
    ("[f(a=str(1) + 'a')]", None, "unsafe_expression", None, "BFCL would eval this: we refuse"),
    ("[1, 2]", None, "not_a_call", None, "elements must be calls"),
    ("[f(a=1)][0]", None, "not_a_call", None, "not a list"),
    ("[f(a=1)", [{"f": {"a": 1}}], None, "brackets_added", "a missing closing bracket is added"),
    ("[f(a=1)]]", None, "syntax_error", None, "unbalanced brackets"),
    ("\t[f(a=1)]", None, "syntax_error", None, "a tab is not stripped by BFCL"),
    ("[f(a=10**10**10)]", None, "literal_too_large", None, "bounded power"),
    ("[f(a='a'*10**9)]", None, "literal_too_large", None, "bounded repetition"),
]


@pytest.mark.parametrize(("text", "calls", "reason", "note", "why"), PROMPT_CASES, ids=[c[4] for c in PROMPT_CASES])
def test_bfcl_prompt_cases(text, calls, reason, note, why):
    r = parse_calls(text, fmt="bfcl-prompt")
    assert r.calls == calls and type(r.calls) is type(calls), why
    assert r.reason == reason and r.format_ok == (reason is None), why
    if note:
        assert note in r.notes, why
    if calls:  # tuples must stay tuples, ints must not become floats
        assert repr(r.calls) == repr(calls), why


# --- funrl template: (text, calls, reason, think, why) -------------------------------------------------------------
FUNRL_CASES = [
    ("<think>t</think><answer>[f(a=1)]</answer>", [{"f": {"a": 1}}], None, "t", "canonical"),
    ("<think>\nt\n</think>\n<answer>\n[f(a=1)]\n</answer>\n", [{"f": {"a": 1}}], None, "t", "whitespace allowed"),
    ("<think>t</think><answer>[]</answer>", [], None, "t", "no-call (irrelevance) answer"),
    ("<think></think><answer>[f()]</answer>", [{"f": {}}], None, "", "empty think is allowed"),
    ("<think>t</think>", None, "no_answer", "t", "no answer block"),
    ("[f(a=1)]", None, "no_answer", None, "bare call list is not the template"),
    ("<answer>[f(a=1)]</answer>", [{"f": {"a": 1}}], "tag_count", None, "think missing: lenient calls"),
    ("<think>a</think><think>b</think><answer>[f()]</answer>", [{"f": {}}], "tag_count", "a", "duplicate think"),
    ("<answer>[f()]</answer><think>t</think>", [{"f": {}}], "tag_order", "t", "answer before think"),
    ("hi <think>t</think><answer>[f()]</answer>", [{"f": {}}], "text_outside_tags", "t", "prose before"),
    ("<think>t</think>so<answer>[f()]</answer>", [{"f": {}}], "text_outside_tags", "t", "prose between"),
    ("<think>t</think><answer>[f()]</answer> ok", [{"f": {}}], "text_outside_tags", "t", "prose after"),
    ("<think>t</think><answer>f(a=1)</answer>", [{"f": {"a": 1}}], "answer_not_list", "t", "bare call in answer"),
    ("<think>t</think><answer>```\n[f()]\n```</answer>", [{"f": {}}], "answer_not_list", "t", "fence in answer"),
    ("<think>t</think><answer></answer>", [], "answer_not_list", "t", "empty answer: use []"),
    ("<think>t</think><answer>None</answer>", None, "not_a_call", "t", "text answer does not decode"),
    ("<think>t</think><answer>no call</answer>", None, "syntax_error", "t", "prose answer does not parse"),
    ("<think>t</think><answer>[f(1)]</answer>", [{"f": {}}], None, "t", "positional: template ok, noted"),
    (
        "<think>use <answer>[x()]</answer>?</think><answer>[f()]</answer>",
        [{"x": {}}],
        "tag_count",
        "use <answer>[x()]</answer>?",
        "tags quoted in the reasoning: the first answer pair is decoded (and the template fails)",
    ),
    ("<think>t</think><answer>[f()]", None, "no_answer", "t", "unclosed answer"),
]


@pytest.mark.parametrize(("text", "calls", "reason", "think", "why"), FUNRL_CASES, ids=[c[4] for c in FUNRL_CASES])
def test_funrl_template_cases(text, calls, reason, think, why):
    r = parse_calls(text, fmt="funrl")
    assert (r.calls, r.reason, r.think) == (calls, reason, think), why
    assert r.format_ok == (reason is None), why


QWEN_CASES = [
    ('<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>', [{"f": {"a": 1}}], None, "one block"),
    (
        '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "g", "arguments": '
        '{"b": [1.5]}}\n</tool_call>',
        [{"f": {}}, {"g": {"b": [1.5]}}],
        None,
        "two blocks",
    ),
    ("I cannot do that.", [], None, "plain text: no call"),
    (
        '<think>\nhm\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
        [{"f": {}}],
        None,
        "leading think block",
    ),
    ("<tool_call>\nnope\n</tool_call>", [], "bad_tool_call_block", "undecodable block skipped like BFCL"),
    ('<tool_call>{"name": "f", "arguments": {}}</tool_call>', [], "bad_tool_call_block", "no newlines: not found"),
    ('<tool_call>\n{"name": "f"}\n</tool_call>', None, "not_a_call", "missing arguments fails like BFCL"),
    ("<tool_call>\n[1]\n</tool_call>", None, "not_a_call", "non-object block fails like BFCL"),
    ('Sure.\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>', [{"f": {}}], "text_outside_blocks", "prose"),
    (
        'hm, so\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>',
        [{"f": {}}],
        None,
        "reasoning whose <think> was in the prompt",
    ),
    (
        '<think>\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>\n</think>',
        [{"f": {}}],
        "text_outside_blocks",
        "a call inside the reasoning counts (as in BFCL) but breaks the layout",
    ),
]


@pytest.mark.parametrize(("text", "calls", "reason", "why"), QWEN_CASES, ids=[c[3] for c in QWEN_CASES])
def test_qwen_fc_cases(text, calls, reason, why):
    r = parse_calls(text, fmt="qwen-fc")
    assert (r.calls, r.reason, r.format_ok) == (calls, reason, reason is None), why


OPENAI_CASES = [
    ('[{"type": "function", "function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]', [{"f": {"a": 1}}], None, "str"),
    ('{"tool_calls": [{"function": {"name": "f", "arguments": {"a": [1]}}}]}', [{"f": {"a": [1]}}], None, "object"),
    ('{"role": "assistant", "content": "no", "tool_calls": null}', [], None, "message without calls"),
    ("[]", [], None, "empty list"),
    ('[{"function": {"name": "f", "arguments": "{bad"}}]', None, "syntax_error", "bad arguments JSON"),
    ('[{"name": "f", "arguments": {}}]', None, "not_a_call", "missing function wrapper"),
    ('[{"function": {"name": "f", "arguments": "[1]"}}]', None, "not_a_call", "arguments not an object"),
    ('{"content": "hi"}', None, "not_a_call", "no tool_calls key"),
    ("not json", None, "syntax_error", "not JSON"),
]


@pytest.mark.parametrize(("text", "calls", "reason", "why"), OPENAI_CASES, ids=[c[3] for c in OPENAI_CASES])
def test_openai_cases(text, calls, reason, why):
    r = parse_calls(text, fmt="openai")
    assert (r.calls, r.reason, r.format_ok) == (calls, reason, reason is None), why


# --- Java / JavaScript (tree-sitter, as BFCL): (language, text, calls or None, reason, why); every expectation here
# is what bfcl-eval's own decoder returns for the text (checked when the cases were written) ------------------------
SOURCE_CASES = [
    ("java", 'Foo.bar(a="x", b=5, c=true)', [{"Foo.bar": {"a": "x", "b": "5", "c": "true"}}], None, "values stay text"),
    ("java", "Foo.bar(a='c')", [{"Foo.bar": {"a": "c"}}], None, "char literal: quotes dropped at the top level"),
    ("java", "[f(a=new int[]{1, 2})]", [{"f": {"a": "new int[]{1,2}"}}], None, "nested nodes rebuilt without spaces"),
    ("java", '[f(a=new ArrayList<>(Arrays.asList("x", "y")))]',
     [{"f": {"a": 'new ArrayList<>(Arrays.asList("x", "y"))'}}], None, "object creation rebuilt"),
    ("java", 'Foo.bar(a="é", b="x")', [{"Foo.bar": {"a": 'é"', "=": '"'}}], None,
     "text cut from the str by byte offsets, as BFCL does"),
    ("java", "[f(a=5L, b=x)]", [{"f": {"a": "5L", "b": "x"}}], None, "suffixes and names kept"),
    ("java", "[f(x)]", None, "syntax_error", "no statement: an ERROR node"),
    ("java", "Foo.bar(a=1); g(b=2);", [{"Foo.bar": {"a": "1"}}], None, "only the first call is read"),
    ("java", "[f(a=1, a=2)]", None, "repeated_argument", "the official decoder raises"),
    ("java", "[f(a=]", None, "syntax_error", "an ERROR node"),
    ("java", "[x = 1;]", None, "no_call_found", "no method invocation: BFCL returns {}"),
    ("javascript", "[f(a='x', b=[1, 2], c={k: 1})]", [{"f": {"a": "x", "b": "[1, 2]", "c": "{k: 1}"}}], None,
     "quotes dropped, other values as written"),
    ("javascript", "obj.m(a=true)", [{"obj.m": {"a": "true"}}], "brackets_added", "member call, bare output"),
    ("javascript", "[f(x, true)]", None, "repeated_argument", "two positional arguments share the key None"),
    ("javascript", "[f(a=1, a=2)]", None, "repeated_argument", "repeated name"),
    ("javascript", "[let x = 1;]", None, "no_call_found", "no call: BFCL returns None"),
    ("javascript", "[f(a=)]", None, "syntax_error", "an ERROR node"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("language", "text", "calls", "reason", "why"), SOURCE_CASES, ids=[c[4] for c in SOURCE_CASES]
)
def test_java_javascript_decoding(language, text, calls, reason, why):
    from funrl.calls.treesitter import available

    if not available(language):
        pytest.skip("tree-sitter packages (funrl[bfcl-java]) not installed")
    r = parse_calls(text, fmt="bfcl-prompt", language=language)
    assert r.calls == calls, why
    if calls is None:
        assert (r.reason, r.format_ok) == (reason, False), why
    elif reason is not None:
        assert reason in r.notes, why
    funrl = parse_calls(f"<think>t</think><answer>{text}</answer>", fmt="funrl", language=language)
    assert funrl.calls == r.calls, why


def test_java_javascript_agree_with_official_decoder():
    """Golden Java / JavaScript outputs, random edits of them and hostile strings (written by
    scripts/bfcl_source_decode_dump.py): the same calls where BFCL decodes a list, `no_call_found` where it returns
    `{}` / `None`, a failure where it raises."""
    from funrl.calls.treesitter import available

    if not (available("java") and available("javascript")):
        pytest.skip("tree-sitter packages (funrl[bfcl-java]) not installed")
    hostile = read_hostile()
    with gzip.open(DATA / "bfcl_source_decode_expected.jsonl.gz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    assert len(records) > 5000
    mismatches = []
    for r in records:
        text = r["text"] if "text" in r else hostile[r["hostile"]]
        ours = parse_calls(text, fmt="bfcl-prompt", language=r["language"])
        if not r["ok"]:
            agree = ours.calls is None and ours.reason != "no_call_found"
        elif r["repr"] in ("{}", "None"):
            agree = ours.calls is None and ours.reason == "no_call_found"
        else:
            agree = ours.calls is not None and repr(ours.calls) == r["repr"]
        if not agree:
            mismatches.append((r["kind"], r["language"], text[:100], r["repr"] or r["error"], ours.reason, ours.calls))
    assert not mismatches, f"{len(mismatches)} differ, e.g. " + "\n".join(map(repr, mismatches[:10]))


def test_java_and_javascript_without_tree_sitter_are_reported_unsupported(monkeypatch):
    from funrl.calls import treesitter

    monkeypatch.setattr(treesitter, "_parser", lambda language: None)
    for fmt in ("funrl", "bfcl-prompt"):
        for language in ("java", "javascript"):
            r = parse_calls('<think></think><answer>[f(a="1")]</answer>', fmt=fmt, language=language)
            assert (r.calls, r.format_ok, r.reason) == (None, False, "unsupported_language")


def test_importing_the_parser_does_not_import_tree_sitter():
    code = "import sys, funrl.calls, funrl.rewards; assert 'tree_sitter' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_arguments_raise_and_bad_text_does_not():
    with pytest.raises(ValueError, match="valid formats"):
        parse_calls("[f()]", fmt="xml")
    with pytest.raises(ValueError, match="valid languages"):
        parse_calls("[f()]", language="go")
    assert parse_calls(None, fmt="bfcl-prompt") == ParseResult(None, False, "not_text")  # type: ignore[arg-type]


def test_reason_codes_are_documented():
    assert DECODE_FAILURES <= set(REASONS)
    seen = {c[2] for c in PROMPT_CASES + FUNRL_CASES} | {c[2] for c in QWEN_CASES + OPENAI_CASES}
    assert seen - {None} <= set(REASONS)
    doc = (Path(__file__).parents[1] / "docs" / "parsing.md").read_text(encoding="utf-8")
    assert [code for code in REASONS if f"`{code}`" not in doc] == []


def test_limits():
    assert parse_calls("[" + "f(), " * (MAX_CALLS + 1) + "]", "bfcl-prompt").reason == "too_many_calls"
    assert parse_calls("[f(a=" + "[" * 250 + "]" * 250 + ")]", "bfcl-prompt").reason == "too_deep"
    assert parse_calls("[f(a='" + "x" * 60_000 + "')]", "bfcl-prompt").reason == "input_too_long"
    assert parse_calls("[f(a=0x" + "f" * 5000 + ")]", "bfcl-prompt").reason == "literal_too_large"
    assert parse_calls("[f(a=2**14000)]", "bfcl-prompt").calls == [{"f": {"a": 2**14000}}]
    assert parse_calls("[f(a='%*d' % (5, 1))]", "bfcl-prompt").reason == "unsafe_expression"
    assert parse_calls("[f(a='%5d' % 1)]", "bfcl-prompt").calls == [{"f": {"a": "    1"}}]
    assert parse_calls("[f(a='' * 10**9, b=[] * 10**9)]", "bfcl-prompt").calls == [{"f": {"a": "", "b": []}}]
    assert parse_calls("<think>" + "x" * 1_000_001, "funrl").reason == "input_too_long"


# --- agreement with the official decoder --------------------------------------------------------------------------
def _expected_records():
    with gzip.open(DATA / "bfcl_decode_expected.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _ours(text: str, fmt: str) -> ParseResult:
    return parse_calls(text, "bfcl-prompt" if fmt == "prompt" else "qwen-fc")


def test_agrees_with_official_decoder():
    """Ground-truth renderings, mutations and quirks: same success/failure and the same decoded value (repr)."""
    records = [r for r in _expected_records() if r["kind"] in ("gt", "mutation", "quirk")]
    assert len(records) > 5000
    mismatches = []
    for r in records:
        ours = _ours(r["text"], r["fmt"])
        if (ours.calls is not None) != r["ok"] or (r["ok"] and repr(ours.calls) != r["repr"]):
            mismatches.append((r["kind"], r["fmt"], r["text"][:120], r["repr"], ours.reason, ours.calls))
    assert mismatches == []


def test_fuzz_and_hostile_agree_or_are_refused_for_safety():
    """Random call-like texts and hostile strings: where BFCL decodes, we give the same value or refuse with a
    safety reason; where BFCL fails, we fail too; where it hangs (stopped after a few seconds), we just return."""
    hostile = read_hostile()
    records = [r for r in _expected_records() if r["kind"] in ("fuzz", "hostile")]
    assert sum(r["kind"] == "hostile" for r in records) == 2 * len(hostile)
    assert sum(r["kind"] == "fuzz" for r in records) >= 1000
    problems = []
    for r in records:
        ours = _ours(r["text"] if "text" in r else hostile[r["hostile"]], r["fmt"])
        if r["error"] in ("timeout", "killed"):
            continue
        if r["ok"] and ours.calls is None and ours.reason in SAFETY_REASONS:
            continue
        if (ours.calls is not None) != r["ok"] or (r["ok"] and repr(ours.calls) != r["repr"]):
            problems.append((r["hostile"], r["fmt"], hostile[r["hostile"]][:80], r["error"], ours.reason))
    assert problems == []


def test_hostile_strings_return_quickly_and_never_raise():
    timings = []
    for text in read_hostile():
        for fmt in FORMATS:
            t0 = time.perf_counter()
            r = parse_calls(text, fmt=fmt)
            timings.append(time.perf_counter() - t0)
            assert isinstance(r, ParseResult)
            assert (r.reason is None) == r.format_ok
            assert r.calls is None or isinstance(r.calls, list)
    print(f"hostile corpus: {len(timings)} parses, max {max(timings) * 1e3:.1f} ms")  # informative, not asserted


def test_importing_the_parser_does_not_import_torch():
    code = "import sys, funrl.calls.parse, funrl.calls.render; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- properties -----------------------------------------------------------------------------------------------------
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=300), st.sampled_from(FORMATS))
def test_any_text_never_raises(text, fmt):
    r = parse_calls(text, fmt=fmt)
    assert isinstance(r, ParseResult) and (r.reason is None) == r.format_ok


_TOKENS = st.sampled_from(
    [
        "[",
        "]",
        "(",
        ")",
        "{",
        "}",
        ",",
        "=",
        "f",
        "g.h",
        "a",
        "1",
        "-",
        "+",
        "*",
        "**",
        "'x'",
        '"',
        "'",
        " ",
        "\n",
        "`",
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "<tool_call>\n",
        "\n</tool_call>",
        '{"name": "f"}',
        ":",
        "lambda",
        "__import__",
        "10",
        "9",
        ".",
        "[]",
        "%",
        "/",
        "0",
        "True",
        "None",
        "...",
    ]  # fmt: skip
)


@FAST
@given(st.lists(_TOKENS, max_size=60).map("".join), st.sampled_from(FORMATS))
def test_call_like_text_never_raises(text, fmt):
    r = parse_calls(text, fmt=fmt)
    assert isinstance(r, ParseResult)
    if fmt == "bfcl-prompt":
        d = decode_prompt(text)
        assert (d.calls, d.reason) == (r.calls, r.reason)


def test_failures_carry_no_calls_and_successes_no_decode_reason():
    for text, *_ in PROMPT_CASES:
        r = parse_calls(text, "bfcl-prompt")
        assert (r.calls is None) == (r.reason in DECODE_FAILURES)


def test_funrl_roundtrip_is_format_ok():
    calls = [{"f": {"a": 1, "b": [1.0, "x"]}}, {"g.h": {}}]
    r = parse_calls(render_funrl(calls, "why"), fmt="funrl")
    assert (r.calls, r.format_ok, r.think) == (calls, True, "why")
    r = parse_calls(render_calls(calls, "qwen-fc"), fmt="qwen-fc")
    assert (r.calls, r.format_ok) == (calls, True)


_small = st.one_of(
    st.integers(-20, 20).map(str),
    st.floats(-100, 100, allow_nan=False).map(repr),
    st.sampled_from(["'ab'", "''", "'x%s'", "[1, 'a']", "(2,)", "True", "None", "{1, 2}", "{'k': 1}", "b'z'"]),
)
_ops = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "@"])


@st.composite
def _operand(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return draw(_small)
    unary = draw(st.sampled_from(["", "", "-", "+", "~", "not "]))
    return f"({unary}({draw(_operand(depth + 1))}) {draw(_ops)} ({draw(_operand(depth + 1))}))"


@FAST
@given(_operand(), _ops, _operand())
def test_literal_arithmetic_matches_python(left, op, right):
    """A binary operation on literals decodes to what Python computes (or fails where Python raises).

    The expressions come from the strategies above (small literals), never from model text."""
    expr = f"({left}) {op} ({right})"
    try:
        expected = ("ok", repr(eval(expr)))  # noqa: S307 - test-generated literals only
    except Exception:
        expected = ("fail", None)
    r = parse_calls(f"[f(a={expr})]", "bfcl-prompt")
    if r.calls is None and r.reason in SAFETY_REASONS:
        assert r.reason == "literal_too_large" and expected[0] == "ok" and len(expected[1]) > 1000
        return
    got = ("ok", repr(r.calls[0]["f"]["a"])) if r.calls is not None else ("fail", None)
    assert got == expected, r.reason
