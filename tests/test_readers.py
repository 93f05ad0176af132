"""Readers: every input format -> canonical samples or a rejection naming file, line and field.

Fixtures in tests/data/formats/ are written in each source layout; each record carries a `_case` key
(ignored by the readers) so the tables below can name it. Run: pytest tests/test_readers.py -q
"""

from __future__ import annotations

import json
import keyword
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.data.readers import FORMATS, ReaderOptions, read_source
from funrl.data.readers.common import ReadContext, loads
from funrl.data.readers.glaive import parse_functioncall
from funrl.data.readers.toolace import parse_pythonic, substitute_names
from funrl.data.readers.xlam import type_schema
from funrl.data.records import RAW_LIMIT, Rejection, SourceError, calls_from_ground_truth
from funrl.schema import read_samples, write_samples

FORMATS_DIR = Path(__file__).parent / "data" / "formats"
FIXTURES = {fmt: FORMATS_DIR / f"{fmt}.jsonl" for fmt in ("xlam", "toolace", "glaive", "hermes", "openai", "sharegpt")}


def _cases(path: Path) -> list[str]:
    """The `_case` name of each non-empty line (`bad_json` for a line that is not JSON)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line).get("_case", "?"))
            except json.JSONDecodeError:
                out.append("bad_json")
    return out


def read_cases(fmt: str, **options) -> dict:
    path = FIXTURES[fmt]
    items = list(read_source(path, fmt, options=ReaderOptions(**options)))
    cases = _cases(path)
    assert len(items) == len(cases), "one ReadItem per input record"
    return dict(zip(cases, items))


def targets(item) -> list[tuple[str, list]]:
    """(category, target calls) per sample of an item."""
    return [(s.category, calls_from_ground_truth(s.ground_truth)) for s in item.samples]


def audit_rules(sample) -> list[str]:
    return [a["rule"] for a in sample.meta["audit"]]


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


# (format, case, expected) with expected either a list of (category, calls) per sample or a rejection code.
CASES = [
    # xLAM: JSON-in-string fields, python types, `, optional`
    (
        "xlam",
        "parallel_multiple",
        [
            (
                "parallel_multiple",
                [call("convert_currency", amount=120.0, src="EUR", dst="JPY"), call("top_k", nums=[4, 9, 1], k=2)],
            )
        ],
    ),
    ("xlam", "no_call", [("irrelevance", [])]),  # answers "[]" is a no-call target, not an error
    ("xlam", "bad_json", "READ_JSON"),
    ("xlam", "missing_answers", "READ_FIELD"),
    ("xlam", "unknown_function", [("simple", [call("get_forecast", city="Rome")])]),  # C1 is the validator's
    ("xlam", "double_encoded_arguments", [("simple", [call("get_weather", city="Rome")])]),
    ("xlam", "double_encoded_tools", "S1"),  # S1 decodes a string exactly once
    ("xlam", "odd_types", [("simple", [call("lookup", key=42, limit=10)])]),
    ("xlam", "parallel", [("parallel", [call("get_weather", city="Rome"), call("get_weather", city="Oslo")])]),
    ("xlam", "apostrophe", [("simple", [call("get_weather", city="L'Aquila")])]),
    # ToolACE: tool list in prose, pythonic calls, non-identifier names, multi-turn
    ("toolace", "single_step", [("simple", [call("Weather Now", city="Oslo")])]),
    (
        "toolace",
        "parallel_odd_names",
        [
            (
                "parallel_multiple",
                [
                    call("Daily Match List-Scheduled", date="01/02/2024", note="Weather Now(x) (sic)"),
                    call("Weather Now", city="Oslo"),
                ],
            )
        ],
    ),
    (
        "toolace",
        "multi_step",
        [("multiple", [call("Weather Now", city="Oslo")]), ("multiple", [call("get_stock", symbol="AAPL")])],
    ),
    ("toolace", "no_marker", "S1"),
    ("toolace", "not_literal", "P5"),  # a call inside an argument is not a literal
    ("toolace", "no_call", "M4"),  # a text-only dialog has no step unless no_call_steps is on
    ("toolace", "positional", "P7"),
    ("toolace", "missing_conversations", "READ_FIELD"),
    ("toolace", "unknown_function", [("simple", [call("get_quote", symbol="MSFT")])]),
    # Glaive v2: one chat string, quoted arguments
    ("glaive", "single_step", [("simple", [call("get_time", tz="Asia/Tokyo")])]),
    ("glaive", "apostrophe", [("multiple", [call("send_message", to="Ann", text="it's raining")])]),
    ("glaive", "no_functions", "M4"),
    ("glaive", "bad_call_body", "P4"),
    ("glaive", "json_string_arguments", [("simple", [call("get_time", tz="America/Lima")])]),
    (
        "glaive",
        "multi_step",
        [
            ("multiple", [call("get_time", tz="America/Lima")]),
            ("multiple", [call("send_message", to="Bob", text="19:15 in Lima")]),
        ],
    ),
    ("glaive", "missing_chat", "READ_FIELD"),
    # Hermes: <tools> / <tool_call>, python repr mixed with JSON
    ("hermes", "single_step", [("simple", [call("get_time", tz="America/Lima")])]),
    ("hermes", "python_repr", [("simple", [call("send_message", to="Ann", text="it's raining", urgent=True)])]),
    (
        "hermes",
        "parallel",
        [("parallel", [call("get_time", tz="America/Lima"), call("get_time", tz="America/Guayaquil")])],
    ),
    ("hermes", "no_tools_block", "S1"),
    ("hermes", "bad_call_body", "P2"),
    ("hermes", "duplicate_key", "P9"),
    ("hermes", "unknown_role", "M1"),
    # OpenAI chat: arguments as JSON strings, tool_call ids
    (
        "openai",
        "parallel",
        [("parallel", [call("get_time", tz="America/Lima"), call("get_time", tz="America/Guayaquil")])],
    ),
    ("openai", "double_encoded_arguments", [("simple", [call("get_time", tz="America/Lima")])]),
    ("openai", "non_object_arguments", "P3"),
    ("openai", "bad_tool_call_id", "M3"),
    (
        "openai",
        "multi_step",
        [
            ("multiple", [call("get_time", tz="America/Lima")]),
            ("multiple", [call("send_message", to="Bob", text="19:15")]),
        ],
    ),
    ("openai", "missing_messages", "READ_FIELD"),
    ("openai", "no_call", "M4"),
    # ShareGPT: function_call / observation turns, fixed positions
    ("sharegpt", "single_step", [("simple", [call("get_time", tz="America/Lima")])]),
    (
        "sharegpt",
        "parallel",
        [("parallel", [call("get_time", tz="America/Lima"), call("get_time", tz="America/Guayaquil")])],
    ),
    ("sharegpt", "wrong_order", "M2"),
    ("sharegpt", "bad_tools", "S1"),
    ("sharegpt", "python_literal_call", [("multiple", [call("send_message", to="Ann", text="it's raining")])]),
    (
        "sharegpt",
        "multi_step",
        [
            ("multiple", [call("get_time", tz="America/Lima")]),
            ("multiple", [call("send_message", to="Bob", text="19:15")]),
        ],
    ),
    ("sharegpt", "missing_value", "READ_FIELD"),
]


@pytest.mark.parametrize(("fmt", "case", "expected"), CASES, ids=[f"{f}-{c}" for f, c, _ in CASES])
def test_fixture_case(fmt, case, expected):
    item = read_cases(fmt)[case]
    if isinstance(expected, str):
        assert item.rejection is not None and item.samples == []
        assert item.rejection.codes == [expected], item.rejection.reasons
        assert item.rejection.stage == "read"
        detail = item.rejection.reasons[0]["detail"]
        assert f"{fmt}.jsonl:{item.origin['line']}" in detail, "the reason names the file and line"
        assert item.rejection.raw is not None
    else:
        assert item.rejection is None, item.rejection
        assert targets(item) == expected
        for sample in item.samples:
            assert sample.meta["source_format"] == fmt
            assert sample.meta["origin"] == item.origin
            assert sample.meta["target_kind"] == ("call" if sample.ground_truth else "no_call")
            assert all(t["parameters"]["type"] == "object" for t in sample.tools)


def test_every_fixture_record_is_covered_by_the_table():
    for fmt, path in FIXTURES.items():
        assert sorted(_cases(path)) == sorted(c for f, c, _ in CASES if f == fmt), fmt
    for fmt in FIXTURES:
        for item in read_source(FIXTURES[fmt], fmt):
            assert item.rejection is None or "READ_INTERNAL" not in item.rejection.codes


def test_rejections_name_the_field():
    reasons = {
        ("xlam", "missing_answers"): "field 'answers'",
        ("toolace", "not_literal"): "field 'conversations[1].value'",
        ("openai", "non_object_arguments"): "field 'messages[1].tool_calls[0].function.arguments'",
        ("sharegpt", "wrong_order"): "field 'conversations[1].from'",
        ("hermes", "duplicate_key"): "duplicate key 'tz'",
    }
    for (fmt, case), text in reasons.items():
        assert text in read_cases(fmt)[case].rejection.reasons[0]["detail"]


class TestXlam:
    def test_schema_conversion(self):
        sample = read_cases("xlam")["parallel_multiple"].samples[0]
        conv, topk = sample.tools
        assert conv["parameters"]["required"] == ["amount", "src", "dst"]
        assert conv["parameters"]["properties"]["amount"]["type"] == "number"  # float -> number
        assert topk["parameters"]["properties"]["nums"] == {
            "description": "Input numbers.",
            "type": "array",
            "items": {"type": "integer"},
        }
        assert topk["parameters"]["required"] == ["nums"]  # "int, optional" -> optional
        assert topk["parameters"]["properties"]["k"]["default"] == 1
        assert audit_rules(sample).count("S6") == 2 and "S4" in audit_rules(sample)

    def test_unknown_type_warns_and_default_alone_stays_required(self):
        sample = read_cases("xlam")["odd_types"].samples[0]
        params = sample.tools[0]["parameters"]
        assert params["properties"]["key"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
        assert "type" not in params["properties"]["fmt"]  # unknown type: no constraint, never a guess
        assert params["properties"]["fmt"]["x-source-type"] == "CustomFormat, optional"
        assert params["properties"]["meta"]["type"] == "object"
        assert params["required"] == ["key", "limit"]  # `limit` has a default but no `, optional`
        assert {"rule": "S5", "action": "warn"}.items() <= sample.meta["audit"][0].items()

    def test_default_makes_optional_option(self):
        sample = read_cases("xlam", default_makes_optional=True)["odd_types"].samples[0]
        assert sample.tools[0]["parameters"]["required"] == ["key"]

    def test_double_encoded_arguments_logged(self):
        sample = read_cases("xlam")["double_encoded_arguments"].samples[0]
        assert [a for a in sample.meta["audit"] if a["rule"] == "P3"][0]["detail"].endswith("decoded twice")

    @pytest.mark.parametrize(
        ("text", "schema", "optional"),
        [
            ("str", {"type": "string"}, False),
            ("int, optional", {"type": "integer"}, True),
            ("float,optional", {"type": "number"}, True),
            ("bool", {"type": "boolean"}, False),
            ("List[int]", {"type": "array", "items": {"type": "integer"}}, False),
            ("List[List[str]]", {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, False),
            ("list", {"type": "array"}, False),
            ("List", {"type": "array"}, False),
            ("Tuple[int, int]", {"type": "array"}, False),
            ("Dict[str, Any]", {"type": "object"}, False),
            ("dict", {"type": "object"}, False),
            ("Any", {}, False),
            ("Union[int, str]", {"anyOf": [{"type": "integer"}, {"type": "string"}]}, False),
            ("Optional[int]", {"anyOf": [{"type": "integer"}, {"type": "null"}]}, False),
            ("List[Any]", {"type": "array"}, False),
            ("Literal['a', 'b']", {"enum": ["a", "b"]}, False),
            ("Callable", None, False),  # unknown: no guess
            ("str or int", None, False),  # not a type expression
            ("List[Foo], optional", None, True),
        ],
    )
    def test_type_strings(self, text, schema, optional):
        assert type_schema(text) == (schema, optional)


class TestToolace:
    def test_tool_list_from_prose_and_dict_type(self):
        sample = read_cases("toolace")["single_step"].samples[0]
        assert [t["name"] for t in sample.tools] == ["Weather Now"]
        assert sample.tools[0]["parameters"]["type"] == "object"  # "dict" -> "object"
        assert {"S1", "S4", "P6"} <= set(audit_rules(sample))
        assert sample.messages == [{"role": "user", "content": "How warm is it in Oslo right now?"}]  # no system prose

    def test_multi_step_context(self):
        first, second = read_cases("toolace")["multi_step"].samples
        assert [m["role"] for m in first.messages] == ["user"]
        assert [m["role"] for m in second.messages] == ["user", "assistant", "tool"]
        prior = second.messages[1]["tool_calls"][0]["function"]
        assert prior == {"name": "Weather Now", "arguments": {"city": "Oslo"}}  # arguments stay objects
        assert first.id != second.id and second.meta["step"] == 1 and "M4" in audit_rules(second)

    def test_no_call_steps_option(self):
        item = read_cases("toolace", no_call_steps=True)["no_call"]
        assert targets(item) == [("irrelevance", [])]
        assert item.samples[0].meta["target_kind"] == "no_call" and "M5" in audit_rules(item.samples[0])
        # a text turn after a tool result is a summary, never a no-call step
        assert len(read_cases("toolace", no_call_steps=True)["multi_step"].samples) == 2

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('[Weather Now(city="Oslo")]', '[funrl_tool_0_(city="Oslo")]'),
            ("Weather Now (city='Oslo')", "funrl_tool_0_ (city='Oslo')"),  # space before the parenthesis
            ('[f(x="Weather Now(")]', '[f(x="Weather Now(")]'),  # inside a string: untouched
            ("[Weather Nowcast(a=1)]", "[Weather Nowcast(a=1)]"),  # a longer, unknown name: untouched
            (
                '[Weather Now(a="\\"Weather Now("), Weather Now(a=1)]',
                '[funrl_tool_0_(a="\\"Weather Now("), funrl_tool_0_(a=1)]',
            ),
        ],
    )
    def test_substitute_names(self, text, expected):
        assert substitute_names(text, ["Weather Now", "plain_name"])[0] == expected

    def test_identifier_names_option(self):
        cases = read_cases("toolace", identifier_names=True)
        assert targets(cases["parallel_odd_names"]) == [
            (
                "parallel_multiple",
                [
                    call("Daily_Match_List_Scheduled", date="01/02/2024", note="Weather Now(x) (sic)"),
                    call("Weather_Now", city="Oslo"),
                ],
            )
        ]
        second = cases["multi_step"].samples[1]
        assert [t["name"] for t in second.tools] == ["Weather_Now", "get_stock"]
        assert second.messages[1]["tool_calls"][0]["function"]["name"] == "Weather_Now"  # context renamed too
        assert second.meta["tool_renames"] == {"Weather_Now": "Weather Now"}
        assert "tool_renames" not in read_cases("toolace")["multi_step"].samples[1].meta  # off by default

    def test_identifier_names_never_collide(self):
        from funrl.data.readers.common import rename_to_identifiers

        ctx = ReadContext("t", "toolace", {}, options=ReaderOptions(identifier_names=True))
        tools = [{"name": "a b"}, {"name": "a_b"}, {"name": "a-b"}, {"name": "1st tool"}, {"name": "math.sqrt"}]
        calls = [{"name": "a-b", "arguments": {}}]
        assert rename_to_identifiers(ctx, tools, calls) == {"a_b_2": "a b", "a_b_3": "a-b", "_1st_tool": "1st tool"}
        assert [t["name"] for t in tools] == ["a_b_2", "a_b", "a_b_3", "_1st_tool", "math.sqrt"]
        assert calls[0]["name"] == "a_b_3"

    def test_dotted_and_tuple_values(self):
        ctx = ReadContext("t", "toolace", {})
        calls = parse_pythonic("[math.factorial(n=5, pair=(1, 2))]", ["math.factorial"], ctx, field="v")
        assert calls == [call("math.factorial", n=5, pair=[1, 2])]
        with pytest.raises(Exception, match="not plain literals"):
            parse_pythonic("[f(a=b)]", ["f"], ctx, field="v")


class TestGlaive:
    def test_turns_and_audit(self):
        sample = read_cases("glaive")["multi_step"].samples[1]
        assert [m["role"] for m in sample.messages] == ["user", "assistant", "tool"]
        assert sample.messages[1]["content"] == "Let me check."
        assert sample.messages[2]["content"] == '{"time": "19:15"}'
        assert "<|endoftext|>" not in json.dumps(sample.messages)
        assert audit_rules(sample).count("P4") == 2

    def test_json_string_arguments_logged_as_p3(self):
        assert "P3" in audit_rules(read_cases("glaive")["json_string_arguments"].samples[0])


class TestHermes:
    def test_python_repr_logged_and_meta(self):
        sample = read_cases("hermes")["python_repr"].samples[0]
        assert audit_rules(sample).count("P2") == 2  # tool list and call body
        assert sample.tools[0]["name"] == "send_message"
        first = read_cases("hermes")["single_step"].samples[0]
        assert first.meta["hermes"] == {"category": "Utilities", "subcategory": "Time", "task": "Get time"}

    def test_tool_responses_become_tool_messages(self):
        cases = read_cases("hermes", no_call_steps=True)
        assert [m["role"] for m in cases["parallel"].samples[0].messages] == ["user"]


class TestOpenAI:
    def test_ids_synthesized_and_tool_messages_linked(self):
        second = read_cases("openai")["multi_step"].samples[1]
        assert [m["role"] for m in second.messages] == ["system", "user", "assistant", "tool"]
        call_id = second.messages[2]["tool_calls"][0]["id"]
        assert call_id == "call_2_0" and second.messages[3]["tool_call_id"] == call_id
        assert audit_rules(second).count("M3") == 2

    def test_wire_strings_are_not_repairs(self):
        sample = read_cases("openai")["parallel"].samples[0]
        assert "P3" not in audit_rules(sample) and "S3" in audit_rules(sample)

    def test_no_call_option(self):
        assert targets(read_cases("openai", no_call_steps=True)["no_call"]) == [("irrelevance", [])]


class TestShareGPT:
    def test_system_and_roles(self):
        sample = read_cases("sharegpt")["single_step"].samples[0]
        assert sample.messages == [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Time in Lima?"},
        ]
        step2 = read_cases("sharegpt")["multi_step"].samples[1]
        assert [m["role"] for m in step2.messages] == ["user", "assistant", "tool"]
        assert "P3" in audit_rules(step2)  # string arguments in a function_call


class TestBfcl:
    def test_fixture_folder(self):
        items = list(read_source(FORMATS_DIR / "bfcl", "bfcl", options=ReaderOptions(bfcl_categories="simple_python")))
        assert [it.rejection.codes if it.rejection else it.samples[0].id for it in items] == [
            "simple_python_0",
            ["READ_JSON"],
            ["READ_FIELD"],
            ["READ_FIELD"],
        ]
        sample = items[0].samples[0]
        assert sample.ground_truth == [{"geometry.circle_area": {"radius": [3], "unit": ["cm", ""]}}]
        assert sample.category == "simple_python" and sample.tools[0]["parameters"]["type"] == "object"
        assert "no possible answer" in items[2].rejection.reasons[0]["detail"]

    def test_single_file_and_irrelevance(self):
        (item,) = read_source(FORMATS_DIR / "bfcl" / "BFCL_v4_irrelevance.json", "bfcl")
        assert item.samples[0].meta["target_kind"] == "no_call" and item.samples[0].ground_truth == []

    def test_matches_funrl_bfcl_loader(self, bfcl_dir):
        from funrl.bfcl import load_category

        for category in ("simple_python", "parallel_multiple", "simple_java", "live_irrelevance"):
            expected = load_category(bfcl_dir, category)
            opts = ReaderOptions(bfcl_categories=category)
            got = [s for it in read_source(bfcl_dir, "bfcl", options=opts) for s in it.samples]
            assert len(got) == len(expected)
            for a, b in zip(got, expected):
                assert (a.id, a.category, a.messages, a.tools, a.ground_truth) == (
                    b.id,
                    b.category,
                    b.messages,
                    b.tools,
                    b.ground_truth,
                )

    def test_bad_inputs(self, tmp_path):
        with pytest.raises(SourceError, match="not a BFCL single-turn question file"):
            list(read_source(FIXTURES["xlam"], "bfcl"))
        with pytest.raises(SourceError, match="unknown BFCL category"):
            list(read_source(FORMATS_DIR / "bfcl", "bfcl", options=ReaderOptions(bfcl_categories="nope")))


class TestCanonical:
    def test_rows_and_rejections(self):
        items = list(read_source(FORMATS_DIR / "canonical.jsonl", "canonical"))
        assert [it.rejection.codes if it.rejection else it.samples[0].id for it in items] == [
            "xlam-7",
            "xlam-8",
            ["READ_FIELD"],
            ["READ_JSON"],
            "row-with-json-strings",
        ]
        assert "field 'ground_truth': missing" in items[2].rejection.reasons[0]["detail"]
        assert items[4].samples[0].tools == items[0].samples[0].tools  # JSON-string columns (Sample.to_row)

    @pytest.mark.parametrize("fmt", list(FIXTURES))
    def test_round_trip(self, fmt, tmp_path):
        """read -> canonical -> write -> read gives the same canonical records (docs/data.md, "The canonical record", rule 3)."""
        samples = [s for it in read_source(FIXTURES[fmt], fmt) for s in it.samples]
        assert samples
        write_samples(samples, tmp_path / "out.jsonl")
        again = [s for it in read_source(tmp_path / "out.jsonl", "canonical") for s in it.samples]
        assert again == samples
        assert read_samples(tmp_path / "out.jsonl") == samples


class TestInputs:
    @staticmethod
    def _strip_origin(samples):
        out = []
        for s in samples:
            d = s.to_dict()
            d["meta"].pop("origin")
            out.append(d)
        return out

    def test_json_list_parquet_and_datasets_give_the_same_samples(self, tmp_path):
        import datasets

        rows = [json.loads(line) for line in FIXTURES["sharegpt"].read_text().splitlines()]
        expected = self._strip_origin([s for it in read_source(FIXTURES["sharegpt"], "sharegpt") for s in it.samples])
        (tmp_path / "rows.json").write_text(json.dumps(rows))
        ds = datasets.Dataset.from_list(rows)
        ds.to_parquet(str(tmp_path / "rows.parquet"))
        ds.save_to_disk(str(tmp_path / "saved"))
        for spec in (tmp_path / "rows.json", tmp_path / "rows.parquet", tmp_path / "saved", ds):
            items = list(read_source(spec, "sharegpt", source="sharegpt"))
            assert len(items) == len(rows)
            got = self._strip_origin([s for it in items for s in it.samples])
            assert got == expected, spec
        saved = list(read_source(tmp_path / "saved", "sharegpt"))
        assert saved[0].origin == {"dataset": str(tmp_path / "saved"), "row": 0}
        assert saved[2].rejection.codes == ["M2"] and "[2]" in saved[2].rejection.reasons[0]["detail"]

    def test_arrow_null_padding_is_removed(self, tmp_path):
        import datasets

        rows = [json.loads(line) for line in FIXTURES["openai"].read_text().splitlines()][:2]
        rows[1]["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "send",
                    "description": "Send",
                    "parameters": {
                        "type": "object",
                        "properties": {"to": {"type": "string", "enum": ["a", "b"]}},
                        "required": ["to"],
                    },
                },
            }
        ]
        rows[1]["messages"][1]["tool_calls"][0]["function"]["name"] = "send"
        rows[1]["messages"][1]["tool_calls"][0]["function"]["arguments"] = json.dumps({"to": "a"})
        path = tmp_path / "rows.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        expected = [s.tools for it in read_source(path, "openai") for s in it.samples]
        datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
        items = list(read_source(tmp_path / "saved", "openai"))
        assert [s.tools for it in items for s in it.samples] == expected
        assert any("Arrow struct padding" in a["detail"] for a in items[0].samples[0].meta["audit"])

    def test_arrow_padded_object_arguments(self):
        import datasets

        rows = [
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": args}}],
                    },
                ],
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                            },
                        },
                    }
                ],
            }
            for args in ({"a": 1}, {"b": "x"})
        ]
        items = list(read_source(datasets.Dataset.from_list(rows), "openai", source="o"))
        assert [targets(it) for it in items] == [[("simple", [call("f", a=1)])], [("simple", [call("f", b="x")])]]
        assert "Arrow struct padding" in items[0].samples[0].meta["audit"][-1]["detail"]

    def test_unknown_dataset_name_is_a_source_error(self):
        with pytest.raises(SourceError, match="not a file, nor a loadable dataset"):
            list(read_source("nobody/no-such-dataset", "xlam"))

    def test_dataset_dict_splits(self, tmp_path):
        import datasets

        rows = [json.loads(line) for line in FIXTURES["xlam"].read_text().splitlines()[:2]]
        dd = datasets.DatasetDict(
            {"train": datasets.Dataset.from_list(rows), "test": datasets.Dataset.from_list(rows)}
        )
        dd.save_to_disk(str(tmp_path / "dd"))
        items = list(read_source(tmp_path / "dd", "xlam", source="x"))
        assert [it.origin["split"] for it in items] == ["train", "train", "test", "test"]
        assert len({s.id for it in items for s in it.samples}) == 4  # ids unique across splits

    def test_unknown_format_lists_valid_ones(self):
        with pytest.raises(ValueError, match="valid formats: xlam, toolace, glaive, hermes, openai, sharegpt, bfcl"):
            list(read_source(FIXTURES["xlam"], "alpaca"))
        assert FORMATS == ("xlam", "toolace", "glaive", "hermes", "openai", "sharegpt", "bfcl", "canonical")

    def test_unreadable_inputs_are_source_errors(self, tmp_path):
        with pytest.raises(SourceError, match="not found"):
            list(read_source(tmp_path / "missing.jsonl", "xlam"))
        (tmp_path / "broken.json").write_text('[{"a": 1},')
        with pytest.raises(SourceError, match="invalid JSON list"):
            list(read_source(tmp_path / "broken.json", "xlam"))
        (tmp_path / "data.csv").write_text("a,b\n")
        with pytest.raises(SourceError, match="unknown file type"):
            list(read_source(tmp_path / "data.csv", "xlam"))
        (tmp_path / "bad.parquet").write_bytes(b"not parquet")
        with pytest.raises(SourceError, match="Parquet"):
            list(read_source(tmp_path / "bad.parquet", "xlam"))
        # one non-UTF-8 line is that line's rejection (named by its line), not the whole file's
        (tmp_path / "latin1.jsonl").write_bytes(b'{"query": "caf\xe9"}\n')
        (item,) = read_source(tmp_path / "latin1.jsonl", "xlam")
        assert item.rejection.codes == ["READ_ENCODING"] and "latin1.jsonl:1:" in item.rejection.reasons[0]["detail"]
        with pytest.raises(SourceError, match="folder"):
            list(read_source(tmp_path, "xlam"))

    def test_non_object_record_and_raw_truncation(self, tmp_path):
        big = {"id": 1, "query": "x" * (3 * RAW_LIMIT), "tools": "[", "answers": "[]"}
        (tmp_path / "rows.jsonl").write_text("[1, 2]\n" + json.dumps(big) + "\n")
        first, second = read_source(tmp_path / "rows.jsonl", "xlam")
        assert (
            first.rejection.codes == ["READ_FIELD"]
            and "expected a JSON object" in first.rejection.reasons[0]["detail"]
        )
        assert second.rejection.codes == ["S1"] and second.rejection.id == "rows-1"
        assert isinstance(second.rejection.raw, str) and len(second.rejection.raw) < RAW_LIMIT + 40

    def test_rejection_round_trip(self):
        rej = Rejection("a", {"file": "f", "line": 1, "index": 0}, "read", [{"code": "S1", "detail": "d"}], {"x": 1})
        assert Rejection.from_dict(json.loads(json.dumps(rej.to_dict()))) == rej
        with pytest.raises(ValueError, match="unknown rejection stage"):
            Rejection("a", {}, "parse", [])

    def test_import_is_light(self):
        code = (
            "import sys, funrl.data.readers, funrl.data.records; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules))"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "[]"


# ---------------------------------------------------------------------------------------------------
# Property tests of the decoders

_json_scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
_json_values = st.recursive(
    _json_scalars | st.floats(allow_nan=False, allow_infinity=False, width=32),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_idents = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda k: not keyword.iskeyword(k))
_arg_dicts = st.dictionaries(_idents, _json_values, max_size=4)


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_loads_json_and_python_literal_agree(value):
    ctx = ReadContext("t", "hermes", {})
    assert loads(json.dumps(value), "v", ctx, field="f") == value
    assert ctx.audit == []
    assert loads(repr(value), "v", ctx, field="f") == value  # P2 fallback: repr of the same value
    assert all(a["rule"] == "P2" for a in ctx.audit)


@settings(max_examples=150, deadline=None)
@given(_arg_dicts)
def test_glaive_quoted_arguments(args):
    body = '{"name": "f", "arguments": \'' + json.dumps(args) + "'}"
    assert parse_functioncall(body, ReadContext("t", "glaive", {}), field="f") == {"name": "f", "arguments": args}


_odd_names = st.from_regex(r"[A-Z][a-z]{1,5}( [A-Z][a-z]{1,5}| ?-[A-Za-z]{1,5}){1,2}", fullmatch=True)
_literal_args = st.dictionaries(
    _idents,
    st.text(max_size=15) | st.integers(-1000, 1000) | st.booleans() | st.lists(st.integers(0, 9), max_size=3),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_odd_names, _literal_args), min_size=1, max_size=3))
def test_toolace_odd_names_round_trip(calls):
    """Any non-identifier name and any literal values (brackets and names inside strings included) come back."""
    names = sorted({n for n, _ in calls})
    text = "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in calls) + "]"
    got = parse_pythonic(text, names, ReadContext("t", "toolace", {}), field="v")
    assert got == [{"name": n, "arguments": a} for n, a in calls]
