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

from typing import Any

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from funrl import fast_generate
from funrl.advantages import STAT_NAMES, CotMasker, entropy_advantages, stats_to_metrics
from funrl.configs import FunRLConfig
from funrl.model_card import FUNRL_PAPER, ModelCardMixin
from funrl.shared_prompt import shared_prompt_logps


class ThinkSpanError(RuntimeError):
    """Raised when too few rollouts close a think span for `entropy_adv_think_patience` steps in a row."""


class _ThinkSpanGuard(TrainerCallback):
    """Calls `FunRLTrainer._check_think_spans` at the end of every optimizer step."""

    def __init__(self, trainer: FunRLTrainer):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer._check_think_spans()


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
       `entropy_adv/think_frac`, `entropy_adv/bonus_rollout_frac`, `entropy_adv/bonus_over_abs_adv` (ratios of sums
       pooled over the micro-batches and processes of the logging window). Why rollouts scored 0 is the reward's own
       metric (`rewards/<reward>/reason/<code>`, logged by `funrl.rewards.CallReward` through TRL's `log_metric`),
       the same under plain `GRPOTrainer`.
    6. With `share_prompt_forward` (default), each forward pass (policy and reference) encodes every distinct prompt
       once instead of once per rollout (`funrl.shared_prompt`): the same values up to float rounding.
    7. When fewer than `entropy_adv_min_think_frac` of the rollouts close a think span for
       `entropy_adv_think_patience` optimizer steps in a row, training stops with `ThinkSpanError`: the bonus would
       be 0 and the run plain GRPO.
    8. Every saved model and checkpoint gets funrl's model card (`funrl.model_card`): FunRL's paper, not GRPO's.

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
        self._pooled_stats: dict[str, torch.Tensor] = {}  # by mode: summed stats of the current logging window
        self._step_stats: torch.Tensor | None = None  # summed stats of the current optimizer step (train)
        self._low_think_steps = 0  # consecutive steps with think_frac below entropy_adv_min_think_frac
        if args.use_entropy_adv:
            self.add_callback(_ThinkSpanGuard(self))

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
        # Sums over processes here, over micro-batches and steps below; the ratios are taken once, in `log`.
        stats = self.accelerator.reduce(self._shaping_stats, reduction="sum")
        pooled = self._pooled_stats.get(mode)
        self._pooled_stats[mode] = stats if pooled is None else pooled + stats
        if mode == "train":
            self._step_stats = stats if self._step_stats is None else self._step_stats + stats
        return loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Log the `entropy_adv/*` ratios of the pooled sums of the logging window, then TRL's metrics."""
        mode = "train" if self.model.training else "eval"
        pooled = self._pooled_stats.pop(mode, None)
        if pooled is not None:
            for key, value in stats_to_metrics(pooled).items():
                self._metrics[mode][key] = [value]  # one pooled value: TRL's mean over the list is that value
        super().log(logs, start_time)

    def _check_think_spans(self) -> None:
        """After each optimizer step: stop when too few rollouts closed a think span for too many steps in a row."""
        stats, self._step_stats = self._step_stats, None
        patience = self.args.entropy_adv_think_patience
        if stats is None or not patience:
            return
        s = dict(zip(STAT_NAMES, stats.tolist()))
        if s["rollouts"] == 0:
            return
        think_frac = s["rollouts_with_think"] / s["rollouts"]
        self._low_think_steps = self._low_think_steps + 1 if think_frac < self.args.entropy_adv_min_think_frac else 0
        if self._low_think_steps >= patience:
            raise ThinkSpanError(
                f"FunRL: fewer than {self.args.entropy_adv_min_think_frac:.0%} of rollouts closed a non-empty "
                f"think span ({self.args.entropy_adv_think_start!r}...{self.args.entropy_adv_think_end!r}) for "
                f"{patience} steps in a row (last step: {think_frac:.1%}), so the entropy bonus is 0 and the run "
                "trains plain GRPO. Start from a model that writes the think format (a format warm-up SFT), check "
                "prompt_format and entropy_adv_think_start/_end, or set use_entropy_adv=False (plain GRPO) or "
                "entropy_adv_think_patience=0 (never stop)."
            )

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        shared = None
        if self.args.share_prompt_forward:
            shared = self._shared_prompt_forward(model, input_ids, attention_mask, logits_to_keep, *args, **kwargs)
        if shared is None:
            shared = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *args, **kwargs
            )
        logps, entropies, aux_loss = shared
        inputs = self._shaping_inputs
        if inputs is not None and entropies is not None:
            self._shaping_inputs = None  # only the policy forward of this `_compute_loss` call
            inputs["advantages"] = self._shape_advantages(inputs, entropies)
        return logps, entropies, aux_loss

    def _shared_prompt_forward(self, model, input_ids, attention_mask, logits_to_keep, *args, **kwargs):
        """TRL's `(logps, entropies, None)` with one forward per distinct prompt (`funrl.shared_prompt`), or `None`
        where that does not apply (multimodal or MoE inputs, activation checkpointing): then TRL's pass runs."""
        batch_size = kwargs.pop("batch_size", None)
        compute_entropy = kwargs.pop("compute_entropy", False)
        if args or any(value not in (None, False) for value in kwargs.values()):
            return None
        if self.args.activation_checkpointing:  # checkpointed layers drop the key/value cache the sharing needs
            return None
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies = [], []
        for start in range(0, input_ids.size(0), batch_size):
            ids, mask = input_ids[start : start + batch_size], attention_mask[start : start + batch_size]
            out = shared_prompt_logps(
                model, ids, mask, logits_to_keep, compute_entropy=compute_entropy, autocast=self.accelerator.autocast
            )
            if out is None:  # no prompt repeats in this chunk
                logps, entropies, _ = GRPOTrainer._get_per_token_logps_and_entropies(
                    self, model, ids, mask, logits_to_keep, compute_entropy=compute_entropy
                )
                out = (logps, entropies)
            all_logps.append(out[0])
            all_entropies.append(out[1])
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        return torch.cat(all_logps, dim=0), entropies, None

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

    # ---- generation -----------------------------------------------------------------------------------------

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        """With `fast_generation`, sample with `funrl.fast_generate` where it applies; else TRL's generation."""
        if not self._fast_generation_applies(images, multimodal_fields):
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images=has_tool_images
            )
        from trl.models import unwrap_model_for_generation
        from trl.trainer.utils import pad

        device = self.accelerator.device
        tensors = [torch.tensor(ids) for ids in prompt_ids]
        pad_id = self._tokenizer.pad_token_id
        padded = pad(tensors, padding_value=pad_id, padding_side="left", pad_to_multiple_of=self.pad_to_multiple_of)
        mask = pad([torch.ones_like(t) for t in tensors], padding_value=0, padding_side="left",
                   pad_to_multiple_of=self.pad_to_multiple_of)  # fmt: skip
        with (
            unwrap_model_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
        ):
            if not fast_generate.supports(unwrapped_model):
                return super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images=has_tool_images
                )
            completions = fast_generate.sample(
                unwrapped_model,
                padded.to(device),
                mask.to(device),
                max_new_tokens=self.max_completion_length,
                temperature=self.temperature,
                eos_token_ids=list(self.eos_token_ids),
                pad_token_id=pad_id,
            )
        eos = set(self.eos_token_ids)
        out = []  # as TRL: each row up to and including its first eos
        for row in completions.tolist():
            end = next((i for i, t in enumerate(row) if t in eos), len(row) - 1)
            out.append(row[: end + 1])
        return out, None

    def _fast_generation_applies(self, images, multimodal_fields) -> bool:
        """`fast_generation` samples exactly as TRL's `generate` only without vLLM, images or logits processors."""
        args = self.args
        return bool(
            args.fast_generation
            and not self.use_vllm
            and not getattr(self, "use_transformers_continuous_batching", False)
            and not images
            and not multimodal_fields
            and not args.generation_kwargs
            and not args.cache_implementation
            and not (args.bf16 or args.fp16)
            and (args.top_p is None or args.top_p == 1.0)
            and not args.top_k
            and args.min_p is None
            and args.repetition_penalty == 1.0
        )
