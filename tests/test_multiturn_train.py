"""Multi-turn FunRL: rollouts that call the toy world's tools (TRL's rollout_func), their masks and reward, the
think span of every step, and the CPU smoke run of `recipes/smoke/funrl_multiturn.yaml`."""

from __future__ import annotations

import contextlib
import json
import re
import types
from pathlib import Path

import pytest
import torch

from funrl.multiturn.checker import check_decoded
from funrl.multiturn.rollout import make_rollout, rows_for
from funrl.toy.multiturn import ToyHome, generate_entries


def test_toy_entries_are_distinct_and_their_ground_truth_passes():
    entries = generate_entries(100, seed=1)
    assert len({e.turns[0][0]["content"] for e in entries}) == 100
    assert all(check_decoded(e, [[t] for t in e.ground_truth]).valid for e in entries)
    assert not check_decoded(entries[0], [[t] for t in reversed(entries[0].ground_truth)]).valid


def test_toy_home_errors_and_state():
    home = ToyHome()
    home._load_scenario({"lights": {"kitchen": False}, "alarms": []})
    assert home.turn_on(room="garage") == {"error": "no room named 'garage'"}
    assert home.turn_on(room="kitchen") == {"room": "kitchen", "light": "on"} and home.lights == {"kitchen": True}


class _ScriptedModel:
    """Stands in for the policy: each turn's first step is the ground truth (or a wrong call), the next `[]`."""

    device = torch.device("cpu")

    def __init__(self, tokenizer, entries, wrong=False):
        self.tokenizer, self.entries, self.wrong = tokenizer, entries, wrong

    def generate(self, input_ids, attention_mask, generation_config):
        text = self.tokenizer.decode(input_ids[0].tolist(), skip_special_tokens=False)
        entry = next(e for e in self.entries if e.turns[0][0]["content"] in text)
        users = [m.start() for m in re.finditer(r"<\|im_start\|>user\n(?!<tool_response>)", text)]
        turn, answered = len(users) - 1, "<answer>" in text[users[-1] :]
        calls = [] if answered else (["turn_on(room='nowhere')"] if self.wrong else entry.ground_truth[turn])
        reply = f"<think>turn {turn}</think>\n<answer>[{', '.join(calls)}]</answer>"
        new = self.tokenizer(reply, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        return torch.tensor([input_ids[0].tolist() + new])


@pytest.mark.parametrize("wrong", [False, True])
def test_rollout_replays_ground_truth_with_masks_and_reward(tiny_model_dir, monkeypatch, wrong):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    entries = generate_entries(4, seed=3)
    model = _ScriptedModel(tokenizer, entries, wrong)
    monkeypatch.setattr("trl.models.utils.unwrap_model_for_generation", lambda *a, **k: contextlib.nullcontext(model))
    rollout_func, reward = make_rollout(entries, "funrl", max_steps=2)
    trainer = types.SimpleNamespace(
        processing_class=tokenizer, model_wrapped=None, accelerator=None, generation_config=None,
        eos_token_ids=[tokenizer.eos_token_id],
    )  # fmt: skip
    rows = rows_for(entries, "funrl")
    out = rollout_func([r["prompt"] for r in rows], trainer)
    expected = 0.0 if wrong else 1.0
    assert out["multi_turn_valid"] == [expected] * 4
    assert reward(completions=[None] * 4, multi_turn_valid=out["multi_turn_valid"]) == [expected] * 4
    for prompt_ids, completion, mask in zip(out["prompt_ids"], out["completion_ids"], out["env_mask"]):
        assert len(completion) == len(mask) and prompt_ids
        model_text = tokenizer.decode([t for t, m in zip(completion, mask) if m], skip_special_tokens=False)
        env_text = tokenizer.decode([t for t, m in zip(completion, mask) if not m], skip_special_tokens=False)
        assert model_text.count("<answer>") == 4  # 2 turns x (the calls, then []): only model tokens unmasked
        assert "<tool_response>" in env_text and "<answer>" not in env_text and "<think>" not in env_text
        assert completion[-1] == tokenizer.eos_token_id
        # the policy conditioned on exactly prompt + completion: the whole text is the conversation's rendering
        full = tokenizer.decode(prompt_ids + completion, skip_special_tokens=False)
        assert full.count("<|im_start|>user\n<tool_response>") >= 2


def test_cot_mask_marks_the_think_span_of_every_step():
    from funrl.advantages import CotMasker

    pieces = {1: "<think>", 2: "</think>", 3: "a", 4: "x"}
    masker = CotMasker(types.SimpleNamespace(decode=lambda ids, **kw: pieces[ids[0]]))
    ids = torch.tensor([[1, 3, 2, 4, 4, 1, 3, 3, 2, 4]])
    full = torch.ones_like(ids)
    assert masker(ids, full).int().tolist() == [[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]]  # single-turn: the first span
    steps = torch.tensor([[1, 1, 1, 1, 0, 1, 1, 1, 1, 1]])  # two assistant steps around a tool result
    assert masker(ids, full, steps).int().tolist() == [[0, 1, 0, 0, 0, 0, 1, 1, 0, 0]]


def test_smoke_recipe_trains_multi_turn_on_cpu(tmp_path):
    from funrl.train import main

    out = tmp_path / "run"
    code = main(
        ["--config", str(Path(__file__).parents[1] / "recipes" / "smoke" / "funrl_multiturn.yaml"), "--output_dir", str(out), "--max_steps", "1",
         "--max_completion_length", "16", "--max_train_samples", "8"]
    )  # fmt: skip
    assert code in (0, None)
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    logged = {k for row in history for k in row}
    for key in ("reward", "rewards/multi_turn/mean", "kl", "entropy", "entropy_adv/bonus_mean"):
        assert key in logged, key
    assert (out / "model.safetensors").is_file() or any(out.glob("*.safetensors"))


@pytest.mark.parametrize("bad", [["funrl"], ["multi_turn", "format"]])
def test_multi_turn_needs_the_multi_turn_reward(bad):
    from funrl.configs import FunRLScriptArguments
    from funrl.rl_trainer import build_multi_turn

    args = FunRLScriptArguments(dataset_name="toy-multiturn", reward_funcs=bad, max_train_samples=4)
    with pytest.raises(ValueError, match="reward_funcs: \\[multi_turn\\]"):
        build_multi_turn(args)
