"""Rule-by-rule tests of `funrl.calls.match_calls` (BFCL AST-checker semantics), as tables of annotated cases.

Every case gives decoded calls, the possible answer, BFCL-native function docs (normalised here with
`funrl.schema.normalize_tools`, as the matcher sees them) and the expected verdict: `None` = pass, else
BFCL's error type. The same expectations hold for the official checker (the golden test checks the
matcher against it on ~140k outputs; these cases pin each rule down by name).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.calls import MatchResult, check_output, match_calls
from funrl.calls.values import normalize_string
from funrl.schema import normalize_tools

REPO = Path(__file__).resolve().parents[1]


def _schema(spec):
    if isinstance(spec, dict):
        return spec
    if spec.startswith(("array<", "tuple<")):
        outer, inner = spec[:-1].split("<", 1)
        return {"type": outer, "items": _schema(inner)}
    if spec == "dict":
        return {"type": "dict", "properties": {}}
    return {"type": spec}


def tool(name, required=(), **params):
    """A BFCL-native function doc: `tool("f", ["a"], a="integer", b="array<float>")`."""
    props = {k: _schema(v) for k, v in params.items()}
    return {"name": name, "parameters": {"type": "dict", "properties": props, "required": list(required)}}


AREA = tool("area", ["base", "height"], base="integer", height="integer", unit="string")
AREA_GT = [{"area": {"base": [10], "height": [5], "unit": ["units", ""]}}]
TYPES = tool(
    "t", [], i="integer", f="float", s="string", b="boolean", a="any", fl="array<float>", il="array<integer>",
    sl="array<string>", tp="tuple<integer>", d="dict", ld="array<dict>",
)  # fmt: skip


def t_gt(**allowed):
    return [{"t": allowed}]


CASES = [
    # --- function name ---
    ("name_exact", [{"area": {"base": 10, "height": 5}}], AREA_GT, [AREA], "simple", None),
    # names are case-sensitive
    ("name_case", [{"Area": {"base": 10, "height": 5}}], AREA_GT, [AREA], "simple",
     "simple_function_checker:wrong_func_name"),
    # a dotted name must be given dotted (underscore_to_dot is off by default)
    ("name_dotted_underscored", [{"math_sum": {"a": 1}}], [{"math.sum": {"a": [1]}}],
     [tool("math.sum", ["a"], a="integer")], "simple", "simple_function_checker:wrong_func_name"),
    # --- required / unknown / optional parameters ---
    # `unit` allows "" so it may be omitted
    ("optional_omitted", [{"area": {"base": 10, "height": 5}}], AREA_GT, [AREA], "simple", None),
    # restating an optional parameter the answer lists is fine (normalised string)
    ("optional_given", [{"area": {"base": 10, "height": 5, "unit": "Units"}}], AREA_GT, [AREA], "simple", None),
    # required `height` missing
    ("missing_required", [{"area": {"base": 10}}], AREA_GT, [AREA], "simple",
     "simple_function_checker:missing_required"),
    # a parameter the doc does not have
    ("unknown_param", [{"area": {"base": 10, "height": 5, "zzz": 1}}], AREA_GT, [AREA], "simple",
     "simple_function_checker:unexpected_param"),
    # a schema-valid optional parameter that the answer does not list also fails
    ("optional_not_in_answer", [{"area": {"base": 10, "height": 5, "unit": "units"}}],
     [{"area": {"base": [10], "height": [5]}}], [AREA], "simple", "simple_function_checker:unexpected_param"),
    # an answer parameter without "" must be present even if the doc calls it optional
    ("missing_optional", [{"area": {"base": 10, "height": 5}}],
     [{"area": {"base": [10], "height": [5], "unit": ["cm"]}}], [AREA], "simple",
     "simple_function_checker:missing_optional"),
    # --- type table ---
    # bool is not an integer
    ("bool_for_int", [{"t": {"i": True}}], t_gt(i=[1]), [TYPES], "simple", "type_error:simple"),
    # a float for an integer fails even when integral
    ("float_for_int", [{"t": {"i": 5.0}}], t_gt(i=[5]), [TYPES], "simple", "type_error:simple"),
    # an int is accepted for a top-level float
    ("int_for_float", [{"t": {"f": 5}}], t_gt(f=[5.0]), [TYPES], "simple", None),
    # ... but not inside an array<float>
    ("int_in_float_array", [{"t": {"fl": [1, 3]}}], t_gt(fl=[[1.0, 3.0]]), [TYPES], "simple", "type_error:nested"),
    # element types are not checked when an allowed value is not a list (here ""): then 1 == 1.0 by value
    ("int_in_float_array_optional", [{"t": {"fl": [1, 3]}}], t_gt(fl=[[1.0, 3.0], ""]), [TYPES], "simple", None),
    # a string for an integer
    ("str_for_int", [{"t": {"i": "5"}}], t_gt(i=[5]), [TYPES], "simple", "type_error:simple"),
    # variable rule: the answer holds a string for an integer parameter -> a string is accepted, exactly
    ("variable_exact", [{"t": {"i": "n_rooms"}}], t_gt(i=["n_rooms"]), [TYPES], "simple", None),
    # ... and compared without normalisation
    ("variable_not_normalised", [{"t": {"i": "N_Rooms"}}], t_gt(i=["n_rooms"]), [TYPES], "simple",
     "value_error:others"),
    # a tuple is accepted for a tuple parameter (compared as a list)
    ("tuple_for_tuple", [{"t": {"tp": (1, 2)}}], t_gt(tp=[[1, 2]]), [TYPES], "simple", None),
    # ... but not for an array
    ("tuple_for_array", [{"t": {"il": (1, 2)}}], t_gt(il=[[1, 2]]), [TYPES], "simple", "type_error:simple"),
    # `any` means string in the official type table
    ("any_is_string", [{"t": {"a": "X"}}], t_gt(a=["x"]), [TYPES], "simple", None),
    ("any_int", [{"t": {"a": 3}}], t_gt(a=["3"]), [TYPES], "simple", "type_error:simple"),
    # a wrong element type in an integer array
    ("str_in_int_array", [{"t": {"il": [1, "2"]}}], t_gt(il=[[1, 2]]), [TYPES], "simple", "type_error:nested"),
    # --- strings ---
    # spaces, , . / - _ * ^ and case are ignored
    ("string_normalised", [{"t": {"s": "New-York, NY."}}], t_gt(s=["new york ny"]), [TYPES], "simple", None),
    # other punctuation is not
    ("string_other_punct", [{"t": {"s": "New York!"}}], t_gt(s=["New York"]), [TYPES], "simple",
     "value_error:string"),
    # ' and " are equivalent
    ("string_quotes", [{"t": {"s": "it's"}}], t_gt(s=['it"s']), [TYPES], "simple", None),
    # any allowed value will do
    ("string_alternatives", [{"t": {"s": "NYC"}}], t_gt(s=["New York", "nyc"]), [TYPES], "simple", None),
    # --- lists ---
    ("list_equal", [{"t": {"sl": ["a b", "C"]}}], t_gt(sl=[["ab", "c"]]), [TYPES], "simple", None),
    # order matters
    ("list_order", [{"t": {"sl": ["c", "ab"]}}], t_gt(sl=[["ab", "c"]]), [TYPES], "simple", "value_error:list/tuple"),
    # a missing element
    ("list_short", [{"t": {"sl": ["ab"]}}], t_gt(sl=[["ab", "c"]]), [TYPES], "simple", "value_error:list/tuple"),
    # quirk: "" among the allowed values makes an empty list acceptable
    ("empty_list_when_optional", [{"t": {"sl": []}}], t_gt(sl=[["ab"], ""]), [TYPES], "simple", None),
    ("empty_list_when_required", [{"t": {"sl": []}}], t_gt(sl=[["ab"]]), [TYPES], "simple", "value_error:list/tuple"),
    # --- dicts (one level) ---
    ("dict_ok", [{"t": {"d": {"size": "Large", "milk": "oat"}}}], t_gt(d=[{"size": ["large"], "milk": ["oat", ""]}]),
     [TYPES], "simple", None),
    # a key whose allowed values contain "" may be left out
    ("dict_optional_key", [{"t": {"d": {"size": "large"}}}], t_gt(d=[{"size": ["large"], "milk": ["oat", ""]}]),
     [TYPES], "simple", None),
    ("dict_missing_key", [{"t": {"d": {"milk": "oat"}}}], t_gt(d=[{"size": ["large"], "milk": ["oat", ""]}]),
     [TYPES], "simple", "value_error:dict_key"),
    ("dict_extra_key", [{"t": {"d": {"size": "large", "x": 1}}}], t_gt(d=[{"size": ["large"]}]), [TYPES], "simple",
     "value_error:dict_key"),
    ("dict_wrong_value", [{"t": {"d": {"size": "small"}}}], t_gt(d=[{"size": ["large"]}]), [TYPES], "simple",
     "value_error:dict_value"),
    # quirk: after a wrong value the missing-key check still runs and its error type wins
    ("dict_wrong_value_and_missing_key", [{"t": {"d": {"size": "small"}}}],
     t_gt(d=[{"size": ["large"], "milk": ["oat"]}]), [TYPES], "simple", "value_error:dict_key"),
    # values inside dicts are not type-checked: 1 == 1.0
    ("dict_int_float", [{"t": {"d": {"n": 1}}}], t_gt(d=[{"n": [1.0]}]), [TYPES], "simple", None),
    # --- lists of dicts ---
    ("list_of_dicts_ok", [{"t": {"ld": [{"k": "A"}, {"k": "b"}]}}], t_gt(ld=[[{"k": ["a"]}, {"k": ["b"]}]]),
     [TYPES], "simple", None),
    # same order as the answer
    ("list_of_dicts_order", [{"t": {"ld": [{"k": "b"}, {"k": "a"}]}}], t_gt(ld=[[{"k": ["a"]}, {"k": ["b"]}]]),
     [TYPES], "simple", "value_error:dict_value"),
    ("list_of_dicts_count", [{"t": {"ld": [{"k": "a"}]}}], t_gt(ld=[[{"k": ["a"]}, {"k": ["b"]}]]), [TYPES],
     "simple", "value_error:list_dict_count"),
    # --- other values ---
    ("bool_value", [{"t": {"b": False}}], t_gt(b=[True]), [TYPES], "simple", "value_error:others"),
    ("int_alternatives", [{"t": {"i": 7}}], t_gt(i=[5, 7]), [TYPES], "simple", None),
    # --- call counts and dispatch ---
    # simple: exactly one call
    ("simple_two_calls", [{"area": {"base": 10, "height": 5}}] * 2, AREA_GT, [AREA], "simple",
     "simple_function_checker:wrong_count"),
    ("simple_no_call", [], AREA_GT, [AREA], "live_simple", "simple_function_checker:wrong_count"),
    # multiple: the call is checked against the expected function's doc
    ("multiple_ok", [{"area": {"base": 10, "height": 5}}], AREA_GT, [TYPES, AREA], "multiple", None),
    ("multiple_wrong_function", [{"t": {"i": 1}}], AREA_GT, [TYPES, AREA], "live_multiple",
     "simple_function_checker:wrong_func_name"),
    ("multiple_extra_call", [{"area": {"base": 10, "height": 5}}, {"t": {}}], AREA_GT, [TYPES, AREA], "multiple",
     "multiple_function_checker:wrong_count"),
    # parallel: order-free
    ("parallel_any_order", [{"area": {"base": 3, "height": 4}}, {"area": {"base": 10, "height": 5}}],
     AREA_GT + [{"area": {"base": [3], "height": [4], "unit": [""]}}], [AREA], "parallel", None),
    # a duplicate instead of the second call
    ("parallel_duplicate", [{"area": {"base": 10, "height": 5}}] * 2,
     AREA_GT + [{"area": {"base": [3], "height": [4], "unit": [""]}}], [AREA], "parallel",
     "parallel_function_checker_no_order:cannot_find_match"),
    ("parallel_extra_call", [{"area": {"base": 10, "height": 5}}] * 2, AREA_GT, [AREA], "live_parallel",
     "parallel_function_checker_no_order:wrong_count"),
    # parallel_multiple: different functions, any order
    ("parallel_multiple", [{"t": {"i": 1}}, {"area": {"base": 10, "height": 5}}], AREA_GT + t_gt(i=[1]),
     [AREA, TYPES], "parallel_multiple", None),
    # quirk: the simple checker compares against the first function doc, whatever the answer's name
    ("simple_uses_first_doc", [{"area": {"base": 10, "height": 5}}], AREA_GT, [tool("first", ["x"], x="integer"),
     AREA], "simple", "simple_function_checker:wrong_func_name"),
    # parallel greedy: answer 0 allows both calls and takes the first, answer 1 gets the second
    ("parallel_greedy", [{"t": {"i": 1}}, {"t": {"i": 2}}], [{"t": {"i": [1, 2]}}, {"t": {"i": [2]}}], [TYPES],
     "parallel", None),
    # ... it is not an assignment search: answer 0 takes call 0 (i=2), answer 1 (i=2) is left with i=1
    ("parallel_greedy_no_search", [{"t": {"i": 2}}, {"t": {"i": 1}}], [{"t": {"i": [1, 2]}}, {"t": {"i": [2]}}],
     [TYPES], "parallel", "parallel_function_checker_no_order:cannot_find_match"),
    # --- decoding results ---
    ("undecodable", None, AREA_GT, [AREA], "simple", "ast_decoder:decoder_failed"),
    ("not_call_format", [{"area": 10}], AREA_GT, [AREA], "simple", "ast_decoder:decoder_wrong_output_format"),
    ("two_keys", [{"area": {}, "t": {}}], AREA_GT, [AREA], "simple", "ast_decoder:decoder_wrong_output_format"),
    # --- relevance ---
    ("irrelevance_no_call", [], [], [AREA], "irrelevance", None),
    ("irrelevance_undecodable", None, [], [AREA], "live_irrelevance", None),
    ("irrelevance_call", [{"area": {}}], [], [AREA], "irrelevance", "irrelevance_error:decoder_success"),
    # any call, even to an unknown function with wrong arguments, passes relevance
    ("relevance_any_call", [{"zzz": {"q": 1}}], [], [AREA], "live_relevance", None),
    ("relevance_no_call", [], [], [AREA], "live_relevance", "relevance_error:decoder_failed"),
    # --- inputs the official checker crashes on ---
    # a parallel answer naming a function with no doc
    ("answer_without_doc", [{"zzz": {}}], [{"zzz": {}}], [AREA], "parallel", "checker_exception"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "calls", "gt", "tools", "category", "expected"), CASES, ids=[c[0] for c in CASES])
def test_match_rules(case, calls, gt, tools, category, expected):
    result = match_calls(calls, gt, normalize_tools(tools), category)
    assert (result.ok, result.reason) == (expected is None, expected), result.detail
    assert (result.detail is None) == result.ok


OFFICIAL = """
import json, sys
from bfcl_eval.constants.enums import Language
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
from bfcl_eval.utils import is_function_calling_format_output
for name, calls, gt, tools, category in eval(open(sys.argv[1]).read()):
    if not is_function_calling_format_output(calls):
        got = "ast_decoder:decoder_wrong_output_format"
    else:
        try:
            res = ast_checker(tools, calls, gt, Language.PYTHON, category, "Qwen_Qwen3-8B")
            got = None if res["valid"] else res["error_type"]
        except Exception:
            got = "checker_exception"
    print(json.dumps([name, got]))
