"""Tests of `funrl.template`: prompts, targets and trainer rows in the three formats.

.venv/bin/python -m pytest tests/test_template.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.schema import Sample, normalize_tools
from funrl.template import (
    BFCL_SYSTEM_PROMPT,
    COMPACT_SYSTEM_PROMPT,
    FORMATS,
    FUNRL_SYSTEM_PROMPT,
    NO_CALL_THINK,
    build_messages,
    prompt_messages,
    qwen_tools_block,
    render_prompt,
    render_target,
    render_think,
    to_rl_row,
    to_sft_row,
    tool_signature,
)

REPO = Path(__file__).resolve().parents[1]
BFCL_PYTHON = REPO / ".venv-bfcl" / "bin" / "python"

CURRENCY = {
    "name": "convert_currency",
    "description": "Convert money.",
    "parameters": {
        "type": "object",
        "properties": {
            "base_currency": {"type": "string", "description": "From."},
            "target_currency": {"type": "string", "description": "To."},
            "amount": {"type": "number", "description": "How much."},
            "rounding": {"type": "integer", "description": "Digits."},
        },
        "required": ["base_currency", "target_currency", "amount"],
    },
}
WEATHER = {
    "name": "get_weather",
    "description": "Weather now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City."}}},
}


def make(gt, category="simple", messages=None, **meta) -> Sample:
    return Sample(
        id=f"t-{category}",
        category=category,
        messages=messages
        if messages is not None
        else [{"role": "user", "content": "How much is 20000 yen in dollars?"}],
        tools=normalize_tools([CURRENCY, WEATHER]),
        ground_truth=gt,
        meta=meta,
    )


# `rounding` may be omitted or be 2 (BFCL style): the target states 2; `note` may only be omitted: left out.
YEN = {
    "convert_currency": {
        "base_currency": ["JPY"], "target_currency": ["USD"], "amount": [20000], "rounding": ["", 2], "note": [""]
    }
}  # fmt: skip
PARIS = {"get_weather": {"city": ["Paris", "paris"]}}

# (sample, fmt, expected target): one line on why each is right.
TARGET_CASES = [
    # first allowed value that is not "" for each argument; `note` (only "") is left out
    (
        make([YEN]),
        "bfcl-prompt",
        "[convert_currency(base_currency='JPY', target_currency='USD', amount=20000, rounding=2)]",
    ),
    # parallel calls keep ground-truth order, comma-separated in one list
    (
        make([YEN, PARIS], "parallel_multiple"),
        "bfcl-prompt",
        "[convert_currency(base_currency='JPY', target_currency='USD', amount=20000, rounding=2), "
        "get_weather(city='Paris')]",
    ),
    # irrelevance: the empty call list
    (make([], "irrelevance"), "bfcl-prompt", "[]"),
    # funrl: paper CoT pattern (function, values, required check) then the answer
    (
        make([PARIS]),
        "funrl",
        "<think>Use get_weather. Values: city='Paris'. Check no required parameters.</think>\n"
        "<answer>[get_weather(city='Paris')]</answer>",
    ),
    # funrl irrelevance: no-call CoT and `<answer>[]</answer>`
    (make([], "irrelevance"), "funrl", f"<think>{NO_CALL_THINK}</think>\n<answer>[]</answer>"),
    # funrl with a CoT carried by the data
    (make([PARIS], think="weather in Paris"), "funrl", "<think>weather in Paris</think>\n<answer>[get_weather(city='Paris')]</answer>"),
    # qwen-fc: one JSON block per call, double-quoted JSON values
    (
        make([PARIS, PARIS], "parallel"),
        "qwen-fc",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    ),
]  # fmt: skip


class TestRenderTarget:
    @pytest.mark.parametrize(("sample", "fmt", "expected"), TARGET_CASES)
    def test_cases(self, sample, fmt, expected):
        assert render_target(sample, fmt) == expected

    def test_think_lists_values_and_required(self):
        think = render_think(make([YEN]))
        assert think == (
            "Use convert_currency. Values: base_currency='JPY', target_currency='USD', amount=20000, rounding=2. "
            "Check required base_currency, target_currency, amount: all given."
        )

    def test_explicit_think_wins(self):
        assert render_target(make([PARIS], think="meta"), "funrl", think="arg").startswith("<think>arg</think>")

    def test_relevance_has_no_target(self):
        with pytest.raises(ValueError, match="relevance"):
            render_target(make([], "live_relevance"), "funrl")

    def test_unknown_format(self):
        with pytest.raises(ValueError, match="valid formats: funrl, bfcl-prompt, qwen-fc"):
            render_target(make([PARIS]), "xml")


class TestBuildMessages:
    def test_funrl_lists_tools_one_json_per_line(self):
        sample = make([PARIS])
        messages, tools = build_messages(sample, "funrl")
        assert tools is None
        assert messages[0]["role"] == "system"
        assert messages[0]["content"] == FUNRL_SYSTEM_PROMPT + "\n".join(json.dumps(t) for t in sample.tools)
        assert messages[1:] == sample.messages

    @pytest.mark.parametrize("fmt", ["funrl", "bfcl-prompt"])
    def test_sample_system_message_appended_after_ours(self, fmt):
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
        sample = make([PARIS], messages=msgs)
        messages, _ = build_messages(sample, fmt)
        assert len(messages) == 2
        assert messages[0]["content"].endswith("\n\nBe brief.")
        assert sample.messages == msgs  # the sample is not mutated

    def test_bfcl_prompt_uses_bfcl_types_and_hint(self):
        messages, _ = build_messages(make([YEN]), "bfcl-prompt")
        docs = json.loads(messages[0]["content"].split("invoke.\n", 1)[1])
        params = docs[0]["parameters"]
        assert params["type"] == "dict"
        assert params["properties"]["amount"]["type"] == "float"
        assert docs[0]["description"] == "Convert money. Note that the provided function is in Python 3 syntax."
        assert messages[0]["content"] == BFCL_SYSTEM_PROMPT.format(functions=json.dumps(docs, indent=4))

    def test_java_without_original_docs_restores_source_types(self):
        # a Java sample whose tools went through normalize_tools (types folded into strings, source in x-bfcl-type)
        tool = {"name": "m", "description": "D.", "parameters": {"type": "dict", "properties": {
            "n": {"type": "integer", "description": "N."}}, "required": ["n"]}}  # fmt: skip
        sample = Sample(id="j", category="simple_java", messages=[{"role": "user", "content": "q"}],
                        tools=normalize_tools([tool], "java"), ground_truth=[])  # fmt: skip
        messages, _ = build_messages(sample, "bfcl-prompt")
        docs = json.loads(messages[0]["content"].split("invoke.\n", 1)[1])
        param = docs[0]["parameters"]["properties"]["n"]
        assert param == {
            "type": "string",
            "description": "N. This is Java integer type parameter in string representation.",
        }

    def test_qwen_fc_returns_tools_and_inlines_them(self):
        sample = make([PARIS])
        messages, tools = build_messages(sample, "qwen-fc")
        assert messages == sample.messages and [t["name"] for t in tools] == ["convert_currency", "get_weather"]
        inlined = prompt_messages(sample, "qwen-fc")
        assert inlined[0] == {"role": "system", "content": qwen_tools_block(tools)}

    def test_no_messages(self):
        with pytest.raises(ValueError, match="no messages"):
            build_messages(make([PARIS], messages=[]), "funrl")


# (tool, signature): one line on what each case pins down.
SIGNATURE_CASES = [
    # required parameters first in schema order, optional ones after with `= None` when no default is declared
    (CURRENCY, "convert_currency(base_currency: str, target_currency: str, amount: float, rounding: int = None) - "
               "Convert money."),
    # nothing required: every parameter optional
    (WEATHER, "get_weather(city: str = None) - Weather now."),
    # enum and default are shown; an untyped parameter is `any`; an empty description adds no dash
    ({"name": "f", "description": "", "parameters": {"type": "object", "properties": {
        "unit": {"type": "string", "enum": ["c", "f"], "default": "c"}, "x": {}}, "required": ["x"]}},
     "f(x: any, unit: str in ['c', 'f'] = 'c')"),
]  # fmt: skip


class TestCompactStyle:
    @pytest.mark.parametrize(("tool", "expected"), SIGNATURE_CASES)
    def test_tool_signature(self, tool, expected):
        assert tool_signature(normalize_tools([tool])[0]) == expected

    def test_compact_prompt_lists_signatures(self):
        sample = make([YEN], prompt_style="compact")
        messages, tools = build_messages(sample, "funrl")
        assert tools is None
        assert messages[0]["content"] == COMPACT_SYSTEM_PROMPT + "\n".join(tool_signature(t) for t in sample.tools)

    def test_compact_changes_the_prompt_not_the_target(self):
        assert render_target(make([YEN], prompt_style="compact"), "funrl") == render_target(make([YEN]), "funrl")

    def test_qwen_fc_ignores_the_style(self):
        assert prompt_messages(make([YEN], prompt_style="compact"), "qwen-fc") == prompt_messages(
            make([YEN]), "qwen-fc"
        )

    def test_bfcl_prompt_compact_is_plain_calls(self):
        """bfcl-prompt's compact style (the toy base's prompt): one-line signatures, BFCL's plain call syntax."""
        from funrl.template import COMPACT_BFCL_SYSTEM_PROMPT

        system = prompt_messages(make([YEN], prompt_style="compact"), "bfcl-prompt")[0]["content"]
        assert system.startswith(COMPACT_BFCL_SYSTEM_PROMPT) and "<think>" not in system
        assert system != prompt_messages(make([YEN]), "bfcl-prompt")[0]["content"]  # the default stays BFCL's own

    def test_unknown_style_is_an_error(self):
        with pytest.raises(ValueError, match="valid styles: json, compact"):
            build_messages(make([YEN], prompt_style="short"), "funrl")


