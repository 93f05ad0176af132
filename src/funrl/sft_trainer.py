"""The SFT trainer `funrl sft` runs: its options (`SFTScriptArguments`), the parser over them and TRL's `SFTConfig` and
`ModelConfig`, the dataset of prompt/completion rows, and a ready `trl.SFTTrainer`.

A library module: the `funrl sft` command (`funrl.sft`) and the CPU demo (`funrl.toy.pipeline`, `funrl.toy.base`)
build their trainers here and train them themselves.

    from funrl.sft_trainer import build_trainer, make_parser
    args = make_parser().parse_args_and_config(["--config", "recipes/smoke/sft.yaml"])
    trainer = build_trainer(*args)   # resolved model, dataset, time budget
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from funrl.configs import DataArguments
from funrl.loading import load_samples, resolve_model
from funrl.schema import base_category


@dataclass
class SFTScriptArguments(DataArguments):
    """
    What `funrl sft` trains on: `funrl.configs.DataArguments` (the fields of `funrl train`'s `FunRLScriptArguments`,
    so one recipe vocabulary serves both) and a wall-clock budget.

    Parameters:
        max_time_s (`float` or `None`, *optional*):
            Wall-clock budget in seconds of training; training stops at the first step end past it.
    """

    max_time_s: float | None = field(
        default=None,
        metadata={"help": "Wall-clock training budget in seconds (stop at the first step end past it); unset: none."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.max_time_s is not None and self.max_time_s <= 0:
            raise ValueError(f"max_time_s={self.max_time_s} must be > 0, or unset for no budget.")


def make_parser():
    """The `TrlParser` over (`SFTScriptArguments`, `SFTConfig`, `ModelConfig`)."""
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig), prog="funrl sft")


# ---------------------------------------------------------------------------------------------------
# Data


def build_dataset(script_args: SFTScriptArguments):
    """A `datasets.Dataset` of conversational prompt/completion rows (`funrl.template.to_sft_row`).

    Relevance samples (any call is right, no ground-truth call to imitate) cannot be targets: they are left out
    and counted in a printed note.
    """
    from datasets import Dataset

    from funrl.template import to_sft_row

    samples = load_samples(script_args)
    kept = [s for s in samples if s.ground_truth or base_category(s.category) != "relevance"]
    if len(kept) < len(samples):
        print(f"funrl sft: left out {len(samples) - len(kept)} relevance samples (no ground-truth call to imitate)")
    if not kept:
        raise ValueError(f"dataset_name={script_args.dataset_name!r}: no sample with a target to train on")
    rows = []
    for sample in kept:
        row = to_sft_row(sample, script_args.prompt_format)
        rows.append({"prompt": row["prompt"], "completion": row["completion"]})
    return Dataset.from_list(rows)


# ---------------------------------------------------------------------------------------------------
# Training


def build_trainer(script_args: SFTScriptArguments, training_args: Any, model_args: Any):
    """Resolve the model, build the dataset, and return a ready `trl.SFTTrainer` (with the time budget, if any)."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer, get_peft_config

    from funrl.model_card import CardInfo, with_model_card
    from funrl.optional import check_training

    check_training(training_args)  # DeepSpeed, tensorboard: installed? (before the model loads)

    with training_args.main_process_first(desc="building the tiny model"):
        model_path = resolve_model(model_args.model_name_or_path, script_args, training_args.output_dir)
    tokenizer = AutoTokenizer.from_pretrained(
        model_path, revision=model_args.model_revision, trust_remote_code=training_args.trust_remote_code
    )
    if tokenizer.chat_template is None and training_args.chat_template_path is None:
        raise ValueError(
            f"the tokenizer of {model_path!r} has no chat template: use an instruct/chat model, `funrl-tiny`, or set "
            "`chat_template_path` in the recipe."
        )
    init_kwargs = {
        "revision": model_args.model_revision,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    training_args.model_init_kwargs = {
        **{k: v for k, v in init_kwargs.items() if v is not None},
        **(training_args.model_init_kwargs or {}),
    }
    from funrl.budget import TimeBudgetCallback

    callbacks = [TimeBudgetCallback(script_args.max_time_s)] if script_args.max_time_s else []
    dataset = build_dataset(script_args)
    trainer = with_model_card(SFTTrainer)(  # funrl's model card on every save (`funrl.model_card`)
        model=model_path,
        args=training_args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=callbacks,
    )
    _report_truncation(trainer, len(dataset), training_args.max_length)
    settings = {"prompt_format": script_args.prompt_format, "max_length": training_args.max_length}
    settings["learning_rate"] = training_args.learning_rate
    trainer.funrl_card = CardInfo.from_run(
        "SFT", model_path, dataset=script_args.dataset_name, settings=settings, prog="funrl sft"
    )
    return trainer


def _report_truncation(trainer: Any, num_rows: int, max_length: int | None) -> None:
    """Say how many rows TRL truncated at `max_length` or dropped (a row truncated inside its prompt has no
    completion token left and TRL removes it), instead of letting it happen unseen."""
    if max_length is None:
        return
    dropped = num_rows - len(trainer.train_dataset)
    truncated = sum(len(ids) >= max_length for ids in trainer.train_dataset["input_ids"])
    if dropped or truncated:
        trainer.accelerator.print(
            f"funrl sft: max_length={max_length}: {truncated} of {num_rows} rows truncated, {dropped} dropped (prompt "
            "longer than max_length); raise max_length to train on them whole."
        )
