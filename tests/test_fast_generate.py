"""funrl.fast_generate: every decode step's logits equal the model's own forward on the sampled sequence.

.venv/bin/python -m pytest tests/test_fast_generate.py -q
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from funrl import fast_generate
from funrl.toy.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0)
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def _prompts():
    """Two distinct prompts of different lengths (left-padded), three rows each."""
    torch.manual_seed(0)
    prompts = [torch.randint(5, 200, (9,)), torch.randint(5, 200, (5,))]
    ids = torch.zeros(6, 9, dtype=torch.long)
    mask = torch.zeros(6, 9, dtype=torch.long)
    for row in range(6):
        prompt = prompts[row // 3]
        ids[row, 9 - len(prompt) :], mask[row, 9 - len(prompt) :] = prompt, 1
    return ids, mask


@pytest.mark.parametrize("eos", [[], [7, 11, 13, 17, 19, 23, 29, 31, 37, 41]], ids=["no-eos", "eos-often"])
def test_step_logits_equal_the_model_forward(model, eos):
    ids, mask = _prompts()
    torch.manual_seed(1)
    tokens, logits = fast_generate.sample(
        model, ids, mask, max_new_tokens=12, temperature=1.0, eos_token_ids=eos, pad_token_id=0, return_logits=True
    )
    assert tokens.shape[0] == 6 and tokens.shape[1] <= 12
    sequence = torch.cat([ids, tokens], dim=1)
    full_mask = torch.cat([mask, torch.ones_like(tokens)], dim=1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        reference = model(input_ids=sequence, attention_mask=full_mask, position_ids=positions).logits
    checked = 0
    for row in range(6):
        for step in range(tokens.shape[1]):
            torch.testing.assert_close(logits[row, step], reference[row, 9 + step - 1], rtol=1e-4, atol=1e-4)
            checked += 1
            if tokens[row, step].item() in eos:  # the row ended: later positions are padding
                assert (tokens[row, step + 1 :] == 0).all()
                break
    assert checked >= 6
    if eos:
        assert (tokens == 0).any()  # some row ended early, so the compacted path ran


def test_draws_follow_the_distribution(model):
    """Inverse-CDF draws sample from softmax(logits / T): first-token frequencies match the probabilities."""
    ids, mask = _prompts()
    ids, mask = ids[:1].repeat(4000, 1), mask[:1].repeat(4000, 1)
    _, logits = fast_generate.sample(model, ids[:1], mask[:1], 1, 1.0, [], 0, return_logits=True)
    # the random model is near-uniform: take the highest temperature at which the top token has p >= 0.25
    temperature = next(t for t in (0.2, 0.1, 0.07, 0.05, 0.035, 0.025, 0.018, 0.012, 0.008, 0.005)
                       if torch.softmax(logits[0, 0] / t, -1).max() >= 0.25)  # fmt: skip
    probs = torch.softmax(logits[0, 0] / temperature, dim=-1)
    top = probs.argsort(descending=True)[:3]
    assert 0.25 <= probs[top[0]] <= 0.9
    torch.manual_seed(2)
    tokens = fast_generate.sample(model, ids, mask, 1, temperature, [], 0)
    counts = torch.bincount(tokens[:, 0], minlength=probs.numel()).float() / 4000
    torch.testing.assert_close(counts[top], probs[top], atol=0.03, rtol=0)  # ~4 standard errors at p = 0.5
    # and the draws are not greedy: other tokens than the most likely one occur
    assert (tokens[:, 0] != top[0]).float().mean() > 0.05


def test_supports(model):
    assert fast_generate.supports(model)
    assert not fast_generate.supports(torch.nn.Linear(2, 2))
