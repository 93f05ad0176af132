"""BFCL multi-turn: safe dispatch, the conversation loop, `funrl eval` / `funrl score` on multi-turn, hostile input.

The verdicts themselves are checked against the official checker in `tests/test_multiturn_golden.py`. Needs the
bfcl-eval API classes (`bash scripts/setup.sh dev`); skipped without them, except the import-isolation test.
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest
from multiturn_script import ReplayBackend, render_step

from funrl.multiturn.apis import available

needs_apis = pytest.mark.skipif(not available(), reason="bfcl-eval API classes not installed (scripts/setup.sh dev)")
FORMATS = ("funrl", "bfcl-prompt", "qwen-fc")
DATA = Path(__file__).parent / "data" / "score"


def test_import_funrl_never_loads_bfcl_eval():
    code = (
        "import sys, funrl, funrl.evaluate.score, funrl.multiturn.checker, funrl.multiturn.loop\n"
        "import funrl.multiturn.evaluate\n"
        "assert not [m for m in sys.modules if m.startswith(('bfcl_eval', 'mpmath'))], sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def entries(bfcl_dir):
    from funrl.multiturn.data import load_entries

    return {e.id: e for e in load_entries(bfcl_dir, "multi_turn")}


@pytest.fixture()
def fs_env(entries):
    from funrl.multiturn.env import Environment

    e = entries["multi_turn_base_0"]
    return Environment(e.involved_classes, e.initial_config)


# call string -> the exact result. Every row but the last five gives the very string bfcl-eval's
# `execute_multi_turn_func_call` (its `eval`) gives; the last five are where funrl refuses (bounds, expressions it
# does not evaluate) and the official `eval` would run the code.
DISPATCH = [
    ("cd(folder='document')", '{"current_working_directory": "document"}'),  # a public method, keyword argument
    ("sort('final_report.pdf')", '{"error": "sort: final_report.pdf: No such file or directory"}'),  # positional (ground truth)
    ("frobnicate(x=1)", "Error during execution: name 'frobnicate' is not defined"),  # unknown method
    ("cd(path='x')", "Error during execution: GorillaFileSystem.cd() got an unexpected keyword argument 'path'"),
    ("cd()", "Error during execution: GorillaFileSystem.cd() missing 1 required positional argument: 'folder'"),
    ("cd(folder='a', folder='b')", "Error during execution: keyword argument repeated: folder (<string>, line 1)"),
    ("exit(code=0)", "Error during execution: Function call exit is not allowed."),  # BFCL's refused names
    ("os.remove(path='x')", "Error during execution: Function call remove is not allowed."),
    ("os.system(command='ls')", "Error during execution: name 'os' is not defined"),
    ("_load_scenario(scenario={})", "Error during execution: name '_load_scenario' is not defined"),  # private
    ("cd(folder=inf)", "Error during execution: name 'inf' is not defined"),
    ("cd(folder=ls.__globals__)", "Error during execution: name 'ls' is not defined"),
    ("pwd(", "Error during execution: '(' was never closed (<string>, line 1)"),
    ("cd(folder=1 + 2)", "Error during execution: funrl does not evaluate BinOp (only literals and public method calls)"),
    ("cd(folder=(lambda: 1)())", "Error during execution: funrl does not evaluate Lambda (only literals and public method calls)"),
    ("[" * 300 + "]" * 300, "Error during execution: call too large or too deeply nested (funrl's bounds)"),
    ("cd(folder='" + "x" * 300_000 + "')", "Error during execution: call too large or too deeply nested (funrl's bounds)"),
]  # fmt: skip


@needs_apis
@pytest.mark.parametrize(("source", "expected"), DISPATCH)
def test_dispatch_by_name_with_official_error_results(fs_env, source, expected):
    assert fs_env.execute([source]) == [expected]


@needs_apis
def test_execution_strings_follow_bfcl_rendering():
    from funrl.multiturn.execute import FC_STYLE, Undecodable, execution_strings

    calls = [{"f": {"a": [1, "x"], "b": {"k": 1}, "c": {"g": {"y": 2}}}}]
    assert execution_strings(calls) == ["f(a=[1, 'x'], b={'k': 1}, c=g(y=2))"]  # nested dict of dicts: a call
    assert execution_strings(calls, FC_STYLE) == ["f(a=[1, 'x'],b={'k': 1},c={'g': {'y': 2}})"]
    with pytest.raises(Undecodable):
        execution_strings([{"f": {"a": {}}}])  # BFCL's decoder raises IndexError: the step is dropped


@needs_apis
def test_hostile_trajectory_is_never_evaluated_as_code(entries, monkeypatch, tmp_path):
    from funrl.multiturn.checker import check_trajectory
    from funrl.multiturn.loop import Conversation, run_conversations

    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    steps = [
        f"[__import__(name='os'), eval(source={payload!r}), exec(source={payload!r})]",
        f"[echo(content={payload!r}, file_name='x.txt'), cd(folder=__import__('os').getcwd())]",
        "[touch(file_name=open('/etc/passwd').read())]",
        f"{payload}",
    ]

    def forbidden(*args, **kwargs):
        raise AssertionError("model output reached eval/exec/compile(exec)")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    entry = entries["multi_turn_base_0"]
    result = [steps + ["Done."]] + [["Done."]] * (len(entry.ground_truth) - 1)
    verdict = check_trajectory(entry, result, "bfcl-prompt")
    assert not verdict.valid
    replies = iter(steps + ["Done."] * 10)
    conv = Conversation(entry, "bfcl-prompt")
    run_conversations([conv], lambda samples: [next(replies) for _ in samples], progress=False)
    tool_results = [m["content"] for m in conv.messages if m["role"] == "tool"]
    assert "Error during execution: name '__import__' is not defined" in tool_results
    assert "Error during execution: name 'eval' is not defined" in tool_results
    assert not marker.exists()


@needs_apis
@pytest.mark.parametrize("fmt", FORMATS)
def test_loop_replaying_ground_truth_passes(entries, fmt):
    from funrl.multiturn.checker import check_trajectory
    from funrl.multiturn.loop import Conversation, run_conversations

    chosen = [e for e in entries.values() if int(e.id.rsplit("_", 1)[1]) < 4]
    backend = ReplayBackend(chosen)
    convs = [Conversation(e, fmt) for e in chosen]
    run_conversations(convs, lambda samples: backend.generate(samples, fmt), progress=False)
    verdicts = {c.entry.id: check_trajectory(c.entry, c.result, fmt) for c in convs}
    assert all(v.valid for v in verdicts.values()), {k: v for k, v in verdicts.items() if not v.valid}
    # a turn of calls takes two steps (the calls, then the reply without a call); an empty turn one
    for conv in convs:
        assert [len(t) for t in conv.result] == [2 if gt else 1 for gt in conv.entry.ground_truth]


@needs_apis
def test_missing_functions_are_revealed_at_their_turn(entries):
    from funrl.multiturn.loop import ADDED_FUNCTIONS_PROMPT, Conversation

    entry = entries["multi_turn_miss_func_0"]
    (turn, docs) = next(iter(entry.missed.items()))
    assert entry.turns[turn] == [] and docs
    hidden = {d["name"] for d in docs}
    conv = Conversation(entry, "bfcl-prompt")
    assert not hidden & {t["name"] for t in conv.sample().tools}
    while conv.turn < turn:
        conv.feed("No call.")  # each undecodable step ends a turn
    user = [m for m in conv.messages if m["role"] == "user"][-1]["content"]
    assert user == ADDED_FUNCTIONS_PROMPT.format(functions=docs)
    assert not hidden & {t["name"] for t in conv.sample().tools}  # the system prompt keeps the initial functions


@needs_apis
def test_step_limit_force_terminates_the_entry(entries):
    from funrl.multiturn.checker import check_trajectory
    from funrl.multiturn.loop import MAX_STEPS, Conversation

    entry = entries["multi_turn_base_0"]
    conv = Conversation(entry, "bfcl-prompt")
    while not conv.done:
        conv.feed("[pwd()]")
    assert conv.force_quit and len(conv.result) == 1 and len(conv.result[0]) == MAX_STEPS + 1
    assert check_trajectory(entry, conv.result, "bfcl-prompt").reason == "multi_turn:force_terminated"


@needs_apis
def test_mixed_outputs_multi_turn_lines_equal_official(entries):
    from funrl.multiturn.checker import check_trajectory

    official = json.loads((DATA / "mixed_official.json").read_text())["verdicts"]
    rows = [json.loads(line) for line in (DATA / "mixed_outputs.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["id"].startswith("multi_turn")]
    assert len(rows) == 12
    for row in rows:
        v = check_trajectory(entries[row["id"]], row["model_output"], "bfcl-prompt")
        assert [v.valid, v.reason] == official[row["id"]], row["id"]


@needs_apis
@pytest.mark.parametrize("fmt", FORMATS)
def test_funrl_eval_multi_turn_with_scripted_backend_resumes_and_rescores(
    bfcl_dir, entries, monkeypatch, tmp_path, fmt
):
    import funrl.evaluate.run as run
    from funrl.evaluate.score import main as score_main

    backends = []

    def fake_backend(name, **kwargs):
        backends.append(ReplayBackend(list(entries.values())))
        return backends[-1]

    monkeypatch.setattr(run, "make_backend", fake_backend)
    out = tmp_path / "eval"
    argv = ["--model", "scripted", "--categories", "multi_turn,simple_python", "--limit", "2", "--format", fmt]
    argv += ["--data-dir", str(bfcl_dir), "--output", str(out)]
    assert run.main(argv) == 0
    summary = json.loads((out / "results.json").read_text())
    for cat in ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"):
        assert summary["categories"][cat]["scored"] == 2 and summary["categories"][cat]["accuracy"] == 1.0
    assert summary["groups"]["multi_turn"]["value"] == 1.0
    assert (
        "v4_overall" in summary["groups"] and summary["groups"]["v4_overall"]["value"] is None
    )  # single-turn partial
    per_entry = [json.loads(line) for line in (out / "per_entry.jsonl").read_text().splitlines()]
    assert sum(r["category"].startswith("multi_turn") for r in per_entry) == 8
    assert "v4 Overall" in (out / "results.md").read_text()
    # resume: nothing left to generate, no backend built
    assert run.main(argv) == 0 and len(backends) == 1
    # funrl score reads the results file (BFCL's result shape) and gives the same counts
    capsys_out = tmp_path / "score.json"
    with capsys_out.open("w") as handle:
        monkeypatch.setattr(sys, "stdout", handle)
        code = score_main(["--outputs", str(out / "generations_multi_turn.jsonl"), "--format", fmt, "--json",
                           "--data-dir", str(bfcl_dir)])  # fmt: skip
    monkeypatch.undo()
    assert code == 0
    scored = json.loads(capsys_out.read_text())
    for cat, info in scored["categories"].items():
        assert (info["correct"], info["scored"]) == (summary["categories"][cat]["correct"], 2)


@needs_apis
def test_scripted_step_renderings_decode_to_the_same_calls():
    from funrl.multiturn.checker import decode_step

    calls = [("cd", {"folder": "a b"}), ("mean", {"numbers": [1, 2.5]})]
    expected = {"funrl": ["cd(folder='a b')", "mean(numbers=[1, 2.5])"]}
    expected["bfcl-prompt"] = expected["funrl"]
    expected["qwen-fc"] = ["cd(folder='a b')", "mean(numbers=[1, 2.5])"]
    for fmt in FORMATS:
        assert decode_step(render_step(calls, fmt), fmt) == expected[fmt]
        assert decode_step(render_step([], fmt), fmt) is None


@needs_apis
@pytest.mark.parametrize(
    "fmt",
    ["funrl", pytest.param("bfcl-prompt", marks=pytest.mark.slow), pytest.param("qwen-fc", marks=pytest.mark.slow)],
)
def test_loop_with_tiny_model_and_hf_backend(entries, tiny_model_dir, fmt):
    """A real model through the hf backend: a BFCL entry cut to 2 turns and 3 functions (CPU-sized prompts)."""
    import dataclasses

    from funrl.evaluate.backends import make_backend
    from funrl.multiturn.checker import check_trajectory
    from funrl.multiturn.evaluate import valid_result
    from funrl.multiturn.loop import Conversation, run_conversations

    full = entries["multi_turn_base_0"]
    entry = dataclasses.replace(
        full,
        turns=full.turns[:2],
        ground_truth=full.ground_truth[:2],
        functions=[f for f in full.functions if f["name"] in ("cd", "ls", "pwd")],
    )
    backend = make_backend("hf", model=str(tiny_model_dir), max_new_tokens=8, device="cpu", batch_size=2)
    convs = [Conversation(entry, fmt, max_steps=2), Conversation(entry, fmt, max_steps=2)]
    run_conversations(convs, lambda samples: backend.generate(samples, fmt), progress=False)
    for conv in convs:
        assert conv.done and valid_result(conv.result)
        assert conv.result == convs[0].result  # greedy: both conversations identical
        verdict = check_trajectory(entry, conv.result, fmt)
        assert verdict.valid is False and verdict.reason in {
            "multi_turn:empty_turn_model_response",
            "multi_turn:force_terminated",
            "multi_turn:instance_state_mismatch",
            "multi_turn:execution_response_mismatch",
        }


@needs_apis
@pytest.mark.parametrize("fmt", ["bfcl-prompt", "qwen-fc"])
def test_openai_backend_runs_the_conversations(entries, fmt):
    """The openai backend through a real loopback server that replays the ground truth: tool results go back as
    `tool` messages, and the trajectories pass."""
    import types

    from openai_stub import OpenAIStub

    from funrl.evaluate.backends import make_backend
    from funrl.multiturn.checker import check_trajectory
    from funrl.multiturn.loop import Conversation, run_conversations

    chosen = [entries["multi_turn_base_1"], entries["multi_turn_base_2"], entries["multi_turn_miss_func_3"]]
    replay = ReplayBackend(chosen)
    by_first = {e.turns[0][0]["content"]: e for e in chosen}  # the server tells entries apart by their first turn
    assert len(by_first) == len(chosen)

    def answer(request):
        first = next(m["content"] for m in request.messages if m["role"] == "user")
        entry = by_first[first]
        return replay.reply(types.SimpleNamespace(id=entry.id, messages=request.messages), fmt)

    with OpenAIStub(answer) as stub:
        backend = make_backend("openai", model="stub", base_url=stub.base_url, concurrency=3)
        convs = [Conversation(e, fmt) for e in chosen]
        run_conversations(convs, lambda samples: backend.generate(samples, fmt), progress=False)
        roles = {m["role"] for r in stub.requests for m in r.messages}
    assert "tool" in roles
    for conv in convs:
        assert check_trajectory(conv.entry, conv.result, fmt).valid, conv.entry.id
