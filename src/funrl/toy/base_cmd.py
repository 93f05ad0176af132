"""`funrl toy-base`: rebuild the toy base model that ships with funrl (`funrl.toy.base`), the quickstart's start.

    funrl toy-base --output src/funrl/toy/base_model       # rebuild the shipped model (see its README.md card)
    funrl toy-base --output runs/base --steps 20 --eval-n 20  # a few steps: a quick look at the pipeline

The data, training, bfloat16 storage, evaluation and card are `funrl.toy.base.build_toy_base`; a stopped build
resumes from the checkpoints in its work folder.
"""

from __future__ import annotations

import sys

from funrl.toy.base import ToyBaseArguments, build_toy_base, load_card


def make_parser():
    """The `TrlParser` over `ToyBaseArguments` (flags, or keys of a `--config` YAML; `--help` shows the defaults)."""
    from trl import TrlParser

    return TrlParser((ToyBaseArguments,), prog="funrl toy-base", description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors

    argv = list(sys.argv[1:] if argv is None else argv)
    with user_errors("funrl toy-base"):  # bad flags or recipe: one line, exit code 2
        (args,) = make_parser().parse_args_and_config(argv)
    out = build_toy_base(args, "funrl toy-base " + " ".join(argv))
    facts = load_card(out)
    print(f"toy base model ({facts['parameters'] / 1e6:.2f}M parameters, {facts['steps']} steps, "
          f"{facts['wall_seconds'] / 60:.1f} min) written to {out}; card: {out / 'README.md'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
