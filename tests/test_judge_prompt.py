"""Judge prompts and verdict parsing (funrl.data.judge_prompt): a table of answers, hypothesis properties, the
packaged prompt files and user replacements."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from judge_world import (
    WORLD,
    config,
    make_sample,
    schema_validate,
    verdict,
    world_judge,
)
from openai_stub import OpenAIStub

from funrl.data.judge import run_judge
from funrl.data.judge_prompt import VerdictError, load_template, parse_verdict, render_target
from funrl.schema import Sample

PARSE_CASES = [
    (verdict("pass"), ("pass", None, False, None)),
    ("```json\n" + verdict("pass") + "\n```", ("pass", None, False, None)),  # one outer fence is accepted
    ("  " + verdict("fail", "missing_info", False) + "\n", ("fail", "missing_info", False, None)),
    (verdict("fail", "wrong_count", True, []), ("fail", "wrong_count", True, [])),  # [] = NO CALL
    ("Sure! " + verdict("pass"), "invalid_json"),  # prose around the object is not accepted
    (verdict("pass") + verdict("pass"), "invalid_json"),
    (verdict("pass", "wrong_value"), "inconsistent"),
    (verdict("pass", corrected=[]), "inconsistent"),
    (json.dumps({**json.loads(verdict("pass")), "confidence": 0.9}), "bad_keys"),
    (json.dumps({**json.loads(verdict("pass")), "fixable": "no"}), "bad_fixable"),
    (json.dumps({**json.loads(verdict("pass")), "reasoning": 3}), "bad_reasoning"),
    (verdict("fail", "wrong_value", True, [{"name": "f", "arguments": []}]), "bad_corrected_calls"),
    (verdict("fail", "wrong_value", True, {"name": "f", "arguments": {}}), "bad_corrected_calls"),
]


@pytest.mark.parametrize("text, expected", PARSE_CASES)
def test_parse_verdict_table(text, expected):
    if isinstance(expected, str):
        with pytest.raises(VerdictError) as info:
            parse_verdict(text)
        assert info.value.code == expected
    else:
        got = parse_verdict(text)
        assert (got.verdict, got.failure_type, got.fixable, got.corrected_calls) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.recursive(st.none() | st.booleans() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)).map(
            json.dumps
        ),
    )
)
def test_parse_verdict_never_crashes(text):
    try:
        parsed = parse_verdict(text)
    except VerdictError:
        return
    assert parsed.verdict in ("pass", "fail")


@settings(max_examples=100, deadline=None)
@given(
    st.text(),
    st.sampled_from(["pass", "fail"]),
    st.lists(
        st.fixed_dictionaries(
            {"name": st.text(min_size=1), "arguments": st.dictionaries(st.text(), st.integers() | st.text())}
        ),
        max_size=3,
    ),
)
def test_parse_verdict_round_trips_valid_answers(reasoning, decision, calls):
    if decision == "pass":
        text = verdict("pass", reasoning=reasoning)
        expected = ("pass", None, False, None)
    else:
        text = verdict("fail", "wrong_value", True, calls, reasoning=reasoning)
        expected = ("fail", "wrong_value", True, calls)
    got = parse_verdict(text)
    assert (got.verdict, got.failure_type, got.fixable, got.corrected_calls) == expected and got.reasoning == reasoning


@pytest.fixture
def stub():
    """A loopback server playing the deterministic `world_judge`."""
    with OpenAIStub(world_judge) as server:
        yield server


# ----------------------------------------------------------------------------------------------- prompts


def test_prompt_files_can_be_replaced(stub, tmp_path):
    (tmp_path / "judge_evaluate.txt").write_text(
        "my header\n### system\nCUSTOM REVIEWER\n### user\nConversation:\n{{conversation}}\nCandidate answer (x):\n{{target}}\n"
    )
    (outcome,) = run_judge(
        [make_sample("Weather in Paris?", WORLD["Weather in Paris?"])],
        config(stub, prompt_dir=str(tmp_path)),
        schema_validate,
    )
    first, final = stub.chat_requests()
    assert outcome.status == "kept"
    assert first.messages[0]["content"] == "CUSTOM REVIEWER"
    assert "final reviewer" in final.messages[0]["content"]  # judge_final.txt falls back to the packaged one
    (tmp_path / "judge_final.txt").write_text("### system\nx\n### user\n{{tool}}\n")
    with pytest.raises(ValueError, match=r"judge_final\.txt:4: unknown placeholder \{\{tool\}\}"):
        load_template("final", tmp_path)
    (tmp_path / "judge_final.txt").write_text("### user\nx\n")
    with pytest.raises(ValueError, match="expected one '### system' then one '### user'"):
        load_template("final", tmp_path)


def test_packaged_prompts_render_every_placeholder():
    sample = make_sample("Weather in Paris?", WORLD["Weather in Paris?"])
    sample.meta["audit"] = [{"rule": "T2", "action": "repair", "detail": "'5' -> 5"}]
    for name in ("evaluate", "final"):
        system, user = load_template(name).render(sample, round_index=2)
        text = system["content"] + user["content"]
        assert "{{" not in text and '"name": "get_weather"' in text and "T2 repair: '5' -> 5" in text
    assert render_target([]) == "NO CALL"


def test_prompt_text_does_not_depend_on_key_order():
    """Samples read back from sorted-key JSONL must give the same prompts (and so the same cache keys)."""
    sample = make_sample("Weather in Oslo in fahrenheit?", WORLD["Weather in Oslo in fahrenheit?"])
    sample.messages.append({"role": "tool", "content": {"temp": 4, "city": "Oslo"}})
    shuffled = Sample.from_dict(json.loads(json.dumps(sample.to_dict(), sort_keys=True)))
    for name in ("evaluate", "final"):
        template = load_template(name)
        assert template.render(shuffled, 1) == template.render(sample, 1)
    (_, user) = load_template("evaluate").render(sample, 1)
    assert '{"name": "get_weather", "description": ' in user["content"]  # name first, for the reader
    assert '[{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "f"}}]' in user["content"]
