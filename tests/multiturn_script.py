"""A scripted generation backend for multi-turn tests: it replays each entry's ground truth as a model would.

At the first step of a turn it answers all of the turn's ground-truth calls (positional arguments named from the
method signatures, as a model must write them) in the requested format; at the next step (or in a turn whose
ground truth is empty) it answers without a call, which ends the turn. It has the backends' interface
(`generate(samples, fmt, on_result=None)`; single-turn samples get their target), so `funrl eval` and the conversation loop run it unchanged.
"""

from __future__ import annotations

import ast
import inspect
import json

from funrl.multiturn.data import MultiTurnEntry
from funrl.multiturn.env import Environment


def keyword_turns(entry: MultiTurnEntry) -> list[list[tuple[str, dict]]]:
    """The entry's ground truth as `(name, kwargs)` per turn, positional arguments named from the signatures."""
    methods = Environment(entry.involved_classes, entry.initial_config).methods
    out = []
    for turn in entry.ground_truth:
        calls = []
        for source in turn:
            node = ast.parse(source, mode="eval").body
            params = list(inspect.signature(methods[node.func.id]).parameters)
            kwargs = {params[i]: ast.literal_eval(a) for i, a in enumerate(node.args)}
            kwargs.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
            calls.append((node.func.id, kwargs))
        out.append(calls)
    return out


def render_step(calls: list[tuple[str, dict]], fmt: str) -> str:
    """Calls as one model step in `fmt` (no calls: the format's way of saying the turn is done)."""
    if fmt == "qwen-fc":
        if not calls:
            return "The request is complete."
        return "\n".join(f"<tool_call>\n{json.dumps({'name': n, 'arguments': a})}\n</tool_call>" for n, a in calls)
    body = "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in calls) + "]"
    if fmt == "funrl":
        return f"<think>Next calls.</think>\n<answer>{body}</answer>"
    return body if calls else "The request is complete."


class ReplayBackend:
    """Replays ground truth; `calls` counts the prompts it answered."""

    def __init__(self, entries: list[MultiTurnEntry]):
        self.turns = {e.id: keyword_turns(e) for e in entries}
        self.calls = 0

    def reply(self, sample, fmt: str) -> str:
        if sample.id not in self.turns:  # a single-turn entry: its ground truth in the format's target
            from funrl.template import render_target

            return render_target(sample, fmt)
        users = [i for i, m in enumerate(sample.messages) if m["role"] == "user"]
        turn = len(users) - 1
        answered = any(m["role"] == "assistant" for m in sample.messages[users[-1] :])
        calls = [] if answered else self.turns[sample.id][turn]
        return render_step(calls, fmt)

    def generate(self, samples, fmt, on_result=None):
        texts = []
        for i, sample in enumerate(samples):
            self.calls += 1
            texts.append(self.reply(sample, fmt))
            if on_result:
                on_result(i, texts[-1], False)  # (index, text, truncated): the backends' callback
        return texts
