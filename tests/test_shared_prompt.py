"""funrl.shared_prompt: one forward per distinct prompt gives TRL's log-probabilities, entropies and gradients.

.venv/bin/python -m pytest tests/test_shared_prompt.py -q
"""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from funrl.configs import FunRLConfig
from funrl.shared_prompt import shared_prompt_logps
from funrl.template import to_rl_row
from funrl.toy.tiny_model import build_tiny_model
from funrl.toy.world import generate
from funrl.trainer import FunRLTrainer


def _reward(completions, **kwargs):
    return [float(len(c[0]["content"]) % 2) for c in completions]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    model_dir = build_tiny_model(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0)
    dataset = Dataset.from_list([to_rl_row(s) for s in generate("train", n=8, seed=0)])
    args = FunRLConfig(
        output_dir=str(tmp_path_factory.mktemp("out")),
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=12,
        temperature=1.3,  # not 1, so that a forgotten temperature shows
        beta=0.001,  # a reference model: its forward is shared too
        report_to="none",
        bf16=False,
        activation_checkpointing=False,
    )
    return FunRLTrainer(model=str(model_dir), reward_funcs=[_reward], args=args, train_dataset=dataset)


def _batch(trainer):
    """Two prompts of different lengths (left-padded), 3 rows each, completions of different lengths (right-padded)."""
    torch.manual_seed(0)
    pad = trainer.processing_class.pad_token_id
    prompts = [torch.randint(5, 200, (9,)), torch.randint(5, 200, (6,))]
    rows, masks = [], []
    for prompt in prompts:
        for length in (7, 3, 5):
            completion = torch.randint(5, 200, (length,))
            ids = torch.full((16,), pad)
            mask = torch.zeros(16, dtype=torch.long)
            ids[9 - len(prompt) : 9], mask[9 - len(prompt) : 9] = prompt, 1
            ids[9 : 9 + length], mask[9 : 9 + length] = completion, 1
            rows.append(ids)
            masks.append(mask)
    return torch.stack(rows), torch.stack(masks), 7  # 9 prompt positions, 7 completion positions


@pytest.mark.parametrize("which", ["policy", "reference"])
def test_same_logps_entropies_and_gradients_as_trl(trainer, which):
    model = trainer.model if which == "policy" else trainer.ref_model
    input_ids, mask, keep = _batch(trainer)
    completion_mask = mask[:, -keep:].float()
    entropy = which == "policy"  # TRL computes the reference model's log-probabilities only
    results = []
    for shared in (False, True):
        model.zero_grad()
        if shared:
            logps, entropies = shared_prompt_logps(model, input_ids, mask, keep, compute_entropy=entropy)
        else:
            logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
                model, input_ids, mask, keep, compute_entropy=entropy
            )
        if which == "policy":
            ((logps * completion_mask).sum() + (entropies * completion_mask).sum()).backward()
            grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        else:
            grads = []
        results.append(
            (logps * completion_mask, entropies * completion_mask if entropies is not None else None, grads)
        )
    (logps_trl, ent_trl, grads_trl), (logps_sh, ent_sh, grads_sh) = results
    assert logps_trl.abs().sum() > 0
    torch.testing.assert_close(logps_sh, logps_trl, rtol=1e-5, atol=1e-5)
    if ent_trl is not None:
        torch.testing.assert_close(ent_sh, ent_trl, rtol=1e-5, atol=1e-5)
    assert len(grads_sh) == len(grads_trl)
    for g_sh, g_trl in zip(grads_sh, grads_trl):
        torch.testing.assert_close(g_sh, g_trl, rtol=1e-4, atol=1e-6)


def test_a_wrong_cache_would_show(trainer):
    """The comparison above can fail: pairing rows with the wrong prompt's cache changes the log-probabilities."""
    input_ids, mask, keep = _batch(trainer)
    logps, _ = shared_prompt_logps(trainer.model, input_ids, mask, keep)
    swapped = torch.cat([input_ids[3:, :-keep], input_ids[:3, -keep:]], dim=1)
    swapped_mask = torch.cat([mask[3:, :-keep], mask[:3, -keep:]], dim=1)
    other, _ = shared_prompt_logps(trainer.model, swapped, swapped_mask, keep)
    assert not torch.allclose(logps[:3] * mask[:3, -keep:], other[:3] * mask[:3, -keep:], atol=1e-4)


def test_nothing_to_share(trainer):
    input_ids, mask, keep = _batch(trainer)
    rows = [0, 3]  # one row per prompt
    assert shared_prompt_logps(trainer.model, input_ids[rows], mask[rows], keep) is None
