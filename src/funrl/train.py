"""`funrl train`: FunRL (or plain GRPO) training of a function-calling policy on TRL's GRPOTrainer.

One parser (TRL's `TrlParser`) fills three dataclasses, `FunRLScriptArguments` (data, rewards, prompt format),
`FunRLConfig` (TRL's `GRPOConfig` + the entropy-enhanced advantage) and TRL's `ModelConfig` (model, dtype, LoRA),
with the precedence dataclass default < recipe YAML < command line:

    funrl train --config recipes/smoke/funrl.yaml                         # CPU smoke run, nothing to download
    funrl train --config recipes/smoke/grpo.yaml --output_dir runs/grpo   # the plain GRPO baseline
    funrl train --config recipe.yaml --resume_from_checkpoint last        # continue from the newest checkpoint
    accelerate launch --config_file recipes/accelerate/zero3.yaml -m funrl.train --config recipe.yaml

`model_name_or_path: funrl-tiny` (or `funrl-tiny:<size>[:<seed>]`) builds a random-weight tiny model locally
(`funrl.toy.tiny_model`); `dataset_name: toy` generates the built-in toy world (`funrl.toy.world`);
`dataset_name: toy-multiturn` trains multi-turn tool use on `funrl.toy.multiturn` (rollouts call the tools;
`reward_funcs: [multi_turn]`; docs/multiturn.md). LoRA: `use_peft: true`
(+ `lora_r`, `lora_alpha`, `lora_target_modules`). Logging: `report_to: tensorboard` or `wandb`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from funrl.configs import FunRLConfig, FunRLScriptArguments

# The parser, dataset, rewards and trainer live in the library module `funrl.rl_trainer` (the CPU demo builds its
# trainers there too); import them from there.
from funrl.rl_trainer import build_trainer, make_parser

__all__ = ["main", "run", "setup", "train"]

# ---------------------------------------------------------------------------------------------------
# Resuming


def _resume_arg(value: str | None, output_dir: str) -> str | bool | None:
    """`--resume_from_checkpoint last` (or `true`) resumes from the newest checkpoint in `output_dir`."""
    if value is None or value.lower() in ("", "none", "false"):
        return None
    if value.lower() in ("last", "true"):
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            raise FileNotFoundError(f"--resume_from_checkpoint {value}: no checkpoint-* folder in {output_dir}")
        return last
    if not Path(value).is_dir():
        raise FileNotFoundError(f"--resume_from_checkpoint {value}: not a folder")
    return value


# ---------------------------------------------------------------------------------------------------
# Training


# Prompt formats of `funrl.template` whose target has a think span for the entropy bonus to read.
THINK_FORMATS = ("funrl",)


def check_entropy_adv_format(script_args: FunRLScriptArguments, training_args: FunRLConfig) -> None:
    """The entropy bonus reads the think span: a format without one would silently train plain GRPO."""
    if training_args.use_entropy_adv and script_args.prompt_format not in THINK_FORMATS:
        raise ValueError(
            f"use_entropy_adv needs a prompt format with a think span, and prompt_format="
            f"{script_args.prompt_format!r} has none; set prompt_format: funrl, or use_entropy_adv: false (plain GRPO)."
        )


def setup(script_args: FunRLScriptArguments, training_args: FunRLConfig, model_args: Any):
    """`(trainer, checkpoint to resume from or None)`: every check of the user's input happens here, before training."""
    from funrl.config_check import check_config

    check_entropy_adv_format(script_args, training_args)
    # types, paths, then optional engines (use_vllm, DeepSpeed, tensorboard: funrl.optional): before anything heavy
    check_config(script_args, training_args, model_args)
    resume = _resume_arg(training_args.resume_from_checkpoint, training_args.output_dir)
    return build_trainer(script_args, training_args, model_args), resume


def run(trainer: Any, resume: str | None, training_args: FunRLConfig):
    """Train, save the final model and `trainer_state.json` (the log history `funrl plot` reads) to `output_dir`."""
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(training_args.output_dir)
    trainer.save_state()  # rank 0 only; without it a run with save_strategy "no" leaves no curves to plot
    trainer.accelerator.print(f"funrl train: model saved to {training_args.output_dir}")
    if hasattr(trainer, "end"):  # transformers >= 5.18: finish the trackers and the process group
        trainer.end()
    if "wandb" in (training_args.report_to or []) and trainer.accelerator.is_main_process:
        import wandb

        # Trainer leaves the run open until the process exits; close it so that several `train()` calls in one
        # process (tests, ablations) log to separate runs.
        wandb.finish()
    return trainer


def train(script_args: FunRLScriptArguments, training_args: FunRLConfig, model_args: Any):
    """Train, save the final model to `output_dir`, and return the trainer."""
    trainer, resume = setup(script_args, training_args, model_args)
    return run(trainer, resume, training_args)


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors
    from funrl.optional import missing_dependencies

    # bad flags, recipe, data, model or reward names, a missing optional dependency: one line, exit code 2
    with user_errors("funrl train"), missing_dependencies("funrl train"):
        script_args, training_args, model_args = make_parser().parse_args_and_config(
            list(sys.argv[1:] if argv is None else argv)
        )
        trainer, resume = setup(script_args, training_args, model_args)
        trainer.funrl_card.record_command(list(sys.argv[1:] if argv is None else argv), "funrl train")
    run(trainer, resume, training_args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