"""


def test_table_agrees_with_official_checker(tmp_path):
    """The expectations above are the official checker's (bfcl-eval in its own venv, skipped when absent)."""
    python = Path(os.environ.get("BFCL_PYTHON", REPO / ".venv-bfcl" / "bin" / "python"))
    if not python.exists():
        pytest.skip("no bfcl-eval venv (.venv-bfcl, or set BFCL_PYTHON)")
    cases = [c for c in CASES if c[1] is not None and "relevance" not in c[4]]
    (tmp_path / "cases.py").write_text(repr([c[:5] for c in cases]))
    env = {**os.environ, "BFCL_PROJECT_ROOT": str(tmp_path)}
    run = subprocess.run([python, "-c", OFFICIAL, tmp_path / "cases.py"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    official = dict(json.loads(line) for line in run.stdout.splitlines())
    assert {c[0]: c[5] for c in cases} == official


def test_underscore_to_dot():
    tools = normalize_tools([tool("math.sum", ["a"], a="integer")])
    gt = [{"math.sum": {"a": [1]}}]
    assert match_calls([{"math_sum": {"a": 1}}], gt, tools, "simple", underscore_to_dot=True).ok
    assert not match_calls([{"math.sum": {"a": 1}}], gt, tools, "simple", underscore_to_dot=True).ok
    assert match_calls([{"math.sum": {"a": 1}}], gt, tools, "simple").ok


# --- Java / JavaScript value conversion (the official converters): (language, type, element type, text, value) ---
CONVERSIONS = [
    ("java", "integer", None, "5", 5),
    ("java", "integer", None, "5L", "5L"),  # not an integer spelling: stays text
    ("java", "long", None, "5L", 5),
    ("java", "long", None, "5", "5"),  # a long needs its suffix
    ("java", "float", None, "1.5f", 1.5),
    ("java", "float", None, "1.5", "1.5"),
    ("java", "double", None, "1.5e3", 1500.0),
    ("java", "boolean", None, "true", True),
    ("java", "char", None, "'a'", "'a'"),  # the official char pattern never matches
    ("java", "String", None, "abc", "abc"),
    ("java", "Array", "integer", "new int[]{1, 2}", [1, 2]),
    ("java", "Array", "String", 'new String[]{"a"}', ['"a"']),  # Array keeps the quotes of String elements
    ("java", "ArrayList", "String", 'new ArrayList<>(Arrays.asList("a","b"))', ["a", "b"]),
    ("java", "ArrayList", "integer", "new ArrayList<Integer>() {{ add(1); add(2); }}", [1, 2]),
    ("java", "ArrayList", "integer", "new ArrayList<>()", []),
    ("java", "ArrayList", "integer", "List.of(1)", "List.of(1)"),
    ("java", "HashMap", None, 'new HashMap<String, String>() {{ put("k", "v"); put("n", 2L); }}', {"k": "v", "n": 2}),
    ("java", "HashMap", None, "new HashMap<>()", {}),
    ("javascript", "integer", None, "-3", -3),
    ("javascript", "float", None, "2", 2.0),
    ("javascript", "Bigint", None, "10n", 10),
    ("javascript", "Boolean", None, "false", False),
    ("javascript", "String", None, "'q'", "q"),
    ("javascript", "array", "String", "['a', 'b']", ["a", "b"]),
    ("javascript", "array", "integer", "new Array(1, 2)", [1, 2]),
    ("javascript", "array", "integer", "[[1, 2], [3]]", [[1, 2], [3]]),
    ("javascript", "dict", None, "{a: 1, b: 'x', c: [true]}", {"a": 1, "b": "x", "c": [True]}),
    ("javascript", "dict", None, "{}", {}),
    ("javascript", "dict", None, "new Map()", "new Map()"),
]


@pytest.mark.parametrize(("language", "type_name", "nested", "text", "value"), CONVERSIONS)
def test_java_javascript_conversion(language, type_name, nested, text, value):
    from funrl.calls.javajs import convert

    converted = convert(text, type_name, language, nested)
    assert converted == value and type(converted) is type(value)


@pytest.mark.parametrize("type_name", ["Set", "Hashtable", "Queue", "Stack"])
def test_java_unconvertible_types_are_checker_exceptions(type_name):
    tools = [{"name": "f", "parameters": {"type": "dict", "properties": {"a": {"type": type_name}}, "required": []}}]
    result = match_calls([{"f": {"a": "x"}}], [{"f": {"a": ["x"]}}], tools, "simple_java", "java")
    assert (result.ok, result.reason) == (False, "checker_exception")


JAVA_TOOL = {
    "name": "f",
    "parameters": {
        "type": "dict",
        "required": ["n"],
        "properties": {
            "n": {"type": "long"},
            "xs": {"type": "ArrayList", "items": {"type": "String"}},
            "s": {"type": "String"},
        },
    },
}
JS_TOOL = {
    "name": "f",
    "parameters": {
        "type": "dict",
        "required": ["n"],
        "properties": {"n": {"type": "integer"}, "xs": {"type": "array", "items": {"type": "String"}}},
    },
}
SOURCE_MATCHES = [
    ("java", {"n": "5L"}, {"n": [5]}, None),
    ("java", {"n": "5"}, {"n": [5]}, "type_error:simple"),  # stays "5": not an int
    ("java", {"n": 5}, {"n": [5]}, "type_error:java"),  # not source text (e.g. from JSON output)
    ("java", {"n": "5L", "xs": 'new ArrayList<>(Arrays.asList("A"))'}, {"n": [5], "xs": [["a"]]}, None),
    ("java", {"n": "5L", "s": "New York"}, {"n": [5], "s": ["new york"]}, None),  # string normalisation
    ("javascript", {"n": "7", "xs": "['a', 'b']"}, {"n": [7], "xs": [["a", "b"]]}, None),
    ("javascript", {"n": "7", "xs": "['b', 'a']"}, {"n": [7], "xs": [["a", "b"]]}, "value_error:list/tuple"),
    ("javascript", {"n": 7}, {"n": [7]}, "type_error:js"),
]  # fmt: skip


@pytest.mark.parametrize(("language", "args", "answer", "reason"), SOURCE_MATCHES)
def test_java_javascript_matching(language, args, answer, reason):
    tool = JAVA_TOOL if language == "java" else JS_TOOL
    category = "simple_java" if language == "java" else "simple_javascript"
    result = match_calls([{"f": args}], [{"f": answer}], [tool], category, language)
    assert (result.ok, result.reason) == (reason is None, reason)


def test_match_result_unpacks_and_is_truthy():
    ok, reason = MatchResult(False, "value_error:string", "x")
    assert (ok, reason) == (False, "value_error:string")
    assert MatchResult(True) and not MatchResult(False, "r")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("April 1, 2024", "april12024"), ("New_York/NY", "newyorkny"), ("it's", 'it"s'), ("a*b^c-d.e", "abcde")],
)
def test_normalize_string(raw, normalised):
    assert normalize_string(raw) == normalised


