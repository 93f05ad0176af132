"""Generation throughput of `funrl eval`'s `hf` backend: batched (left padded) vs one prompt at a time.

The model is funrl's tiny random-weight Qwen2-style model (`funrl.toy.tiny_model`, "small" size by default, built in a
temporary folder) or any local model given with `--model`. Prompts are real BFCL entries rendered in the chosen
format by `funrl.template`, exactly as `funrl eval` renders them; generation is greedy through
`funrl.evaluate.backends.HFBackend.generate_ids`, i.e. the code path of `funrl eval`.

Printed per mode: generated tokens per second of wall time and of this process's CPU time (on a shared CPU the
CPU-time figure is less disturbed by other jobs; on a GPU only wall time means anything), medians of `--repeat`
runs after one warm-up; whether both modes produced the same token ids (they must: left padding does not change
greedy outputs); and the ratio batched / one-by-one last.

    .venv/bin/python benchmarks/generation_throughput.py --data-dir ../shared/bfcl_data
    .venv/bin/python benchmarks/generation_throughput.py --entries 64 --batch-size 16 --device cuda --threads 8
    .venv/bin/python benchmarks/generation_throughput.py --model runs/sft --format bfcl-prompt --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="local model dir (default: build funrl's tiny model)")
    p.add_argument("--size", default="small", help="tiny-model size when --model is not given (default: small)")
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "bfcl_data"), help="BFCL data folder")
    p.add_argument("--categories", default="simple_python,parallel,multiple,live_multiple", help="BFCL categories")
    p.add_argument("--entries", type=int, default=32, help="prompts in total (spread over the categories)")
    p.add_argument("--format", default="funrl", choices=("funrl", "bfcl-prompt", "qwen-fc"))
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=8, help="batched mode's prompts per generate() call")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", default="float32", help="torch dtype (float32, bfloat16, ...)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: shared machines)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per mode (median reported)")
    return p


def timed(backend, prompts, batch_size: int, device: str):
    """Run `generate_ids` once; returns `(ids, wall seconds, cpu seconds, generated tokens)`."""
    import torch

    backend.batch_size = batch_size
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    ids = backend.generate_ids(prompts, desc=f"batch {batch_size}")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return ids, time.perf_counter() - wall, time.process_time() - cpu, sum(len(row) for row in ids)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    import torch

    from funrl.bfcl import expand_categories, load_bfcl
    from funrl.evaluate.backends import HFBackend
    from funrl.template import render_prompt

    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is visible", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from funrl.toy.tiny_model import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny", size=args.size, seed=0))
        per_category = -(-args.entries // len(expand_categories(args.categories)))
        samples = load_bfcl(args.data_dir, args.categories, limit=per_category)[: args.entries]
        backend = HFBackend(model, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                            device=args.device, dtype=args.dtype)  # fmt: skip
        prompts = [render_prompt(backend.tokenizer, s, args.format) for s in samples]
        lengths = [len(backend.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        params = sum(p.numel() for p in backend.model.parameters())
        timed(backend, prompts[: args.batch_size], args.batch_size, args.device)  # warm-up
        results = {}
        for name, batch in (("batched", args.batch_size), ("one-by-one", 1)):
            runs = [timed(backend, prompts, batch, args.device) for _ in range(args.repeat)]
            results[name] = {
                "ids": runs[0][0],
                "tokens": runs[0][3],
                "wall_tps": statistics.median(r[3] / r[1] for r in runs),
                "cpu_tps": statistics.median(r[3] / r[2] for r in runs)
                if not args.device.startswith("cuda")
                else None,
            }
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({args.threads} thread(s))"
    print(f"model: {args.model or 'funrl tiny ' + args.size} ({params / 1e6:.2f}M parameters, {args.dtype}), {device}")
    print(
        f"prompts: {len(prompts)} BFCL entries ({args.categories}), format {args.format}, prompt tokens "
        f"median {statistics.median(lengths):.0f} (min {min(lengths)}, max {max(lengths)}), "
        f"max_new_tokens {args.max_new_tokens}, median of {args.repeat} runs"
    )
    for name, r in results.items():
        cpu = f", {r['cpu_tps']:9.1f} tokens/s of CPU time" if r["cpu_tps"] is not None else ""
        batch = args.batch_size if name == "batched" else 1
        print(f"{name:>10} (batch {batch:3d}): {r['tokens']:6d} tokens, {r['wall_tps']:9.1f} tokens/s wall{cpu}")
    same = results["batched"]["ids"] == results["one-by-one"]["ids"]
    print(f"same greedy token ids in both modes: {same}")
    ratio = results["batched"]["wall_tps"] / results["one-by-one"]["wall_tps"]
    line = f"ratio batched / one-by-one: {ratio:.2f}x (wall)"
    if results["batched"]["cpu_tps"] is not None:
        line += f", {results['batched']['cpu_tps'] / results['one-by-one']['cpu_tps']:.2f}x (CPU time)"
    print(line)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
