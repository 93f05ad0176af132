"""SFT tokens/s of the toy quickstart's SFT stage against this machine's matmul throughput, measured in the same run.

Model-FLOPs utilisation (MFU) = achieved model FLOP/s / measured matmul FLOP/s, with the model FLOPs of one trained
token = 6 N (forward + backward of every weight matrix; N counts the tied embedding once, as the LM head it is)
+ 6 l d T (causal attention scores and values over a sequence of T tokens, l layers, width d). Achieved FLOP/s
count real (non-padding) tokens; the padded-token figure says how much of the work padding takes. The matmul
throughput is the best of fp32 `A @ B` products at 1024^3 and at the model's own GEMM shapes, on the process CPU
clock with the same torch threads. All clocks are process CPU time, so other processes on a shared machine disturb
the figures less (not at all is impossible: caches and memory bandwidth are shared). Nothing is asserted.

The configuration is the quickstart's SFT: the `small` tiny model (~2M parameters, fp32), compact toy-world
prompts in the `funrl` format, batch 32, `max_length` 512, no activation checkpointing, 1 torch thread.

    .venv/bin/python benchmarks/sft_mfu.py                       # --steps 8 measured after --warmup 2
    .venv/bin/python benchmarks/sft_mfu.py --batch 64
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=8, help="measured optimizer steps")
    p.add_argument("--warmup", type=int, default=2, help="first steps left out")
    p.add_argument("--batch", type=int, default=32, help="per-device batch size (quickstart: 32)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (quickstart on a busy machine: 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="where the model and data go (default: a temporary folder)")
    return p


def matmul_flops(shapes: list[tuple[int, int, int]], reps: int = 10) -> dict[tuple[int, int, int], float]:
    """FLOP/s of fp32 `A (m, k) @ B (k, n)` on the process CPU clock, best of `reps`."""
    import torch

    out = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        best = float("inf")
        for _ in range(reps):
            start = time.process_time()
            a @ b
            best = min(best, time.process_time() - start)
        out[(m, k, n)] = 2 * m * k * n / max(best, 1e-9)
    return out


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from transformers import TrainerCallback

    from funrl.schema import write_samples
    from funrl.sft_trainer import build_trainer
    from funrl.sft_trainer import make_parser as sft_parser
    from funrl.toy.base import compact
    from funrl.toy.quickstart import tokenizer_corpus
    from funrl.toy.tiny_model import build_tiny_model
    from funrl.toy.world import generate

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="funrl-sft-bench-"))
    model_dir = build_tiny_model(workdir / "small", size="small", corpus=tokenizer_corpus(args.seed), seed=0)
    steps = args.warmup + args.steps
    data = workdir / "sft.jsonl"
    write_samples(compact(generate("train", n=args.batch * steps, seed=args.seed + 3)), data)
    argv_sft = ["--model_name_or_path", str(model_dir), "--dataset_name", str(data), "--per_device_train_batch_size",
                str(args.batch), "--learning_rate", "2e-3", "--lr_scheduler_type", "constant", "--max_length", "512",
                "--activation_checkpointing", "false", "--output_dir", str(workdir / "run"), "--bf16", "false",
                "--dtype", "float32", "--save_strategy", "no", "--report_to", "none", "--logging_steps", "1",
                "--max_steps", str(steps), "--disable_tqdm", "true", "--seed", str(args.seed),
                "--dataloader_num_workers", "0"]  # fmt: skip
    trainer = build_trainer(*sft_parser().parse_args_and_config(argv_sft))
    config = trainer.model.config
    n_params = sum(p.numel() for p in trainer.model.parameters())
    layers, width = config.num_hidden_layers, config.hidden_size

    batches: list[tuple[int, int, int]] = []  # (real tokens, padded tokens, sequence length) per step
    compute_loss = trainer.compute_loss

    def counting_compute_loss(model, inputs, *a, **k):
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask")
        real = int(mask.sum()) if mask is not None else ids.numel()
        if len(batches) < trainer.state.global_step + 1:
            batches.append((real, ids.numel(), ids.shape[-1] if mask is not None else real // args.batch))
        return compute_loss(model, inputs, *a, **k)

    trainer.compute_loss = counting_compute_loss
    marks: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.begin = time.process_time()

        def on_step_end(self, *_, **__):
            marks.append(time.process_time() - self.begin)

    trainer.add_callback(StepTimer())
    trainer.train()
    measured = range(args.warmup, min(steps, len(marks), len(batches)))
    cpu = sum(marks[i] for i in measured)
    real = sum(batches[i][0] for i in measured)
    padded = sum(batches[i][1] for i in measured)
    seq = statistics.mean(batches[i][2] for i in measured)
    flops_per_token = 6 * n_params + 6 * layers * width * seq
    tokens_per_gemm = int(padded / len(measured))
    shapes = [(1024, 1024, 1024), (tokens_per_gemm, width, config.intermediate_size),
              (tokens_per_gemm, width, width), (tokens_per_gemm, width, config.vocab_size)]  # fmt: skip
    peaks = matmul_flops(shapes)
    peak = max(peaks.values())
    achieved = real / cpu * flops_per_token
    print(f"model: {n_params / 1e6:.2f}M parameters, {layers} layers, width {width}; batch {args.batch}, "
          f"mean padded length {seq:.0f}, {args.threads} thread(s)")  # fmt: skip
    for shape, value in peaks.items():
        print(f"matmul {shape}: {value / 1e9:.1f} GFLOP/s")
    print(f"SFT: {real / cpu:.0f} real tokens/s ({padded / cpu:.0f} incl. padding; {real / padded:.0%} real) over "
          f"{len(measured)} steps, {flops_per_token / 1e6:.1f} MFLOP/token -> {achieved / 1e9:.1f} GFLOP/s")  # fmt: skip
    print(f"MFU (real tokens / best measured matmul): {achieved / peak:.1%}")
    print(f"hardware utilisation (padded tokens / best measured matmul): {padded / cpu * flops_per_token / peak:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
