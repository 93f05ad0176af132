"""BFCL's multi-turn verdict for one trajectory (the model's raw step texts per turn), with BFCL's rules.

    from funrl.multiturn.checker import check_trajectory
    verdict = check_trajectory(entry, [["[cd(folder='document')]", "Done."], ...], fmt="bfcl-prompt")
    verdict.valid, verdict.reason, verdict.message

The rules of bfcl-eval's `multi_turn_checker` (and its runner), in order:

1. the result must be a list of turns (`multi_turn:inference_error`), as many as the entry has
   (`multi_turn:force_terminated`: the loop stopped the entry after too many steps);
2. each step is decoded with funrl's parser in the model's format; steps that do not decode, or decode to no
   call, are dropped (chat text is ignored);
3. turn by turn, the model's calls run on one set of API instances and the ground truth's on another (both
   keep their state across turns). For a turn whose ground truth is not empty: the model must have made a call
   (`multi_turn:empty_turn_model_response`), every instance's public attributes must equal the ground truth's
   (`multi_turn:instance_state_mismatch`), and the ground truth's results of the turn must all appear (as a
   multiset, in any order) among the model's results of this and every earlier turn
   (`multi_turn:execution_response_mismatch`). A turn with empty ground truth (the model cannot act yet) is
   not checked, but its calls run and can change later states. The first failure decides the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funrl.calls import parse_calls
from funrl.multiturn.data import MultiTurnEntry
from funrl.multiturn.env import Environment, compare_states
from funrl.multiturn.execute import Undecodable, execution_strings, style_of

REASONS = {
    "multi_turn:inference_error": "the result is not a list of turns",
    "multi_turn:force_terminated": "fewer (or more) turns than the entry: the loop stopped it after too many steps",
    "multi_turn:empty_turn_model_response": "no call in a turn whose ground truth has calls",
    "multi_turn:instance_state_mismatch": "an API instance's state differs from the ground truth's after a turn",
    "multi_turn:execution_response_mismatch": "a ground-truth result of a turn is missing from the model's results",
}


@dataclass(frozen=True)
class Verdict:
    """`valid`; `reason` (a key of `REASONS`, None when valid); `message` (what differed); `turn` (0-based)."""

    valid: bool
    reason: str | None = None
    message: str = ""
    turn: int | None = None


def decode_step(text: Any, fmt: str) -> list[str] | None:
    """The call strings BFCL executes for one step, or None when the step is dropped (undecodable or no call)."""
    if not isinstance(text, str):
        return None
    calls = parse_calls(text, fmt).calls
    if not calls:
        return None
    try:
        strings = execution_strings(calls, style_of(fmt))
    except Undecodable:
        return None
    return strings or None


def check_trajectory(entry: MultiTurnEntry, result: Any, fmt: str = "funrl") -> Verdict:
    """BFCL's verdict for `result` (raw step texts per turn) on `entry`; see the module docstring for the rules."""
    if not isinstance(result, list):
        return Verdict(False, "multi_turn:inference_error", "the model result is not a list of turns")
    if len(result) != len(entry.ground_truth):
        return Verdict(
            False,
            "multi_turn:force_terminated",
            f"{len(result)} model turns for {len(entry.ground_truth)} ground-truth turns",
        )
    decoded = [
        [s for s in (decode_step(t, fmt) for t in (turn if isinstance(turn, list) else [turn])) if s]
        for turn in result
    ]
    return check_decoded(entry, decoded)


def check_decoded(entry: MultiTurnEntry, decoded: list[list[list[str]]]) -> Verdict:
    """The per-turn checks on already decoded steps (call strings per step per turn)."""
    model = Environment(entry.involved_classes, entry.initial_config, entry.long_context, entry.api_classes)
    truth = Environment(entry.involved_classes, entry.initial_config, entry.long_context, entry.api_classes)
    all_model_results: list[str] = []
    for turn, (steps, truth_calls) in enumerate(zip(decoded, entry.ground_truth)):
        for step in steps:
            all_model_results.extend(model.execute(step))
        truth_results = truth.execute(truth_calls)
        if not truth_calls:
            continue
        if not steps:
            return Verdict(False, "multi_turn:empty_turn_model_response", f"no call in turn {turn}", turn)
        differing = compare_states(model, truth)
        if differing is not None:
            name, diffs = differing
            return Verdict(
                False,
                "multi_turn:instance_state_mismatch",
                f"turn {turn}: {name} differs from the ground truth in {', '.join(sorted(diffs))}",
                turn,
            )
        remaining = list(all_model_results)
        missing = []
        for item in truth_results:
            try:
                remaining.remove(item)
            except ValueError:
                missing.append(item)
        if missing:
            shown = "; ".join(m[:120] for m in missing[:3])
            return Verdict(
                False,
                "multi_turn:execution_response_mismatch",
                f"turn {turn}: {len(missing)} ground-truth result(s) missing from the model's results: {shown}",
                turn,
            )
    return Verdict(True)