@pytest.mark.skipif(not BFCL_PYTHON.exists(), reason="the official BFCL venv (.venv-bfcl) is not installed")
def test_bfcl_prompt_equals_official_handler(bfcl_dir):
    """Our bfcl-prompt messages are exactly what BFCL's prompt-mode OSS handlers build (default system prompt,
    language hints, Java/JavaScript parameter rewriting, the question's own system message appended)."""
    from funrl.bfcl import load_category

    picks = {"simple_python": 2, "simple_java": 2, "simple_javascript": 2, "multiple": 1, "live_simple": 60}
    samples = []
    for category, count in picks.items():
        entries = load_category(bfcl_dir, category)
        samples += entries[:2] if count < 10 else [e for e in entries[:count] if e.messages[0]["role"] == "system"][:2]
    assert any(s.messages[0]["role"] == "system" for s in samples)
    script = (
        "import copy, json, sys\n"
        "from bfcl_eval.model_handler.utils import system_prompt_pre_processing_chat_model\n"
        "from bfcl_eval.utils import _func_doc_language_specific_pre_processing\n"
        "for line in sys.stdin:\n"
        "    row = json.loads(line)\n"
        "    funcs = _func_doc_language_specific_pre_processing(copy.deepcopy(row['function']), row['category'])\n"
        "    print(json.dumps(system_prompt_pre_processing_chat_model(row['messages'], funcs, row['id'])))\n"
    )
    payload = "".join(
        json.dumps({"id": s.id, "category": s.category, "messages": s.messages, "function": s.meta["bfcl_functions"]})
        + "\n"
        for s in samples
    )
    out = subprocess.run([str(BFCL_PYTHON), "-c", script], input=payload, capture_output=True, text=True, check=True)
    official = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(official) == len(samples)
    for sample, expected in zip(samples, official):
        assert build_messages(sample, "bfcl-prompt")[0] == expected, sample.id


