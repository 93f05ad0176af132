"""Log-probabilities of GRPO rollouts with one forward pass of each distinct prompt (prompt sharing).

GRPO samples `num_generations` completions per prompt, and TRL's `_get_per_token_logps_and_entropies` runs the
model on every (prompt + completion) row, so each prompt is encoded `num_generations` times, in the policy's
forward and backward and in the reference model's forward. On the toy quickstart (prompts of ~110 tokens,
completions of ~60-130, 8 generations) the prompt is about half of the tokens.

`shared_prompt_logps` encodes each distinct prompt once (all but its last token, keeping the key/value cache),
gives every row a view of its prompt's cache, and runs the rows' last prompt token plus completion through the
model with TRL's fused LM head. The result is the same function of the weights as TRL's single pass (same tokens,
same positions, same attention masks, same temperature-scaled log-softmax and entropy); only the floating-point
summation order differs (`tests/test_shared_prompt.py` compares log-probabilities, entropies and gradients).
Gradients flow through the shared cache, so each prompt token's gradient is the sum over its rows, as in TRL.

    logps, entropies = shared_prompt_logps(model, input_ids, attention_mask, logits_to_keep, compute_entropy=True)

Returns `None` when the batch has no repeated prompt (nothing to share); callers then use TRL's path.
"""

from __future__ import annotations

from typing import Any

import torch


def shared_prompt_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    compute_entropy: bool = False,
    autocast: Any = None,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """
    Per-token log-probabilities (and entropies) of the completions, encoding each distinct prompt once.

    Args:
        model: a causal LM patched by TRL's `add_fused_lm_head` (as `GRPOTrainer` does for the policy and the
            reference model), possibly wrapped (PEFT, DDP).
        input_ids (`torch.Tensor` of shape `(B, P + C)`): left-padded prompts followed by right-padded completions.
        attention_mask (`torch.Tensor` of shape `(B, P + C)`): 1 on real tokens.
        logits_to_keep (`int`): `C`, the number of completion positions.
        compute_entropy (`bool`): also return the entropies.
        autocast: a context manager factory (e.g. `accelerator.autocast`) or `None`.

    Returns:
        `(logps (B, C), entropies (B, C) or None)`, or `None` when no prompt repeats in the batch or the prompt is
        shorter than 2 tokens.
    """
    prompt_len = input_ids.size(1) - logits_to_keep
    if prompt_len < 2:
        return None
    prompt = torch.cat([input_ids[:, :prompt_len], attention_mask[:, :prompt_len]], dim=1)
    unique, inverse = torch.unique(prompt, dim=0, return_inverse=True)
    if unique.size(0) == input_ids.size(0):
        return None
    # The distinct prompts minus their last token, keeping the cache (TRL's patched forward without the fused head).
    head_ids, head_mask = unique[:, : prompt_len - 1], unique[:, prompt_len : 2 * prompt_len - 1]
    context = autocast() if autocast is not None else _null()
    with context:
        out = model(input_ids=head_ids, attention_mask=head_mask, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        cache.batch_select_indices(inverse)  # each row a view of its prompt's keys and values
        # The last prompt token and the completion: position p predicts token p+1, so the C completion tokens are
        # scored from the hidden states of the last prompt token and the first C-1 completion tokens.
        tail = input_ids[:, prompt_len - 1 :]
        labels = tail.masked_fill(attention_mask[:, prompt_len - 1 :] == 0, -100)
        labels[:, 0] = -100
        outputs = model(
            input_ids=tail, attention_mask=attention_mask, past_key_values=cache, labels=labels, fused_lm_head=True
        )
    logps = outputs.log_probs[:, -logits_to_keep:]
    entropies = outputs.entropy[:, -logits_to_keep:] if compute_entropy else None
    return logps, entropies


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
