"""`funrl quickstart`: the whole FunRL pipeline on a tiny model on CPU, with an honest RL-vs-SFT results table.

    funrl quickstart --output runs/quickstart                      # 10 minutes of wall time in all (see below)
    funrl quickstart --output runs/qs --seed 1 --budget-minutes 20 # longer stage budgets, same pipeline
    funrl quickstart --output runs/qs-smoke --smoke                # tiny model, seconds per stage (tests, CI)

Stages (nothing is downloaded; every stage is the real `funrl` code path):

1. data: the toy world (`funrl.toy.world`) writes raw xLAM-format records, `funrl prepare` validates them with the
   rule stages (no LLM judge unless `--judge-url` is given) and splits them. Three sets come out: the SFT set
   (demonstrations; category `parallel_multiple` is left out of it on purpose), the RL prompt set (all categories,
   ground truth used only by the reward) and a validation set; the held-out set is generated apart (unseen
   paraphrase and joiner, fresh numbers, partly unseen values) and only ever evaluated.
2. model: a ~2M-parameter Qwen2-style model with a BPE tokenizer trained on the toy corpus (`funrl.toy.tiny_model`).
3. SFT warm-up (`funrl.sft`) for a share of the budget -> `sft/`.
4. FunRL (`funrl.train`, entropy-enhanced GRPO) from `sft/` for a share of the budget -> `funrl/`.
5. Equal-compute control: the same SFT continued from `sft/` on the same demonstrations for exactly the time
   FunRL used -> `sft_control/`.
6. Held-out evaluation (`funrl eval`, greedy pass@1, per category) of all three, plus the SFT model's pass@k
   (k sampled completions per prompt, scored by the same checker): the headroom RL can turn into pass@1.
7. `curves.png` (reward, KL, entropy, entropy bonus against step), `results.md` / `results.json`, `summary.txt`.

Time: `--budget-minutes` (default 10) covers the whole run. Data and model building take ~20 s, the evaluations are
given a fixed reserve (`EVAL_RESERVE_S`, 150 s, measured on the shared 2-core machine at load 4), and the training
stages share the rest (SFT 45%, FunRL 27.5%, control the same seconds as FunRL). Before this fit, the default run
took 11 min 19 s wall on that machine at load ~4 (evaluation 3 min 9 s with pass@8 on 100 prompts, now 64). On a
busy machine the same wall budget buys fewer optimizer steps (61 SFT steps at load 4 vs 154 steps for 240 CPU
seconds), so the numbers get worse, not the duration; `--clock cpu` fixes the compute instead and takes longer.

Budgets are clock based (`--clock wall`, default, or `cpu`: this process's CPU seconds, which contention on a shared
machine does not inflate); the control always gets the seconds FunRL actually used on the same clock. Prompts use
the compact tool rendering of `funrl.template` (`meta.prompt_style = "compact"`), about a third of the tokens of
JSON schemas. Torch uses 1 thread when the machine is busy (load above its core count), else all cores
(`--threads` overrides), and always 1 with `--clock cpu`: on an oversubscribed CPU, 2 spinning threads are several
times slower than 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from funrl.toy.evaluation import (  # noqa: F401  (re-exported: the quickstart's public evaluation helpers)
    EVAL_CATEGORIES,
    category_accuracy,
    evaluate_greedy,
    pass_at_k,
    plot_curves,
    results_markdown,
)
from funrl.schema import Sample, read_samples, write_samples

SFT_MIX = {"simple": 0.35, "multiple": 0.25, "parallel": 0.2, "irrelevance": 0.2}  # no parallel_multiple
RL_MIX = {"simple": 0.15, "multiple": 0.15, "parallel": 0.2, "parallel_multiple": 0.35, "irrelevance": 0.15}
# Evaluation time of the default sizes (3 greedy runs on 200 prompts, pass@8 on 64 prompts): ~150 s measured on the
# shared 2-core machine at load 4 with 1 torch thread (greedy 77 s, pass@8 on 100 prompts 112 s).
EVAL_RESERVE_S = 150.0


@dataclass
class Plan:
    """Sizes and budgets of one quickstart run (seconds are on the chosen clock)."""

    size: str = "small"
    n_sft: int = 3000
    n_rl: int = 1000
    n_val: int = 100
    n_heldout: int = 200
    sft_s: float = 210.0
    rl_s: float = 120.0
    k: int = 8
    pass_k_prompts: int = 64
    sft_lr: float = 2e-3
    rl_lr: float = 1e-4
    sft_batch: int = 32
    rl_prompts_per_step: int = 4
    num_generations: int = 8
    max_new_tokens: int = 160
    temperature: float = 1.0
    beta: float = 0.001
    rl_mix: dict[str, float] | None = None  # categories of the RL prompts (default RL_MIX)

    @classmethod
    def for_budget(cls, minutes: float, smoke: bool = False, spent_s: float = 0.0) -> Plan:
        """Stage budgets that fit `minutes` in all: of what is left after `spent_s` seconds already used (data and
        model building) and `EVAL_RESERVE_S` for the evaluations, SFT gets 45% and FunRL 27.5%; the control gets the
        seconds FunRL actually used (27.5% again). Never less than 60 s of training in all."""
        if smoke:
            return cls(size="tiny", n_sft=64, n_rl=32, n_val=8, n_heldout=10, sft_s=4, rl_s=4, k=2,
                       pass_k_prompts=6, max_new_tokens=24, num_generations=2, rl_prompts_per_step=2)  # fmt: skip
        train = max(60.0, minutes * 60 - spent_s - EVAL_RESERVE_S)
        return cls(sft_s=0.45 * train, rl_s=0.275 * train)


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="funrl quickstart", description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="run folder (created; must be empty or absent unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run in --output (finished stages kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, the model and training (default 0)")
    p.add_argument("--budget-minutes", type=float, default=10.0, help="total time budget (default 10)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="budget clock (default wall)")
    p.add_argument("--smoke", action="store_true", help="tiny model and a few seconds per stage (tests, CI)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 when the CPU is busy)")
    p.add_argument("--plain-grpo", action="store_true", help="train plain GRPO instead of FunRL (ablations)")
    p.add_argument("--sft-seconds", type=float, default=None, help="override the SFT budget")
    p.add_argument("--rl-seconds", type=float, default=None, help="override the RL budget (and the control's)")
    p.add_argument("--rl-lr", type=float, default=None, help="override the RL learning rate")
    p.add_argument(
        "--rl-mix",
        type=parse_mix,
        default=None,
        help="RL prompt categories, e.g. simple=0.3,multiple=0.3,parallel_multiple=0.4 (default: RL_MIX)",
    )
    p.add_argument("--no-control", action="store_true", help="skip the equal-compute SFT control")
    p.add_argument(
        "--eval-split",
        choices=("heldout", "validation"),
        default="heldout",
        help="set the table is computed on (validation: for choosing settings; default heldout)",
    )
    p.add_argument("--judge-url", default=None, help="OpenAI-compatible endpoint for prepare's LLM judge")
    p.add_argument("--judge-model", default=None, help="judge model id (with --judge-url)")
    return p


def parse_mix(text: str) -> dict[str, float]:
    """`"simple=0.5,parallel=0.5"` -> `{"simple": 0.5, "parallel": 0.5}` (categories of `funrl.toy.world`)."""
    from funrl.toy.world import CATEGORIES

    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in CATEGORIES:
            raise argparse.ArgumentTypeError(f"{part!r}: expected category=weight with a category in {CATEGORIES}")
        try:
            mix[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r}: weight {value!r} is not a number") from None
    if not mix or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: no category with a positive weight")
    return mix


def log(message: str) -> None:
    print(f"[quickstart {time.strftime('%H:%M:%S')}] {message}", flush=True)


def choose_threads(requested: int | None, clock: str = "wall") -> int:
    """`requested`, else 1 with the CPU clock (spinning threads would spend CPU seconds without steps, and runs with
    different thread counts would get different compute for the same budget), else 1 when the 1-minute load average
    is at or above the core count, else all cores."""
    import torch

    cores = os.cpu_count() or 1
    threads = requested or (1 if clock == "cpu" or os.getloadavg()[0] >= cores - 0.5 else cores)
    torch.set_num_threads(threads)
    return threads


# ---------------------------------------------------------------------------------------------------
# Budget


class Clock:
    """Seconds since construction on the wall clock or this process's CPU clock."""

    def __init__(self, kind: str = "wall"):
        self.kind = kind
        self._now = time.monotonic if kind == "wall" else time.process_time
        self.start = self._now()

    def elapsed(self) -> float:
        return self._now() - self.start


