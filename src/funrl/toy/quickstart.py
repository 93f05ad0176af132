"""`funrl quickstart`: the whole FunRL pipeline on CPU, from the toy base model that ships with funrl.

    funrl quickstart --output runs/quickstart                 # the README's main job (8 min measured, 2 idle cores)
    funrl quickstart --output runs/qs --seed 1 --rl-steps 120  # another seed, a longer RL stage
    funrl quickstart --output runs/qs-smoke --smoke           # a few steps per stage (tests, CI)

Stages (nothing is downloaded; every stage is the real `funrl` code path):

1. data: the toy world (`funrl.toy.world`) writes raw xLAM-format records, `funrl prepare` validates them with the
   rule stages (no LLM judge unless `--judge-url` is given) and splits them into the warm-up demonstrations and the
   RL prompts (ground truth used only by the reward). Every query of the evaluation splits is kept out of both.
   Two evaluation splits: `heldout_id` (in distribution: seen templates, fresh combinations) and `heldout` (out of
   distribution: an unseen paraphrase template and joiner, fresh numbers, partly unseen values).
2. model: the toy base model of `funrl.toy.base` (shipped in the package; it answers in plain BFCL call syntax).
3. format warm-up: a short SFT (`funrl.sft`) in the think/answer format -> `warmup/`, the start of RL. Its chain of
   thought is the toy's plan (`funrl.toy.world.plan_think`: `2 calls: get_weather, set_alarm.`).
4. FunRL (`funrl.train`, entropy-enhanced GRPO; `--plain-grpo` for the baseline) from `warmup/` -> `funrl/`.
5. control: the warm-up SFT continued on its demonstrations for the same compute as RL -> `sft_control/`.
6. evaluation (`funrl eval`): greedy pass@1 per category of the three models on both splits, and the start
   model's pass@k (k sampled completions per prompt): the headroom RL can turn into pass@1.
7. `curves.png` (reward, KL, entropy, bonus), `results.md` / `results.json`, `summary.txt`.

Budgets are optimizer steps (`Plan`), so one seed gives the same table on the same kind of machine whatever its load;
`--max-stage-minutes` is a wall-clock safety net per training stage, reported in the results when it binds. The
control gets `funrl.toy.pipeline.CONTROL_STEPS_PER_RL_STEP` SFT steps per RL step: one RL step (128 rollouts:
generation, reference and policy forwards, backward) costs about that many warm-up SFT steps of 32 demonstrations in
CPU time (measured, docs/quickstart_results.md), so both arms get the same compute. After the warm-up, the RL arm and
the control run side by side, one process (one torch thread) each (`--workers`), then the evaluations.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from funrl.fields import option_help
from funrl.toy.evaluation import plot_curves, results_markdown
from funrl.toy.options import StageOptions
from funrl.toy.pipeline import RL_MIX, Plan, log, run_seed


def parse_mix(value: str | Mapping[str, Any]) -> dict[str, float]:
    """`"simple=0.5,parallel=0.5"` (or a recipe's mapping) -> `{"simple": 0.5, "parallel": 0.5}` (categories of
    `funrl.toy.world`); `ValueError` naming the bad part."""
    from funrl.toy.world import CATEGORIES

    parts = [f"{k}={v}" for k, v in value.items()] if isinstance(value, Mapping) else value.split(",")
    mix = {}
    for part in filter(None, (p.strip() for p in parts)):
        name, sep, weight = part.partition("=")
        if not sep or name not in CATEGORIES:
            raise ValueError(f"{part!r}: expected category=weight with a category in {CATEGORIES}")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"{part!r}: weight {weight!r} is not a number") from None
    if not mix or sum(mix.values()) <= 0:
        raise ValueError(f"{value!r}: no category with a positive weight")
    return mix


# Plan fields an option sets; with --smoke, only values other than the full plan's defaults replace the smoke plan's.
PLAN_OPTIONS = ("warmup_steps", "rl_steps", "rl_lr", "max_stage_minutes", "workers")


@dataclass
class QuickstartArguments(StageOptions):
    """Options of `funrl quickstart`: flags, or keys of a recipe YAML given with `--config` (TRL's `TrlParser`, like
    train and sft: dataclass default < recipe < flag). The shared options and their checks: `funrl.toy.options`."""

    output: str = field(metadata=option_help("run folder (created; must be empty or absent unless --resume)"))
    resume: bool = field(
        default=False, metadata=option_help("continue a stopped run in --output (finished stages kept)")
    )
    seed: int = field(default=0, metadata=option_help("seed of the data and of training"))
    smoke: bool = field(
        default=False,
        metadata=option_help("a few steps per stage (tests, CI): Plan.smoke(); step options set to other values than "
                             "their defaults still apply"),
    )  # fmt: skip
    plain_grpo: bool = field(default=False, metadata=option_help("train plain GRPO instead of FunRL (the baseline)"))
    rl_mix: str | None = field(
        default=None,
        metadata=option_help("RL prompt categories, e.g. simple=0.5,parallel=0.5 (a mapping in a recipe); unset: "
                             + ",".join(f"{k}={v:g}" for k, v in RL_MIX.items())),
    )  # fmt: skip
    max_stage_minutes: float = field(
        default=Plan.max_stage_minutes,
        metadata=option_help("wall-clock safety net per training stage (reported when it binds)"),
    )
    no_control: bool = field(default=False, metadata=option_help("skip the equal-compute SFT control"))
    judge_url: str | None = field(
        default=None, metadata=option_help("OpenAI-compatible endpoint for prepare's LLM judge")
    )
    judge_model: str | None = field(default=None, metadata=option_help("judge model id (with --judge-url)"))

    def __post_init__(self) -> None:
        if self.rl_mix is not None:
            try:
                self.rl_mix = parse_mix(self.rl_mix)
            except ValueError as exc:
                raise ValueError(f"--rl-mix: {exc}") from None
        super().__post_init__()
        if not self.max_stage_minutes > 0:
            raise ValueError(f"--max-stage-minutes must be > 0, got {self.max_stage_minutes}")


def make_parser():
    """The `TrlParser` over `QuickstartArguments` (`--help` shows every default)."""
    from trl import TrlParser

    return TrlParser(QuickstartArguments, prog="funrl quickstart", description=__doc__.split("\n\n")[0])


def plan_from_args(args: QuickstartArguments) -> Plan:
    """The step plan: `Plan()` (or `Plan.smoke()` with --smoke), with the options that differ from the defaults."""
    plan = Plan.smoke() if args.smoke else Plan()
    for name in PLAN_OPTIONS:
        if getattr(args, name) != getattr(Plan, name):
            setattr(plan, name, getattr(args, name))
    plan.rl_mix = args.rl_mix or plan.rl_mix
    return plan


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors

    with user_errors("funrl quickstart"):  # bad flags or recipe values: one line, exit code 2
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
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
