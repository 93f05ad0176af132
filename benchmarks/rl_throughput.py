"""RL rollouts per second of the toy quickstart's configuration: TRL's defaults ("before") vs funrl's speed settings.

The configuration is the quickstart's FunRL stage: the `small` tiny model (~2M parameters, the shape of the shipped
toy base), compact prompts of the toy world in the `funrl` format, 4 prompts x 8 generations per step,
`max_completion_length` 128, temperature 1, `beta` 0.001 (a reference-model forward), `loss_type` grpo, fp32,
1 torch thread. Two settings are compared, each in its own subprocess, alternating over `--repeats` rounds so that
a shared machine's slow phases hit both:

- `before`: `share_prompt_forward=False, fast_generation=False` (TRL's generation and forward passes);
- `after`: `share_prompt_forward=True, fast_generation=True` (`funrl.shared_prompt`, `funrl.fast_generate`).

Each run times `--warmup + --steps` optimizer steps and reports, over the measured steps, rollouts/s on the wall
clock and on the process CPU clock (less disturbed by other processes), and the CPU seconds per step of each part:
generation, the reference forward, the policy forward (in the loss) and backward, the reward, and the rest. The last
lines are the after/before ratios of the medians. Nothing is asserted: timings are noisy.

    .venv/bin/python benchmarks/rl_throughput.py                      # random-weight small model (every rollout
                                                                      # runs to max_completion_length)
    .venv/bin/python benchmarks/rl_throughput.py --model runs/warm    # a trained model: realistic lengths
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "before": {"share_prompt_forward": False, "fast_generation": False},
    "after": {"share_prompt_forward": True, "fast_generation": True},
}
PARTS = ("generate", "reference", "policy_forward", "backward", "reward", "other")


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model folder (default: a random-weight `small` tiny model)")
    p.add_argument("--steps", type=int, default=4, help="measured optimizer steps per run")
    p.add_argument("--warmup", type=int, default=1, help="first steps of each run left out")
    p.add_argument("--repeats", type=int, default=3, help="rounds; each runs `before` and `after` once")
    p.add_argument("--prompts", type=int, default=4, help="prompts per step")
    p.add_argument("--generations", type=int, default=8, help="completions per prompt")
    p.add_argument("--max-completion-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None, help="where the model and runs go (default: a temporary folder)")
    p.add_argument("--worker", choices=sorted(SETTINGS), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p


def run_worker(args: argparse.Namespace) -> dict:
    """One run in this process: train `warmup + steps` steps with setting `args.worker`, time every part."""
    import torch

    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from transformers import TrainerCallback

    from funrl.configs import FunRLConfig
    from funrl.rewards import load_reward_funcs
    from funrl.template import to_rl_row
    from funrl.toy.base import compact
    from funrl.toy.world import generate
    from funrl.trainer import FunRLTrainer

    steps = args.warmup + args.steps
    samples = compact(generate("train", n=args.prompts * steps, seed=args.seed + 1))
    dataset = Dataset.from_list([to_rl_row(s, "funrl") for s in samples])
    config = FunRLConfig(
        output_dir=str(Path(args.result).parent / f"run-{args.worker}"),
        per_device_train_batch_size=args.prompts * args.generations,
        num_generations=args.generations,
        max_completion_length=args.max_completion_length,
        temperature=1.0,
        beta=0.001,
        loss_type="grpo",
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        max_steps=steps,
        shuffle_dataset=False,
        bf16=False,
        use_cpu=True,
        activation_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_pin_memory=False,
        seed=args.seed,
        entropy_adv_think_patience=0,  # a random model writes no think span; time it anyway
        model_init_kwargs={"dtype": "float32"},
        **SETTINGS[args.worker],
    )
    trainer = FunRLTrainer(
        model=args.model, reward_funcs=load_reward_funcs(["funrl"]), args=config, train_dataset=dataset
    )
    parts: dict[str, list[float]] = {part: [0.0] * steps for part in PARTS}
    step = [0]

    def timed(obj, name, part):
        inner = getattr(obj, name)

        def wrapper(*a, **k):
            key = part(a, k) if callable(part) else part
            start = time.process_time()
            try:
                return inner(*a, **k)
            finally:
                if step[0] < steps:
                    parts[key][step[0]] += time.process_time() - start

        setattr(obj, name, wrapper)

    timed(trainer, "_generate_single_turn", "generate")
    timed(trainer, "_calculate_rewards", "reward")
    timed(trainer.accelerator, "backward", "backward")
    timed(
        trainer,
        "_get_per_token_logps_and_entropies",
        lambda a, k: "policy_forward" if torch.is_grad_enabled() else "reference",
    )
    marks: list[tuple[float, float, float, float]] = []
    lengths: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *_, **__):
            self.begin = (time.perf_counter(), time.process_time())

        def on_step_end(self, *_, **__):
            marks.append((*self.begin, time.perf_counter(), time.process_time()))
            step[0] += 1

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                lengths.append(logs["completions/mean_length"])

    trainer.add_callback(StepTimer())
    trainer.train()
    measured = range(args.warmup, steps)
    wall = [marks[i][2] - marks[i][0] for i in measured]
    cpu = [marks[i][3] - marks[i][1] for i in measured]
    per_step = {part: [parts[part][i] for i in measured] for part in PARTS if part != "other"}
    per_step["other"] = [cpu[j] - sum(per_step[p][j] for p in per_step) for j in range(len(cpu))]
    rollouts = args.prompts * args.generations
    return {
        "setting": args.worker,
        "rollouts_per_s_wall": rollouts * len(wall) / sum(wall),
        "rollouts_per_s_cpu": rollouts * len(cpu) / sum(cpu),
        "cpu_s_per_step": {part: statistics.mean(v) for part, v in per_step.items()},
        "mean_completion_length": statistics.mean(lengths[args.warmup :]) if lengths[args.warmup :] else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.worker:
        result = run_worker(args)
        Path(args.result).write_text(json.dumps(result))
        return 0
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="funrl-rl-bench-"))
    model = args.model
    if model is None:
        from funrl.toy.quickstart import tokenizer_corpus
        from funrl.toy.tiny_model import build_tiny_model

        model = str(build_tiny_model(workdir / "small", size="small", corpus=tokenizer_corpus(args.seed), seed=0))
    results: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    passthrough = ["--model", model, "--steps", str(args.steps), "--warmup", str(args.warmup), "--prompts",
                   str(args.prompts), "--generations", str(args.generations), "--max-completion-length",
                   str(args.max_completion_length), "--threads", str(args.threads), "--seed", str(args.seed)]  # fmt: skip
    for round_ in range(args.repeats):
        for name in SETTINGS if round_ % 2 == 0 else reversed(SETTINGS):
            out = workdir / f"{name}-{round_}.json"
            cmd = [sys.executable, __file__, *passthrough, "--worker", name, "--result", str(out)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = json.loads(out.read_text())
            results[name].append(result)
            parts = " ".join(f"{k} {v:.2f}" for k, v in result["cpu_s_per_step"].items())
            print(f"round {round_} {name:6s}: {result['rollouts_per_s_wall']:6.2f} rollouts/s wall, "
                  f"{result['rollouts_per_s_cpu']:6.2f} rollouts/s CPU, mean length "
                  f"{result['mean_completion_length']:.0f}; CPU s/step: {parts}", flush=True)  # fmt: skip
    summary = {}
    for name, runs in results.items():
        summary[name] = {
            key: statistics.median(r[key] for r in runs) for key in ("rollouts_per_s_wall", "rollouts_per_s_cpu")
        }
        summary[name]["cpu_s_per_step"] = {
            part: statistics.median(r["cpu_s_per_step"][part] for r in runs) for part in PARTS
        }
    for name, s in summary.items():
        parts = " ".join(f"{k} {v:.2f}" for k, v in s["cpu_s_per_step"].items())
        print(f"median {name:6s}: {s['rollouts_per_s_wall']:.2f} rollouts/s wall, {s['rollouts_per_s_cpu']:.2f} "
              f"rollouts/s CPU; CPU s/step: {parts}")  # fmt: skip
    for clock in ("wall", "cpu"):
        key = f"rollouts_per_s_{clock}"
        print(f"after/before rollouts/s ({clock} clock): {summary['after'][key] / summary['before'][key]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
