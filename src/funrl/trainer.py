"""`FunRLTrainer`: TRL's `GRPOTrainer` with FunRL's entropy-enhanced advantage (arXiv 2508.05118).

The advantage math lives in `funrl.advantages` (pure tensor functions); this file only wires it into TRL 1.16's
loss without an extra forward pass. `FunRLTrainer(..., args=FunRLConfig(use_entropy_adv=False))` is plain GRPO in
the same harness, so FunRL and its baseline differ in one switch.

    from funrl.configs import FunRLConfig
    from funrl.rewards import load_reward_funcs
    from funrl.trainer import FunRLTrainer

    trainer = FunRLTrainer(model="path/to/model", reward_funcs=load_reward_funcs(["funrl"]),
                           args=FunRLConfig(output_dir="runs/x", beta=0.001, loss_type="grpo"),
                           train_dataset=dataset)    # rows from funrl.template.to_rl_row
    trainer.train()

The methods overridden here are a contract with the pinned TRL version: tests/test_trainer_contract.py fails with
"re-sync FunRLTrainer with TRL ..." when TRL changes them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer

from funrl.advantages import CotMasker, entropy_advantages, stats_to_metrics
from funrl.configs import FunRLConfig
from funrl.model_card import FUNRL_PAPER, ModelCardMixin


class FunRLTrainer(ModelCardMixin, GRPOTrainer):
    """
    GRPO with FunRL's entropy-enhanced advantage. How it differs from TRL's [`GRPOTrainer`]:

    1. The advantage `A` of each rollout (B,) becomes a per-token advantage (B, T): `A + min(alpha * H, |A| / kappa)`
       (form `cheng`) or `A + lambda * clip(H, -|A| / alpha, |A| / alpha)` (form `egpo`), see `funrl.advantages`.
       The bonus is >= 0 and below `|A|`: it never flips the sign of `A` and is 0 when `A = 0`.
    2. `H` is the policy's entropy on the chain of thought (tokens strictly inside `<think>...</think>`), per token or
       averaged per rollout (`entropy_adv_level`), detached. It comes from the forward pass that `_compute_loss`
       already runs for the log-probabilities: no extra forward. It is the entropy under the current policy of the
       optimisation step (pi_theta; equal to pi_old at the first iteration on a batch).
    3. The think span is found in token space from each token's decoded text (`funrl.advantages.CotMasker`), so tags
       that the tokenizer splits into several tokens are handled. A rollout without a closed think span gets no
       bonus.
    4. Only the clipped-ratio losses (`loss_type` grpo, bnpo, dr_grpo, dapo) are supported with the bonus;
       `FunRLConfig` rejects the others.
    5. Extra metrics every step: `entropy_adv/bonus_mean`, `entropy_adv/cap_frac`, `entropy_adv/cot_entropy`,
       `entropy_adv/think_frac`, and `failures/<reward>/<reason>`, the number of rollouts of the step that each
       reward scored 0 for that reason (from the reasons `funrl.rewards` reports through `log_extra`).
    6. Every saved model and checkpoint gets funrl's model card (`funrl.model_card`): FunRL's paper, not GRPO's.

    Everything else (generation, rewards, group normalisation, KL to the reference with `beta`, clipping, logging of
    `reward`, `reward_std`, `kl`, `entropy`) is TRL's. With `use_entropy_adv=False`, or form `cheng` with
    `entropy_adv_alpha=0`, the loss and gradients are exactly GRPO's.

    Args:
        model, reward_funcs, **kwargs: as for [`GRPOTrainer`].
        args ([`FunRLConfig`], *optional*): training arguments; a plain `GRPOConfig` is rejected.
    """

    _tag_names = ["trl", "grpo", "funrl"]
    _name = "FunRL"
    _paper = FUNRL_PAPER

    def __init__(self, model: Any, reward_funcs: Any, args: FunRLConfig | None = None, **kwargs: Any):
        if args is None:
            name = model if isinstance(model, str) else model.config._name_or_path
            args = FunRLConfig(f"{name.split('/')[-1]}-FunRL")
        if not isinstance(args, FunRLConfig):
            raise TypeError(
                f"FunRLTrainer needs a FunRLConfig, got {type(args).__name__}; build a FunRLConfig instead."
            )
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self._cot_masker = CotMasker(self.processing_class, args.entropy_adv_think_start, args.entropy_adv_think_end)
        self._shaping_inputs: dict[str, Any] | None = None  # set while `_compute_loss` runs the policy forward
        self._shaping_stats: torch.Tensor | None = None
        self._seen_failures: dict[str, set[str]] = {}

    # ---- the advantage --------------------------------------------------------------------------------------

    def _compute_loss(self, model, inputs):
        if not self.args.use_entropy_adv:
            return super()._compute_loss(model, inputs)
        # A shallow copy: the buffered generation batch is reused across `num_iterations`, and its (B,) advantages
        # must stay as they are. `_get_per_token_logps_and_entropies` below replaces this copy's advantages once
        # the forward has produced the entropies, before `_compute_loss` reads `inputs["advantages"]`.
        inputs = dict(inputs)
        self._shaping_inputs, self._shaping_stats = inputs, None
        try:
            loss = super()._compute_loss(model, inputs)
        finally:
            self._shaping_inputs = None
        if self._shaping_stats is None:
            raise RuntimeError(
                "FunRLTrainer: the entropy bonus was not applied because TRL's _compute_loss did not compute "
                "entropies through _get_per_token_logps_and_entropies; re-sync FunRLTrainer with the pinned TRL."
            )
        mode = "train" if self.model.training else "eval"
        stats = self.accelerator.reduce(self._shaping_stats, reduction="sum")
        for key, value in stats_to_metrics(stats).items():
            self._metrics[mode][key].append(value)
        return loss

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        logps, entropies, aux_loss = super()._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
        )
        inputs = self._shaping_inputs
        if inputs is not None and entropies is not None:
            self._shaping_inputs = None  # only the policy forward of this `_compute_loss` call
            inputs["advantages"] = self._shape_advantages(inputs, entropies)
        return logps, entropies, aux_loss

    def _shape_advantages(self, inputs: dict[str, Any], entropies: torch.Tensor) -> torch.Tensor:
        """Per-token advantages (B, T) from the batch's (B,) advantages and the forward's entropies (B, T)."""
        args = self.args
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        advantages = inputs["advantages"]
        if advantages.dim() != 1:
            raise ValueError(f"FunRLTrainer expects (B,) advantages from TRL, got shape {tuple(advantages.shape)}")
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        # with tool results in the completion (multi-turn), each assistant step's think span counts
        cot_mask = self._cot_masker(completion_ids, completion_mask, inputs.get("tool_mask")) & mask.bool()
        out = entropy_advantages(
            advantages,
            entropies,
            mask,
            cot_mask,
            form=args.entropy_adv_form,
            alpha=args.entropy_adv_alpha,
            kappa=args.entropy_adv_kappa,
            lam=args.entropy_adv_lambda,
            level=args.entropy_adv_level,
            span=args.entropy_adv_span,
        )
        self._shaping_stats = out.stats
        return out.advantages

    # ---- why rollouts scored 0 ------------------------------------------------------------------------------

    def _log_completion_extra(self, column: str, values: list):
        """Also count the failure reasons that funrl's rewards report as a `<reward>_reason` column."""
        super()._log_completion_extra(column, values)
        if not (self.args.log_failure_reasons and column.endswith("_reason")):
            return
        # Every rank scores its own rollouts at the same point, so gathering here is collective and safe; the
        # counts are global and identical on every rank, which makes TRL's cross-rank mean equal to the count.
        reasons = [v for v in gather_object(list(values)) if v is not None]
        counts = Counter(r for r in reasons if r != "ok")
        reward_name = column[: -len("_reason")]
        # TRL averages a metric over the steps in which it was logged: once seen, a reason is logged every step.
        seen = self._seen_failures.setdefault(reward_name, set())
        seen.update(counts)
        for reason in sorted(seen):
            self._log_metric(f"failures/{reward_name}/{reason.replace(':', '/')}", float(counts[reason]))
