"""Canonical sample, tool normalisation and the BFCL loader. Run: pytest tests/test_schema.py"""

import json
import subprocess
import sys

import pytest

from funrl.bfcl import category_of, expand_categories, load_bfcl, load_category
from funrl.schema import Sample, SchemaError, base_category, bfcl_type, normalize_tool, read_samples, write_samples

BFCL_TOOL = {
    "name": "f",
    "description": "d",
    "parameters": {
        "type": "dict",
        "properties": {
            "a": {"type": "float"},
            "b": {"type": "tuple", "items": {"type": "integer"}},
            "c": {"type": "any"},
            "d": {"type": "dict", "properties": {"x": {"type": "string"}}},
            "e": {"type": "array", "items": {"type": "float"}},
        },
        "required": ["a"],
    },
}


class TestNormalize:
    def test_bfcl_types_become_json_schema(self):
        params = normalize_tool(BFCL_TOOL)["parameters"]
        props = params["properties"]
        assert params["type"] == "object"
        assert props["a"] == {"type": "number"}  # float -> number, lossless (number maps back to float)
        assert props["b"]["type"] == "array" and props["b"]["x-bfcl-type"] == "tuple"  # tuple kept for the checker
        assert "type" not in props["c"] and props["c"]["x-bfcl-type"] == "any"  # any -> unconstrained
        assert props["d"]["type"] == "object" and props["d"]["properties"]["x"] == {"type": "string"}
        assert props["e"]["items"] == {"type": "number"}

    def test_idempotent(self):
        once = normalize_tool(BFCL_TOOL)
        assert normalize_tool(once) == once

    def test_openai_wrapper_unwrapped(self):
        tool = normalize_tool({"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}})
        assert tool["name"] == "g" and tool["parameters"] == {"type": "object", "properties": {}}

    def test_bfcl_type_round_trip(self):
        props = normalize_tool(BFCL_TOOL)["parameters"]["properties"]
        assert [bfcl_type(props[k]) for k in "abcde"] == ["float", "tuple", "any", "dict", "array"]

    def test_java_parameters_are_strings(self):
        tool = normalize_tool(BFCL_TOOL, language="java")
        assert tool["parameters"]["properties"]["d"] == {"type": "string", "x-bfcl-type": "dict"}


class TestSample:
    def test_jsonl_round_trip(self, tmp_path):
        sample = Sample(id="1", messages=[{"role": "user", "content": "hi"}], tools=[], ground_truth=[])
        write_samples([sample], tmp_path / "s.jsonl")
        assert read_samples(tmp_path / "s.jsonl") == [sample]

    def test_row_with_json_strings(self):
        sample = Sample(id="1", messages=[], tools=[{"name": "f"}], ground_truth=[{"f": {}}], meta={"k": 1})
        assert Sample.from_dict(sample.to_row()) == sample

    def test_missing_field_names_file_line_field(self, tmp_path):
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps({"id": "x", "messages": [], "tools": []}) + "\n")
        with pytest.raises(SchemaError, match=r"bad.jsonl:1: missing field 'ground_truth'"):
            read_samples(path)

    def test_bad_json_names_line(self, tmp_path):
        path = tmp_path / "bad.jsonl"
        good = Sample(id="1", messages=[], tools=[], ground_truth=[]).to_dict()
        path.write_text(json.dumps(good) + "\n{oops\n")
        with pytest.raises(SchemaError, match=r"bad.jsonl:2: invalid JSON"):
            read_samples(path)

    @pytest.mark.parametrize(
        "category,base",
        [("live_parallel_multiple", "parallel_multiple"), ("simple_python", "simple"), ("irrelevance", "irrelevance")],
    )
    def test_base_category(self, category, base):
        assert base_category(category) == base


class TestBFCLLoader:
    def test_counts_match_bfcl_v4(self, bfcl_dir):
        from funrl.bfcl import SINGLE_TURN

        samples = load_bfcl(bfcl_dir, "single_turn")
        assert len(samples) == sum(SINGLE_TURN.values()) == 3641

    def test_simple_python_0(self, bfcl_dir):
        sample = load_category(bfcl_dir, "simple_python")[0]
        assert sample.ground_truth == [
            {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}
        ]
        assert sample.messages[0]["role"] == "user"
        assert sample.tools[0]["parameters"]["type"] == "object"

    def test_groups_and_unknown(self):
        assert expand_categories("simple,live_ast")[:2] == ["simple_python", "live_simple"]
        with pytest.raises(ValueError, match="valid categories"):
            expand_categories("simpel")

    def test_category_of(self):
        assert category_of("live_parallel_multiple_3-2-1") == "live_parallel_multiple"
        assert category_of("simple_python_12") == "simple_python"

    def test_missing_dir_is_clear(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="--data-dir"):
            load_category(tmp_path, "simple_python")


def test_import_is_light():
    code = "import sys, funrl, funrl.schema, funrl.bfcl, funrl.cli; print([m for m in ('torch','transformers','trl') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
