"""Step time and peak memory of FunRL vs plain GRPO: the same model, seeds, data and settings; only the bonus differs.

Each run is a fresh subprocess (so peak memory is its own) training `FunRLTrainer` for `--warmup + --steps` optimizer
steps with `use_entropy_adv` true (FunRL) or false (GRPO); runs alternate between the two methods over `--repeats`
rounds, so slow phases of a shared machine hit both. Reported per method: the median step time over the measured
steps of all rounds (warm-up steps excluded), wall clock and process CPU time (less disturbed by other processes on
a shared machine); the median time of `compute_loss` (the forward and loss, where FunRL's work is); peak memory
(CPU: peak RSS of the process; GPU: `torch.cuda.max_memory_allocated` during training); the mean completion length
(equal lengths mean both methods generated the same amount); and the time of FunRL's own work (the CoT mask and the
shaped advantage, timed inside its runs: the overhead without the run-to-run noise). The last line is the
FunRL / GRPO ratio of the median step time; the target is <= 1.03. Nothing is asserted: timings are noisy.

    .venv/bin/python benchmarks/step_time.py                          # CPU: the toy-world "small" tiny model
    .venv/bin/python benchmarks/step_time.py --size tiny --steps 20   # the unit-test model
    python benchmarks/step_time.py --model-size 1.5b                  # GPU: random-init Qwen2.5-1.5B-shaped model

`--model-size 1.5b` builds a Qwen2.5-1.5B-shaped model from its config alone (random weights, bf16, the real 151936
vocabulary) with the tiny model's tokenizer, so nothing is downloaded; its samples are random text, which is all a
timing needs (the decoded text of token ids beyond the tokenizer's is empty). The reward is the binary `funrl`
reward on the toy world.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("grpo", "funrl")
# Qwen2.5-1.5B's published architecture (its config.json), with random weights.
QWEN25_1P5B = dict(
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    vocab_size=151936,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="small", help="tiny-model size of funrl.toy.tiny_model (tiny, small)")
    p.add_argument("--model-size", choices=["1.5b"], help="random-init Qwen2.5-1.5B-shaped model (GPU)")
    p.add_argument("--steps", type=int, default=10, help="measured optimizer steps per run")
    p.add_argument("--warmup", type=int, default=2, help="first steps of each run left out of the statistics")
    p.add_argument("--repeats", type=int, default=3, help="rounds; each round runs GRPO and FunRL once")
    p.add_argument("--batch", type=int, default=None, help="completions per step (default 8 on CPU, 32 on GPU)")
    p.add_argument("--generations", type=int, default=4, help="completions per prompt (group size)")
    p.add_argument("--completion-length", type=int, default=None, help="max new tokens (default 64 CPU, 256 GPU)")
    p.add_argument("--level", default="sequence", choices=["sequence", "token"], help="FunRL entropy_adv_level")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="where models and runs go (default: a temporary folder)")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)  # one run, started by the parent
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p


# ---------------------------------------------------------------------------------------------------
# Models


def build_model(args: argparse.Namespace, workdir: Path) -> Path:
    """The model folder all runs load: a tiny model, or a Qwen2.5-1.5B-shaped one with the tiny tokenizer."""
    from funrl.toy.tiny_model import build_tiny_model

    tiny = build_tiny_model(workdir / f"tiny-{args.size}", size=args.size, seed=args.seed)
    if not args.model_size:
        return tiny
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    config = Qwen2Config(
        **QWEN25_1P5B, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None
    )
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None
    )
    out = workdir / "qwen2.5-1.5b-shaped"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"built {model.num_parameters() / 1e9:.2f}B-parameter random model in {out}", flush=True)
    del model
    return out


# ---------------------------------------------------------------------------------------------------
# One run (a subprocess)


def _rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_worker(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from transformers import TrainerCallback

    from funrl.configs import FunRLConfig
    from funrl.rewards import load_reward_funcs
    from funrl.template import to_rl_row
    from funrl.toy.world import generate
    from funrl.trainer import FunRLTrainer

    cuda = torch.cuda.is_available()
    batch = args.batch or (32 if cuda else 8)
    steps = args.warmup + args.steps
    prompts = steps * batch // args.generations
    dataset = Dataset.from_list([to_rl_row(s) for s in generate("train", n=prompts, seed=args.seed)])
    config = FunRLConfig(
        output_dir=str(Path(args.result).parent / f"run-{args.worker}"),
        use_entropy_adv=args.worker == "funrl",
        entropy_adv_level=args.level,
        per_device_train_batch_size=batch,
        num_generations=args.generations,
        max_completion_length=args.completion_length or (256 if cuda else 64),
        max_steps=steps,
        learning_rate=1e-6,
        lr_scheduler_type="constant",
        loss_type="grpo",
        beta=0.001,  # the paper's KL term: a reference-model forward in both methods
        temperature=0.7,
        seed=args.seed,
        shuffle_dataset=False,
        bf16=cuda,
        use_cpu=not cuda,
        activation_checkpointing=bool(args.model_size),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=False,
        model_init_kwargs={"dtype": "bfloat16" if args.model_size else "float32"},
    )
    trainer = FunRLTrainer(
        model=args.model_dir, reward_funcs=load_reward_funcs(["funrl"]), args=config, train_dataset=dataset
    )

    def sync():
        if cuda:
            torch.cuda.synchronize()

    marks: dict[str, list[float]] = {
        "begin_wall": [],
        "begin_cpu": [],
        "end_wall": [],
        "end_cpu": [],
        "loss": [],
        "bonus": [],
    }

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            sync()
            marks["begin_wall"].append(time.perf_counter())
            marks["begin_cpu"].append(time.process_time())

        def on_step_end(self, *_, **__):
            sync()
            marks["end_wall"].append(time.perf_counter())
            marks["end_cpu"].append(time.process_time())

    compute_loss = trainer.compute_loss

    def timed_compute_loss(*a, **k):
        sync()
        start = time.perf_counter()
        out = compute_loss(*a, **k)
        sync()
        marks["loss"].append(time.perf_counter() - start)
        return out

    trainer.compute_loss = timed_compute_loss
    if config.use_entropy_adv:  # FunRL's own work inside compute_loss: the CoT mask and the shaped advantage
        shape_advantages = trainer._shape_advantages

        def timed_shape_advantages(*a, **k):
            sync()
            start = time.perf_counter()
            out = shape_advantages(*a, **k)
            sync()
            marks["bonus"].append(time.perf_counter() - start)
            return out

        trainer._shape_advantages = timed_shape_advantages
    trainer.add_callback(StepTimer())
    init_rss = _rss_mb()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    import resource

    keep = slice(args.warmup, None)
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history if "completions/mean_length" in h]
    return {
        "method": args.worker,
        "step_wall": [e - b for b, e in zip(marks["begin_wall"], marks["end_wall"])][keep],
        "step_cpu": [e - b for b, e in zip(marks["begin_cpu"], marks["end_cpu"])][keep],
        "loss_wall": marks["loss"][args.warmup * len(marks["loss"]) // max(1, steps) :],
        "bonus_wall": marks["bonus"][args.warmup * len(marks["bonus"]) // max(1, steps) :],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "init_rss_mb": init_rss,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "mean_completion_length": statistics.mean(lengths[keep]) if lengths[keep] else None,
        "parameters": trainer.model.num_parameters(),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }


# ---------------------------------------------------------------------------------------------------
# The comparison


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.worker:
        result = run_worker(args)
        Path(args.result).write_text(json.dumps(result), encoding="utf-8")
        return 0
    with tempfile.TemporaryDirectory(prefix="funrl-step-time-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        model_dir = build_model(args, workdir)
        results: dict[str, list[dict]] = {m: [] for m in METHODS}
        passthrough = list(argv if argv is not None else sys.argv[1:])
        for round_ in range(args.repeats):
            order = METHODS if round_ % 2 == 0 else METHODS[::-1]
            for method in order:
                out = workdir / f"result-{method}-{round_}.json"
                command = [sys.executable, __file__, *passthrough, "--worker", method]
                command += ["--model-dir", str(model_dir), "--result", str(out)]
                env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
                env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
                started = time.perf_counter()
                proc = subprocess.run(command, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(proc.stdout[-2000:] + proc.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"{method} run {round_ + 1} failed with exit code {proc.returncode}")
                results[method].append(json.loads(out.read_text(encoding="utf-8")))
                print(f"round {round_ + 1}/{args.repeats} {method}: {time.perf_counter() - started:.0f} s", flush=True)
    report(args, results)
    return 0


def report(args: argparse.Namespace, results: dict[str, list[dict]]) -> None:
    first = results["grpo"][0]
    print(
        f"\nmodel: {args.model_size or args.size} ({first['parameters'] / 1e6:.2f}M parameters), device "
        f"{first['device']}, {args.steps} measured steps x {args.repeats} runs per method ({args.warmup} warm-up "
        f"steps left out), FunRL level {args.level}"
    )
    header = f"{'method':<7}{'step wall s':>13}{'step CPU s':>12}{'loss wall s':>13}{'peak RSS MB':>13}"
    header += f"{'RSS growth MB':>15}{'CUDA peak MB':>14}{'mean length':>13}"
    print(header)
    medians = {}
    for method in METHODS:
        runs = results[method]
        pooled = {k: [v for r in runs for v in r[k]] for k in ("step_wall", "step_cpu", "loss_wall")}
        med = {k: statistics.median(v) for k, v in pooled.items()}
        medians[method] = med
        peak = max(r["peak_rss_mb"] for r in runs)
        growth = max(r["peak_rss_mb"] - r["init_rss_mb"] for r in runs)
        cuda = max(r["cuda_peak_mb"] for r in runs) if runs[0]["cuda_peak_mb"] is not None else None
        length = statistics.mean(r["mean_completion_length"] for r in runs if r["mean_completion_length"])
        row = f"{method:<7}{med['step_wall']:>13.4f}{med['step_cpu']:>12.4f}{med['loss_wall']:>13.4f}{peak:>13.0f}"
        row += f"{growth:>15.0f}{'-' if cuda is None else f'{cuda:.0f}':>14}{length:>13.1f}"
        print(row)
    bonus = statistics.median(v for r in results["funrl"] for v in r["bonus_wall"])
    print(
        f"FunRL's own work per compute_loss call (CoT mask + shaped advantage, median): {bonus * 1e3:.2f} ms = "
        f"{100 * bonus / medians['grpo']['step_wall']:.2f}% of GRPO's median step"
    )
    ratio = {k: medians["funrl"][k] / medians["grpo"][k] for k in medians["grpo"]}
    print(f"compute_loss time ratio FunRL / GRPO (median wall): {ratio['loss_wall']:.3f}")
    print(f"step CPU-time ratio FunRL / GRPO (median): {ratio['step_cpu']:.3f}")
    print(f"step time ratio FunRL / GRPO (median wall): {ratio['step_wall']:.3f} (target <= 1.03)")


if __name__ == "__main__":
    raise SystemExit(main())
