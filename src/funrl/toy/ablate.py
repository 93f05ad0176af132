"""`funrl ablate`: GRPO vs FunRL vs the equal-compute SFT control on the toy world, over several seeds.

    funrl ablate --output runs/ablate                           # seeds 0,1,2, CPU-clock budgets
    funrl ablate --output runs/ablate --seeds 0 --sft-seconds 60 --rl-seconds 30   # a quick look

Per seed, in `DIR/seed<N>/`, the quickstart's stages (`funrl.toy.quickstart`): toy data through `funrl prepare`, a tiny
model, one SFT warm-up shared by all arms, then from it plain GRPO, FunRL (the same run with the entropy bonus on)
and the control (SFT continued on the same demonstrations for the seconds FunRL used), each evaluated greedily on
the held-out split. A finished stage (its `stage_summary.json` / `results.json` exists) is not run again, so an
interrupted ablation resumes where it stopped.

Outputs in `DIR`: `curves.png` (reward and KL against step, GRPO vs FunRL: mean over seeds, band = min..max over
seeds, drawn up to the last step every seed reached), `results.md` (per-category held-out pass@1, mean ± standard
deviation over seeds, and the per-seed overall numbers) and `results.json`.

How long: per seed, SFT + two RL runs + the control + four greedy evaluations of 200 prompts. With the defaults
(SFT 240 s, RL 120 s per arm, CPU clock, 1 torch thread) that is about 13 CPU-minutes per seed (measured: 240 +
3 x ~122 CPU-s of training plus ~2.5 minutes of evaluation and set-up), so about 40 minutes for three seeds on an
idle 2-core machine. Measured on the shared machine: 18 min 8 s wall for one new seed plus one extra arm at load 2-4.
The CPU clock keeps the compute, and so the result, the same on a busy machine; only the wall time grows.
Results: docs/quickstart_results.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from funrl.toy.quickstart import EVAL_CATEGORIES, Clock, Plan, log

ARMS = ("SFT", "SFT + GRPO", "SFT + FunRL", "SFT control")
CURVE_ARMS = (("grpo", "GRPO", "#4C72B0"), ("funrl", "FunRL", "#C44E52"))
CURVE_METRICS = (("reward", "reward"), ("kl", "KL to reference"))


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="funrl ablate", description=__doc__.split("\n\n")[0])
    p.add_argument("--output", required=True, help="ablation folder (an existing one is resumed)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="cpu", help="budget clock (default cpu)")
    p.add_argument("--sft-seconds", type=float, default=240.0, help="SFT warm-up budget (default 240)")
    p.add_argument("--rl-seconds", type=float, default=120.0, help="budget of each RL arm (default 120)")
    p.add_argument("--rl-lr", type=float, default=None, help="RL learning rate (default: the quickstart's)")
    p.add_argument("--eval-split", choices=("heldout", "validation"), default="heldout", help="(default heldout)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 when the CPU is busy)")
    p.add_argument("--smoke", action="store_true", help="tiny model, seconds per stage (tests)")
    return p


# ---------------------------------------------------------------------------------------------------
# Aggregation (pure)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def aggregate(per_seed: dict[int, dict[str, dict[str, float | None]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per arm and category: mean, std and the per-seed values over the seeds that scored it.

    Args:
        per_seed: `{seed: {arm: {category_or_overall: accuracy or None}}}`.

    Returns:
        `{arm: {category: {"mean", "std", "n", "values"}}}`; a category no seed scored has `mean` None.
    """
    arms = [a for a in ARMS if any(a in rows for rows in per_seed.values())]
    arms += sorted({a for rows in per_seed.values() for a in rows} - set(arms))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for arm in arms:
        out[arm] = {}
        for cat in (*EVAL_CATEGORIES, "overall"):
            values = [rows[arm][cat] for rows in per_seed.values() if rows.get(arm, {}).get(cat) is not None]
            mean, std = mean_std(values) if values else (None, None)
            out[arm][cat] = {"mean": mean, "std": std, "n": len(values), "values": values}
    return out