def budget_callback(seconds: float, clock_kind: str):
    """A `TrainerCallback` stopping training at the first step end `seconds` after training began on the clock;
    it records `elapsed` (the clock's seconds at the stop) and `stopped`."""
    from transformers import TrainerCallback

    class BudgetCallback(TrainerCallback):
        elapsed = 0.0
        stopped = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.clock = Clock(clock_kind)

        def on_step_end(self, args, state, control, **kwargs):
            self.elapsed = self.clock.elapsed()
            if self.elapsed >= seconds:
                self.stopped = True
                control.should_training_stop = True
            return control

    return BudgetCallback()


# ---------------------------------------------------------------------------------------------------
# Data and model


def _compact(samples: list[Sample]) -> list[Sample]:
    for sample in samples:
        sample.meta = {**sample.meta, "prompt_style": "compact"}
    return samples


def build_data(out: Path, seed: int, plan: Plan, judge_url: str | None = None, judge_model: str | None = None):
    """Raw toy records -> `funrl prepare` -> `data/{sft,rl,validation,heldout}.jsonl`. Returns their paths."""
    from funrl.data.prepare import main as prepare_main
    from funrl.toy.world import generate, to_xlam

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    sft = generate("train", n=plan.n_sft, seed=seed, mix=SFT_MIX)
    rl = generate("train", n=plan.n_rl, seed=seed + 1000, mix=plan.rl_mix or RL_MIX)
    for s in rl:
        s.id = s.id.replace("toy-train", "toy-rl")
    raw = data / "raw_xlam.jsonl"
    with raw.open("w", encoding="utf-8") as handle:
        for sample in sft + rl:
            handle.write(json.dumps(to_xlam(sample), ensure_ascii=False) + "\n")
    argv = ["--input", str(raw), "--format", "xlam", "--output", str(data / "prepared"), "--no-progress",
            "--val-ratio", "0", "--seed", str(seed)]  # fmt: skip
    bfcl = Path(__file__).resolve().parents[2].parent / "shared" / "bfcl_data"
    bfcl_dir = os.environ.get("BFCL_DATA_DIR") or (str(bfcl) if (bfcl / "possible_answer").is_dir() else None)
    argv += ["--bfcl-data-dir", bfcl_dir] if bfcl_dir else ["--no-decontaminate"]
    argv += ["--judge", judge_url, "--judge-model", judge_model or ""] if judge_url else ["--judge", "none"]
    code = prepare_main(argv)
    if code:
        raise RuntimeError(f"funrl prepare failed with exit code {code}; see {data / 'prepared'}")
    kept = read_samples(data / "prepared" / "train.jsonl")
    paths = {
        "sft": data / "sft.jsonl",
        "rl": data / "rl.jsonl",
        "validation": data / "validation.jsonl",
        "heldout": data / "heldout.jsonl",
    }
    write_samples(_compact([s for s in kept if "toy-train" in s.id]), paths["sft"])
    write_samples(_compact([s for s in kept if "toy-rl" in s.id]), paths["rl"])
    write_samples(_compact(generate("validation", n=plan.n_val, seed=seed)), paths["validation"])
    write_samples(_compact(generate("heldout", n=plan.n_heldout, seed=seed)), paths["heldout"])
    return paths


