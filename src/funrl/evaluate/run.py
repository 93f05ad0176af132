"""`funrl eval`: generate on BFCL single-turn categories (or any canonical samples) and score like BFCL.

Prompts are rendered by `funrl.template` (the trainer's code) in the format the model was trained on; outputs
are scored with `funrl.calls.check_output` (the reward's checker) and aggregated by `funrl.evaluate.metrics`, exactly
as `funrl score` does, so `funrl score --outputs RUN/generations.jsonl` gives the same numbers again.

    funrl eval --model runs/funrl --categories simple_python,parallel --limit 20 --output runs/eval-funrl
    funrl eval --model Qwen/Qwen2.5-Coder-7B-Instruct --backend vllm --format bfcl-prompt --categories single_turn \
        --tensor-parallel-size 8 --output runs/eval-base
    funrl eval --model served-name --backend openai --base-url http://localhost:8000/v1 --output runs/eval-api
    funrl eval --model runs/sft --samples data/heldout.jsonl --output runs/eval-heldout   # canonical samples

The output directory holds `run_config.json` (model, backend, format, budget: a re-run with other settings is
refused), `generations.jsonl` (`{"id", "output"}` lines, appended as they are produced, so a re-run skips entries
already generated and a torn last line from a killed run is dropped; multi-turn entries go to
`generations_multi_turn.jsonl`, `funrl.multiturn.evaluate`), `per_entry.jsonl` (verdicts with reasons),
`results.json`, `results.md` (paper layout: Non-Live AST | Live | Overall, plus BFCL v3 overall and v4 sub-scores) and
`per_category.png`. Each generation carries a `truncated` flag (it stopped at `--max-new-tokens`); the count and share
of cut generations per category are in results.md, results.json (`truncation`) and the chart, and a `--limit` run
is marked as partial (`coverage`), see `funrl.evaluate.truncation`.
"""

from __future__ import annotations

import sys

from funrl.evaluate.arguments import EvalArguments
from funrl.evaluate.backends import GenerationError, make_backend
from funrl.evaluate.runner import evaluate


def make_parser():
    """The `TrlParser` over `EvalArguments`."""
    from trl import TrlParser

    return TrlParser(EvalArguments, prog="funrl eval", description=__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    try:
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    except (ValueError, OSError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    try:
        evaluate(args, make_backend)  # this module's `make_backend`, so that a test can swap the backend here
    except GenerationError as exc:
        print(
            f"funrl eval: error: {exc}\nfinished entries are kept; re-run the same command to resume", file=sys.stderr
        )
        return 2
    except (ValueError, OSError, ImportError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