def difference(per_seed: dict[int, dict[str, dict[str, float | None]]], a: str, b: str) -> dict[str, Any]:
    """Paired per-seed difference of the overall accuracy, `a - b`: values, mean, std, and whether the mean exceeds
    the noise (mean > 2 standard errors of the paired differences; never with fewer than 2 seeds)."""
    diffs = [rows[a]["overall"] - rows[b]["overall"] for rows in per_seed.values()
             if rows.get(a, {}).get("overall") is not None and rows.get(b, {}).get("overall") is not None]  # fmt: skip
    if not diffs:
        return {"values": [], "mean": None, "std": None, "beats_noise": False}
    mean, std = mean_std(diffs)
    beats = len(diffs) >= 2 and mean > 2 * std / math.sqrt(len(diffs))
    return {"values": diffs, "mean": mean, "std": std, "beats_noise": beats}


def mean_curve(
    histories: list[list[dict[str, Any]]], key: str
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Mean, min and max of a logged metric across runs, at the steps every run logged it.

    Returns:
        `(steps, mean, low, high)`: lists of equal length, steps ascending; empty when no step is common.
    """
    series = [{row["step"]: row[key] for row in h if key in row and "step" in row} for h in histories]
    if not series:
        return [], [], [], []
    common = sorted(set.intersection(*(set(s) for s in series)))
    mean = [sum(s[t] for s in series) / len(series) for t in common]
    return common, mean, [min(s[t] for s in series) for t in common], [max(s[t] for s in series) for t in common]


def _cell(stat: dict[str, Any]) -> str:
    if stat["mean"] is None:
        return "—"
    return f"{100 * stat['mean']:.1f} ± {100 * stat['std']:.1f}"


def results_markdown(agg: dict[str, dict[str, dict[str, Any]]], seeds: list[int], diffs: dict[str, Any],
                     settings: str) -> str:  # fmt: skip
    """The ablation table (mean ± std over seeds, %) with per-seed overall values and the paired differences."""
    lines = [f"# Ablation: GRPO vs FunRL vs SFT control (seeds {', '.join(map(str, seeds))})", "", settings, "",
             "| arm | " + " | ".join(EVAL_CATEGORIES) + " | overall | overall per seed |",
             "|" + "---|" * (len(EVAL_CATEGORIES) + 3)]  # fmt: skip
    for arm, cats in agg.items():
        per_seed = ", ".join(f"{100 * v:.1f}" for v in cats["overall"]["values"])
        lines.append(
            f"| {arm} | " + " | ".join(_cell(cats[c]) for c in (*EVAL_CATEGORIES, "overall")) + f" | {per_seed} |"
        )
    lines += ["", "Paired differences of overall pass@1 (points, per seed):", ""]
    for name, d in diffs.items():
        if d["mean"] is None:
            lines.append(f"- {name}: not available")
            continue
        verdict = "exceeds the noise (mean > 2 standard errors)" if d["beats_noise"] else "within the noise"
        values = ", ".join(f"{100 * v:+.1f}" for v in d["values"])
        lines.append(f"- {name}: {100 * d['mean']:+.1f} ± {100 * d['std']:.1f} ({values}); {verdict}")
    return "\n".join(lines) + "\n"


def plot_ablation(histories: dict[str, list[list[dict[str, Any]]]], path: Path, title: str) -> None:
    """Reward and KL against step, one line per arm (mean over seeds) with a min..max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVE_METRICS), figsize=(5 * len(CURVE_METRICS), 3.4))
    for ax, (key, label) in zip(axes, CURVE_METRICS):
        for arm, name, color in CURVE_ARMS:
            steps, mean, low, high = mean_curve(histories.get(arm, []), key)
            if steps:
                ax.plot(steps, mean, color=color, label=f"{name} (n={len(histories[arm])})")
                ax.fill_between(steps, low, high, color=color, alpha=0.2)
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------
# Running


