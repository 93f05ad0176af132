"""The RL trainer `funrl train` runs: the parser over its options (`funrl.configs`), the dataset of GRPO rows, the
rewards, and a ready `funrl.trainer.FunRLTrainer` (or the multi-turn rollouts of the toy multi-turn world).

A library module: the `funrl train` command (`funrl.train`) and the CPU demo (`funrl.toy.pipeline`) build their
trainers here and train them themselves.

    from funrl.rl_trainer import build_trainer, make_parser
    args = make_parser().parse_args_and_config(["--config", "recipes/smoke/funrl.yaml"])
    trainer = build_trainer(*args)   # resolved model, rewards, dataset
"""

from __future__ import annotations

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
