"""Run the official BFCL CLI (`bfcl generate` / `bfcl evaluate`) on a checkpoint trained in funrl's own template.

BFCL has handlers for the other two funrl formats (`bfcl-prompt`: a prompt-mode OSS handler such as Qwen's;
`qwen-fc`: `QwenFCHandler`, see docs/evaluation.md), but none for the funrl template
(`<think>…</think><answer>[f(a=1)]</answer>`). This script registers model names whose handler,
`FunRLHandler`, is a prompt-mode Qwen handler that

* builds the prompt exactly as `funrl eval --format funrl` does: funrl's system prompt with the tools
  (`funrl.template.prompt_messages`), rendered with the checkpoint's own chat template (bfcl loads the tokenizer
  from `--local-model-path`);
* keeps the whole completion, think block included, as the result (so `funrl score --format funrl` can score
  bfcl's result files too);
* decodes only the answer body before BFCL's prompt-mode decoder (`extract_answer`: the text between the first
  `<answer>` and the next `</answer>`, as `funrl.calls.parse_calls` reads it; no pair -> no call).

The registration lives in this process only (`MODEL_CONFIG_MAPPING` is extended before bfcl's CLI runs), so
`generate` and `evaluate` must both go through this script. Before `generate`, the checkpoint's
tokenizer_config.json is rewritten (when needed) in the form the tool's transformers 4.x loads
(`funrl.tokenizer_compat`; transformers 5 writes `extra_special_tokens` as a list, which 4.x cannot read). Run it with the Python that has bfcl-eval installed
(with its `oss-eval-vllm` or `oss-eval-sglang` extra for `generate`); funrl itself is found in this repository's
`src/` when it is not installed there.

    export BFCL_PROJECT_ROOT=$PWD/bfcl_run
    python scripts/bfcl_register_funrl.py --name funrl-qwen7b generate --model funrl-qwen7b \\
        --local-model-path runs/funrl-merged --test-category single_turn --backend vllm --num-gpus 1
    python scripts/bfcl_register_funrl.py --name funrl-qwen7b evaluate --model funrl-qwen7b \\
        --test-category single_turn
    # or: the official checker on the generations of a `funrl eval --format funrl` run folder (no GPU)
    python scripts/bfcl_register_funrl.py --name funrl-qwen7b --from-funrl-run runs/eval-funrl \\
        evaluate --model funrl-qwen7b --test-category single_turn --partial-eval

Names must not contain `_` (bfcl maps result folder names back with `replace("_", "/")`). Multi-turn entries get
funrl's system prompt around BFCL's (language-hinted) function docs; funrl itself evaluates single-turn only.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

ANSWER, END_ANSWER = "<answer>", "</answer>"


def extract_answer(text: str) -> str:
    """The answer body BFCL's decoder sees: the text between the first `<answer>` and the next `</answer>`.

    Without such a pair the model made no call and the body is `""` (BFCL decodes it as an empty call list), the
    rule of `funrl.calls.parse_calls(..., "funrl")`, which scores the same body whether or not the rest of the
    template is followed.
    """
    start = text.find(ANSWER)
    if start < 0:
        return ""
    end = text.find(END_ANSWER, start + len(ANSWER))
    return text[start + len(ANSWER) : end] if end >= 0 else ""


def _import_funrl() -> None:
    try:
        import funrl  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


@cache
def _funrl_samples(category: str) -> dict[str, Any]:
    """funrl's samples of one single-turn category, read from the data bfcl itself uses."""
    from bfcl_eval.constants.eval_config import PROMPT_PATH

    from funrl.bfcl import load_category

    return {s.id: s for s in load_category(PROMPT_PATH, category)}


def funrl_messages(entry_id: str, first_turn: list[dict], functions: list[dict]) -> list[dict]:
    """The first turn's messages with funrl's system prompt: `prompt_messages(sample, "funrl")` for a single-turn
    BFCL entry (byte-identical to `funrl eval`), funrl's prompt around `functions` otherwise (multi-turn)."""
    from funrl.bfcl import SINGLE_TURN, category_of
    from funrl.schema import normalize_tools
    from funrl.template import FUNRL_SYSTEM_PROMPT, prompt_messages

    try:
        category = category_of(entry_id)
    except ValueError:
        category = None
    if category in SINGLE_TURN:
        return prompt_messages(_funrl_samples(category)[entry_id], "funrl")
    tools = normalize_tools(functions, "python")
    system = FUNRL_SYSTEM_PROMPT + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    if first_turn and first_turn[0].get("role") == "system":
        return [{"role": "system", "content": system + "\n\n" + str(first_turn[0]["content"])}] + first_turn[1:]
    return [{"role": "system", "content": system}] + list(first_turn)


