"""The CPU demo's stages, shared by `funrl quickstart` and `funrl ablate`: the toy data through `funrl prepare`, the
format warm-up and the control (`funrl sft`), FunRL or GRPO (`funrl train`) and the evaluation, each budgeted in
optimizer steps with progress, an ETA and a wall-clock safety net.

    from funrl.toy.pipeline import Plan, build_data, run_sft, run_rl
    plan = Plan()                                   # the quickstart's sizes and step budgets
    paths = build_data(Path("runs/qs"), seed=0, plan=plan)

Why the numbers are what they are: docs/quickstart_results.md.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.fields import option_help
from funrl.schema import read_samples, write_samples
from funrl.toy.evaluation import category_accuracy, evaluate_greedy

WARMUP_MIX = {"simple": 0.3, "multiple": 0.25, "parallel": 0.15, "parallel_multiple": 0.1, "irrelevance": 0.2}
# The no-call answer `[]` must not pay on most prompts (it is right only on irrelevance), and the multi-call
# categories, where the base is weakest, get half the prompts.
RL_MIX = {"simple": 0.2, "multiple": 0.25, "parallel": 0.3, "parallel_multiple": 0.15, "irrelevance": 0.1}
# One RL step (16 prompts x 8 rollouts: generation, reference and policy forwards, backward) costs 3.3 warm-up SFT steps
# of 32 demonstrations in CPU time (4.9 s against 1.46 s on one thread, docs/quickstart_results.md), so the control
# gets 3.3 SFT steps per RL step: the same compute.
CONTROL_STEPS_PER_RL_STEP = 3.3
EVAL_SPLITS = {"heldout": ("heldout_id", "heldout"), "validation": ("validation_id", "validation")}


@dataclass
class Plan:
    """Sizes and step budgets of one quickstart run. Why each value: docs/quickstart_results.md (chosen on the
    validation splits, seed 0)."""

    warmup_steps: int = field(
        default=160, metadata=option_help("format warm-up SFT steps from the base (think/answer)")
    )
    rl_steps: int = field(default=60, metadata=option_help("RL optimizer steps of each RL arm"))
    n_eval: int = field(
        default=300,
        metadata=option_help("prompts per evaluation split (at most 300: the base never saw those queries)"),
    )
    k: int = field(default=8, metadata=option_help("samples per prompt for the start model's pass@k"))
    pass_k_prompts: int = field(
        default=64, metadata=option_help("in-distribution prompts for the start model's pass@k")
    )
    warmup_lr: float = field(default=1e-3, metadata=option_help("learning rate of the warm-up and the control"))
    rl_lr: float = field(default=2e-4, metadata=option_help("RL learning rate"))
    sft_batch: int = field(default=32, metadata=option_help("demonstrations per warm-up / control step"))
    rl_prompts_per_step: int = field(default=16, metadata=option_help("distinct prompts per RL step"))
    num_generations: int = field(default=8, metadata=option_help("rollouts per prompt (the GRPO group)"))
    max_new_tokens: int = field(default=128, metadata=option_help("completion budget of rollouts and evaluations"))
    temperature: float = field(default=1.0, metadata=option_help("rollout (and pass@k) sampling temperature"))
    beta: float = field(default=0.001, metadata=option_help("KL coefficient to the reference (the paper's 0.001)"))
    loss_type: str = field(default="dapo", metadata=option_help("TRL loss normalisation"))
    num_iterations: int = field(default=1, metadata=option_help("policy updates per generation batch"))
    max_stage_minutes: float = field(default=30.0, metadata=option_help("wall-clock safety net per training stage"))
    rl_mix: dict[str, float] | None = field(default=None, metadata=option_help("RL prompt categories; None: RL_MIX"))
    think: str = field(
        default="plan",
        metadata=option_help(
            "warm-up chain of thought: plan (funrl.toy.world.plan_think) or template (the library's)"
        ),
    )
    fast_generation: bool = field(default=True, metadata=option_help("RL rollouts with funrl.fast_generate"))
    workers: int = field(default=2, metadata=option_help("processes for the stages after the warm-up, side by side"))

    @property
    def control_steps(self) -> int:
        return max(1, round(CONTROL_STEPS_PER_RL_STEP * self.rl_steps))

    @classmethod
    def smoke(cls) -> Plan:
        return cls(warmup_steps=2, rl_steps=2, n_eval=10, k=2, pass_k_prompts=6, max_new_tokens=24,
                   num_generations=2, rl_prompts_per_step=2, sft_batch=8, workers=1)  # fmt: skip


def log(message: str) -> None:
    print(f"[quickstart {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------
# Data


def evaluation_queries(seed: int, n: int, eval_split: str = "heldout") -> set[str]:
    """The queries of the two evaluation splits a run of `seed` uses (`EVAL_SPLITS[eval_split]`: in and out of
    distribution, `n` entries each): its training data never holds one.

    Only these are removed, not every query any seed could evaluate on (`funrl.toy.base.excluded_queries`, which the
    shipped base never saw): a tool with one short argument has few distinct queries (`Call Bob.`: six people, three
    templates), and removing all of them leaves its single call unseen in training, so that "in distribution" becomes
    "never seen" for a third of the tools (docs/quickstart_results.md)."""
    from funrl.toy.world import generate

    return {s.messages[-1]["content"] for split in EVAL_SPLITS[eval_split] for s in generate(split, n=n, seed=seed)}


def build_data(out: Path, seed: int, plan: Plan, judge_url: str | None = None, judge_model: str | None = None,
               eval_split: str = "heldout") -> dict[str, Path]:  # fmt: skip
    """Raw toy records -> `funrl prepare` -> `data/{warmup,rl}.jsonl` and the two evaluation splits."""
    from funrl.data.pipeline import InputSpec, PrepareConfig, run_prepare
    from funrl.data.report import print_report
    from funrl.toy.base import EVAL_SPLIT_SIZE, compact
    from funrl.toy.world import generate, plan_think, to_xlam

    if plan.n_eval > EVAL_SPLIT_SIZE:
        raise ValueError(f"n_eval={plan.n_eval}: the shipped toy base never saw the first {EVAL_SPLIT_SIZE} queries "
                         f"of each in-distribution split; set n_eval <= {EVAL_SPLIT_SIZE}")  # fmt: skip

    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    banned = evaluation_queries(seed, plan.n_eval, eval_split)
    warm = generate("train", n=2 * plan.warmup_steps * plan.sft_batch + 50, seed=seed, mix=WARMUP_MIX)
    rl = generate("train", n=2 * plan.rl_steps * plan.rl_prompts_per_step + 50, seed=seed + 1000,
                  mix=plan.rl_mix or RL_MIX)  # fmt: skip
    for s in rl:
        s.id = s.id.replace("toy-train", "toy-rl")
    raw = data / "raw_xlam.jsonl"
    with raw.open("w", encoding="utf-8") as handle:
        for sample in warm + rl:
            if sample.messages[-1]["content"] not in banned:  # an evaluation query is never a training example
                handle.write(json.dumps(to_xlam(sample), ensure_ascii=False) + "\n")
    judge = {"base_url": judge_url, **({"model": judge_model} if judge_model else {})} if judge_url else None
    shared = Path(__file__).resolve().parents[3].parent / "shared" / "bfcl_data"  # a checkout beside the BFCL data
    bfcl_dir = os.environ.get("BFCL_DATA_DIR") or (str(shared) if (shared / "possible_answer").is_dir() else None)
    dedup = {"bfcl_data_dir": bfcl_dir} if bfcl_dir else {"decontaminate": False}
    config = PrepareConfig(inputs=[InputSpec(str(raw), "xlam")], output=str(data / "prepared"), val_ratio=0.0,
                           seed=seed, judge=judge, dedup=dedup, progress=False)  # fmt: skip
    report = run_prepare(config)
    print_report(report)
    if not report["files"]["train.jsonl"]:
        raise RuntimeError(f"funrl prepare kept no sample; see {data / 'prepared' / 'report.json'}")
    kept = read_samples(data / "prepared" / "train.jsonl")
    id_split, ood_split = EVAL_SPLITS[eval_split]
    if plan.think == "plan":  # the toy's own CoT (funrl.toy.world.plan_think); "template": the library's default
        for sample in kept:
            sample.meta["think"] = plan_think(sample)
    sets = {
        "warmup": [s for s in kept if "toy-train" in s.id],
        "rl": [s for s in kept if "toy-rl" in s.id],
        "eval_id": generate(id_split, n=plan.n_eval, seed=seed),
        "eval_ood": generate(ood_split, n=plan.n_eval, seed=seed),
    }
    paths = {}
    for name, samples in sets.items():
        paths[name] = data / f"{name}.jsonl"
        write_samples(compact(samples), paths[name])
    return paths


# ---------------------------------------------------------------------------------------------------
# Training stages


def progress_callback(name: str, total: int, minutes: float):
    """A `TrainerCallback` printing `name: step i/total, elapsed, ETA` about ten times a stage, and stopping the stage
    at the first step end past `minutes` of wall time (a safety net; `capped` records that it bound)."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        capped = False

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.monotonic() - self.start
            step = state.global_step
            if step == total or step % max(1, total // 10) == 0:
                eta = elapsed / step * (total - step)
                log(f"    {name}: step {step}/{total} ({100 * step / total:.0f}%), {elapsed:.0f} s, ETA {eta:.0f} s")
            if elapsed > 60 * minutes and step < total:
                self.capped = True
                log(f"    {name}: stopped at step {step}/{total} by the {minutes:g}-minute safety net")
                control.should_training_stop = True
            return control

    return Progress()


def _common_args(out_dir: Path, seed: int, steps: int) -> list[str]:
    return ["--output_dir", str(out_dir), "--seed", str(seed), "--bf16", "false", "--dtype", "float32",
            "--save_strategy", "no", "--report_to", "none", "--logging_steps", "1", "--max_steps", str(steps),
            "--dataloader_num_workers", "0", "--disable_tqdm", "true", "--activation_checkpointing", "false"]  # fmt: skip


def run_sft(model: str, data: Path, out_dir: Path, steps: int, plan: Plan, seed: int, name: str) -> dict[str, Any]:
    """`funrl sft` from `model` on `data` for `steps` optimizer steps (constant lr after a short warm-up)."""
    from funrl.sft_trainer import build_trainer, make_parser

    argv = ["--model_name_or_path", model, "--dataset_name", str(data), "--per_device_train_batch_size",
            str(plan.sft_batch), "--learning_rate", str(plan.warmup_lr), "--lr_scheduler_type",
            "constant_with_warmup", "--warmup_steps", str(min(10, steps // 4)), "--max_length", "512",
            *_common_args(out_dir, seed, steps)]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    return _train(build_trainer(script_args, training_args, model_args), out_dir, steps, plan, name)


def run_rl(model: str, data: Path, out_dir: Path, plan: Plan, seed: int, entropy_adv: bool = True) -> dict[str, Any]:
    """`funrl train` (FunRL, or plain GRPO with `entropy_adv=False`: alpha 0) from `model` on the prompts of `data`."""
    from funrl.rl_trainer import build_trainer, make_parser

    # The GRPO arm runs the same trainer with alpha = 0: its updates are exactly plain GRPO's (tests/test_trainer.py,
    # test_alpha_zero_equals_plain_grpo), and it logs the same CoT-entropy metrics, so the two arms can be overlaid.
    argv = ["--model_name_or_path", model, "--dataset_name", str(data), "--use_entropy_adv", "true",
            "--entropy_adv_alpha", "0.4" if entropy_adv else "0.0",
            "--loss_type", plan.loss_type, "--num_iterations", str(plan.num_iterations), "--beta", str(plan.beta), "--temperature", str(plan.temperature),
            "--num_generations", str(plan.num_generations), "--per_device_train_batch_size",
            str(plan.num_generations * plan.rl_prompts_per_step), "--max_completion_length", str(plan.max_new_tokens),
            "--learning_rate", str(plan.rl_lr), "--lr_scheduler_type", "constant_with_warmup", "--warmup_steps",
            str(min(5, plan.rl_steps // 4)), "--fast_generation", str(plan.fast_generation).lower(),
            *_common_args(out_dir, seed, plan.rl_steps)]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer = build_trainer(script_args, training_args, model_args)
    return _train(trainer, out_dir, plan.rl_steps, plan, "funrl" if entropy_adv else "grpo")


def _train(trainer, out_dir: Path, steps: int, plan: Plan, name: str) -> dict[str, Any]:
    progress = progress_callback(name, steps, plan.max_stage_minutes)
    trainer.add_callback(progress)
    wall, cpu = time.monotonic(), time.process_time()
    trainer.train()
    trainer.save_model(str(out_dir))
    history = trainer.state.log_history
    zero_std = [row["frac_reward_zero_std"] for row in history if "frac_reward_zero_std" in row]
    rewards = [row["reward"] for row in history if "reward" in row]
    summary = {
        "stage": name,
        "steps": trainer.state.global_step,
        "planned_steps": steps,
        "capped_by_safety_net": progress.capped,
        "wall_seconds": round(time.monotonic() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        **({"frac_reward_zero_std": sum(zero_std) / len(zero_std)} if zero_std else {}),
        **(
            {
                "reward_first_10": sum(rewards[:10]) / len(rewards[:10]),
                "reward_last_10": sum(rewards[-10:]) / len(rewards[-10:]),
            }
            if rewards
            else {}
        ),  # fmt: skip
    }
    (out_dir / "stage_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "log_history.json").write_text(json.dumps(history, indent=1) + "\n")
    if hasattr(trainer, "end"):
        trainer.end()
    log(f"    {name}: {summary['steps']} steps in {summary['wall_seconds']:.0f} s wall, saved to {out_dir}")
    return summary


def _in_worker(threads: int, fn, args: tuple, kwargs: dict):
    import torch

    torch.set_num_threads(threads)
    return fn(*args, **kwargs)


def run_parallel(jobs: list[tuple[Any, tuple, dict]], workers: int, threads: int = 1) -> list[Any]:
    """Run independent jobs `(function, args, kwargs)` side by side, at most `workers` at once, each in its own
    process with `threads` torch threads; results in the order of `jobs`. In this process, one after the other, when
    `workers <= 1`. The functions must be importable (module level) and their arguments picklable."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(*args, **kwargs) for fn, args, kwargs in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = [pool.submit(_in_worker, threads, fn, args, kwargs) for fn, args, kwargs in jobs]
        return [future.result() for future in futures]


def run_stage(out: Path, folder: str, resume: bool, fn, *fn_args, **kwargs) -> dict[str, Any]:
    """Run a training stage, or keep it when resuming and its `stage_summary.json` exists."""
    summary = out / folder / "stage_summary.json"
    if resume and summary.is_file():
        log(f"    {folder}/ already trained: kept")
        return json.loads(summary.read_text())
    return fn(*fn_args, **kwargs)


# ---------------------------------------------------------------------------------------------------
# The whole run


def evaluate_models(models: dict[str, Path], paths: dict[str, Path], out: Path, plan: Plan,
                    extra: tuple[Any, tuple, dict] | None = None) -> tuple[dict[str, Any], Any]:  # fmt: skip
    """Greedy pass@1 per category of every model on both evaluation splits, `plan.workers` evaluations at a time,
    with an optional extra job (the start model's pass@k) in the same pool. A finished evaluation of the same
    entries (its results.json) is reused.

    Returns:
        `tuple`: `{split: {model: {category: acc}}}` and the extra job's result (`None` without one).
    """
    jobs, keys, results = [], [], {}
    for split in ("eval_id", "eval_ood"):
        for name, path in models.items():
            folder = out / "eval" / f"{path.name}-{split}"
            done = folder / "results.json"
            if done.is_file() and json.loads(done.read_text()).get("entries") == plan.n_eval:
                results[split, name] = json.loads(done.read_text())
            else:
                jobs.append((evaluate_greedy, (str(path), paths[split], folder, plan.max_new_tokens), {}))
                keys.append((split, name))
    done_jobs = run_parallel(jobs + ([extra] if extra else []), plan.workers)
    results.update(zip(keys, done_jobs))
    table = {
        split: {name: category_accuracy(results[split, name]) for name in models} for split in ("eval_id", "eval_ood")
    }
    return table, (done_jobs[-1] if extra else None)


ARM_NAMES = {"warmup": "start (warm-up)", "grpo": "+ GRPO", "funrl": "+ FunRL", "sft_control": "+ SFT control"}


def run_seed(out: Path, seed: int, plan: Plan, base: Path, rl_arms: tuple[str, ...] = ("funrl",), control: bool = True,
             resume: bool = False, eval_split: str = "heldout", judge: tuple[str | None, str | None] = (None, None),
             ) -> dict[str, Any]:  # fmt: skip
    """Every stage of one seed in `out`: data, the format warm-up from `base`, each RL arm (`funrl`, `grpo`) from the
    warm-up, the control, the greedy evaluation of every model on both splits and the start model's pass@k.

    Returns:
        `dict`: `accuracy` (`{split: {arm name: {category: acc}}}`), `start_pass_at_k`, `stages` (summaries) and
        `histories` (`{rl arm: log history}`). Finished stages are kept when `resume` is set.
    """
    from funrl.toy.evaluation import pass_at_k

    steps = 4
    log(f"1/{steps} data: toy world -> funrl prepare (rule stages)")
    paths = {k: out / "data" / f"{k}.jsonl" for k in ("warmup", "rl", "eval_id", "eval_ood")}
    if not (resume and all(p.is_file() for p in paths.values())):
        paths = build_data(out, seed, plan, judge[0], judge[1], eval_split)
    log(f"    { {k: len(read_samples(p)) for k, p in paths.items()} }; start model {base}")
    log(f"2/{steps} format warm-up: {plan.warmup_steps} SFT steps (think/answer)")
    stages = [run_stage(out, "warmup", resume, run_sft, str(base), paths["warmup"], out / "warmup",
                        plan.warmup_steps, plan, seed, "warmup")]  # fmt: skip
    jobs, folders = [], ["warmup", *rl_arms]
    for arm in rl_arms:
        jobs.append((run_stage, (out, arm, resume, run_rl, str(out / "warmup"), paths["rl"], out / arm, plan, seed),
                     {"entropy_adv": arm == "funrl"}))  # fmt: skip
    if control:
        jobs.append((run_stage, (out, "sft_control", resume, run_sft, str(out / "warmup"), paths["warmup"],
                                 out / "sft_control", plan.control_steps, plan, seed + 1, "sft_control"), {}))  # fmt: skip
        folders.append("sft_control")
    what = [f"{arm} ({plan.rl_steps} steps)" for arm in rl_arms] + (
        [f"the control (warm-up SFT continued for RL's compute: {plan.control_steps} steps)"] if control else [])  # fmt: skip
    log(f"3/{steps} from warmup/: {', '.join(what)}; {min(plan.workers, len(jobs))} at a time, one process each")
    stages += run_parallel(jobs, plan.workers)
    log(f"4/{steps} evaluation: greedy pass@1 of {len(folders)} models on 2 splits x {plan.n_eval}; start "
        f"pass@{plan.k} on {plan.pass_k_prompts} prompts")  # fmt: skip
    pk_file = out / "eval" / "start_pass_at_k.json"
    pk_job = None
    if not (resume and pk_file.is_file()):
        samples = read_samples(paths["eval_id"])[: plan.pass_k_prompts]
        pk_job = (pass_at_k, (str(out / "warmup"), samples, plan.k, plan.temperature, plan.max_new_tokens, seed), {})
    accuracy, pk = evaluate_models({ARM_NAMES[f]: out / f for f in folders}, paths, out, plan, extra=pk_job)
    if pk_job:
        pk_file.write_text(json.dumps(pk, indent=2) + "\n")
    pk = json.loads(pk_file.read_text())
    histories = {arm: json.loads((out / arm / "log_history.json").read_text()) for arm in rl_arms}
    return {"accuracy": accuracy, "start_pass_at_k": pk, "stages": stages, "histories": histories, "paths": paths}
