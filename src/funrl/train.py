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
from funrl.loading import DEFAULT_TOY_SIZE, load_samples, resolve_model

TOY_MULTI_TURN = "toy-multiturn"  # dataset_name of the multi-turn toy world (funrl.toy.multiturn)


def make_parser():
    """The `TrlParser` over (`FunRLScriptArguments`, `FunRLConfig`, `ModelConfig`)."""
    from trl import ModelConfig, TrlParser

    return TrlParser((FunRLScriptArguments, FunRLConfig, ModelConfig), prog="funrl train")


# ---------------------------------------------------------------------------------------------------
# Data and model (the loaders shared with `funrl sft` live in `funrl.loading`)


def build_dataset(script_args: FunRLScriptArguments):
    """A `datasets.Dataset` of GRPO rows (`funrl.template.to_rl_row`): each sample's tools rendered into its prompt."""
    from datasets import Dataset

    from funrl.template import to_rl_row

    return Dataset.from_list([to_rl_row(s, script_args.prompt_format) for s in load_samples(script_args)])


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


def build_trainer(script_args: FunRLScriptArguments, training_args: FunRLConfig, model_args: Any):
    """Resolve the model, build the dataset and rewards, and return a ready `FunRLTrainer`."""
    from trl import get_peft_config, get_quantization_config

    from funrl.rewards import load_reward_funcs
    from funrl.trainer import FunRLTrainer

    with training_args.main_process_first(desc="building the tiny model"):
        model_path = resolve_model(model_args.model_name_or_path, script_args, training_args.output_dir)
    init_kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    quantization_config = get_quantization_config(model_args)
    if quantization_config is not None:
        from trl import get_kbit_device_map

        init_kwargs.update(quantization_config=quantization_config, device_map=get_kbit_device_map())
    training_args.model_init_kwargs = {**init_kwargs, **(training_args.model_init_kwargs or {})}
    # Checked before the model loads, so bad input fails in seconds with a message naming it.
    extra: dict[str, Any] = {}
    if script_args.dataset_name == TOY_MULTI_TURN:  # multi-turn FunRL: rollouts call the tools (funrl.multiturn)
        reward_funcs, dataset, extra["rollout_func"] = build_multi_turn(script_args)
    else:
        reward_funcs = load_reward_funcs(script_args.reward_funcs, fmt=script_args.prompt_format)
        dataset = build_dataset(script_args)
    _check_chat_template(model_path, model_args, training_args)
    trainer = FunRLTrainer(
        model=model_path,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=dataset,
        peft_config=get_peft_config(model_args),
        **extra,
    )
    trainer.funrl_card = card_info(script_args, training_args, model_path)
    return trainer


def card_info(script_args: FunRLScriptArguments, training_args: FunRLConfig, model_path: str):
    """What the model card of every saved model and checkpoint says about this run (`funrl.model_card`)."""
    from funrl.model_card import CardInfo

    keys = ("max_completion_length", "num_generations", "learning_rate", "beta", "use_entropy_adv")
    settings = {"prompt_format": script_args.prompt_format, "reward_funcs": script_args.reward_funcs}
    settings.update({k: getattr(training_args, k) for k in keys})
    if training_args.use_entropy_adv:
        settings.update(
            entropy_adv_alpha=training_args.entropy_adv_alpha, entropy_adv_kappa=training_args.entropy_adv_kappa
        )
    method = "FunRL" if training_args.use_entropy_adv else "GRPO"
    return CardInfo.from_run(method, model_path, dataset=script_args.dataset_name, settings=settings)


def build_multi_turn(script_args: FunRLScriptArguments):
    """`(reward_funcs, dataset, rollout_func)` for multi-turn FunRL on the toy multi-turn world: the reward is the
    strict binary multi-turn verdict (`reward_funcs` must be `[multi_turn]`), rollouts run `funrl.multiturn.loop`."""
    from datasets import Dataset

    from funrl.multiturn.rollout import make_rollout, rows_for
    from funrl.toy.multiturn import MAX_STEPS, generate_entries

    if list(script_args.reward_funcs) != ["multi_turn"]:
        raise ValueError(f"dataset_name={TOY_MULTI_TURN}: set reward_funcs: [multi_turn] (the multi-turn verdict)")
    entries = generate_entries(script_args.max_train_samples or DEFAULT_TOY_SIZE, seed=script_args.toy_seed)
    rollout_func, reward = make_rollout(entries, script_args.prompt_format, max_steps=MAX_STEPS)
    return [reward], Dataset.from_list(rows_for(entries, script_args.prompt_format)), rollout_func


def _check_chat_template(model_path: str, model_args: Any, training_args: FunRLConfig) -> None:
    """Prompts are chat messages (`funrl.template.to_rl_row`): the tokenizer must have a chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        model_path, revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
    )
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            f"the tokenizer of {model_path!r} has no chat template (tokenizer_config.json 'chat_template' or "
            "chat_template.jinja): use an instruct/chat model or `funrl-tiny`, or set one and save the tokenizer "
            "(`tok.chat_template = funrl.template.CHAT_TEMPLATE; tok.save_pretrained(dir)`)."
        )


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
