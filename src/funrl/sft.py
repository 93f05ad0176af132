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
from pathlib import Path
from typing import Any

# The options, parser, dataset and trainer live in the library module `funrl.sft_trainer` (the CPU demo builds its
# trainers there too); import them from there.
from funrl.sft_trainer import SFTScriptArguments, build_trainer, make_parser

__all__ = ["main", "run", "train"]


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
