"""`funrl tiny-model`: build a tiny random-weight model + tokenizer into a folder (`funrl.toy.tiny_model`).

    funrl tiny-model --output runs/tiny --size small
    funrl tiny-model --output runs/tiny --size tiny --seed 3 --overwrite

A non-empty `--output` folder is refused unless `--overwrite` is given (a trained model is never replaced by random
weights by a slip of the folder name).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from funrl.toy.tiny_model import SIZES, build_tiny_model


@dataclass
class TinyModelArguments:
    """Options of `funrl tiny-model`, filled by TRL's `TrlParser` like train/sft (`--help` shows every default).

    Parameters:
        output (`str`): folder to write the model and tokenizer to (required).
        size (`str`, *optional*, defaults to `"tiny"`): one of `funrl.toy.tiny_model.SIZES`.
        seed (`int`, *optional*, defaults to `0`): seed of the weight initialisation.
        overwrite (`bool`, *optional*, defaults to `False`): replace the files of a non-empty `output` folder.
    """

    output: str = field(metadata={"help": "Folder to write the model and tokenizer to."})
    size: str = field(default="tiny", metadata={"help": "Model size.", "choices": sorted(SIZES)})
    seed: int = field(default=0, metadata={"help": "Seed of the weight initialisation."})
    overwrite: bool = field(default=False, metadata={"help": "Replace the files of a non-empty --output folder."})

    def __post_init__(self):
        output = Path(self.output)
        if output.is_file() or (output.is_dir() and any(output.iterdir()) and not self.overwrite):
            # a trained model (e.g. an SFT output) must not be replaced by random weights by a slip of the folder name
            raise ValueError(
                f"--output {self.output} exists and is not an empty folder; choose another, or pass --overwrite"
            )


def make_parser():
    """The `TrlParser` over `TinyModelArguments`."""
    from trl import TrlParser

    return TrlParser(TinyModelArguments, prog="funrl tiny-model", description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors

    with user_errors("funrl tiny-model"):  # bad flags or an occupied folder: one line, exit code 2
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    path = build_tiny_model(args.output, size=args.size, seed=args.seed)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    count = model.num_parameters()
    print(f"wrote {args.size} tiny model ({count / 1e6:.2f}M parameters, vocab {model.config.vocab_size}) to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
