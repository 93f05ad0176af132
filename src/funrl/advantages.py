"""Entropy-enhanced advantage of FunRL: pure tensor functions, no trainer state.

GRPO gives each rollout one group-normalised advantage `A` (B,). FunRL adds a bonus computed from the policy's
entropy on the rollout's chain of thought (the tokens strictly inside `<think>...</think>`), clipped so that the
sign of `A` never flips (docs/method.md §2):

- form `cheng` (Cheng et al., arXiv 2506.14758): `A + min(alpha * H, |A| / kappa)`;
- form `egpo` (EGPO reproduction plan): `A + lambda * clip(H, -|A| / alpha, |A| / alpha)`.

`H` is detached, so the entropy re-weights updates but is never maximised directly. The result is a per-token
advantage (B, T), which TRL's `GRPOTrainer._compute_loss` accepts as it is.

    from funrl.advantages import CotMasker, entropy_advantages
    cot_mask = CotMasker(tokenizer)(completion_ids, completion_mask)                 # (B, T) bool
    out = entropy_advantages(A, entropies, completion_mask, cot_mask, form="cheng", alpha=0.4, kappa=2.0)
    out.advantages                                                                    # (B, T)

The CoT mask is found in token space from the decoded text of each token, not by matching one token id: in
Qwen2.5's tokenizer `<think>` is several tokens, and how a tag splits depends on its neighbours.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class EntropyAdvantage(NamedTuple):
    """Output of [`entropy_advantages`].

    Attributes:
        advantages (`torch.Tensor` of shape `(B, T)`): `A` broadcast over the tokens plus the bonus.
        bonus (`torch.Tensor` of shape `(B, T)`): the bonus alone, 0 outside the tokens it applies to.
        stats (`torch.Tensor` of shape `(len(STAT_NAMES),)`): sums and counts for logging, in the order of
            `STAT_NAMES`; sums
            add up across micro-batches and processes, ratios are taken at the end by [`stats_to_metrics`].
    """

    advantages: torch.Tensor
    bonus: torch.Tensor
    stats: torch.Tensor


# Sums and counts of `EntropyAdvantage.stats`, in order; the logged ratios pair them (see `stats_to_metrics`).
STAT_NAMES = (
    "bonus_sum",  # bonus summed over completion tokens
    "completion_tokens",
    "capped_units",  # units (tokens or rollouts, by level) with A != 0 where the cap binds
    "units",  # units that receive a bonus and have A != 0
    "cot_entropy_sum",  # entropy summed over think-span tokens
    "cot_tokens",
    "rollouts_with_think",  # rollouts with a non-empty, closed think span
    "rollouts",
    "rollouts_with_bonus",  # rollouts where some completion token got a nonzero bonus
    "bonus_ratio_sum",  # sum over rollouts with A != 0 of (mean bonus per completion token) / |A|
    "rollouts_nonzero_a",  # rollouts with A != 0 (and at least one completion token)
)


def entropy_advantages(
    advantages: torch.Tensor,
    entropies: torch.Tensor,
    completion_mask: torch.Tensor,
    cot_mask: torch.Tensor,
    *,
    form: str = "cheng",
    alpha: float = 0.4,
    kappa: float = 2.0,
    lam: float | None = None,
    level: str = "sequence",
    span: str = "think",
) -> EntropyAdvantage:
    r"""
    Per-token advantages `A + bonus(H)` with the bonus clipped below `|A|`.

    Args:
        advantages (`torch.Tensor` of shape `(B,)`):
            Group-normalised advantage of each rollout.
        entropies (`torch.Tensor` of shape `(B, T)`):
            Policy entropy at each completion position. Detached here.
        completion_mask (`torch.Tensor` of shape `(B, T)`):
            1 on completion tokens, 0 on padding.
        cot_mask (`torch.Tensor` of shape `(B, T)`):
            1 on tokens strictly inside the think span (see [`CotMasker`]); an all-zero row means "no think span".
        form (`str`, *optional*, defaults to `"cheng"`):
            `"cheng"`: bonus `min(alpha * H, |A| / kappa)`. `"egpo"`: bonus `lam * clip(H, -|A| / alpha, |A| / alpha)`.
        alpha (`float`, *optional*, defaults to `0.4`):
            Entropy weight (`cheng`) or clip constant (`egpo`).
        kappa (`float`, *optional*, defaults to `2.0`):
            Cap divisor of form `cheng`.
        lam (`float` or `None`, *optional*):
            Entropy weight of form `egpo` (required there).
        level (`str`, *optional*, defaults to `"sequence"`):
            `"token"`: `H = H_t`, each token of the span gets its own bonus, other tokens none. `"sequence"`:
            `H_i` = mean of `H_t` over the span of rollout i, one bonus on all completion tokens of rollout i.
        span (`str`, *optional*, defaults to `"think"`):
            Tokens whose entropy counts: `"think"` (`cot_mask`) or `"completion"` (`completion_mask`). Rollouts with
            no think span get no bonus in both cases.

    Returns:
        [`EntropyAdvantage`]: advantages `(B, T)`, bonus `(B, T)`, stats `(len(STAT_NAMES),)`.
    """
    if form not in ("cheng", "egpo"):
        raise ValueError(f"form={form!r}: expected 'cheng' or 'egpo'")
    if level not in ("token", "sequence"):
        raise ValueError(f"level={level!r}: expected 'token' or 'sequence'")
    if span not in ("think", "completion"):
        raise ValueError(f"span={span!r}: expected 'think' or 'completion'")
    if form == "egpo" and lam is None:
        raise ValueError("form 'egpo' needs lam (the entropy weight, paper 0.4)")
    if advantages.dim() != 1 or entropies.shape != (advantages.shape[0], completion_mask.shape[1]):
        raise ValueError(
            f"shape mismatch: advantages {tuple(advantages.shape)} must be (B,), entropies "
            f"{tuple(entropies.shape)}, completion_mask {tuple(completion_mask.shape)} and cot_mask "
            f"{tuple(cot_mask.shape)} must be (B, T)"
        )
    dtype = advantages.dtype
    mask = completion_mask.bool()
    cot = cot_mask.bool() & mask
    has_think = cot.any(dim=-1, keepdim=True)  # (B, 1)
    span_mask = cot if span == "think" else mask & has_think  # (B, T)
    h = entropies.detach().to(dtype) * span_mask  # zero outside the span (padding may hold any value)

    if level == "token":
        apply = span_mask  # (B, T)
    else:
        h = h.sum(dim=-1, keepdim=True) / span_mask.sum(dim=-1, keepdim=True).clamp(min=1)  # (B, 1)
        apply = mask & has_think  # (B, T)

    abs_a = advantages.abs().unsqueeze(1)  # (B, 1)
    if form == "cheng":
        raw, cap = alpha * h, abs_a / kappa
        bonus = torch.minimum(raw, cap)
    else:
        bound = abs_a / alpha
        bonus = lam * torch.maximum(torch.minimum(h, bound), -bound)
        raw, cap = lam * h, lam * bound
    bonus = torch.where(apply, bonus, torch.zeros((), dtype=dtype, device=bonus.device))  # (B, T)
    shaped = advantages.unsqueeze(1) + bonus  # (B, T)

    nonzero = abs_a > 0  # (B, 1): where A = 0 the cap is 0 and "binding" would mean nothing
    if level == "token":
        units = apply & nonzero
        capped = (raw >= cap) & units
    else:
        units = has_think & nonzero  # (B, 1)
        capped = (raw >= cap) & units
    tokens = mask.sum(dim=-1)  # (B,)
    per_rollout_bonus = (bonus * mask).sum(dim=-1) / tokens.clamp(min=1)  # (B,) mean bonus per completion token
    rated = (advantages != 0) & (tokens > 0)  # (B,)
    bonus_ratio = torch.where(rated, per_rollout_bonus / advantages.abs().clamp(min=1e-12), 0.0)
    stats = torch.stack(
        [
            (bonus * mask).sum(),
            mask.sum(),
            capped.sum(),
            units.sum(),
            (entropies.detach().to(dtype) * cot).sum(),
            cot.sum(),
            has_think.sum(),
            torch.tensor(advantages.shape[0], device=advantages.device),
            ((bonus != 0) & mask).any(dim=-1).sum(),
            bonus_ratio.sum(),
            rated.sum(),
        ]
    ).to(torch.float32)
    return EntropyAdvantage(shaped, bonus, stats)


def stats_to_metrics(stats: torch.Tensor) -> dict[str, float]:
    """Turn summed `EntropyAdvantage.stats` into the logged `entropy_adv/*` ratios.

    Pool first, then divide: `stats` must already be summed over every micro-batch and process of the logging
    window, so that each ratio is the pooled one (a micro-batch with an empty denominator then weighs nothing,
    instead of adding a 0 to a mean of ratios).

    Returns:
        `bonus_mean`: mean bonus per completion token; `cap_frac`: share of bonus units with `A != 0` where the cap
        binds; `cot_entropy`: mean entropy on think-span tokens; `think_frac`: share of rollouts with a closed,
        non-empty think span; `bonus_rollout_frac`: share of rollouts that got a nonzero bonus;
        `bonus_over_abs_adv`: mean over rollouts with `A != 0` of (mean bonus per completion token) / `|A|`
        (at level `sequence` the bonus of the rollout over `|A|`, at most `1/kappa`). A ratio with a zero
        denominator is 0.
    """
    s = dict(zip(STAT_NAMES, stats.tolist()))

    def ratio(num: str, den: str) -> float:
        return s[num] / s[den] if s[den] > 0 else 0.0

    return {
        "entropy_adv/bonus_mean": ratio("bonus_sum", "completion_tokens"),
        "entropy_adv/cap_frac": ratio("capped_units", "units"),
        "entropy_adv/cot_entropy": ratio("cot_entropy_sum", "cot_tokens"),
        "entropy_adv/think_frac": ratio("rollouts_with_think", "rollouts"),
        "entropy_adv/bonus_rollout_frac": ratio("rollouts_with_bonus", "rollouts"),
        "entropy_adv/bonus_over_abs_adv": ratio("bonus_ratio_sum", "rollouts_nonzero_a"),
    }


# ---------------------------------------------------------------------------------------------------
# The CoT mask, in token space


def cot_mask_from_pieces(pieces: list[str], think_start: str = "<think>", think_end: str = "</think>") -> list[bool]:
    """Which tokens lie strictly inside the first think span, given each token's decoded text.

    The span's interior runs from the end of the first `think_start` to the start of the first `think_end` after it
    (from the start of the completion when `think_start` is empty: the prompt opened the block). A token belongs to
    the span when all its characters lie in the interior. A token that carries any character of a tag, alone or
    merged with a neighbour (`"\n</think>"`, `".</think>"`, `"<think>\n"`, `">Let"`), is a tag token and does
    not: its entropy is the choice to open or close the thought, not the thought's. No closed span, or an interior
    of whitespace only (`<think></think>`, `<think>\n</think>`): all False, whatever the tokenisation.

    Args:
        pieces (`list[str]`): decoded text of each token, in order (length T).
        think_start (`str`): opening tag, or `""`.
        think_end (`str`): closing tag.

    Returns:
        `list[bool]` of length T.
    """
    text = "".join(pieces)
    if think_start:
        open_at = text.find(think_start)
        if open_at < 0:
            return [False] * len(pieces)
        inner_start = open_at + len(think_start)
    else:
        inner_start = 0
    inner_end = text.find(think_end, inner_start)
    if inner_end < 0 or not text[inner_start:inner_end].strip():  # no closing tag, or an empty thought
        return [False] * len(pieces)
    out, pos = [], 0
    for piece in pieces:
        start, end = pos, pos + len(piece)
        out.append(inner_start <= start and end <= inner_end and end > start)
        pos = end
    return out


class CotMasker:
    """Builds the CoT mask `(B, T)` from completion token ids with a tokenizer, in token space.

    Each token id is decoded alone once (cached), and [`cot_mask_from_pieces`] locates the tags in the concatenated
    text, so a tag split into several tokens, or merged with neighbouring characters differently in different
    contexts, is still found; tokens that carry part of a tag are left out of the span.

    Args:
        tokenizer: a Hugging Face tokenizer (anything with `decode(list[int]) -> str`).
        think_start (`str`, *optional*, defaults to `"<think>"`): opening tag, `""` if the prompt opens the block.
        think_end (`str`, *optional*, defaults to `"</think>"`): closing tag.
    """

    def __init__(self, tokenizer: Any, think_start: str = "<think>", think_end: str = "</think>"):
        self.tokenizer = tokenizer
        self.think_start = think_start
        self.think_end = think_end
        self._pieces: dict[int, str] = {}

    def piece(self, token_id: int) -> str:
        text = self._pieces.get(token_id)
        if text is None:
            text = self.tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            self._pieces[token_id] = text
        return text

    def __call__(
        self, completion_ids: torch.Tensor, completion_mask: torch.Tensor, step_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """
        Args:
            completion_ids (`torch.Tensor` of shape `(B, T)`): generated token ids (right-padded).
            completion_mask (`torch.Tensor` of shape `(B, T)`): 1 on real completion tokens.
            step_mask (`torch.Tensor` of shape `(B, T)`, *optional*): TRL's `tool_mask` (1 on model tokens, 0 on
                tool results and other inserted text) for multi-step rollouts: each run of model tokens is one
                assistant step, and the think span of every step is marked.

        Returns:
            `torch.Tensor` of shape `(B, T)`, dtype bool: True strictly inside the think span (of each step).
        """
        ids = completion_ids.tolist()
        lengths = completion_mask.sum(dim=-1).tolist()
        steps = step_mask.tolist() if step_mask is not None else None
        rows = []
        for b, (row, n) in enumerate(zip(ids, lengths)):
            n = int(n)
            inside: list[bool] = []
            start = 0
            while start < n:  # one segment per assistant step (the whole completion without a step mask)
                end = start + 1
                if steps is not None:
                    while end < n and steps[b][end] == steps[b][start]:
                        end += 1
                else:
                    end = n
                if steps is None or steps[b][start]:
                    pieces = [self.piece(t) for t in row[start:end]]
                    inside += cot_mask_from_pieces(pieces, self.think_start, self.think_end)
                else:
                    inside += [False] * (end - start)
                start = end
            rows.append(inside + [False] * (len(row) - len(inside)))
        return torch.tensor(rows, dtype=torch.bool, device=completion_ids.device).reshape(completion_ids.shape)
