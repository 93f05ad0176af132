"""`funrl eval`: generate on BFCL single-turn categories (or any canonical samples) and score like BFCL.

Prompts are rendered by `funrl.template` (the trainer's code) in the format the model was trained on; outputs
are scored with `funrl.calls.check_output` (the reward's checker) and aggregated by `funrl.metrics`, exactly
as `funrl score` does, so `funrl score --outputs RUN/generations.jsonl` gives the same numbers again.

    funrl eval --model runs/funrl --categories simple_python,parallel --limit 20 --output runs/eval-funrl
    funrl eval --model Qwen/Qwen2.5-Coder-7B-Instruct --backend vllm --format bfcl-prompt --categories single_turn \
        --tensor-parallel-size 8 --output runs/eval-base
    funrl eval --model served-name --backend openai --base-url http://localhost:8000/v1 --output runs/eval-api
    funrl eval --model runs/sft --samples data/heldout.jsonl --output runs/eval-heldout   # canonical samples

The output directory holds `run_config.json` (model, backend, format, budget: a re-run with other settings is
refused), `generations.jsonl` (`{"id", "output"}` lines, appended as they are produced, so a re-run skips entries
already generated and a torn last line from a killed run is dropped), `per_entry.jsonl` (verdicts with reasons),
`results.json`, `results.md` (paper layout: Non-Live AST | Live | Overall, plus BFCL v3 overall and v4 sub-scores) and
`per_category.png`. Each generation carries a `truncated` flag (it stopped at `--max-new-tokens`); the count and share
of cut generations per category are in results.md, results.json (`truncation`) and the chart, and a `--limit` run
is marked as partial (`coverage`), see `funrl.evaluate.truncation`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from funrl.evaluate.backends import BACKENDS, GenerationError, make_backend
from funrl.evaluate.truncation import DEFAULT_MAX_NEW_TOKENS, default_max_new_tokens, read_truncated
from funrl.optional import available, missing_message
from funrl.schema import Sample, read_samples

FORMATS = ("funrl", "bfcl-prompt", "qwen-fc")


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="funrl eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="local HF model dir, hub id, PEFT adapter dir, or served model name")
    p.add_argument("--output", required=True, help="run directory (created; a re-run resumes)")
    p.add_argument("--backend", default="hf", choices=BACKENDS, help="generation backend (default: hf)")
    p.add_argument("--format", default="funrl", choices=FORMATS, help="prompt/output format (default: funrl)")
    p.add_argument(
        "--categories",
        default=None,
        help="BFCL categories or groups, comma-separated (default: single_turn); with --samples, the file's categories",
    )
    p.add_argument("--data-dir", default=None, help="BFCL data folder (default: $BFCL_DATA_DIR or bfcl-eval's data)")
    p.add_argument("--samples", default=None, help="evaluate canonical samples from this JSONL instead of BFCL")
    p.add_argument("--limit", type=_positive_int, default=None, help="first N entries of each category (quick runs)")
    p.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=None,
        help="generation budget per entry (default: the model's max_completion_length when funrl trained it, else "
        f"{DEFAULT_MAX_NEW_TOKENS}, the recipes' max_completion_length; FunRL CoTs average ~350 tokens)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=8, help="hf backend: prompts per generate() call")
    p.add_argument("--lora", default=None, help="PEFT adapter to apply (hf: merged; vllm: LoRARequest)")
    p.add_argument("--dtype", default="auto", help="hf backend: torch dtype (auto, float32, bfloat16, ...)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="vllm backend")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9, help="vllm backend")
    p.add_argument("--base-url", default=None, help="openai backend: server URL, e.g. http://localhost:8000/v1")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai backend: env var holding the key")
    p.add_argument("--concurrency", type=_positive_int, default=16, help="openai backend: requests in flight")
    p.add_argument("--timeout", type=float, default=120.0, help="openai backend: seconds per request")
    p.add_argument("--max-retries", type=int, default=5, help="openai backend: attempts per request")
    p.add_argument("--device", default=None, help="hf backend: cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--name", default=None, help="run name in tables (default: the output folder name)")
    p.add_argument(
        "--update-card",
        action="store_true",
        help="put the BFCL results into the model folder's card (README.md, funrl.model_card); local models only",
    )
    return p


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def load_eval_samples(args: argparse.Namespace) -> list[Sample]:
    if args.samples:
        samples = read_samples(args.samples)
        seen: dict[str, int] = {}
        for k, s in enumerate(samples, start=1):
            if s.id in seen:
                raise ValueError(f"{args.samples}: sample {k} repeats id {s.id!r} (first at sample {seen[s.id]})")
            seen[s.id] = k
        if args.categories:  # canonical samples: categories are the file's own names
            wanted = [c.strip() for c in args.categories.split(",") if c.strip()]
            present = sorted({s.category for s in samples})
            unknown = [c for c in wanted if c not in present]
            if unknown:
                raise ValueError(f"{args.samples}: no samples of categories {unknown}; the file has {present}")
            samples = [s for s in samples if s.category in wanted]
        if args.limit:
            by_cat: dict[str, list[Sample]] = {}
            for s in samples:
                by_cat.setdefault(s.category, []).append(s)
            samples = [s for group in by_cat.values() for s in group[: args.limit]]
        return samples
    from funrl.bfcl import load_bfcl

    return load_bfcl(args.data_dir, args.categories or "single_turn", limit=args.limit)


class RunDirError(ValueError):
    """The output directory cannot be resumed (other settings, a corrupt generations file)."""


# settings that change what a generation is: a re-run with other values must not mix into the same file
RUN_KEYS = ("model", "lora", "backend", "format", "max_new_tokens")


def check_run_config(args: argparse.Namespace, out_dir: Path) -> None:
    """Write `run_config.json` on the first run; on a re-run, refuse settings that differ from it."""
    path = out_dir / "run_config.json"
    current = {k: getattr(args, k) for k in RUN_KEYS}
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{path}: invalid JSON ({exc.msg}); delete it to start the run again") from None
        diff = [f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in RUN_KEYS if saved.get(k) != current[k]]
        if diff and (out_dir / "generations.jsonl").is_file():
            raise RunDirError(
                f"{out_dir} holds generations made with other settings ({'; '.join(diff)}); use another --output, "
                "or delete its generations.jsonl to start again"
            )
    path.write_text(json.dumps(current, indent=2) + "\n")


def read_generations(path: Path) -> tuple[dict[str, str], bool]:
    """Outputs already generated (resume). Returns `(outputs by id, whether the file needs rewriting)`.

    A torn last line (a killed run: invalid JSON, or no final newline) is dropped with a warning and the file is
    rewritten without it; a bad line anywhere else is an error naming the file and line.
    """
    done: dict[str, str] = {}
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if not text:
        return done, False
    complete = text.endswith("\n")
    lines = text.split("\n")[:-1] if complete else text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
            if not (isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("output"), str)):
                raise ValueError('expected {"id": str, "output": str}')
        except ValueError as exc:
            if lineno == len(lines):
                print(f"funrl eval: {path}:{lineno}: dropping a torn last line (interrupted run)", file=sys.stderr)
                return done, True
            raise RunDirError(f"{path}:{lineno}: not a generation line ({exc}); fix or delete the file") from None
        done[row["id"]] = row["output"]
    return done, not complete  # a last line without its newline is rewritten with one


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def generate_missing(args: argparse.Namespace, samples: list[Sample], out_dir: Path) -> tuple[dict[str, str], float]:
    """Generate the samples that `generations.jsonl` does not hold yet, appending each result as it arrives."""
    path = out_dir / "generations.jsonl"
    done, rewrite = read_generations(path)
    if rewrite:
        flags = read_truncated(path)
        rows = ({"id": k, "output": v, "truncated": flags.get(k)} for k, v in done.items())
        _write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    todo = [s for s in samples if s.id not in done]
    elapsed = 0.0
    if not todo:
        print(f"funrl eval: all {len(samples)} entries already generated in {path}", file=sys.stderr)
        return done, elapsed
    print(
        f"funrl eval: {len(samples) - len(todo)} entries already generated, {len(todo)} to go ({args.backend})",
        file=sys.stderr,
    )
    backend = make_backend(
        args.backend,
        model=args.model,
        lora=args.lora,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        dtype=args.dtype,
        device=args.device,
        tensor_parallel_size=args.tensor_parallel_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        max_retries=args.max_retries,
    )
    start = time.perf_counter()
    with path.open("a", encoding="utf-8") as handle:

        def on_result(i: int, text: str, truncated: bool) -> None:
            done[todo[i].id] = text
            row = {"id": todo[i].id, "output": text, "truncated": truncated}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()

        backend.generate(todo, args.format, on_result)
    elapsed = time.perf_counter() - start
    return done, elapsed


def add_limits_report(summary: dict[str, Any], result: Any, samples: list[Sample], args, out_dir: Path, name: str):
    """Add truncation counts and coverage (partial run) to `summary`, draw the chart; return the results.md body."""
    from funrl.evaluate.charts import plot_scores
    from funrl.evaluate.truncation import coverage, render_coverage, render_truncation, truncation_stats
    from funrl.score import render_text

    summary["truncation"] = truncation_stats(result.per_entry, args.max_new_tokens)
    entries: dict[str, int] = {}
    for s in samples:
        entries[s.category] = entries.get(s.category, 0) + 1
    summary["coverage"] = coverage(entries, args.limit, bfcl=all(s.source == "bfcl" for s in samples))
    partial = render_coverage(summary["coverage"])
    parts = [partial] if partial else []
    parts += [render_text(result, name), render_truncation(summary["truncation"])]
    cut = {c: info["share"] for c, info in summary["truncation"]["categories"].items()}
    plot_scores(
        {name: result.scores},
        out_dir / "per_category.png",
        title=f"{name} ({args.format})",
        categories=list(entries),
        partial={name: summary["coverage"]["partial"]},
        truncation={name: cut},
    )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from funrl.score import score_samples

    try:
        samples = load_eval_samples(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    if not samples:
        print("funrl eval: error: no entries selected", file=sys.stderr)
        return 2
    javajs = sorted({s.category for s in samples if s.category in ("simple_java", "simple_javascript")})
    if javajs and not available("tree-sitter"):  # scored as unsupported (N/A), never guessed: say how to fix it
        print(f"funrl eval: warning: {missing_message('tree-sitter', ', '.join(javajs))}; reported as N/A until then",
              file=sys.stderr)  # fmt: skip
    out_dir = Path(args.output)
    if args.update_card and not Path(args.lora or args.model).is_dir():
        print(f"funrl eval: error: --update-card needs a local model folder; {args.lora or args.model} is not one",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.max_new_tokens is None:
        args.max_new_tokens, source = default_max_new_tokens(args.model)
        print(f"funrl eval: max_new_tokens={args.max_new_tokens} ({source})", file=sys.stderr)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        check_run_config(args, out_dir)
        outputs, gen_seconds = generate_missing(args, samples, out_dir)
    except GenerationError as exc:
        print(
            f"funrl eval: error: {exc}\nfinished entries are kept; re-run the same command to resume", file=sys.stderr
        )
        return 2
    except (ValueError, OSError, ImportError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    name = args.name or out_dir.name
    result = score_samples([({"id": s.id, "output": outputs[s.id]}, s) for s in samples], args.format)
    flags = read_truncated(out_dir / "generations.jsonl")
    with (out_dir / "per_entry.jsonl").open("w", encoding="utf-8") as handle:
        for row in result.per_entry:
            row["truncated"] = flags.get(row["id"])
            handle.write(json.dumps({k: row[k] for k in ("id", "category", "valid", "reason", "truncated")}) + "\n")
    summary: dict[str, Any] = {
        "name": name,
        "model": args.model,
        "backend": args.backend,
        "format": args.format,
        "entries": len(samples),
        "generation_seconds": round(gen_seconds, 2),
        **result.to_dict(),
    }
    scored = sum(c["scored"] for c in summary["categories"].values())
    correct = sum(c["correct"] for c in summary["categories"].values())
    summary["micro_accuracy"] = correct / scored if scored else None  # all scored entries pooled
    table = add_limits_report(summary, result, samples, args, out_dir, name)
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "results.md").write_text(f"# {name}\n\n{table}\n")
    print(table)
    if args.update_card:
        from funrl.model_card import update_card_results

        print(f"funrl eval: results added to {update_card_results(args.lora or args.model, summary, out_dir)}")
    print(f"\nwrote {out_dir}/: generations.jsonl, per_entry.jsonl, results.json, results.md, per_category.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