class TestWithTokenizer:
    @pytest.fixture(scope="class")
    @classmethod
    def tokenizer(cls, tiny_model_dir):
        transformers = pytest.importorskip("transformers")
        return transformers.AutoTokenizer.from_pretrained(tiny_model_dir)

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_render_prompt_is_chatml_with_generation_prompt(self, tokenizer, fmt):
        text = render_prompt(tokenizer, make([PARIS]), fmt)
        assert text.startswith("<|im_start|>system\n")
        assert text.endswith("<|im_start|>user\nHow much is 20000 yen in dollars?<|im_end|>\n<|im_start|>assistant\n")

    def test_qwen_fc_inline_equals_chat_template_tools(self, tokenizer):
        # The tiny template's `tools=` rendering is byte-identical to our inlined system block.
        msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
        for sample in (make([PARIS]), make([PARIS], messages=msgs)):
            messages, tools = build_messages(sample, "qwen-fc")
            native = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
            assert render_prompt(tokenizer, sample, "qwen-fc") == native

    def test_no_chat_template_is_a_clear_error(self, tokenizer):
        bare = type(tokenizer).from_pretrained(tokenizer.name_or_path)
        bare.chat_template = None
        with pytest.raises(ValueError, match="no chat template.*funrl tiny-model"):
            render_prompt(bare, make([PARIS]), "funrl")

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_sft_prompt_is_a_token_prefix(self, tokenizer, fmt):
        # TRL finds the completion where prompt and prompt+completion tokens diverge: the prompt must be a prefix.
        row = to_sft_row(make([YEN]), fmt)
        prompt_ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, return_dict=True)
        prompt_ids = prompt_ids["input_ids"]
        full = tokenizer.apply_chat_template(
            row["prompt"] + row["completion"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids = full["input_ids"]
        assert ids[: len(prompt_ids)] == prompt_ids
        completion = tokenizer.decode(ids[len(prompt_ids) :])
        assert completion == row["completion"][0]["content"] + "<|im_end|>\n"
        # the {% generation %} markers cover exactly the assistant turn (content + eos, not the newline after)
        masked = [i for i, keep in zip(ids, full["assistant_masks"]) if keep]
        assert tokenizer.decode(masked) == row["completion"][0]["content"] + "<|im_end|>"

    def test_assistant_tool_calls_and_tool_results(self, tokenizer):
        messages = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
            {"role": "tool", "content": "r1"},
            {"role": "tool", "content": "r2"},
        ]  # fmt: skip
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert text == (
            "<|im_start|>user\nhi<|im_end|>\n"
            '<|im_start|>assistant\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call><|im_end|>\n'
            "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n"
        )


class TestRows:
    def test_rl_row_columns(self):
        sample = make([YEN], "simple")
        row = to_rl_row(sample, "funrl")
        assert set(row) == {"prompt", "ground_truth", "tools", "category", "id"}
        assert row["prompt"] == prompt_messages(sample, "funrl")
        assert json.loads(row["ground_truth"]) == sample.ground_truth
        assert json.loads(row["tools"]) == sample.tools

    def test_rows_fit_a_datasets_table(self):
        datasets = pytest.importorskip("datasets")
        samples = [make([YEN]), make([], "irrelevance"), make([YEN, PARIS], "parallel_multiple")]
        for fmt in FORMATS:
            rl = datasets.Dataset.from_list([to_rl_row(s, fmt) for s in samples])
            sft = datasets.Dataset.from_list([to_sft_row(s, fmt) for s in samples])
            assert rl[1]["prompt"] == prompt_messages(samples[1], fmt)
            assert sft[2]["completion"][0]["content"] == render_target(samples[2], fmt)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), split=st.sampled_from(["train", "heldout"]), fmt=st.sampled_from(FORMATS))
def test_targets_pass_the_shared_checker(seed, split, fmt):
    """A rendered target, parsed and matched by `funrl.calls`, is correct: template and checker agree."""
    from funrl.calls import parse_calls
    from funrl.calls.match import match_calls
    from funrl.toy.world import generate

    for sample in generate(split, n=12, seed=seed):
        text = render_target(sample, fmt)
        parsed = parse_calls(text, fmt)
        if sample.ground_truth:  # the checker accepts any no-call text for irrelevance: check the format too
            result = match_calls(parsed.calls, sample.ground_truth, sample.tools, sample.category)
            assert result.ok, (sample.id, text, result.reason)
        else:
            assert not parsed.calls, (sample.id, text)
        assert fmt == "qwen-fc" and not sample.ground_truth or parsed.format_ok, (sample.id, text, parsed.reason)


def test_module_does_not_import_torch():
    code = "import sys, funrl.template; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
