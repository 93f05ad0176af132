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
`per_category.png`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.atomic import write_atomic
from funrl.evaluate.backends import BACKENDS, GenerationError, make_backend
from funrl.jsonl import dump_line, dumps
from funrl.schema import Sample

FORMATS = ("funrl", "bfcl-prompt", "qwen-fc")


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
    max_new_tokens: int = field(default=256, metadata=_help("generation budget per entry"))
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
        write_atomic(path, [dump_line({"id": k, "output": v}) for k, v in done.items()])
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

        def on_result(i: int, text: str) -> None:
            done[todo[i].id] = text
            handle.write(dump_line({"id": todo[i].id, "output": text}))
            handle.flush()

        backend.generate(todo, args.format, on_result)
    elapsed = time.perf_counter() - start
    return done, elapsed


def plot_categories(per_category: dict[str, float | None], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k, v in per_category.items() if v is not None]
    values = [100 * per_category[k] for k in names]
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 3.5))
    ax.bar(names, values, color="#4C72B0")
    for i, v in enumerate(values):
        ax.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    try:
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    except (ValueError, OSError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    from funrl.evaluate.scoring import render_text, score_samples

    try:
        samples = load_eval_samples(args)
        entries = load_multi_turn(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"funrl eval: error: {exc}", file=sys.stderr)
        return 2
    if not samples and not entries:
        print("funrl eval: error: no entries selected", file=sys.stderr)
        return 2
    out_dir = Path(args.output)
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
    write_atomic(
        out_dir / "per_entry.jsonl",
        [dump_line({k: row[k] for k in ("id", "category", "valid", "reason")}) for row in result.per_entry],
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
    write_atomic(out_dir / "results.json", dumps(summary, indent=2))
    table = render_text(result, name)
    write_atomic(out_dir / "results.md", f"# {name}\n\n{table}\n")
    per_cat = {c: s["accuracy"] for c, s in summary["categories"].items()}
    plot_categories(per_cat, out_dir / "per_category.png", f"{name} ({args.format})")
    print(table)
    files = "generations.jsonl, " if samples else ""
    files += "generations_multi_turn.jsonl, " if entries else ""
    print(f"\nwrote {out_dir}/: {files}per_entry.jsonl, results.json, results.md, per_category.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
