"""The multi-turn conversation loop as BFCL runs it, for any generator of completions (backend, scripted, trainer).

    convs = [Conversation(entry, "bfcl-prompt") for entry in entries]
    run_conversations(convs, lambda samples: backend.generate(samples, "bfcl-prompt"))
    convs[0].result          # raw step texts per turn: what `check_trajectory` scores

BFCL's rules (its prompting inference loop, which the local-model handlers use in every format):

- each turn adds its user messages; in `multi_turn_miss_func` the turn that reveals held-out functions has none,
  and gets one user message listing those functions' docs followed by "I have updated some more functions you
  can choose from. What about now?" (the system prompt keeps the initial functions);
- within a turn the model is asked again and again: a step whose calls decode (funrl's parser, the model's
  format) is executed on the entry's `Environment` and each result comes back as a `tool` message; a step that
  does not decode, or decodes to no call, ends the turn;
- after `MAX_STEPS` + 1 executed steps in one turn the entry is stopped: its result then has fewer turns than the
  entry and the checker fails it (`multi_turn:force_terminated`).

Conversations advance in lock step, so each round is one batched `generate` call over every active conversation.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Sequence
from typing import Any

from funrl.multiturn.checker import decode_step
from funrl.multiturn.data import MultiTurnEntry
from funrl.multiturn.env import Environment
from funrl.schema import Sample, normalize_tools

MAX_STEPS = 20  # BFCL's MAXIMUM_STEP_LIMIT
ADDED_FUNCTIONS_PROMPT = "{functions}\nI have updated some more functions you can choose from. What about now?"
# The funrl template's system prompt is single-turn; in multi-turn conversations it gets BFCL's turn rule.
FUNRL_MULTI_TURN_NOTE = (
    "At each turn, complete the user's request with as many steps as needed: each <answer> is executed and its "
    "results come back in <tool_response> blocks. When no more calls are needed, reply with <answer>[]</answer>."
)


class Conversation:
    """One entry's conversation: messages so far, the entry's live environment, and the raw steps per turn."""

    def __init__(self, entry: MultiTurnEntry, fmt: str, max_steps: int = MAX_STEPS):
        self.entry, self.fmt, self.max_steps = entry, fmt, max_steps
        self.env = Environment(entry.involved_classes, entry.initial_config, entry.long_context, entry.api_classes)
        self.messages: list[dict[str, Any]] = []
        if fmt == "funrl":
            self.messages.append({"role": "system", "content": FUNRL_MULTI_TURN_NOTE})
        self.tools = normalize_tools(entry.functions)
        self.result: list[list[str]] = []
        self.turn, self.steps, self.done, self.force_quit = -1, 0, False, False
        self._start_turn(0)

    def _start_turn(self, turn: int) -> None:
        if turn >= len(self.entry.turns):
            self.done = True
            return
        messages = copy.deepcopy(self.entry.turns[turn])
        if turn in self.entry.missed:
            messages = [{"role": "user", "content": ADDED_FUNCTIONS_PROMPT.format(functions=self.entry.missed[turn])}]
        if self.messages and self.messages[0]["role"] == "system" and messages and messages[0]["role"] == "system":
            self.messages[0]["content"] += "\n\n" + messages.pop(0)["content"]
        self.messages.extend(messages)
        self.result.append([])
        self.turn, self.steps = turn, 0

    def sample(self) -> Sample:
        """The prompt of the next step as a `Sample` (so every backend and `funrl.template` render it)."""
        return Sample(
            id=self.entry.id,
            messages=copy.deepcopy(self.messages),
            tools=self.tools,
            ground_truth=[],
            category=self.entry.category,
            source="bfcl",
            meta={"bfcl_functions": self.entry.functions},
        )

    def feed(self, text: str) -> list[str] | None:
        """Record the model's step; execute its calls (their results are returned) or end the turn (None)."""
        if self.done:
            raise RuntimeError(f"{self.entry.id}: the conversation is over")
        self.result[-1].append(text)
        self.messages.append({"role": "assistant", "content": text})
        calls = decode_step(text, self.fmt)
        if calls is None:
            self._start_turn(self.turn + 1)
            return None
        results = self.env.execute(calls)
        self.messages.extend({"role": "tool", "name": c, "content": r} for c, r in zip(calls, results))
        self.steps += 1
        if self.steps > self.max_steps:
            self.done = self.force_quit = True
        return results


def run_conversations(
    conversations: Sequence[Conversation],
    generate: Callable[[list[Sample]], list[str]],
    on_done: Callable[[Conversation], None] | None = None,
    progress: bool = True,
) -> None:
    """Advance every conversation to its end, one batched `generate` call per round; `on_done` as each ends."""
    for conv in conversations:
        if conv.done and on_done:
            on_done(conv)
    active = [c for c in conversations if not c.done]
    rounds = 0
    while active:
        rounds += 1
        if progress:
            print(f"multi-turn round {rounds}: {len(active)} conversations active", file=sys.stderr)
        texts = generate([c.sample() for c in active])
        if len(texts) != len(active):
            raise RuntimeError(f"generate returned {len(texts)} texts for {len(active)} prompts")
        for conv, text in zip(active, texts):
            conv.feed(text)
            if conv.done and on_done:
                on_done(conv)
        active = [c for c in active if not c.done]
