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

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.atomic import write_atomic
from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS
from funrl.evaluate.backends import BACKENDS, GenerationError, make_backend
from funrl.evaluate.truncation import DEFAULT_MAX_NEW_TOKENS, default_max_new_tokens, read_truncated
from funrl.jsonl import dump_line, dumps
from funrl.optional import available, missing_message
from funrl.schema import Sample


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class EvalArguments:
    """Options of `funrl eval` (flags, or keys of a `--config` YAML; TRL's `TrlParser`, like train and sft)."""

    model: str = field(
        default="", metadata=_help("local HF model dir, hub id, PEFT adapter dir, or served model name")
    )
    output: str = field(default="", metadata=_help("run directory (created; a re-run resumes)"))
    backend: str = field(default="hf", metadata=_help("generation backend", choices=list(BACKENDS)))
    format: str = field(default="funrl", metadata=_help("prompt/output format", choices=list(FORMATS)))
    categories: str | None = field(
        default=None,
        metadata=_help("BFCL categories or groups, comma-separated (default: single_turn; multi_turn or its 4 "
                       "categories run the multi-turn conversations); with --samples, the file's own categories"),
    )  # fmt: skip
    data_dir: str | None = field(
        default=None, metadata=_help("BFCL data folder (default: $BFCL_DATA_DIR or bfcl-eval's)")
    )
    samples: str | None = field(
        default=None, metadata=_help("evaluate canonical samples from this JSONL instead of BFCL")
    )
    limit: int | None = field(default=None, metadata=_help("first N entries of each category (quick runs)"))
    max_new_tokens: int | None = field(
        default=None,
        metadata=_help("generation budget per entry (default: the model's max_completion_length when funrl trained "
                       f"it, else {DEFAULT_MAX_NEW_TOKENS}, the recipes' max_completion_length; FunRL CoTs average "
                       "~350 tokens)"),
    )  # fmt: skip
    batch_size: int = field(default=8, metadata=_help("hf backend: prompts per generate() call"))
    lora: str | None = field(default=None, metadata=_help("PEFT adapter to apply (hf: merged; vllm: LoRARequest)"))
    dtype: str = field(default="auto", metadata=_help("hf backend: torch dtype (auto, float32, bfloat16, ...)"))
    tensor_parallel_size: int = field(default=1, metadata=_help("vllm backend"))
    gpu_memory_utilization: float = field(default=0.9, metadata=_help("vllm backend"))
    base_url: str | None = field(
        default=None, metadata=_help("openai backend: server URL, e.g. http://localhost:8000/v1")
    )
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=_help("openai backend: env var holding the key"))
    concurrency: int = field(default=16, metadata=_help("openai backend: requests in flight"))
    timeout: float = field(default=120.0, metadata=_help("openai backend: seconds per request"))
    max_retries: int = field(
        default=5, metadata=_help("openai backend: retries per request (transport faults, malformed replies)")
    )
    device: str | None = field(default=None, metadata=_help("hf backend: cpu, cuda, cuda:1 (default: cuda if any)"))
    name: str | None = field(default=None, metadata=_help("run name in tables (default: the output folder name)"))
    update_card: bool = field(
        default=False,
        metadata=_help("put the BFCL results into the model folder's card (README.md, funrl.model_card); local "
                       "models only"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("no model: pass --model (a model folder, hub id, adapter folder or served name)")
        if not self.output:
            raise ValueError("no run folder: pass --output DIR")
        for name in ("limit", "max_new_tokens", "batch_size", "concurrency", "tensor_parallel_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        if self.max_retries < 0:
            raise ValueError(f"--max-retries must be >= 0, got {self.max_retries}")


def make_parser():
    """The `TrlParser` over `EvalArguments`."""
    from trl import TrlParser

    return TrlParser(EvalArguments, prog="funrl eval", description=__doc__.split("\n\n")[0])


def read_eval_samples(path: str | Path) -> list[Sample]:
    """The canonical samples of `path`; a line that is not one (bad JSON, a missing field, ...) is left out with a
    warning naming file and line, and the others are evaluated. A file with no usable line is a `ValueError`."""
    from funrl.jsonl import read_lines

    samples, bad = [], []
    for line in read_lines(path):
        where = f"{path}:{line.lineno}"
        try:
            if line.error is not None:
                raise ValueError(line.error.message)
            samples.append(Sample.from_dict(line.value, where=where))
        except (ValueError, TypeError, RecursionError) as exc:
            bad.append(str(exc) if str(exc).startswith(str(path)) else f"{where}: {exc}")
    for message in bad:
        print(f"funrl eval: warning: sample not evaluated: {message}", file=sys.stderr)
    if not samples:
        raise ValueError(f"{path}: no usable sample" + (f" ({len(bad)} bad lines; first: {bad[0]})" if bad else ""))
    return samples


def load_eval_samples(args: EvalArguments) -> list[Sample]:
    if args.samples:
        samples = read_eval_samples(args.samples)
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
    from funrl.multiturn import is_multi_turn

    names = [c.strip() for c in (args.categories or "single_turn").split(",") if c.strip()]
    single = [c for c in names if not is_multi_turn(c)]  # multi-turn names: load_multi_turn
    return load_bfcl(args.data_dir, single, limit=args.limit) if single else []


def load_multi_turn(args: EvalArguments) -> list:
    """The BFCL multi-turn entries `--categories` asks for (`multi_turn` or its 4 categories); none with --samples."""
    if args.samples or not args.categories:
        return []
    from funrl.multiturn.data import load_entries

    return load_entries(args.data_dir, args.categories, limit=args.limit)


class RunDirError(ValueError):
    """The output directory cannot be resumed (other settings, a corrupt generations file)."""


# settings that change what a generation is: a re-run with other values must not mix into the same file
RUN_KEYS = ("model", "lora", "backend", "format", "max_new_tokens")


def check_run_config(args: EvalArguments, out_dir: Path) -> None:
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
    write_atomic(path, dumps(current, indent=2) + "\n")


def read_generations(path: Path) -> tuple[dict[str, str], bool]:
    """Outputs already generated (resume). Returns `(outputs by id, whether the file needs rewriting)`.

    A line that cannot be used (a torn last line from a killed run, invalid JSON, not `{"id": str, "output": str}`)
    is dropped with a warning naming file and line, and its entry is generated again; the file is then rewritten
    without it. An id that appears twice keeps its first output (an appended duplicate never changes a verdict).
    """
    from funrl.jsonl import read_lines

    done: dict[str, str] = {}
    if not path.is_file():
        return done, False
    rewrite = not path.read_bytes().endswith(b"\n") and path.stat().st_size > 0
    for line in read_lines(path):
        row = line.value
        if line.error is not None or not (
            isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("output"), str)
        ):
            why = line.error.message if line.error else f'{path}:{line.lineno}: expected {{"id": str, "output": str}}'
            print(f"funrl eval: warning: dropping a generation line ({why}); it is generated again", file=sys.stderr)
            rewrite = True
            continue
        if row["id"] in done:
            print(
                f"funrl eval: warning: {path}:{line.lineno}: id {row['id']!r} already generated; the first output "
                "is kept",
                file=sys.stderr,
            )
            rewrite = True
            continue
        done[row["id"]] = row["output"]
    return done, rewrite


def build_backend(args: EvalArguments):
    """The generation backend of `args` (built once, on first need)."""
    if getattr(args, "_backend", None) is None:
        args._backend = make_backend(
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
    return args._backend


def generate_missing(args: EvalArguments, samples: list[Sample], out_dir: Path) -> tuple[dict[str, str], float]:
    """Generate the samples that `generations.jsonl` does not hold yet, appending each result as it arrives."""
    path = out_dir / "generations.jsonl"
    done, rewrite = read_generations(path)
    if rewrite:
        flags = read_truncated(path)
        write_atomic(path, [dump_line({"id": k, "output": v, "truncated": flags.get(k)}) for k, v in done.items()])
    todo = [s for s in samples if s.id not in done]
    elapsed = 0.0
    if not todo:
        print(f"funrl eval: all {len(samples)} entries already generated in {path}", file=sys.stderr)
        return done, elapsed
    print(
        f"funrl eval: {len(samples) - len(todo)} entries already generated, {len(todo)} to go ({args.backend})",
        file=sys.stderr,
    )
    backend = build_backend(args)
    start = time.perf_counter()
    with path.open("a", encoding="utf-8") as handle:

        def on_result(i: int, text: str, truncated: bool) -> None:
            done[todo[i].id] = text
            handle.write(dump_line({"id": todo[i].id, "output": text, "truncated": truncated}))
            handle.flush()

        backend.generate(todo, args.format, on_result)
    elapsed = time.perf_counter() - start
    return done, elapsed


def add_limits_report(
    summary: dict[str, Any], result: Any, samples: list[Sample], entries: list, args, out_dir: Path, name: str
) -> str:
    """Add truncation counts and coverage (partial run) to `summary`, draw the chart; return the results.md body.

    `entries` are the multi-turn entries: they count in the coverage, not in the truncation counts (the
    conversation loop records no per-step flag)."""
    from funrl.evaluate.charts import plot_scores
    from funrl.evaluate.scoring import render_text
    from funrl.evaluate.truncation import coverage, render_coverage, render_truncation, truncation_stats

    single = {s.id for s in samples}
    rows = [row for row in result.per_entry if row["id"] in single]
    summary["truncation"] = truncation_stats(rows, args.max_new_tokens)
    counts: dict[str, int] = {}
    for item in [*samples, *entries]:
        counts[item.category] = counts.get(item.category, 0) + 1
    summary["coverage"] = coverage(counts, args.limit, bfcl=all(s.source == "bfcl" for s in samples))
    partial = render_coverage(summary["coverage"])
    parts = [partial] if partial else []
    parts += [render_text(result, name), render_truncation(summary["truncation"])]
    cut = {c: info["share"] for c, info in summary["truncation"]["categories"].items()}
    plot_scores(
        {name: result.scores},
        out_dir / "per_category.png",
        title=f"{name} ({args.format})",
        categories=list(counts),
        partial={name: summary["coverage"]["partial"]},
        truncation={name: cut},
    )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    try:
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    except (ValueError, OSError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    from funrl.evaluate.scoring import score_samples

    try:
        samples = load_eval_samples(args)
        entries = load_multi_turn(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    if not samples and not entries:
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
        outputs, gen_seconds = generate_missing(args, samples, out_dir) if samples else ({}, 0.0)
        if entries:
            from funrl.multiturn.evaluate import RESULTS_FILE, generate_results

            start = time.perf_counter()
            mt_results = generate_results(
                entries,
                args.format,
                out_dir / RESULTS_FILE,
                lambda batch: build_backend(args).generate(batch, args.format),
            )
            gen_seconds += time.perf_counter() - start
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
    if entries:
        from funrl.evaluate.scoring import merge_multi_turn
        from funrl.multiturn.evaluate import score_results

        result = merge_multi_turn(result, *score_results([(mt_results[e.id], e) for e in entries], args.format))
    flags = read_truncated(out_dir / "generations.jsonl")  # multi-turn entries have no flag (None)
    for row in result.per_entry:
        row["truncated"] = flags.get(row["id"])
    write_atomic(
        out_dir / "per_entry.jsonl",
        [
            dump_line({k: row[k] for k in ("id", "category", "valid", "reason", "truncated")})
            for row in result.per_entry
        ],
    )
    summary: dict[str, Any] = {
        "name": name,
        "model": args.model,
        "backend": args.backend,
        "format": args.format,
        "entries": len(samples) + len(entries),
        "generation_seconds": round(gen_seconds, 2),
        **result.to_dict(),
    }
    scored = sum(c["scored"] for c in summary["categories"].values())
    correct = sum(c["correct"] for c in summary["categories"].values())
    summary["micro_accuracy"] = correct / scored if scored else None  # all scored entries pooled
    table = add_limits_report(summary, result, samples, entries, args, out_dir, name)
    write_atomic(out_dir / "results.json", dumps(summary, indent=2))
    write_atomic(out_dir / "results.md", f"# {name}\n\n{table}\n")
    print(table)
    if args.update_card:
        from funrl.model_card import update_card_results

        print(f"funrl eval: results added to {update_card_results(args.lora or args.model, summary, out_dir)}")
    files = "generations.jsonl, " if samples else ""
    files += "generations_multi_turn.jsonl, " if entries else ""
    print(f"\nwrote {out_dir}/: {files}per_entry.jsonl, results.json, results.md, per_category.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