def _sample(category, gt, tools):
    return SimpleNamespace(
        category=category, ground_truth=gt, tools=normalize_tools(tools), language="python", id="x", meta={}
    )


@pytest.mark.parametrize(
    ("text", "fmt", "category", "ok"),
    [
        ("[area(base=10, height=5)]", "bfcl-prompt", "simple", True),
        # positional arguments are dropped by the BFCL decoder -> missing required
        ("[area(10, 5)]", "bfcl-prompt", "simple", False),
        ("<think>t</think><answer>[area(base=10, height=5)]</answer>", "funrl", "simple", True),
        (
            '<tool_call>\n{"name": "area", "arguments": {"base": 10, "height": 5}}\n</tool_call>',
            "qwen-fc",
            "simple",
            True,
        ),
        # irrelevance: prose (no call) passes, a call fails
        ("I cannot do that.", "bfcl-prompt", "irrelevance", True),
        ("[area(base=1)]", "bfcl-prompt", "irrelevance", False),
        ("<think>t</think><answer>[]</answer>", "funrl", "irrelevance", True),
        # live_relevance: any non-empty call passes
        ("[area()]", "bfcl-prompt", "live_relevance", True),
        ("no call", "bfcl-prompt", "live_relevance", False),
    ],  # fmt: skip
)
def test_check_output(text, fmt, category, ok):
    gt = [] if "relevance" in category else AREA_GT
    assert check_output(text, _sample(category, gt, [AREA]), fmt).ok is ok


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    args=st.dictionaries(st.sampled_from(["i", "f", "s", "fl", "d", "ld", "tp", "zz"]), _values, max_size=4),
    allowed=st.dictionaries(st.sampled_from(["i", "f", "s", "fl", "d", "ld", "tp"]), st.lists(_values, max_size=3)),
    category=st.sampled_from(["simple", "multiple", "parallel", "irrelevance", "live_relevance"]),
)
def test_never_raises(args, allowed, category):
    result = match_calls([{"t": args}], [{"t": allowed}], normalize_tools([TYPES]), category)
    assert isinstance(result, MatchResult) and (result.reason is None) == result.ok
