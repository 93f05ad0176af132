"""`funrl sft`: SFT warm-up with TRL's SFTTrainer on samples rendered in the FunRL template.

For models that do not yet emit the format: every sample becomes a conversational prompt/completion row
(`funrl.template.to_sft_row`, the same prompt the RL trainer and the evaluator use), so the loss covers the assistant
completion only (TRL's `completion_only_loss`). One `TrlParser` fills `SFTScriptArguments` (data, format, wall-clock
budget), TRL's `SFTConfig` and `ModelConfig`: dataclass default < recipe YAML < command line.

    funrl sft --config recipes/smoke/sft.yaml                               # CPU smoke run, nothing to download
    funrl sft --config recipes/smoke/sft.yaml --max_time_s 180 --output_dir runs/sft
    accelerate launch -m funrl.sft --config recipe.yaml

`model_name_or_path: funrl-tiny[:<size>[:<seed>]]` builds a random-weight tiny model (`funrl.toy.tiny_model`);
`dataset_name: toy` generates the toy world (`funrl.toy.world`), otherwise a canonical JSONL file or folder (the
`train.jsonl` of `funrl prepare`) or a `datasets` name/path. `max_time_s` stops training after that many seconds
of training (with a large `max_steps` and a constant schedule this is an equal-compute budget); the model and
tokenizer are saved to `output_dir` with `sft_summary.json` (steps, seconds, whether the budget stopped it).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
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


def train(script_args: SFTScriptArguments, training_args: Any, model_args: Any):
    """Train, save model + tokenizer + `sft_summary.json` to `output_dir`, and return the trainer."""
    return run(build_trainer(script_args, training_args, model_args), script_args, training_args)


def run(trainer: Any, script_args: SFTScriptArguments, training_args: Any):
    """Train a built trainer; save model + tokenizer, `trainer_state.json` and `sft_summary.json` to `output_dir`."""
    start = time.monotonic()
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    seconds = time.monotonic() - start
    trainer.save_model(training_args.output_dir)
    trainer.save_state()  # rank 0 only: the log history `funrl plot` reads, also when save_strategy is "no"
    from funrl.budget import TimeBudgetCallback

    budget = next((cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TimeBudgetCallback)), None)
    summary = {
        "global_step": trainer.state.global_step,
        "train_seconds": round(seconds, 3),
        "train_loss": result.training_loss,
        "max_time_s": script_args.max_time_s,
        "stopped_by_time_budget": bool(budget and budget.stopped),
        "prompt_format": script_args.prompt_format,
        "num_samples": len(trainer.train_dataset),
    }
    if trainer.is_world_process_zero():
        Path(training_args.output_dir, "sft_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    trainer.accelerator.print(f"funrl sft: {summary['global_step']} steps in {seconds:.1f}s, model saved to "
                              f"{training_args.output_dir}")  # fmt: skip
    if hasattr(trainer, "end"):  # transformers >= 5.18: finish the trackers and the process group
        trainer.end()
    return trainer


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors
    from funrl.optional import missing_dependencies

    # bad flags, recipe, data or model, a missing optional dependency: one line, exit code 2
    with user_errors("funrl sft"), missing_dependencies("funrl sft"):
        script_args, training_args, model_args = make_parser().parse_args_and_config(
            list(sys.argv[1:] if argv is None else argv)
        )
        from funrl.config_check import check_config

        check_config(script_args, training_args, model_args)  # types, paths: before anything heavy loads
        trainer = build_trainer(script_args, training_args, model_args)
        trainer.funrl_card.record_command(list(sys.argv[1:] if argv is None else argv), "funrl sft")
    run(trainer, script_args, training_args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