def tokenizer_corpus(seed: int) -> list[str]:
    """The tiny model's tokenizer corpus: `funrl.toy.tiny_model.default_corpus` plus compact-style prompts."""
    from funrl.template import prompt_messages, render_target
    from funrl.toy.tiny_model import default_corpus
    from funrl.toy.world import generate

    texts = default_corpus(seed)
    for sample in _compact(generate("train", n=500, seed=seed + 7)):
        system = prompt_messages(sample, "funrl")[0]["content"]
        texts.append(system + "\n" + sample.messages[-1]["content"] + "\n" + render_target(sample, "funrl"))
    return texts


# ---------------------------------------------------------------------------------------------------
# Training stages


def _common_args(out_dir: Path, seed: int) -> list[str]:
    return ["--output_dir", str(out_dir), "--seed", str(seed), "--bf16", "false", "--dtype", "float32",
            "--save_strategy", "no", "--report_to", "none", "--logging_steps", "1", "--max_steps", "1000000",
            "--dataloader_num_workers", "0", "--disable_tqdm", "true"]  # fmt: skip


def run_sft(model: str, data: Path, out_dir: Path, seconds: float, clock: str, plan: Plan, seed: int,
            warmup: int = 30) -> dict[str, Any]:  # fmt: skip
    """`funrl sft` from `model` on `data` for `seconds` on `clock` (constant lr after `warmup` steps)."""
    from funrl.sft import build_trainer, make_parser

    argv = ["--model_name_or_path", model, "--dataset_name", str(data), "--per_device_train_batch_size",
            str(plan.sft_batch), "--learning_rate", str(plan.sft_lr), "--lr_scheduler_type", "constant_with_warmup",
            "--warmup_steps", str(warmup), "--max_length", "512", "--activation_checkpointing", "false",
            *_common_args(out_dir, seed)]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer = build_trainer(script_args, training_args, model_args)
    return _train(trainer, out_dir, seconds, clock, "sft")


