"""`funrl quickstart`: the whole FunRL pipeline on CPU, from the toy base model that ships with funrl.

    funrl quickstart --output runs/quickstart                 # the README's main job (16 min measured, 2 busy cores)
    funrl quickstart --output runs/qs --seed 1 --rl-steps 120  # another seed, a longer RL stage
    funrl quickstart --output runs/qs-smoke --smoke           # a few steps per stage (tests, CI)

Stages (nothing is downloaded; every stage is the real `funrl` code path):

1. data: the toy world (`funrl.toy.world`) writes raw xLAM-format records, `funrl prepare` validates them with the
   rule stages (no LLM judge unless `--judge-url` is given) and splits them into the warm-up demonstrations and the
   RL prompts (ground truth used only by the reward). Every query of the evaluation splits is kept out of both.
   Two evaluation splits: `heldout_id` (in distribution: seen templates, fresh combinations) and `heldout` (out of
   distribution: an unseen paraphrase template and joiner, fresh numbers, partly unseen values).
2. model: the toy base model of `funrl.toy.base` (shipped in the package; it answers in plain BFCL call syntax).
3. format warm-up: a short SFT (`funrl.sft`) in the think/answer format -> `warmup/`, the start of RL.
4. FunRL (`funrl.train`, entropy-enhanced GRPO; `--plain-grpo` for the baseline) from `warmup/` -> `funrl/`.
5. control: the warm-up SFT continued on its demonstrations for the same compute as RL -> `sft_control/`.
6. evaluation (`funrl eval`): greedy pass@1 per category of the three models on both splits, and the start
   model's pass@k (k sampled completions per prompt): the headroom RL can turn into pass@1.
7. `curves.png` (reward, KL, entropy, bonus), `results.md` / `results.json`, `summary.txt`.

Budgets are optimizer steps (`Plan`), so one seed gives the same table on the same kind of machine whatever its load;
`--max-stage-minutes` is a wall-clock safety net per training stage, reported in the results when it binds. The
control gets `funrl.toy.pipeline.CONTROL_STEPS_PER_RL_STEP` SFT steps per RL step: one RL step (32 rollouts: generation, reference and
policy forwards, backward) costs about that many warm-up SFT steps of 32 demonstrations on the 2-core machine
(measured, docs/quickstart_results.md), so both arms get the same compute. Torch uses 1 thread per process unless
`--threads` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from funrl.toy.evaluation import plot_curves, results_markdown
from funrl.toy.pipeline import EVAL_SPLITS, Plan, log, parse_mix, run_seed


def make_parser() -> argparse.ArgumentParser:
    d = Plan()
    p = argparse.ArgumentParser(prog="funrl quickstart", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--output", required=True, help="run folder (created; must be empty or absent unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run in --output (finished stages kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and of training")
    p.add_argument("--smoke", action="store_true", help="a few steps per stage (tests, CI)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--base", default=None, help="start model folder (default: the shipped toy base model)")
    p.add_argument("--plain-grpo", action="store_true", help="train plain GRPO instead of FunRL (the baseline)")
    p.add_argument(
        "--warmup-steps", type=int, default=None, help=f"format warm-up SFT steps (default {d.warmup_steps})"
    )
    p.add_argument("--rl-steps", type=int, default=None, help=f"RL optimizer steps (default {d.rl_steps})")
    p.add_argument("--rl-lr", type=float, default=None, help=f"RL learning rate (default {d.rl_lr:g})")
    p.add_argument("--rl-mix", type=parse_mix, default=None, help="RL prompt categories, e.g. simple=0.5,parallel=0.5")
    p.add_argument("--max-stage-minutes", type=float, default=d.max_stage_minutes,
                   help="wall-clock safety net per training stage (reported when it binds)")  # fmt: skip
    p.add_argument("--no-control", action="store_true", help="skip the equal-compute SFT control")
    p.add_argument("--eval-split", choices=sorted(EVAL_SPLITS), default="heldout",
                   help="validation: for choosing settings; heldout: the final numbers")  # fmt: skip
    p.add_argument("--judge-url", default=None, help="OpenAI-compatible endpoint for prepare's LLM judge")
    p.add_argument("--judge-model", default=None, help="judge model id (with --judge-url)")
    return p


def plan_from_args(args: argparse.Namespace) -> Plan:
    plan = Plan.smoke() if args.smoke else Plan()
    plan.warmup_steps = args.warmup_steps or plan.warmup_steps
    plan.rl_steps = args.rl_steps or plan.rl_steps
    plan.rl_lr = args.rl_lr or plan.rl_lr
    plan.rl_mix = args.rl_mix or plan.rl_mix
    plan.max_stage_minutes = args.max_stage_minutes
    return plan


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
    import torch

    from funrl.toy.base import base_model_path

    torch.set_num_threads(args.threads)
    total = time.monotonic()
    plan = plan_from_args(args)
    rl_name = "grpo" if args.plain_grpo else "funrl"
    log(f"plan: {asdict(plan)}; control {plan.control_steps} SFT steps; torch threads {args.threads}")
    base = Path(args.base) if args.base else base_model_path()
    run = run_seed(out, args.seed, plan, base, rl_arms=(rl_name,), control=not args.no_control, resume=args.resume,
                   eval_split=args.eval_split, judge=(args.judge_url, args.judge_model))  # fmt: skip
    plot_curves(run["histories"][rl_name], out / "curves.png", f"{rl_name} from the toy base (seed {args.seed})")
    meta = {"seed": args.seed, "split": args.eval_split, "entries": plan.n_eval, "stages": run["stages"],
            "threads": args.threads, "total_wall_seconds": round(time.monotonic() - total, 1)}  # fmt: skip
    text = results_markdown(run["accuracy"], run["start_pass_at_k"], meta)
    (out / "results.md").write_text(text)
    summary = {"plan": asdict(plan), "control_steps": plan.control_steps, "accuracy": run["accuracy"],
               "start_pass_at_k": run["start_pass_at_k"], **meta}  # fmt: skip
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    models = [out / f for f in ("warmup", rl_name, "sft_control") if (out / f).is_dir()]
    where = [
        f"results table   {out / 'results.md'} (and results.json)",
        f"learning curves {out / 'curves.png'}",
        f"models          {', '.join(str(p) for p in models)}",
        f"data            {out / 'data'} (prepare report: {out / 'data' / 'prepared' / 'report.json'})",
        f"evaluations     {out / 'eval'}/*/ (generations, per-entry verdicts)",
    ]
    print("\n" + text)
    print(f"done in {meta['total_wall_seconds']:.0f} s wall. What is where:\n  " + "\n  ".join(where))
    (out / "summary.txt").write_text("\n".join(where) + f"\ntotal wall seconds: {meta['total_wall_seconds']:.0f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