def make_handler_class():
    """`FunRLHandler`: bfcl's prompt-mode `QwenHandler` with funrl's prompt and answer extraction."""
    from bfcl_eval.model_handler.local_inference.qwen import QwenHandler
    from bfcl_eval.model_handler.utils import default_decode_ast_prompting, default_decode_execute_prompting

    def override(method):
        # bfcl's handlers require overriding methods to be marked (overrides.EnforceOverrides); the library's
        # @override looks the base class up from the defining frame, which fails for a class built in a function
        method.__override__ = True
        return method

    class FunRLHandler(QwenHandler):
        @override
        def _pre_query_processing_prompting(self, test_entry: dict) -> dict:
            functions = test_entry["function"]
            test_entry["question"][0] = funrl_messages(test_entry["id"], test_entry["question"][0], functions)
            return {"message": [], "function": functions}

        @override
        def _format_prompt(self, messages, function):
            tokenizer = getattr(self, "tokenizer", None)  # set by bfcl generate from the checkpoint
            if tokenizer is not None and getattr(tokenizer, "chat_template", None):
                return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return super()._format_prompt(messages, function)  # ChatML, as Qwen models write it

        @override
        def _parse_query_response_prompting(self, api_response: Any) -> dict:
            return {
                "model_responses": api_response.choices[0].text,  # think block kept: scoreable by funrl too
                "input_token": api_response.usage.prompt_tokens,
                "output_token": api_response.usage.completion_tokens,
            }

        @override
        def decode_ast(self, result, language, has_tool_call_tag):
            return default_decode_ast_prompting(extract_answer(result), language, has_tool_call_tag)

        @override
        def decode_execute(self, result, has_tool_call_tag):
            return default_decode_execute_prompting(extract_answer(result), has_tool_call_tag)

    return FunRLHandler


def register(name: str, model_name: str | None = None) -> None:
    """Add `name` to bfcl's model registry with `FunRLHandler` (prompt mode, exact function names)."""
    if "_" in name:
        raise ValueError(f"model name {name!r}: bfcl names must not contain '_' (use '-')")
    _import_funrl()
    from bfcl_eval.constants.model_config import MODEL_CONFIG_MAPPING, ModelConfig

    MODEL_CONFIG_MAPPING[name] = ModelConfig(
        model_name=model_name or name,
        display_name=f"{name} (funrl template)",
        url="https://arxiv.org/abs/2508.05118",
        org="funrl",
        license="apache-2.0",
        model_handler=make_handler_class(),
        input_price=None,
        output_price=None,
        is_fc_model=False,
        underscore_to_dot=False,
    )


def import_funrl_run(run_dir: str | Path, name: str) -> list[str]:
    """Write the generations of a `funrl eval --format funrl` run folder as bfcl result files of model `name`
    (under `$BFCL_PROJECT_ROOT/result/<name>/`, in BFCL's entry order), so `bfcl evaluate --model <name>` scores
    exactly what funrl scored. Returns the categories written.

    Raises:
        `ValueError`: the folder is not a funrl run in the funrl format, or holds an id bfcl does not know.
    """
    from collections import defaultdict

    from bfcl_eval.constants.eval_config import RESULT_PATH

    _import_funrl()
    from funrl.bfcl import SINGLE_TURN, category_of

    run = Path(run_dir)
    config = json.loads((run / "run_config.json").read_text()) if (run / "run_config.json").is_file() else {}
    if config.get("format", "funrl") != "funrl":
        raise ValueError(f"{run}: format {config['format']!r}; this handler reads the funrl format (for bfcl-prompt "
                         "and qwen-fc runs use bfcl's own handlers, docs/evaluation.md)")  # fmt: skip
    path = run / "generations.jsonl"
    if not path.is_file():
        raise ValueError(f"{path} not found: is {run} a `funrl eval` output folder?")
    outputs: dict[str, dict[str, str]] = defaultdict(dict)
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        row = json.loads(line)
        category = category_of(row["id"])
        if category not in SINGLE_TURN:
            raise ValueError(f"{path}:{lineno}: id {row['id']!r} is not a BFCL single-turn entry")
        outputs[category][row["id"]] = row["output"]
    for category, by_id in outputs.items():
        order = [i for i in _funrl_samples(category) if i in by_id]
        folder = RESULT_PATH / name / ("live" if category.startswith("live") else "non_live")
        folder.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps({"id": i, "result": by_id[i]}, ensure_ascii=False) + "\n" for i in order)
        (folder / f"BFCL_v4_{category}_result.json").write_text(text, encoding="utf-8")
    return sorted(outputs)


def portable_tokenizer(argv: list[str]) -> None:
    """Before `bfcl generate --local-model-path DIR`: rewrite DIR's tokenizer_config.json in the form the tool's
    transformers 4.x loads (`funrl.tokenizer_compat`; checkpoints funrl saves are written that way already)."""
    if "--local-model-path" not in argv[:-1]:
        return
    _import_funrl()
    from funrl.tokenizer_compat import make_portable

    folder = argv[argv.index("--local-model-path") + 1]
    if make_portable(folder):
        print(f"bfcl_register_funrl: rewrote {folder}/tokenizer_config.json so transformers 4.x loads it "
              "(extra_special_tokens list -> additional_special_tokens)", file=sys.stderr)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names, runs = [], []
    while len(argv) >= 2 and argv[0] in ("--name", "--from-funrl-run"):
        (names if argv[0] == "--name" else runs).append(argv[1])
        argv = argv[2:]
    if not names or not argv or argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n    export")[0])
        print("\nusage: bfcl_register_funrl.py --name NAME [--name NAME ...] [--from-funrl-run RUN_DIR] BFCL_COMMAND "
              "[BFCL_OPTIONS ...]")  # fmt: skip
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        for name in names:
            register(name)
        portable_tokenizer(argv)
        for run in runs:  # the run's generations become result files of the first name
            written = import_funrl_run(run, names[0])
            print(f"bfcl_register_funrl: {run}: results of {', '.join(written)} written for {names[0]}",
                  file=sys.stderr)  # fmt: skip
    except (ValueError, ImportError, OSError, KeyError) as exc:
        print(f"bfcl_register_funrl: error: {exc}", file=sys.stderr)
        return 2
    from bfcl_eval.__main__ import cli

    try:
        cli(args=argv, prog_name="bfcl")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