def run_seed(root: Path, seed: int, plan: Plan, clock: str, split: str) -> tuple[dict[str, Any], dict[str, list]]:
    """All arms of one seed (finished stages are reused). Returns `({arm: accuracies}, {rl_arm: log_history})`."""
    from funrl.toy.quickstart import (
        build_data,
        category_accuracy,
        evaluate_greedy,
        run_rl,
        run_sft,
        tokenizer_corpus,
    )
    from funrl.toy.tiny_model import build_tiny_model

    out = root / f"seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    paths = {k: data / f"{k}.jsonl" for k in ("sft", "rl", "validation", "heldout")}
    if not all(p.is_file() for p in paths.values()):
        paths = build_data(out, seed, plan)
    model = out / "tiny-model"
    if not (model / "config.json").is_file():
        build_tiny_model(model, size=plan.size, corpus=tokenizer_corpus(seed), seed=seed)

    def stage(name: str, fn, *args, **kwargs) -> dict[str, Any]:
        summary = out / name / "stage_summary.json"
        if summary.is_file():
            log(f"seed {seed}: {name} already done")
            return json.loads(summary.read_text())
        log(f"seed {seed}: {name}")
        return fn(*args, **kwargs)

    stage("sft", run_sft, str(model), paths["sft"], out / "sft", plan.sft_s, clock, plan, seed)
    stage("grpo", run_rl, str(out / "sft"), paths["rl"], out / "grpo", plan.rl_s, clock, plan, seed, entropy_adv=False)
    funrl = stage("funrl", run_rl, str(out / "sft"), paths["rl"], out / "funrl", plan.rl_s, clock, plan, seed)
    stage("sft_control", run_sft, str(out / "sft"), paths["sft"], out / "sft_control", funrl["seconds"], clock, plan,
          seed + 1, warmup=0)  # fmt: skip
    rows = {}
    for arm, folder in zip(ARMS, ("sft", "grpo", "funrl", "sft_control")):
        result = out / "eval" / folder / "results.json"
        if result.is_file() and json.loads(result.read_text()).get("entries") == len(
            paths[split].read_text().splitlines()
        ):
            rows[arm] = category_accuracy(json.loads(result.read_text()))
        else:
            rows[arm] = category_accuracy(evaluate_greedy(str(out / folder), paths[split], out / "eval" / folder,
                                                          plan.max_new_tokens))  # fmt: skip
    histories = {arm: json.loads((out / arm / "log_history.json").read_text()) for arm in ("grpo", "funrl")}
    (out / "accuracy.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows, histories


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        print(
            f"funrl ablate: error: --seeds {args.seeds!r} is not a comma-separated list of integers", file=sys.stderr
        )
        return 2
    if not seeds:
        print("funrl ablate: error: --seeds is empty", file=sys.stderr)
        return 2
    from funrl.toy.quickstart import choose_threads

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    plan = Plan.for_budget(10, smoke=args.smoke)
    if not args.smoke:
        plan.sft_s, plan.rl_s = args.sft_seconds, args.rl_seconds
    plan.rl_lr = args.rl_lr or plan.rl_lr
    threads = choose_threads(args.threads, args.clock)
    log(
        f"seeds {seeds}; SFT {plan.sft_s:.0f} s, RL {plan.rl_s:.0f} s per arm ({args.clock} clock); torch threads {threads}"
    )
    total = Clock("wall")
    per_seed, histories = {}, {"grpo": [], "funrl": []}
    for seed in seeds:
        rows, hist = run_seed(root, seed, plan, args.clock, args.eval_split)
        per_seed[seed] = rows
        for arm in histories:
            histories[arm].append(hist[arm])
    agg = aggregate(per_seed)
    diffs = {
        "FunRL - control": difference(per_seed, "SFT + FunRL", "SFT control"),
        "FunRL - GRPO": difference(per_seed, "SFT + FunRL", "SFT + GRPO"),
        "GRPO - control": difference(per_seed, "SFT + GRPO", "SFT control"),
        "FunRL - SFT": difference(per_seed, "SFT + FunRL", "SFT"),
    }
    settings = (f"{args.eval_split} split; SFT {plan.sft_s:.0f} s, each RL arm {plan.rl_s:.0f} s, control = FunRL's "
                f"seconds ({args.clock} clock); RL lr {plan.rl_lr:g}, {plan.rl_prompts_per_step} prompts x "
                f"{plan.num_generations} generations per step, T={plan.temperature:g}, beta={plan.beta:g}; torch "
                f"threads {threads}. Greedy pass@1 in %, mean ± std over seeds.")  # fmt: skip
    table = results_markdown(agg, seeds, diffs, settings)
    (root / "results.md").write_text(table)
    (root / "results.json").write_text(json.dumps({"per_seed": per_seed, "aggregate": agg, "differences": diffs,
                                                   "settings": settings}, indent=2) + "\n")  # fmt: skip
    plot_ablation(histories, root / "curves.png", f"GRPO vs FunRL on the toy world ({len(seeds)} seeds)")
    print("\n" + table)
    print(
        f"done in {total.elapsed():.0f} s wall: {root / 'results.md'}, {root / 'results.json'}, {root / 'curves.png'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
