"""One evaluation run in a folder: select the entries (BFCL categories or canonical samples), generate what the
folder does not hold yet (resumable: `generations.jsonl` is appended as results arrive, a re-run with other settings is
refused), score with `funrl.evaluate.scoring` and write `per_entry.jsonl`, `results.json`, `results.md` and
`per_category.png`. The file layout is described in `funrl.evaluate.run` (`funrl eval`, which parses the options and
calls `evaluate`); the CPU demo (`funrl.toy.evaluation`) calls it directly.

    from funrl.evaluate.arguments import EvalArguments
    from funrl.evaluate.runner import evaluate
    summary = evaluate(EvalArguments(model="runs/sft", samples="data/heldout.jsonl", output="runs/eval", device="cpu"))
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from funrl.atomic import write_atomic
from funrl.evaluate.arguments import EvalArguments
from funrl.evaluate.backends import make_backend
from funrl.evaluate.truncation import default_max_new_tokens, read_truncated
from funrl.jsonl import dump_line, dumps
from funrl.optional import available, missing_message
from funrl.schema import Sample


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


def build_backend(args: EvalArguments, make: Callable[..., Any] = make_backend):
    """The generation backend of `args` (built once, on first need, by `make`: `funrl.evaluate.backends.make_backend`
    or a caller's own factory with its signature)."""
    if getattr(args, "_backend", None) is None:
        args._backend = make(
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


def generate_missing(
    args: EvalArguments, samples: list[Sample], out_dir: Path, make: Callable[..., Any] = make_backend
) -> tuple[dict[str, str], float]:
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
    backend = build_backend(args, make)
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


def evaluate(args: EvalArguments, make: Callable[..., Any] = make_backend) -> dict[str, Any]:
    """Evaluate `args.model` on the entries `args` selects, in the folder `args.output`; print the results table and
    return the summary written to `results.json`.

    Args:
        args (`EvalArguments`): the run's options.
        make (`Callable`, *optional*): the backend factory (`funrl.evaluate.backends.make_backend`'s signature).

    Raises:
        `ValueError` / `OSError`: bad input (no entries, an unusable samples file, a run folder made with other
            settings); `funrl.evaluate.backends.GenerationError`: generation stopped (finished entries are kept, a
            re-run resumes).
    """
    from funrl.evaluate.scoring import score_samples

    samples = load_eval_samples(args)
    entries = load_multi_turn(args)
    if not samples and not entries:
        raise ValueError("no entries selected")
    javajs = sorted({s.category for s in samples if s.category in ("simple_java", "simple_javascript")})
    if javajs and not available("tree-sitter"):  # scored as unsupported (N/A), never guessed: say how to fix it
        print(f"funrl eval: warning: {missing_message('tree-sitter', ', '.join(javajs))}; reported as N/A until then",
              file=sys.stderr)  # fmt: skip
    out_dir = Path(args.output)
    if args.update_card and not Path(args.lora or args.model).is_dir():
        raise ValueError(f"--update-card needs a local model folder; {args.lora or args.model} is not one")
    if args.max_new_tokens is None:
        args.max_new_tokens, source = default_max_new_tokens(args.model)
        print(f"funrl eval: max_new_tokens={args.max_new_tokens} ({source})", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    check_run_config(args, out_dir)
    outputs, gen_seconds = generate_missing(args, samples, out_dir, make) if samples else ({}, 0.0)
    if entries:
        from funrl.multiturn.evaluate import RESULTS_FILE, generate_results

        start = time.perf_counter()
        mt_results = generate_results(
            entries,
            args.format,
            out_dir / RESULTS_FILE,
            lambda batch: build_backend(args, make).generate(batch, args.format),
        )
        gen_seconds += time.perf_counter() - start
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
    return summary
