"""The `funrl` command: a thin dispatcher over the stage modules.

Each subcommand lives in its own module with a `main(argv: list[str] | None) -> int | None`
function, so `funrl train ...`, `python -m funrl.train ...` and `accelerate launch -m funrl.train ...`
all run the same code. This file only maps names to modules; it parses nothing itself.

    funrl --help
    funrl score --outputs out.jsonl --data-dir ../shared/bfcl_data
"""

from __future__ import annotations

import importlib
import os
import sys

# subcommand -> (module, one-line help). Modules are imported lazily so `funrl score` never loads torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "score": ("funrl.evaluate.score", "score raw model outputs against BFCL with funrl's parser and matcher"),
    "prepare": ("funrl.data.prepare", "read, validate (AST + optional LLM judge) and split function-calling data"),
    "sft": ("funrl.sft", "SFT warm-up on samples rendered in the FunRL template"),
    "train": ("funrl.train", "FunRL / GRPO training on TRL's GRPOTrainer"),
    "eval": ("funrl.evaluate.run", "generate on BFCL single-turn categories and score"),
    "report": ("funrl.evaluate.report", "put several evaluation runs side by side"),
    "plot": ("funrl.plot", "learning curves (reward, KL, entropy, bonus) of one or more runs"),
    "tiny-model": (
        "funrl.toy.tiny_model_cmd",
        "build a tiny random-weight model + tokenizer for tests and the quickstart",
    ),
    "toy-base": ("funrl.toy.base_cmd", "rebuild the toy base model that ships with funrl (the quickstart's start)"),
    "quickstart": ("funrl.toy.quickstart", "the whole pipeline on a tiny model on CPU"),
    "ablate": ("funrl.toy.ablate", "GRPO vs FunRL vs SFT control on the toy world, several seeds"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: funrl <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `funrl <command> --help` for the options of a command; `funrl --debug <command> ...` shows"]
    lines += ["the traceback of an internal error (also FUNRL_TRACEBACK=1)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--debug":  # full tracebacks (funrl.errors.run_guarded)
        os.environ["FUNRL_TRACEBACK"] = "1"
        argv = argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from funrl import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"funrl: unknown command {name!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from funrl.errors import run_guarded

    return run_guarded(f"funrl {name}", lambda args: importlib.import_module(COMMANDS[name][0]).main(args), rest)


if __name__ == "__main__":
    sys.exit(main())
