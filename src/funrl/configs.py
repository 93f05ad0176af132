"""Configuration dataclasses of the training commands: `FunRLConfig(GRPOConfig)`, `DataArguments` (the data fields
`funrl train` and `funrl sft` share) and `FunRLScriptArguments(DataArguments)`.

`FunRLConfig` adds only the entropy-enhanced advantage of FunRL (arXiv 2508.05118) to TRL's `GRPOConfig`; every
other field (batch sizes, `beta`, `loss_type`, generation settings, logging) is TRL's own. `FunRLScriptArguments`
says which model and data to train on. All three dataclasses (with TRL's `ModelConfig`) are filled by one
`TrlParser`: dataclass default < recipe YAML (`--config`) < command line.

    from funrl.configs import FunRLConfig
    args = FunRLConfig(output_dir="runs/x", entropy_adv_form="cheng", entropy_adv_alpha=0.4, entropy_adv_kappa=2)
    args.use_entropy_adv  # True: the bonus is on; False gives plain GRPO with the same class

Field names are part of the recipes' contract (recipes/*.yaml, tests/test_recipes.py): rename nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import GRPOConfig

from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS

ENTROPY_ADV_FORMS = ("cheng", "egpo")
ENTROPY_ADV_LEVELS = ("token", "sequence")
ENTROPY_ADV_SPANS = ("think", "completion")
# Loss types whose objective is the clipped policy ratio times a per-token advantage (the objective of
# docs/method.md §2). The others reshape the advantage's role (cispo, sapo, vespo) or are sequence-level by
# construction (luspo), and the bonus is not defined for them.
SUPPORTED_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
# Paper defaults per form (docs/method.md §2): form A weight alpha=0.4, cap divisor kappa=2; form B weight
# lambda=0.4, clip constant alpha=2.
FORM_DEFAULTS = {"cheng": {"alpha": 0.4, "kappa": 2.0}, "egpo": {"alpha": 2.0, "lambda": 0.4}}


@dataclass
class FunRLConfig(GRPOConfig):
    r"""
    Configuration of [`funrl.trainer.FunRLTrainer`]: TRL's [`GRPOConfig`] plus the entropy-enhanced advantage.

    With `A` the group-normalised advantage of a rollout and `H` the (detached) policy entropy of its chain of
    thought, the advantage used in the loss is:

    - form `cheng` (Cheng et al., arXiv 2506.14758; FunRL): `A + min(alpha * H, |A| / kappa)`;
    - form `egpo` (EGPO reproduction plan): `A + lambda * clip(H, -|A| / alpha, |A| / alpha)`.

    Both bonuses are >= 0 and strictly below `|A|`, so the sign of `A` never flips, and are 0 when `A = 0`.

    Parameters:
        use_entropy_adv (`bool`, *optional*, defaults to `True`):
            Add the CoT-entropy bonus to the advantage. `False` trains plain GRPO with the same trainer.
        entropy_adv_form (`str`, *optional*, defaults to `"cheng"`):
            `"cheng"` or `"egpo"` (formulas above).
        entropy_adv_alpha (`float` or `None`, *optional*, defaults to `None`):
            Form `cheng`: entropy weight (paper 0.4). Form `egpo`: clip constant (paper 2). `None` takes the paper
            value of the chosen form. `0` with form `cheng` gives exactly plain GRPO.
        entropy_adv_kappa (`float`, *optional*, defaults to `2.0`):
            Form `cheng` only: cap divisor, the bonus is at most `|A| / kappa`. Must be > 1.
        entropy_adv_lambda (`float` or `None`, *optional*, defaults to `None`):
            Form `egpo` only: entropy weight (paper 0.4); `None` takes 0.4. Must be < `entropy_adv_alpha`.
        entropy_adv_level (`str`, *optional*, defaults to `"sequence"`):
            `"token"`: each token in the span gets its own bonus from its own entropy. `"sequence"`: one entropy per
            rollout (mean over the span), one bonus broadcast to all its completion tokens.
        entropy_adv_span (`str`, *optional*, defaults to `"think"`):
            Tokens whose entropy counts: `"think"` (strictly inside the think tags) or `"completion"` (all completion
            tokens). Either way a completion without a closed think span gets no bonus.
        entropy_adv_think_start (`str`, *optional*, defaults to `"<think>"`):
            Opening tag of the chain of thought. Empty when the prompt already opens the think block.
        entropy_adv_think_end (`str`, *optional*, defaults to `"</think>"`):
            Closing tag of the chain of thought.
        entropy_adv_min_think_frac (`float`, *optional*, defaults to `0.05`):
            Share of a step's rollouts that must close a non-empty think span; below it the step counts as "no
            think" (see `entropy_adv_think_patience`).
        entropy_adv_think_patience (`int`, *optional*, defaults to `5`):
            Stop with an error after this many consecutive optimizer steps below `entropy_adv_min_think_frac`
            (the bonus is 0 there and the run would silently train plain GRPO). `0` never stops.
        share_prompt_forward (`bool`, *optional*, defaults to `True`):
            Encode each distinct prompt once per forward pass (policy and reference) instead of once per rollout
            (`funrl.shared_prompt`): the same log-probabilities, entropies and gradients up to float rounding, and
            fewer tokens through the model. Off with activation checkpointing, multimodal inputs or MoE aux losses.
        fast_generation (`bool`, *optional*, defaults to `False`):
            Sample with `funrl.fast_generate` instead of `transformers.generate` (Llama/Qwen2 models, no vLLM, no
            top_p/top_k/min_p/repetition penalty, fp32): the same distribution, other random draws; several times
            faster for the toy quickstart's tiny model on CPU. Falls back to TRL's generation where it does not apply.
    """

    use_entropy_adv: bool = field(
        default=True,
        metadata={"help": "Add the CoT-entropy bonus to the advantage (FunRL). False trains plain GRPO."},
    )
    entropy_adv_form: str = field(
        default="cheng",
        metadata={
            "help": "Advantage form: 'cheng' = A + min(alpha*H, |A|/kappa) (Cheng et al. 2506.14758, FunRL); "
            "'egpo' = A + lambda*clip(H, -|A|/alpha, |A|/alpha) (EGPO reproduction plan)."
        },
    )
    entropy_adv_alpha: float | None = field(
        default=None,
        metadata={
            "help": "Form 'cheng': entropy weight (paper 0.4). Form 'egpo': clip constant (paper 2). "
            "Unset = the paper value of the chosen form."
        },
    )
    entropy_adv_kappa: float = field(
        default=2.0,
        metadata={"help": "Form 'cheng': cap divisor, bonus <= |A|/kappa (paper 2). Must be > 1."},
    )
    entropy_adv_lambda: float | None = field(
        default=None,
        metadata={"help": "Form 'egpo': entropy weight (paper 0.4). Unset = 0.4. Must be < entropy_adv_alpha."},
    )
    entropy_adv_level: str = field(
        default="sequence",
        metadata={
            "help": "'sequence': mean entropy over the span, one bonus per rollout on all its tokens (EGPO reading, "
            "docs/method.md §2); 'token': per-token bonus from each token's entropy (Cheng et al.)."
        },
    )
    entropy_adv_span: str = field(
        default="think",
        metadata={
            "help": "Which tokens' entropy counts: 'think' (strictly inside the think tags) or 'completion'. "
            "A completion without a closed think span gets no bonus either way."
        },
    )
    entropy_adv_think_start: str = field(
        default="<think>",
        metadata={"help": "Opening tag of the chain of thought; empty when the prompt already opens it."},
    )
    entropy_adv_think_end: str = field(
        default="</think>",
        metadata={"help": "Closing tag of the chain of thought."},
    )
    entropy_adv_min_think_frac: float = field(
        default=0.05,
        metadata={
            "help": "Share of a step's rollouts that must close a non-empty think span; a step below it counts "
            "towards entropy_adv_think_patience."
        },
    )
    entropy_adv_think_patience: int = field(
        default=5,
        metadata={
            "help": "Stop with an error after this many consecutive steps below entropy_adv_min_think_frac (the "
            "bonus would be 0: plain GRPO). 0 = never stop."
        },
    )
    share_prompt_forward: bool = field(
        default=True,
        metadata={
            "help": "Encode each distinct prompt once per forward (policy and reference) instead of once per rollout "
            "(funrl.shared_prompt): same log-probabilities up to float rounding, fewer tokens. False = TRL's pass."
        },
    )
    fast_generation: bool = field(
        default=False,
        metadata={
            "help": "Sample with funrl.fast_generate instead of transformers.generate (Llama/Qwen2, no vLLM, plain "
            "temperature sampling, fp32): same distribution, other draws; much faster for tiny models on CPU."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.entropy_adv_form not in ENTROPY_ADV_FORMS:
            raise ValueError(
                f"entropy_adv_form={self.entropy_adv_form!r} is not supported; set it to one of {ENTROPY_ADV_FORMS}."
            )
        if self.entropy_adv_level not in ENTROPY_ADV_LEVELS:
            raise ValueError(
                f"entropy_adv_level={self.entropy_adv_level!r} is not supported; set it to one of "
                f"{ENTROPY_ADV_LEVELS}."
            )
        if self.entropy_adv_span not in ENTROPY_ADV_SPANS:
            raise ValueError(
                f"entropy_adv_span={self.entropy_adv_span!r} is not supported; set it to one of {ENTROPY_ADV_SPANS}."
            )
        defaults = FORM_DEFAULTS[self.entropy_adv_form]
        if self.entropy_adv_alpha is None:
            self.entropy_adv_alpha = defaults["alpha"]
        if self.entropy_adv_form == "egpo" and self.entropy_adv_lambda is None:
            self.entropy_adv_lambda = defaults["lambda"]
        if self.entropy_adv_form == "cheng":
            if self.entropy_adv_alpha < 0:
                raise ValueError(
                    f"entropy_adv_alpha={self.entropy_adv_alpha} must be >= 0 with form 'cheng' (paper 0.4; 0 is "
                    "plain GRPO)."
                )
            if self.entropy_adv_kappa <= 1:
                raise ValueError(
                    f"entropy_adv_kappa={self.entropy_adv_kappa} must be > 1 so that the bonus (<= |A|/kappa) never "
                    "flips the sign of the advantage; set it to 2 (paper)."
                )
            if self.entropy_adv_lambda is not None:
                raise ValueError(
                    "entropy_adv_lambda is used by form 'egpo' only; unset it, or set entropy_adv_form='egpo'."
                )
        else:
            if self.entropy_adv_alpha <= 0:
                raise ValueError(
                    f"entropy_adv_alpha={self.entropy_adv_alpha} is the clip constant of form 'egpo' and must be "
                    "> 0; set it to 2 (paper)."
                )
            if not 0 <= self.entropy_adv_lambda < self.entropy_adv_alpha:
                raise ValueError(
                    f"form 'egpo' needs 0 <= entropy_adv_lambda < entropy_adv_alpha so that the bonus (<= "
                    f"lambda*|A|/alpha) stays below |A|; got lambda={self.entropy_adv_lambda}, "
                    f"alpha={self.entropy_adv_alpha}. The paper uses lambda=0.4, alpha=2."
                )
        if not 0 <= self.entropy_adv_min_think_frac <= 1:
            raise ValueError(
                f"entropy_adv_min_think_frac={self.entropy_adv_min_think_frac} must be in [0, 1], e.g. 0.05."
            )
        if self.entropy_adv_think_patience < 0:
            raise ValueError(
                f"entropy_adv_think_patience={self.entropy_adv_think_patience} must be >= 0 (0 never stops), e.g. 5."
            )
        if not self.entropy_adv_think_end:
            raise ValueError("entropy_adv_think_end must be a non-empty tag such as '</think>'.")
        if self.use_entropy_adv and self.loss_type not in SUPPORTED_LOSS_TYPES:
            raise ValueError(
                f"loss_type={self.loss_type!r} is not supported with the entropy-enhanced advantage; set loss_type "
                f"to one of {SUPPORTED_LOSS_TYPES} (the paper's objective is 'grpo'), or use_entropy_adv=False."
            )

    @property
    def entropy_adv_cap(self) -> float:
        """Largest bonus as a fraction of `|A|`: `1/kappa` (cheng) or `lambda/alpha` (egpo)."""
        if self.entropy_adv_form == "cheng":
            return 1.0 / self.entropy_adv_kappa
        return self.entropy_adv_lambda / self.entropy_adv_alpha


@dataclass
class DataArguments:
    """
    What a training command (`funrl train`, `funrl sft`) trains on, apart from the model (TRL's `ModelConfig`): the
    one data-arguments dataclass both extend, so one recipe vocabulary serves both.

    Parameters:
        dataset_name (`str`, *optional*, defaults to `"toy"`):
            `"toy"` (the built-in toy world, `funrl.toy.world`), a canonical JSONL file (`funrl.schema`), a folder
            (its `<dataset_train_split>.jsonl`, e.g. a `funrl prepare` output folder, else all its `*.jsonl`), or a
            `datasets` name/path whose rows follow the canonical sample.
        dataset_config (`str` or `None`, *optional*):
            `datasets` configuration name.
        dataset_train_split (`str`, *optional*, defaults to `"train"`):
            Split to train on (for `toy`: `"train"` or `"heldout"`).
        max_train_samples (`int` or `None`, *optional*):
            Keep the first N samples (after loading; for `toy`, how many to generate, default 256).
        toy_seed (`int`, *optional*, defaults to `0`):
            Seed of the toy world generator.
        prompt_format (`str`, *optional*, defaults to `"funrl"`):
            Template of `funrl.template` that renders each sample's own tools into its prompt (and its target for
            SFT): `funrl`, `bfcl-prompt` or `qwen-fc`.
        tiny_model_dir (`str` or `None`, *optional*):
            Where `model_name_or_path: funrl-tiny` builds the tiny model (default `<output_dir>/tiny-model`).
    """

    dataset_name: str = field(
        default="toy",
        metadata={
            "help": "'toy' (built-in toy world), a canonical JSONL file or folder, or a `datasets` name/path with "
            "canonical rows."
        },
    )
    dataset_config: str | None = field(default=None, metadata={"help": "`datasets` configuration name."})
    dataset_train_split: str = field(
        default="train",
        metadata={"help": "Split to train on (toy: 'train' or 'heldout'; a folder: the <split>.jsonl in it)."},
    )
    max_train_samples: int | None = field(
        default=None,
        metadata={"help": "Keep the first N samples (toy: how many to generate; default 256)."},
    )
    toy_seed: int = field(default=0, metadata={"help": "Seed of the toy world generator (dataset_name: toy)."})
    prompt_format: str = field(
        default="funrl",
        metadata={"help": f"Prompt template (funrl.template) rendering each sample's tools: {', '.join(FORMATS)}."},
    )
    tiny_model_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where `model_name_or_path: funrl-tiny` builds its model (default <output_dir>/tiny-model)."
        },
    )

    def __post_init__(self):
        if self.prompt_format not in FORMATS:
            raise ValueError(f"prompt_format={self.prompt_format!r}; valid formats: {', '.join(FORMATS)}")
        if self.max_train_samples is not None and self.max_train_samples < 1:
            raise ValueError(f"max_train_samples={self.max_train_samples} must be >= 1, or unset to keep all.")


@dataclass
class FunRLScriptArguments(DataArguments):
    """
    What `funrl train` trains on: the data and prompt format (`DataArguments`) and the rewards.

    Parameters:
        reward_funcs (`list[str]`, *optional*, defaults to `["funrl"]`):
            Reward names from `funrl.rewards` (or dotted import paths); weights are `reward_weights`.
    """

    reward_funcs: list[str] = field(
        default_factory=lambda: ["funrl"],
        metadata={"help": "Reward names from funrl.rewards, or dotted import paths; weights via reward_weights."},
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.reward_funcs:
            raise ValueError("reward_funcs is empty; set at least one, e.g. reward_funcs: [funrl].")
