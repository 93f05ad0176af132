"""Tests of `funrl.rewards`: annotated reward tables, agreement with `check_output` and the official checker,
TRL plumbing (signature, conversational completions, reason logging, pickling) and the registry.

    .venv/bin/python -m pytest tests/test_rewards.py -q
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import pickle
from pathlib import Path

import pytest

import funrl.rewards
from funrl.calls import check_output, parse_calls
from funrl.calls.treesitter import available
from funrl.rewards import REWARD_KINDS, CallReward, completion_text, load_reward_funcs, score_completion
from funrl.schema import Sample

# the one way to get rewards: load_reward_funcs (CallReward instances)
funrl_reward, format_reward, ast_match_reward = load_reward_funcs(REWARD_KINDS)

DATA = Path(__file__).parent / "data" / "score"

TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
            "required": ["city"],
        },
    },
    {
        "name": "convert",
        "description": "Convert an amount of money.",
        "parameters": {
            "type": "object",
            "properties": {"amount": {"type": "number"}, "to": {"type": "string"}, "count": {"type": "integer"}},
            "required": ["amount", "to"],
        },
    },
]
WEATHER = [{"get_weather": {"city": ["Paris"], "unit": ["C", ""]}}]
CONVERT = [{"convert": {"amount": [20.0], "to": ["USD"], "count": [1, ""]}}]
BOTH = WEATHER + CONVERT


def T(answer: str, think: str = "reason") -> str:  # noqa: N802 (short helper for the tables)
    return f"<think>{think}</think><answer>{answer}</answer>"


# (completion, ground truth, category, (funrl, format, ast_match)) with why
CASES = [
    (T("[get_weather(city='Paris')]"), WEATHER, "simple", (1, 1, 1)),  # template + match; optional unit omitted
    (T("[get_weather(city='paris', unit='C')]"), WEATHER, "simple", (1, 1, 1)),  # strings compare case-folded
    ("\n" + T("[get_weather(city='Paris')]") + "\n", WEATHER, "simple", (1, 1, 1)),  # whitespace around is fine
    (T("[get_weather(city='London')]"), WEATHER, "simple", (0, 1, 0)),  # wrong value: format alone passes
    (T("[get_weather()]"), WEATHER, "simple", (0, 1, 0)),  # missing required parameter
    (T("[get_weather(city='Paris', unit='K')]"), WEATHER, "simple", (0, 1, 0)),  # optional value not allowed
    (T("[get_weather(city='Paris', days=3)]"), WEATHER, "simple", (0, 1, 0)),  # unknown parameter
    (T("[get_wheather(city='Paris')]"), WEATHER, "simple", (0, 1, 0)),  # wrong function name
    (T("[get_weather('Paris')]"), WEATHER, "simple", (0, 1, 0)),  # positional args are dropped (BFCL quirk)
    (T("[get_weather(city='Paris'), get_weather(city='Paris')]"), WEATHER, "simple", (0, 1, 0)),  # extra call
    (T("[convert(amount=20, to='USD')]"), CONVERT, "multiple", (1, 1, 1)),  # int accepted for a float parameter
    (T("[convert(amount=20.0, to='USD', count=1.0)]"), CONVERT, "multiple", (0, 1, 0)),  # float for an integer
    (T("[convert(amount=True, to='USD')]"), CONVERT, "multiple", (0, 1, 0)),  # bool is not a number
    # BFCL quirk kept: the simple checker takes the first tool, so "simple" entries have exactly one tool
    (T("[convert(amount=20.0, to='USD')]"), CONVERT, "simple", (0, 1, 0)),
    (T("[convert(amount=20.0, to='USD')]"), CONVERT, "multiple", (1, 1, 1)),  # multiple: one call, the right one
    (T("[get_weather(city='Paris')]"), CONVERT, "multiple", (0, 1, 0)),  # multiple: picked the wrong function
    (T("[convert(amount=20.0, to='USD'), get_weather(city='Paris')]"), BOTH, "parallel", (1, 1, 1)),  # any order
    (T("[get_weather(city='Paris')]"), BOTH, "parallel", (0, 1, 0)),  # parallel: a call is missing
    (T("[]"), [], "irrelevance", (1, 1, 1)),  # irrelevance: no call is right
    (T("[get_weather(city='Paris')]"), [], "irrelevance", (0, 1, 0)),  # irrelevance: calling is wrong
    (T("[get_weather(city='Rome')]"), [], "relevance", (1, 1, 1)),  # relevance: any call passes
    (T("[]"), [], "relevance", (0, 1, 0)),  # relevance: no call fails
    # template violations: the funrl reward is 0 even when the calls match (the evaluator is lenient)
    ("[get_weather(city='Paris')]", WEATHER, "simple", (0, 0, 0)),  # no template at all: no answer block
    ("<think>r\n<answer>[get_weather(city='Paris')]</answer>", WEATHER, "simple", (0, 0, 1)),  # </think> missing
    ("<think>r</think>Sure! " + "<answer>[get_weather(city='Paris')]</answer>", WEATHER, "simple", (0, 0, 1)),
    (T("get_weather(city='Paris')"), WEATHER, "simple", (0, 0, 1)),  # answer body not a list
    (T("[get_weather(city='Paris')]") + T("[]"), WEATHER, "simple", (0, 0, 1)),  # tags twice
    ("<answer>[get_weather(city='Paris')]</answer>", WEATHER, "simple", (0, 0, 1)),  # no think block
    (T("I cannot help with that."), [], "irrelevance", (0, 0, 1)),  # refusal must be written as []
    (T("[get_weather(city='Paris'"), WEATHER, "simple", (0, 0, 0)),  # unparsable answer
    ("", WEATHER, "simple", (0, 0, 0)),  # empty completion
]


@pytest.mark.parametrize(("completion", "gt", "category", "expected"), CASES)
def test_reward_table(completion, gt, category, expected):
    kwargs = {"ground_truth": [gt], "tools": [TOOLS], "category": [category]}
    got = tuple(
        f(prompts=["q"], completions=[completion], **kwargs)[0]
        for f in (funrl_reward, format_reward, ast_match_reward)
    )
    assert got == expected


@pytest.mark.parametrize(("completion", "gt", "category", "expected"), CASES)
def test_score_completion_matches_reward_and_explains(completion, gt, category, expected):
    reward, reason = score_completion(completion, json.dumps(gt), json.dumps(TOOLS), category)
    assert reward == expected[0]
    if reward == 1.0:
        assert reason == "ok"
    elif expected[1] == 0:
        assert reason.startswith("format:")  # e.g. format:no_answer, format:tag_count
    else:
        # a BFCL error type, the same one the evaluator reports
        sample = Sample(id="x", messages=[], tools=TOOLS, ground_truth=gt, category=category)
        assert reason == check_output(completion, sample, "funrl").reason


JAVA = available("java")

# reasons are stable codes the trainer counts
REASON_CASES = [
    ("[get_weather(city='Paris')]", WEATHER, "simple", "format:no_answer"),
    ("<think>r\n<answer>[get_weather(city='Paris')]</answer>", WEATHER, "simple", "format:tag_count"),
    (T("[get_weather(city='Paris')]") + " ok", WEATHER, "simple", "format:text_outside_tags"),
    (T("[get_weather()]"), WEATHER, "simple", "simple_function_checker:missing_required"),
    (T("[get_weather(city='Rome')]"), WEATHER, "simple", "value_error:string"),
    (T("[get_weather(city='Paris')]"), [], "irrelevance", "irrelevance_error:decoder_success"),
    (T("[]"), [], "live_relevance", "relevance_error:decoder_failed"),
    # Java / JavaScript: decoded as Java (tree-sitter); these Python-typed tools have no Java types, on which the
    # official checker raises (without funrl[bfcl-java] the reason is unsupported_language, not a template error)
    (
        T("[get_weather(city='Paris')]"),
        WEATHER,
        "simple_java",
        "checker_exception" if JAVA else "unsupported_language",
    ),
    (T("[get_weather(city='Paris')]"), WEATHER, "simple", "ok"),
]


@pytest.mark.parametrize(("completion", "gt", "category", "reason"), REASON_CASES)
def test_reason_codes(completion, gt, category, reason):
    assert score_completion(completion, gt, TOOLS, category)[1] == reason


class TestOtherFormats:
    def test_qwen_fc(self):
        block = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        reward = CallReward("funrl", "qwen-fc")
        assert reward.__name__ == "funrl_reward_qwen_fc"
        assert reward(completions=[block], ground_truth=[WEATHER], tools=[TOOLS], category=["simple"]) == [1.0]
        wrong = block.replace("Paris", "Rome")
        assert reward(completions=[wrong], ground_truth=[WEATHER], tools=[TOOLS], category=["simple"]) == [0.0]

    def test_bfcl_prompt(self):
        reward = CallReward("funrl", "bfcl-prompt")
        cols = {"ground_truth": [WEATHER] * 2, "tools": [TOOLS] * 2, "category": ["simple"] * 2}
        assert reward(completions=["[get_weather(city='Paris')]", T("[get_weather(city='Paris')]")], **cols) == [
            1.0,
            0.0,  # the funrl template is not bare prompt-mode output
        ]

    def test_unknown_format_lists_valid(self):
        with pytest.raises(ValueError, match="unknown output format 'json'; valid: funrl, bfcl-prompt, qwen-fc"):
            CallReward("funrl", "json")


class TestTrlPlumbing:
    def test_conversational_completions(self):
        completion = [{"role": "assistant", "content": T("[get_weather(city='Paris')]")}]
        out = funrl_reward(
            prompts=[[{"role": "user", "content": "q"}]],
            completions=[completion],
            ground_truth=[json.dumps(WEATHER)],
            tools=[json.dumps(TOOLS)],
            category=["simple"],
            id=["row-1"],
            trainer_state=object(),  # TRL passes these; they must be accepted and ignored
            completion_ids=[[1, 2, 3]],
        )
        assert out == [1.0]

    @pytest.mark.parametrize(
        ("completion", "text"),
        [
            ("plain", "plain"),
            ([{"role": "assistant", "content": "a"}], "a"),
            ([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}], "ab"),
            ([{"role": "tool", "content": "result"}, {"role": "assistant", "content": "x"}], "x"),  # tool output
            ([{"role": "assistant", "content": None}], ""),
        ],
    )
    def test_completion_text(self, completion, text):
        assert completion_text(completion) == text

    def test_none_ground_truth_is_not_scorable(self):
        out = funrl_reward(completions=["a", T("[]")], ground_truth=[None, "[]"], tools=["[]", "[]"],
                           category=["simple", "irrelevance"])  # fmt: skip
        assert out == [None, 1.0]

    def test_missing_column_is_a_clear_error(self):
        with pytest.raises(ValueError, match="column 'category' must have one value per completion \\(1\\); missing"):
            funrl_reward(completions=["x"], ground_truth=[WEATHER], tools=[TOOLS])

    def test_bad_json_column_is_a_clear_error(self):
        with pytest.raises(ValueError, match="'ground_truth' holds a string that is not valid JSON"):
            funrl_reward(completions=["x"], ground_truth=["[{"], tools=["[]"], category=["simple"])

    def test_logs_reasons_through_trl_hooks(self):
        extra, metrics = {}, {}
        reward = CallReward()
        completions = [T("[get_weather(city='Paris')]"), T("[get_weather()]"), "no template", T("[]")]
        out = reward(
            completions=completions,
            ground_truth=[WEATHER, WEATHER, WEATHER, None],
            tools=[TOOLS] * 4,
            category=["simple"] * 4,
            log_extra=lambda column, values: extra.setdefault(column, []).extend(values),
            log_metric=lambda name, value: metrics.setdefault(name, []).append(value),
        )
        assert out == [1.0, 0.0, 0.0, None]
        assert extra == {"funrl_reward_reason": ["ok", "simple_function_checker:missing_required",
                                                 "format:no_answer", None]}  # fmt: skip
        prefix = "rewards/funrl_reward/reason/"
        assert metrics == {
            prefix + "ok": [1 / 3],
            prefix + "simple_function_checker/missing_required": [1 / 3],
            prefix + "format/no_answer": [1 / 3],
        }
        # next batch: reasons seen before are logged as 0.0 so TRL's per-step average stays a true frequency
        reward(
            completions=[T("[get_weather(city='Paris')]")],
            ground_truth=[WEATHER],
            tools=[TOOLS],
            category=["simple"],
            log_metric=lambda name, value: metrics[name].append(value),
        )
        assert metrics[prefix + "ok"] == [1 / 3, 1.0]
        assert metrics[prefix + "format/no_answer"] == [1 / 3, 0.0]

    def test_trl_passes_the_logging_hooks(self):
        # contract with the pinned TRL: GRPOTrainer hands these kwargs to reward functions (read, not imported)
        source = Path(importlib.util.find_spec("trl").origin).parent / "trainer" / "grpo_trainer.py"
        text = source.read_text()
        for hook in ('reward_kwargs["log_extra"]', 'reward_kwargs["log_metric"]', 'reward_kwargs["trainer_state"]'):
            assert hook in text, f"TRL no longer passes {hook}; re-sync funrl.rewards with TRL"

    def test_identical_completions_of_a_row_are_checked_once(self, monkeypatch):
        calls = []
        real = funrl.rewards._score
        monkeypatch.setattr(funrl.rewards, "_score", lambda *a: calls.append(a[0]) or real(*a))
        right, wrong = T("[get_weather(city='Paris')]"), T("[get_weather(city='Rome')]")
        gt, tools = json.dumps(WEATHER), json.dumps(TOOLS)
        out = funrl_reward(
            completions=[right, wrong, right, right, right],
            ground_truth=[gt, gt, gt, gt, json.dumps([{"get_weather": {"city": ["Rome"]}}])],  # last: another row
            tools=[tools] * 5,
            category=["simple"] * 5,
        )
        assert out == [1.0, 0.0, 1.0, 1.0, 0.0]
        assert calls == [right, wrong, right]  # the repeats of row 1 reuse its verdicts; row 2 is checked

    def test_picklable_with_name(self):
        for reward in (funrl_reward, format_reward, ast_match_reward, CallReward("funrl", "qwen-fc")):
            clone = pickle.loads(pickle.dumps(reward))
            assert clone.__name__ == reward.__name__ and repr(clone) == repr(reward)
            args = {"completions": [T("[]")], "ground_truth": ["[]"], "tools": ["[]"], "category": ["irrelevance"]}
            assert clone(**args) == reward(**args)


class TestRegistry:
    def test_names(self):
        assert REWARD_KINDS == ("funrl", "format", "ast_match")
        funcs = load_reward_funcs(REWARD_KINDS)
        assert [f.__name__ for f in funcs] == ["funrl_reward", "format_reward", "ast_match_reward"]
        assert all(isinstance(f, CallReward) for f in funcs)

    def test_load_by_name_and_format(self):
        funcs = load_reward_funcs(["ast_match", "format"], fmt="bfcl-prompt")
        assert [f.__name__ for f in funcs] == ["ast_match_reward_bfcl_prompt", "format_reward_bfcl_prompt"]

    def test_load_dotted_path(self):
        assert load_reward_funcs("funrl.rewards.completion_text") == [completion_text]

    @pytest.mark.parametrize("name", ["accuracy", "funrl.rewards.nope", "funrl.rewards.REWARD_KINDS", "no.such.mod"])
    def test_unknown_name_lists_valid_names(self, name):
        with pytest.raises(
            ValueError, match=f"unknown reward function '{name}'; valid names: funrl, format, ast_match"
        ):
            load_reward_funcs([name])

    def test_unknown_kind(self):
        with pytest.raises(ValueError, match="unknown reward kind 'len'; valid: funrl, format, ast_match"):
            CallReward("len")


def test_doctests():
    assert doctest.testmod(funrl.rewards).failed == 0


# ---------------------------------------------------------------------------------------------------
# One checker: the reward equals the evaluator's verdict (and the official checker's) on a fixture set


@pytest.fixture(scope="module")
def fixture_set(bfcl_dir):
    """Single-turn lines of tests/data/score/mixed_outputs.jsonl with their BFCL samples and official verdicts."""
    from funrl.bfcl import load_bfcl

    official = json.loads((DATA / "mixed_official.json").read_text())["verdicts"]
    rows = [json.loads(line) for line in (DATA / "mixed_outputs.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "output" in r and r["category"] not in ("simple_java", "simple_javascript")]
    samples = {s.id: s for s in load_bfcl(bfcl_dir, sorted({r["category"] for r in rows}))}
    return [(r["output"], samples[r["id"]], official[r["id"]][0]) for r in rows]


def _columns(items):
    return {
        "ground_truth": [json.dumps(s.ground_truth) for _, s, _ in items],
        "tools": [json.dumps(s.tools) for _, s, _ in items],
        "category": [s.category for _, s, _ in items],
    }


def test_ast_match_reward_equals_check_output_and_official(fixture_set):
    outputs = [o for o, _, _ in fixture_set]
    rewards = CallReward("funrl", "bfcl-prompt").score_batch(outputs, **_columns(fixture_set))
    ast = load_reward_funcs(["ast_match"], fmt="bfcl-prompt")[0](completions=outputs, **_columns(fixture_set))
    assert len(fixture_set) >= 130
    for (output, sample, official_valid), value, (funrl_value, _) in zip(fixture_set, ast, rewards):
        verdict = check_output(output, sample, "bfcl-prompt")
        assert value == float(verdict.ok) == float(official_valid), (sample.id, output)
        assert funrl_value == float(verdict.ok and parse_calls(output, "bfcl-prompt").format_ok), sample.id


def test_funrl_reward_equals_format_and_match_on_fixture_set(fixture_set):
    # the same outputs inside the funrl template, half of them with a broken template
    items = []
    for k, (output, sample, valid) in enumerate(fixture_set):
        text = T(output) if k % 2 else f"<think>r</think>{output}"
        items.append((text, sample, valid))
    completions = [t for t, _, _ in items]
    funrl = funrl_reward(completions=completions, **_columns(items))
    ast = ast_match_reward(completions=completions, **_columns(items))
    fmt = format_reward(completions=completions, **_columns(items))
    for (text, sample, _), f, a, m in zip(items, funrl, ast, fmt):
        verdict = check_output(text, sample, "funrl")
        language = "python" if "relevance" in sample.category else sample.language
        assert a == float(verdict.ok), sample.id
        assert m == float(parse_calls(text, "funrl", language).format_ok), sample.id
        assert f == float(a == 1.0 and m == 1.0), sample.id
    assert 0 < sum(funrl) < len(funrl)  # the set has both outcomes
