"""AST validation (stage B): every rule ID with a passing and a failing case, plus the reward round trip.

.venv/bin/python -m pytest tests/test_validate.py -q
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.calls import check_output, render_calls
from funrl.calls.render import ground_truth_to_calls
from funrl.data.rules_values import parse_type_string
from funrl.data.validate import RULES, ValidationConfig, Validator, validate_sample
from funrl.rewards import score_completion
from funrl.schema import Sample
from funrl.template import render_target

USER = "What's the weather in Paris in celsius, and convert 120 euros to yen? Book it for 2024-05-01 at it's best."


def weather(**changes):
    tool = {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "integer", "default": 1},
            },
            "required": ["city"],
        },
    }
    tool.update(changes)
    return tool


def convert():
    return {
        "name": "convert_currency",
        "description": "Convert an amount between currencies.",
        "parameters": {
            "type": "object",
            "properties": {
                "amount": {"type": "number"},
                "src": {"type": "string"},
                "dst": {"type": "string"},
                "rates": {"type": "array", "items": {"type": "number"}},
                "when": {"type": "string", "format": "date"},
                "opts": {
                    "type": "object",
                    "properties": {"round": {"type": "boolean"}, "digits": {"type": "integer"}},
                },
            },
            "required": ["amount", "src", "dst"],
        },
    }


def make(ground_truth, tools=None, messages=None, category="multiple", **meta):
    return Sample(
        id="s1",
        source="test",
        category=category,
        messages=messages or [{"role": "user", "content": USER}],
        tools=tools if tools is not None else [weather(), convert()],
        ground_truth=ground_truth,
        meta={"origin": {"file": "t.jsonl", "line": 1, "index": 0}, **meta},
    )


def cc(**args):
    base = {"amount": [120.0], "src": ["EUR"], "dst": ["JPY"]}
    base.update(args)
    return [{"convert_currency": base}]


def xlam_tool(**params):
    return {"name": "get_weather", "description": "Weather.", "parameters": params}


# (rule, case, sample builder, config overrides, expected action of that rule: None = the rule does not fire)
CASES = [
    # S2: duplicate tools collapse; same name with a different body is ambiguous
    ("S2", "unique names", lambda: make(cc()), {}, None),
    ("S2", "exact duplicate collapsed", lambda: make(cc(), tools=[weather(), convert(), convert()]), {}, "repair"),
    (
        "S2",
        "same name, different tool",
        lambda: make(cc(), tools=[weather(), convert(), {**convert(), "description": "x"}]),
        {},
        "reject",
    ),
    ("S2", "empty tool name", lambda: make(cc(), tools=[{**weather(), "name": ""}, convert()]), {}, "reject"),
    # S4: parameters become a JSON-Schema object
    ("S4", "already an object", lambda: make(cc()), {}, None),
    (
        "S4",
        "BFCL dict type",
        lambda: make(
            [{"get_weather": {"city": ["Paris"]}}],
            tools=[{**weather(), "parameters": {**weather()["parameters"], "type": "dict"}}],
            category="simple",
        ),
        {},
        "repair",
    ),
    (
        "S4",
        "xLAM per-parameter dict",
        lambda: make(
            [{"get_weather": {"city": ["Paris"]}}],
            tools=[xlam_tool(city={"type": "str", "description": "c"})],
            category="simple",
        ),
        {},
        "repair",
    ),
    (
        "S4",
        "properties not an object",
        lambda: make(cc(), tools=[{**weather(), "parameters": {"type": "object", "properties": []}}, convert()]),
        {},
        "reject",
    ),
    # S5: Python-style type strings; unknown types become unconstrained with a warning
    ("S5", "JSON-Schema types", lambda: make(cc()), {}, None),
    (
        "S5",
        "List[int] mapped",
        lambda: make(
            [{"get_weather": {"city": ["Paris"]}}],
            tools=[xlam_tool(city={"type": "str"}, days={"type": "List[int], optional"})],
            category="simple",
        ),
        {},
        "repair",
    ),
    (
        "S5",
        "unknown type warned",
        lambda: make(
            [{"get_weather": {"city": ["Paris"]}}],
            tools=[xlam_tool(city={"type": "str"}, when={"type": "datetime.date, optional"})],
            category="simple",
        ),
        {},
        "warn",
    ),
    # S6: `, optional` suffixes decide `required` when the schema has none
    ("S6", "explicit required wins", lambda: make(cc()), {}, None),
    (
        "S6",
        "decided by suffixes",
        lambda: make(
            [{"get_weather": {"city": ["Paris"]}}],
            tools=[xlam_tool(city={"type": "str"}, days={"type": "int, optional"})],
            category="simple",
        ),
        {},
        "repair",
    ),
    # S7: required subset of properties
    ("S7", "required in properties", lambda: make(cc()), {}, None),
    (
        "S7",
        "required not a property",
        lambda: make(
            cc(),
            tools=[
                weather(),
                {**convert(), "parameters": {**convert()["parameters"], "required": ["amount", "ghost"]}},
            ],
        ),
        {},
        "reject",
    ),
    # S8: enum values / defaults of the declared type
    ("S8", "typed default", lambda: make(cc()), {}, None),
    (
        "S8",
        "string default for an integer converted",
        lambda: make(
            cc(),
            tools=[
                {
                    **weather(),
                    "parameters": {
                        **weather()["parameters"],
                        "properties": {
                            **weather()["parameters"]["properties"],
                            "days": {"type": "integer", "default": "1"},
                        },
                    },
                },
                convert(),
            ],
        ),
        {},
        "repair",
    ),
    (
        "S8",
        "enum value of the wrong type warned",
        lambda: make(
            cc(),
            tools=[
                {
                    **weather(),
                    "parameters": {
                        **weather()["parameters"],
                        "properties": {"city": {"type": "string"}, "n": {"type": "integer", "enum": [1, "many"]}},
                    },
                },
                convert(),
            ],
        ),
        {},
        "warn",
    ),
    # S9: parameters pass the JSON-Schema meta-schema
    ("S9", "valid schema", lambda: make(cc()), {}, None),
    (
        "S9",
        "invalid keyword value",
        lambda: make(
            cc(),
            tools=[
                weather(),
                {
                    **convert(),
                    "parameters": {
                        **convert()["parameters"],
                        "properties": {
                            **convert()["parameters"]["properties"],
                            "amount": {"type": "number", "minimum": "zero"},
                        },
                    },
                },
            ],
        ),
        {},
        "reject",
    ),
    # S10: description present
    ("S10", "described", lambda: make(cc()), {}, None),
    ("S10", "no description", lambda: make(cc(), tools=[weather(), {**convert(), "description": " "}]), {}, "warn"),
    # P5: the rendered target must score 1.0 with the reward (parser + matcher)
    ("P5", "scorable target", lambda: make(cc()), {}, None),
    (
        "P5",
        "name the parser cannot read",
        lambda: make(
            [{"Weather Now": {"city": ["Paris"]}}], tools=[{**weather(), "name": "Weather Now"}], category="simple"
        ),
        {},
        "reject",
    ),
    (
        "P5",
        "target text with other calls",
        lambda: make(
            cc(), target_text="<think>t</think><answer>[convert_currency(amount=1.0, src='EUR', dst='JPY')]</answer>"
        ),
        {},
        "reject",
    ),
    # P7: positional arguments in a pythonic target text
    (
        "P7",
        "keyword arguments",
        lambda: make(
            cc(), target_text="<think>t</think><answer>[convert_currency(amount=120.0, src='EUR', dst='JPY')]</answer>"
        ),
        {},
        None,
    ),
    (
        "P7",
        "positional arguments",
        lambda: make(
            cc(), target_text="<think>t</think><answer>[convert_currency(120.0, src='EUR', dst='JPY')]</answer>"
        ),
        {},
        "reject",
    ),
    # P8: template tags once each, in order
    (
        "P8",
        "well-formed template",
        lambda: make(
            cc(), target_text="<think>t</think><answer>[convert_currency(amount=120.0, src='EUR', dst='JPY')]</answer>"
        ),
        {},
        None,
    ),
    (
        "P8",
        "answer before think",
        lambda: make(
            cc(), target_text="<answer>[convert_currency(amount=120.0, src='EUR', dst='JPY')]</answer><think>t</think>"
        ),
        {},
        "reject",
    ),
    # P9: duplicate JSON keys in a <tool_call> body
    (
        "P9",
        "distinct keys",
        lambda: make(
            cc(),
            target_text='<tool_call>\n{"name": "convert_currency", "arguments": {"amount": 120.0, "src": "EUR", "dst": "JPY"}}\n</tool_call>',
        ),
        {},
        None,
    ),
    (
        "P9",
        "duplicate key",
        lambda: make(
            cc(),
            target_text='<tool_call>\n{"name": "convert_currency", "arguments": {"amount": 120.0, "src": "EUR", "src": "USD", "dst": "JPY"}}\n</tool_call>',
        ),
        {},
        "reject",
    ),
    # C1: called names exist (optional unique case / '.'<->'_' repair)
    ("C1", "known function", lambda: make(cc()), {}, None),
    ("C1", "unknown function", lambda: make([{"get_time": {"tz": ["UTC"]}}]), {}, "reject"),
    (
        "C1",
        "case mismatch repaired when allowed",
        lambda: make([{"Get_Weather": {"city": ["Paris"]}}]),
        {"repair_names": True},
        "repair",
    ),
    # C2: one function per call; {name, arguments} converted
    ("C2", "possible-answer form", lambda: make(cc()), {}, None),
    (
        "C2",
        "{name, arguments} converted",
        lambda: make([{"name": "get_weather", "arguments": {"city": "Paris"}}]),
        {},
        "repair",
    ),
    (
        "C2",
        "two functions in one call",
        lambda: make([{"get_weather": {"city": ["Paris"]}, "convert_currency": {}}]),
        {},
        "reject",
    ),
    # C3: arguments are an object of allowed-value lists
    ("C3", "lists of allowed values", lambda: make(cc()), {}, None),
    ("C3", "null arguments with required parameters", lambda: make([{"get_weather": None}]), {}, "reject"),
    ("C3", "bare value instead of a list", lambda: make([{"get_weather": {"city": "Paris"}}]), {}, "reject"),
    # C4: required parameters present
    ("C4", "all required", lambda: make(cc()), {}, None),
    (
        "C4",
        "missing required",
        lambda: make([{"convert_currency": {"amount": [120.0], "src": ["EUR"]}}]),
        {},
        "reject",
    ),
    # C5: no invented argument
    ("C5", "known arguments", lambda: make(cc()), {}, None),
    ("C5", "invented argument", lambda: make(cc(fee=[1.0])), {}, "reject"),
    # C6: call count vs target kind; category from the calls
    ("C6", "one call, two tools = multiple", lambda: make(cc()), {}, None),
    ("C6", "call target without calls", lambda: make([], target_kind="call"), {}, "reject"),
    (
        "C6",
        "category recomputed",
        lambda: make(cc() + [{"get_weather": {"city": ["Paris"]}}], category="simple"),
        {},
        "repair",
    ),
    # C7: identical parallel calls are legal but warned
    ("C7", "distinct parallel calls", lambda: make(cc() + cc(dst=["USD"]), category="parallel"), {}, None),
    ("C7", "identical parallel calls", lambda: make(cc() + cc(), category="parallel"), {}, "warn"),
    # C8: no reference to another call's result
    ("C8", "literal value", lambda: make(cc()), {}, None),
    ("C8", "result placeholder", lambda: make(cc(dst=["<result of get_currency>"])), {}, "reject"),
    # T1: arguments validate against the schema
    ("T1", "valid types", lambda: make(cc()), {}, None),
    ("T1", "text for a number", lambda: make(cc(amount=["a lot"])), {}, "reject"),
    (
        "T1",
        "fractional string for an integer",
        lambda: make([{"get_weather": {"city": ["Paris"], "days": ["5.5"]}}]),
        {},
        "reject",
    ),
    # T2: lossless coercion only
    ("T2", "no coercion needed", lambda: make(cc()), {}, None),
    (
        "T2",
        "numeric string for an integer",
        lambda: make([{"get_weather": {"city": ["Paris"], "days": ["5"]}}]),
        {},
        "repair",
    ),
    ("T2", "JSON string for an object", lambda: make(cc(opts=['{"round": true}'])), {}, "repair"),
    # T3: canonical numbers (integer -> int, number -> float)
    ("T3", "already canonical", lambda: make(cc()), {}, None),
    ("T3", "int for a number", lambda: make(cc(amount=[120])), {}, "repair"),
    (
        "T3",
        "integral float for an integer",
        lambda: make([{"get_weather": {"city": ["Paris"], "days": [2.0]}}]),
        {},
        "repair",
    ),
    # T4: nested values validated
    ("T4", "valid nested", lambda: make(cc(opts=[{"round": True, "digits": 2}])), {}, None),
    ("T4", "wrong nested type", lambda: make(cc(rates=[[1.5, "high"]])), {}, "reject"),
    # V1: enum membership (a unique case-folded match is repaired)
    ("V1", "enum value", lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["fahrenheit"]}}]), {}, None),
    (
        "V1",
        "case-folded enum value",
        lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["Fahrenheit"]}}]),
        {},
        "repair",
    ),
    (
        "V1",
        "not an enum value",
        lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["kelvin"]}}]),
        {},
        "reject",
    ),
    # V2: placeholders
    ("V2", "real value", lambda: make(cc()), {}, None),
    ("V2", "placeholder for a required parameter", lambda: make(cc(src=["N/A"])), {}, "reject"),
    ("V2", "null for an optional parameter dropped", lambda: make(cc(rates=[None])), {}, "repair"),
    # V3: optional argument equal to its default
    (
        "V3",
        "non-default value",
        lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["fahrenheit"]}}]),
        {},
        None,
    ),
    (
        "V3",
        "default value omitted",
        lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}]),
        {},
        "repair",
    ),
    (
        "V3",
        "default value kept on request",
        lambda: make([{"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}]),
        {"default_policy": "keep"},
        None,
    ),
    # V4: format hints (warn by default, reject if configured)
    ("V4", "valid date", lambda: make(cc(when=["2024-05-01"])), {}, None),
    ("V4", "invalid date warned", lambda: make(cc(when=["2024-13-45"])), {}, "warn"),
    (
        "V4",
        "invalid date rejected when configured",
        lambda: make(cc(when=["May 1st"])),
        {"format_action": "reject"},
        "reject",
    ),
    # V5: grounding precheck
    ("V5", "value in the conversation", lambda: make([{"get_weather": {"city": ["Paris"]}}]), {}, None),
    ("V5", "value nowhere in the conversation", lambda: make([{"get_weather": {"city": ["Reykjavik"]}}]), {}, "warn"),
    # V6: whitespace trimmed
    ("V6", "clean string", lambda: make(cc()), {}, None),
    ("V6", "surrounding spaces", lambda: make([{"get_weather": {"city": ["  Paris "]}}]), {}, "repair"),
    # R1: a no-call sample offers a tool
    ("R1", "no-call sample with tools", lambda: make([], category="irrelevance"), {}, None),
    ("R1", "no-call sample without tools", lambda: make([], tools=[], category="irrelevance"), {}, "reject"),
    # R2: synthesized irrelevance keeps no twin of a removed tool
    (
        "R2",
        "removed tool has no twin",
        lambda: make([], tools=[convert()], category="irrelevance", removed_tools=[weather()]),
        {},
        None,
    ),
    (
        "R2",
        "removed tool has a twin",
        lambda: make(
            [], tools=[{**weather(), "name": "getWeather"}], category="irrelevance", removed_tools=[weather()]
        ),
        {},
        "reject",
    ),
]


def test_every_rule_has_a_pass_and_a_fail_case():
    rules = {"S2", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "P5", "P7", "P8", "P9", "R1", "R2"}
    rules |= {f"C{i}" for i in range(1, 9)} | {f"T{i}" for i in range(1, 5)} | {f"V{i}" for i in range(1, 7)}
    assert rules <= set(RULES)
    for rule in rules:
        expected = [case[4] for case in CASES if case[0] == rule]
        assert None in expected and any(e is not None for e in expected), rule


@pytest.mark.parametrize("rule,case,build,overrides,expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rule(rule, case, build, overrides, expected):
    sample = build()
    before = copy.deepcopy(sample.to_dict())
    result = Validator(ValidationConfig(**overrides))(sample)
    actions = {f.action for f in result.findings if f.code == rule}
    assert sample.to_dict() == before, "the input sample must not be mutated"
    if expected is None:
        assert not actions, result.findings
    else:
        assert expected in actions, result.findings
    if expected == "reject":
        assert result.status == "rejected" and result.sample is None and rule in result.reasons
    else:
        assert result.status in ("kept", "repaired"), result.findings
        audit = result.sample.meta.get("audit", [])
        noted = {(a["rule"], a["action"]) for a in audit}
        assert all((f.code, f.action) in noted for f in result.findings), "every repair/warning is audited"


def test_repairs_give_canonical_values():
    result = validate_sample(make([{"get_weather": {"city": [" Paris"], "days": ["5"], "unit": ["Fahrenheit"]}}]))
    assert result.sample.ground_truth == [{"get_weather": {"city": ["Paris"], "days": [5], "unit": ["fahrenheit"]}}]
    result = validate_sample(make(cc(amount=[120], rates=[[1, 2.5]])))
    assert result.sample.ground_truth[0]["convert_currency"]["amount"] == [120.0]
    assert [type(v) for v in result.sample.ground_truth[0]["convert_currency"]["rates"][0]] == [float, float]


def test_apostrophe_survives():
    # §5 #3: a value with an apostrophe is never corrupted by quote replacement
    result = validate_sample(make([{"get_weather": {"city": ["it's best"]}}]))
    assert result.status != "rejected" and result.sample.ground_truth[0]["get_weather"]["city"] == ["it's best"]


def test_xlam_style_tool_becomes_json_schema():
    tool = xlam_tool(
        nums={"type": "List[int]"}, k={"type": "int, optional", "default": "1"}, pick={"type": "Union[int, str]"}
    )
    result = validate_sample(
        make([{"get_weather": {"nums": [[4, 9]], "k": ["2"], "pick": [3]}}], tools=[tool], category="simple")
    )
    params = result.sample.tools[0]["parameters"]
    assert params["properties"]["nums"] == {"type": "array", "items": {"type": "integer"}}
    assert params["properties"]["k"] == {"type": "integer", "default": 1}
    assert params["properties"]["pick"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert params["required"] == ["nums", "pick"]
    assert result.sample.ground_truth == [{"get_weather": {"nums": [[4, 9]], "k": [2], "pick": [3]}}]


@pytest.mark.parametrize(
    "text,schema,optional,unknown",
    [
        ("str", {"type": "string"}, False, []),
        ("float, optional", {"type": "number"}, True, []),
        ("List[List[str]]", {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, False, []),
        ("Optional[int]", {"type": "integer"}, True, []),
        ("Tuple[int, int]", {"type": "array", "x-bfcl-type": "tuple"}, False, []),
        ("Dict[str, Any]", {"type": "object"}, False, []),
        ("Any", {}, False, []),
        ("Callable", {}, False, ["Callable"]),  # never a guess
    ],
)
def test_parse_type_string(text, schema, optional, unknown):
    assert parse_type_string(text) == (schema, optional, unknown)


def test_parallel_order_is_free_and_no_call_targets_score():
    # parallel calls in any order, and a no-call target, are both scorable by the reward
    sample = validate_sample(make(cc() + cc(dst=["USD"]), category="parallel")).sample
    text = "<think>t</think><answer>[convert_currency(amount=120.0, src='EUR', dst='USD'), convert_currency(amount=120.0, src='EUR', dst='JPY')]</answer>"
    assert check_output(text, sample, "funrl").ok
    empty = validate_sample(make([], category="irrelevance")).sample
    assert render_target(empty, "funrl", think="t").endswith("<answer>[]</answer>")  # R5
    assert check_output(render_target(empty, "funrl", think="t"), empty, "funrl").ok


def test_kept_samples_score_one_with_the_reward():
    """For every kept sample of the table, the rendered ground truth gets reward 1.0."""
    kept = 0
    for _, _, build, overrides, _ in CASES:
        result = Validator(ValidationConfig(**overrides))(build())
        if result.status == "rejected":
            continue
        sample = result.sample
        answer = render_calls(ground_truth_to_calls(sample.ground_truth, sample.tools))
        text = f"<think>step by step</think>\n<answer>{answer}</answer>"
        assert text == render_target(sample, "funrl", think="step by step")  # what the round trip renders
        assert score_completion(text, sample.ground_truth, sample.tools, sample.category, "funrl") == (1.0, "ok")
        assert check_output(text, sample, "funrl").ok
        kept += 1
    assert kept > 40


def test_dict_values_are_written_in_bfcl_form():
    # the matcher compares dict arguments key by key against per-key allowed values (BFCL possible-answer form)
    result = validate_sample(make(cc(opts=[{"round": "true", "digits": 2}])))
    assert result.sample.ground_truth[0]["convert_currency"]["opts"] == [{"round": [True], "digits": [2]}]
    again = validate_sample(result.sample)  # idempotent: a BFCL-form dict is recognised from the key schemas
    assert again.sample.ground_truth == result.sample.ground_truth
    assert not [f for f in again.findings if f.code == "C3"]


def test_judge_callback_returns_codes():
    validator = Validator()
    sample, codes = validator.judge_callback(make([{"convert_currency": {"amount": [1.0]}}]))
    assert sample is None and codes == ["C4"]
    sample, codes = validator.judge_callback(make(cc(amount=[120])))
    assert sample is not None and codes == ["T3"]


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="default_policy"):
        ValidationConfig(default_policy="sometimes")
    with pytest.raises(ValueError, match="unknown option"):
        ValidationConfig.from_dict({"repair_name": True})


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(value=_values)
def test_any_value_gives_a_verdict_never_an_exception(value):
    # whatever the argument value, validation decides; a kept sample always scores 1.0 with the reward
    result = validate_sample(make(cc(opts=[value])))
    assert result.status in ("kept", "repaired", "rejected")
    if result.sample is not None:
        text = render_target(result.sample, "funrl", think="t")
        assert check_output(text, result.sample, "funrl").ok
        json.dumps(result.sample.to_dict())


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "description": "x"}}, "required": ["a"]},
        {"type": "object", "properties": {"a": {"type": ["integer", "null"], "minimum": 0}}},
        {
            "type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "number"}, "x-bfcl-type": "tuple"}},
        },
        {"type": "object", "properties": {"a": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}},
        {"type": "object", "properties": {"a": {"type": "strin"}}},  # not a JSON type
        {"type": "object", "properties": {"a": {"type": "number", "minimum": "zero"}}},
        {"type": "object", "required": "a"},
        {"type": "object", "properties": {"a": {"pattern": "("}}},  # unknown to the fast path: full check decides
    ],
)
def test_fast_schema_check_agrees_with_the_meta_schema(schema):
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from funrl.data.rules_schema import plainly_valid

    try:
        Draft202012Validator.check_schema(schema)
        valid = True
    except SchemaError:
        valid = False
    if plainly_valid(schema):  # the fast path may only ever say "valid" when the meta-schema agrees
        assert valid


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(ground_truth=_json, tools=st.lists(_json, max_size=2) | _json, category=st.sampled_from(["simple", "x"]))
def test_malformed_samples_give_a_verdict_never_an_exception(ground_truth, tools, category):
    # whatever shape the ground truth and tools have, validation returns a result (bad shapes are rejections)
    result = validate_sample(make(ground_truth, tools=tools, category=category))
    assert result.status in ("kept", "repaired", "rejected")
    assert (result.sample is None) == (result.status == "rejected")


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30))
def test_type_string_parser_never_raises(text):
    schema, optional, unknown = parse_type_string(text)
    assert isinstance(schema, dict) and isinstance(optional, bool) and isinstance(unknown, list)


_types = st.recursive(
    st.sampled_from(["str", "int", "float", "bool", "Any"]),
    lambda inner: inner.map(lambda t: f"List[{t}]") | st.tuples(inner, inner).map(lambda p: f"Union[{p[0]}, {p[1]}]"),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None)
@given(type_string=_types, optional=st.booleans())
def test_type_string_parser_on_generated_types(type_string, optional):
    schema, is_optional, unknown = parse_type_string(type_string + (", optional" if optional else ""))
    assert is_optional == optional and unknown == []
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)  # always a valid JSON Schema
    if type_string.startswith("List["):
        assert schema["type"] == "array"


_SCHEMAS = [
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": "array", "items": {"type": "number"}},
    {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
    {"type": "array"},
    {"type": "object"},
    {},
]


@settings(max_examples=300, deadline=None)
@given(value=_values, index=st.integers(0, len(_SCHEMAS) - 1))
def test_canonical_fast_path_agrees_with_the_full_path(value, index):
    # the fast path may only skip conform + jsonschema when they would change nothing and accept the value
    from jsonschema import Draft202012Validator

    from funrl.data.rules_schema import _canonical_checker
    from funrl.data.rules_values import conform

    schema = _SCHEMAS[index]
    check = _canonical_checker(schema)
    if check is not None and check(value):
        findings = []
        assert conform(value, schema, "p", findings, ValidationConfig()) == value and not findings
        assert Draft202012Validator(schema).is_valid(value)


def test_array_enum_moves_to_items():
    tool = {**weather(), "parameters": {"type": "object", "properties": {"city": {"type": "string"},
            "metrics": {"type": "array", "items": {"type": "string"}, "enum": ["rain", "wind"]}}}}  # fmt: skip
    result = validate_sample(make([{"get_weather": {"city": ["Paris"], "metrics": [["rain"]]}}], tools=[tool]))
    assert result.sample.tools[0]["parameters"]["properties"]["metrics"]["items"]["enum"] == ["rain", "wind"]
    bad = validate_sample(make([{"get_weather": {"city": ["Paris"], "metrics": [["snow"]]}}], tools=[tool]))
    assert bad.status == "rejected" and "V1" in bad.reasons


def test_bfcl_answers_pass_validation_and_score(bfcl_dir):
    """BFCL's own possible answers: nearly all pass, and every kept one scores 1.0 with the reward. The rejected
    few are inconsistencies of the data itself (a string enum value the schema does not list, a string for an
    integer), which a training set must not contain."""
    from funrl.bfcl import load_bfcl

    samples = load_bfcl(bfcl_dir, "simple_python,multiple,parallel,parallel_multiple,live_simple")
    validator = Validator()
    rejected = []
    for sample in samples:
        sample.meta["source_format"] = "bfcl"
        result = validator(sample)
        if result.status == "rejected":
            rejected.append((sample.id, result.reasons))
            continue
        text = render_target(result.sample, "funrl", think="t")
        assert check_output(text, result.sample, "funrl").ok, sample.id
    assert len(rejected) <= 0.02 * len(samples), rejected


def test_validating_twice_is_stable():
    # a judge correction is validated again: the second pass changes nothing and repeats no audit entry
    first = validate_sample(make(cc(amount=[120], rates=[[1, 2]])))
    second = validate_sample(first.sample)
    assert second.sample.ground_truth == first.sample.ground_truth
    assert second.sample.meta["audit"] == first.sample.meta["audit"]


def test_list_of_dicts_in_bfcl_form():
    items = {"type": "object", "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}}}
    tool = {**weather(), "parameters": {"type": "object", "properties": {"city": {"type": "string"},
            "orders": {"type": "array", "items": items}}, "required": ["city"]}}  # fmt: skip
    gt = [{"get_weather": {"city": ["Paris"], "orders": [[{"name": "tea", "qty": "2"}, {"name": "jam", "qty": 1}]]}}]
    result = validate_sample(make(gt, tools=[tool]))
    orders = result.sample.ground_truth[0]["get_weather"]["orders"]
    assert orders == [[{"name": ["tea"], "qty": [2]}, {"name": ["jam"], "qty": [1]}]]
    text = "<think>t</think><answer>[get_weather(city='Paris', orders=[{'name': 'tea', 'qty': 2}, {'name': 'jam', 'qty': 1}])]</answer>"
    assert check_output(text, result.sample, "funrl").ok