def run_rl(model: str, data: Path, out_dir: Path, seconds: float, clock: str, plan: Plan, seed: int,
           entropy_adv: bool = True) -> dict[str, Any]:  # fmt: skip
    """`funrl train` (FunRL, or plain GRPO with `entropy_adv=False`) from `model` on the prompts of `data`."""
    from funrl.train import build_trainer, make_parser

    argv = ["--model_name_or_path", model, "--dataset_name", str(data), "--use_entropy_adv", str(entropy_adv),
            "--loss_type", "grpo", "--beta", str(plan.beta), "--temperature", str(plan.temperature),
            "--num_generations", str(plan.num_generations), "--per_device_train_batch_size",
            str(plan.num_generations * plan.rl_prompts_per_step), "--max_completion_length", str(plan.max_new_tokens),
            "--learning_rate", str(plan.rl_lr), "--lr_scheduler_type", "constant", "--warmup_steps", "0",
            "--activation_checkpointing", "false", *_common_args(out_dir, seed)]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer = build_trainer(script_args, training_args, model_args)
    return _train(trainer, out_dir, seconds, clock, "funrl" if entropy_adv else "grpo")


def _train(trainer, out_dir: Path, seconds: float, clock: str, name: str) -> dict[str, Any]:
    callback = budget_callback(seconds, clock)
    trainer.add_callback(callback)
    wall = Clock("wall")
    trainer.train()
    trainer.save_model(str(out_dir))
    summary = {
        "stage": name,
        "steps": trainer.state.global_step,
        "seconds": round(callback.elapsed, 2),
        "clock": clock,
        "wall_seconds": round(wall.elapsed(), 2),
        "budget_seconds": seconds,
    }
    (out_dir / "stage_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=1) + "\n")
    if hasattr(trainer, "end"):
        trainer.end()
    log(f"{name}: {summary['steps']} steps, {summary['seconds']:.0f} s ({clock}), saved to {out_dir}")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    out = Path(args.output)
    if out.exists() and any(out.iterdir()) and not args.resume:
        print(f"funrl quickstart: error: {out} exists and is not empty; choose a new --output, or --resume a stopped "
              "run", file=sys.stderr)  # fmt: skip
        return 2
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    total = Clock("wall")
    plan = Plan.for_budget(args.budget_minutes, args.smoke)
    plan.sft_s = args.sft_seconds or plan.sft_s
    plan.rl_s = args.rl_seconds or plan.rl_s
    plan.rl_lr = args.rl_lr or plan.rl_lr
    plan.rl_mix = args.rl_mix or plan.rl_mix
    load = os.getloadavg()[0]
    threads = choose_threads(args.threads, args.clock)
    log(f"plan: {asdict(plan)}; clock {args.clock}; torch threads {threads} (load {load:.1f})")

    log("1/7 data: toy world -> funrl prepare (rule stages)")
    paths = {k: out / "data" / f"{k}.jsonl" for k in ("sft", "rl", "validation", "heldout")}
    if not (args.resume and all(p.is_file() for p in paths.values())):
        paths = build_data(out, args.seed, plan, args.judge_url, args.judge_model)
    counts = {k: len(read_samples(p)) for k, p in paths.items()}
    log(f"    {counts}")
    log(f"2/7 tiny model ({plan.size}) with a tokenizer trained on the toy corpus")
    from funrl.toy.tiny_model import build_tiny_model

    model_dir = out / "tiny-model"
    if not (args.resume and (model_dir / "config.json").is_file()):
        build_tiny_model(model_dir, size=plan.size, corpus=tokenizer_corpus(args.seed), seed=args.seed)
    fitted = Plan.for_budget(args.budget_minutes, args.smoke, spent_s=total.elapsed())
    plan.sft_s = args.sft_seconds or fitted.sft_s  # what data and model building took is taken off the budget
    plan.rl_s = args.rl_seconds or fitted.rl_s

    def stage(folder: str, fn, *fn_args, **kwargs) -> dict[str, Any]:
        summary = out / folder / "stage_summary.json"
        if args.resume and summary.is_file():
            log(f"    {folder}/ already trained: kept")
            return json.loads(summary.read_text())
        return fn(*fn_args, **kwargs)

    stages = []
    log(f"3/7 SFT warm-up for {plan.sft_s:.0f} s ({args.clock})")
    stages.append(stage("sft", run_sft, str(model_dir), paths["sft"], out / "sft", plan.sft_s, args.clock, plan,
                        args.seed))  # fmt: skip
    rl_name = "grpo" if args.plain_grpo else "funrl"
    log(f"4/7 {rl_name} from sft/ for {plan.rl_s:.0f} s ({args.clock})")
    rl = stage(rl_name, run_rl, str(out / "sft"), paths["rl"], out / rl_name, plan.rl_s, args.clock, plan, args.seed,
               entropy_adv=not args.plain_grpo)  # fmt: skip
    stages.append(rl)
    models = {"SFT": out / "sft", f"SFT + {'GRPO' if args.plain_grpo else 'FunRL'}": out / rl_name}
    if not args.no_control:
        log(f"5/7 equal-compute control: SFT continued from sft/ for {rl['seconds']:.0f} s ({args.clock})")
        control = stage("sft_control", run_sft, str(out / "sft"), paths["sft"], out / "sft_control", rl["seconds"],
                        args.clock, plan, args.seed + 1, warmup=0)  # fmt: skip
        stages.append({**control, "stage": "sft_control"})
        models["SFT control (same compute)"] = out / "sft_control"
    split = args.eval_split
    log(f"6/7 evaluation on the {split} split: greedy pass@1 of {len(models)} models, SFT pass@{plan.k}")
    rows, raw = {}, {}
    for name, path in models.items():
        raw[name] = evaluate_greedy(str(path), paths[split], out / "eval" / path.name, plan.max_new_tokens)
        rows[name] = category_accuracy(raw[name])
    eval_samples = read_samples(paths[split])[: plan.pass_k_prompts]
    pk = pass_at_k(str(out / "sft"), eval_samples, plan.k, plan.temperature, plan.max_new_tokens, args.seed)
    log("7/7 learning curves and results table")
    history = json.loads((out / rl_name / "log_history.json").read_text())
    plot_curves(history, out / "curves.png", f"{rl_name} on the toy world (seed {args.seed})")
    meta = {"split": split, "entries": counts[split], "seed": args.seed, "stages": stages, "threads": threads,
            "load": load}  # fmt: skip
    table = results_markdown(rows, pk, meta)
    (out / "results.md").write_text(table)
    summary = {"seed": args.seed, "plan": asdict(plan), "clock": args.clock, "split": split, "accuracy": rows,
               "pass_at_k": pk, "stages": stages, "threads": threads, "load_at_start": load,
               "total_wall_seconds": round(total.elapsed(), 1)}  # fmt: skip
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    where = [
        f"results table   {out / 'results.md'} (and results.json)",
        f"learning curves {out / 'curves.png'}",
        f"models          {', '.join(str(p) for p in models.values())}",
        f"data            {out / 'data'} (prepare report: {out / 'data' / 'prepared' / 'report.json'})",
        f"evaluations     {out / 'eval'}/*/ (generations, per-entry verdicts)",
    ]
    print("\n" + table)
    print(f"done in {total.elapsed():.0f} s wall. What is where:\n  " + "\n  ".join(where))
    (out / "summary.txt").write_text("\n".join(where) + f"\ntotal wall seconds: {total.elapsed():.0f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
