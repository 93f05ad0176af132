"""`funrl ablate`: GRPO vs FunRL vs the equal-compute SFT control, from the toy base model, over several seeds.

    funrl ablate --output runs/ablate                        # seeds 0,1,2, the quickstart's step budgets
    funrl ablate --output runs/ablate --seeds 0 --rl-steps 20  # a quick look

Per seed, in `DIR/seed<N>/`, the quickstart's stages (`funrl.toy.pipeline.run_seed`): toy data through `funrl
prepare`, one format warm-up from the shipped toy base shared by all arms, then from it plain GRPO, FunRL (the same
run with the entropy bonus on) and the control (the warm-up SFT continued for RL's compute), each evaluated greedily
on the in-distribution and the out-of-distribution split, and the start model's pass@k. Finished stages and
evaluations are kept, so an interrupted ablation resumes where it stopped. Seed 0 runs exactly the quickstart's
stages (same data, same steps), so its FunRL and control rows equal the quickstart's table.

Outputs in `DIR`: `results.md` (per-category pass@1 on both splits, mean ± std over seeds, per-seed values, paired
differences on the calling and multi-call categories, the RL signal), `results.json` and `curves.png` (reward, KL to
the reference, token entropy and CoT entropy against step, GRPO and FunRL overlaid: mean over seeds, band = min..max).
Results: docs/quickstart_results.md.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funrl.fields import option_help
from funrl.toy.evaluation import CALLING_CATEGORIES, EVAL_CATEGORIES
from funrl.toy.options import StageOptions
from funrl.toy.pipeline import ARM_NAMES, Plan, log, run_seed

ARMS = tuple(ARM_NAMES.values())
KEYS = (*EVAL_CATEGORIES, "calling", "multi_call", "overall")
CURVE_ARMS = (("grpo", "GRPO", "#4C72B0"), ("funrl", "FunRL", "#C44E52"))
CURVE_METRICS = (("reward", "reward"), ("kl", "KL to reference"), ("entropy", "token entropy"),
                 ("entropy_adv/cot_entropy", "CoT entropy"))  # fmt: skip


@dataclass
class AblateArguments(StageOptions):
    """Options of `funrl ablate`: flags, or keys of a recipe YAML given with `--config` (TRL's `TrlParser`, like train
    and sft: dataclass default < recipe < flag). The shared options and their checks: `funrl.toy.options`."""

    output: str = field(metadata=option_help("ablation folder (an existing one is resumed)"))
    seeds: str = field(default="0,1,2", metadata=option_help("comma-separated seeds (a list in a recipe)"))
    smoke: bool = field(
        default=False, metadata=option_help("a few steps per stage (tests): Plan.smoke(), step options unused")
    )

    def __post_init__(self) -> None:
        parse_seeds(self.seeds)  # a bad --seeds fails here, with the other options
        super().__post_init__()

    @property
    def seed_list(self) -> list[int]:
        return parse_seeds(self.seeds)


def parse_seeds(value: str | list[int]) -> list[int]:
    """`"0,1,2"` (or a recipe's list) -> `[0, 1, 2]`; `ValueError` when it is not a non-empty list of integers."""
    parts = value if isinstance(value, list) else [p for p in str(value).split(",") if p.strip()]
    try:
        seeds = [int(p) for p in parts]
    except (TypeError, ValueError):
        raise ValueError(f"--seeds {value!r} is not a comma-separated list of integers") from None
    if not seeds:
        raise ValueError("--seeds is empty")
    return seeds


def make_parser():
    """The `TrlParser` over `AblateArguments` (`--help` shows every default)."""
    from trl import TrlParser

    return TrlParser(AblateArguments, prog="funrl ablate", description=__doc__.split("\n\n")[0])


# ---------------------------------------------------------------------------------------------------
# Aggregation (pure)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def with_summaries(acc: dict[str, float | None]) -> dict[str, float | None]:
    """Add `calling` (mean of the four calling categories) and `multi_call` (parallel, parallel_multiple)."""

    def mean(cats):
        values = [acc[c] for c in cats if acc.get(c) is not None]
        return sum(values) / len(values) if values else None

    return {**acc, "calling": mean(CALLING_CATEGORIES), "multi_call": mean(("parallel", "parallel_multiple"))}


def aggregate(per_seed: dict[int, dict[str, dict[str, float | None]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per arm and key (category, `calling`, `multi_call`, `overall`): mean, std and the per-seed values over the
    seeds that scored it.

    Args:
        per_seed: `{seed: {arm: {category_or_overall: accuracy or None}}}`.

    Returns:
        `{arm: {key: {"mean", "std", "n", "values"}}}`; a key no seed scored has `mean` None.
    """
    arms = [a for a in ARMS if any(a in rows for rows in per_seed.values())]
    arms += sorted({a for rows in per_seed.values() for a in rows} - set(arms))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for arm in arms:
        out[arm] = {}
        for key in KEYS:
            values = [with_summaries(rows[arm]).get(key) for rows in per_seed.values() if arm in rows]
            values = [v for v in values if v is not None]
            mean, std = mean_std(values) if values else (None, None)
            out[arm][key] = {"mean": mean, "std": std, "n": len(values), "values": values}
    return out


def difference(per_seed: dict[int, dict[str, dict[str, float | None]]], a: str, b: str,
               key: str = "overall") -> dict[str, Any]:  # fmt: skip
    """Paired per-seed difference of `key` (a category, `calling`, `multi_call` or `overall`), `a - b`: values, mean,
    std, and whether the mean exceeds the noise (mean > 2 standard errors of the paired differences; never with
    fewer than 2 seeds)."""
    diffs = []
    for rows in per_seed.values():
        if a in rows and b in rows:
            va, vb = with_summaries(rows[a]).get(key), with_summaries(rows[b]).get(key)
            if va is not None and vb is not None:
                diffs.append(va - vb)
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


def _diff_line(name: str, d: dict[str, Any]) -> str:
    if d["mean"] is None:
        return f"- {name}: not available"
    verdict = "exceeds the noise (mean > 2 standard errors)" if d["beats_noise"] else "within the noise"
    values = ", ".join(f"{100 * v:+.1f}" for v in d["values"])
    return f"- {name}: {100 * d['mean']:+.1f} ± {100 * d['std']:.1f} ({values}); {verdict}"


def results_markdown(aggs: dict[str, dict[str, dict[str, dict[str, Any]]]], seeds: list[int],
                     diffs: dict[str, dict[str, Any]], settings: str, signal: list[str] | None = None) -> str:  # fmt: skip
    """The ablation tables (one per split: mean ± std over seeds, %), the per-seed calling values, the paired
    differences and the RL-signal lines."""
    lines = [f"# Ablation: GRPO vs FunRL vs SFT control (seeds {', '.join(map(str, seeds))})", "", settings]
    for split, agg in aggs.items():
        lines += ["", f"## {split}", "", "| arm | " + " | ".join(KEYS) + " | calling per seed |",
                  "|" + "---|" * (len(KEYS) + 2)]  # fmt: skip
        for arm, cats in agg.items():
            per_seed = ", ".join(f"{100 * v:.1f}" for v in cats["calling"]["values"])
            lines.append(f"| {arm} | " + " | ".join(_cell(cats[k]) for k in KEYS) + f" | {per_seed} |")
    lines += ["", "## Paired differences (points, per seed)", ""]
    lines += [_diff_line(name, d) for name, d in diffs.items()]
    if signal:
        lines += ["", "## RL signal", "", *signal]
    return "\n".join(lines) + "\n"


def plot_ablation(histories: dict[str, list[list[dict[str, Any]]]], path: Path, title: str) -> None:
    """Reward, KL, token entropy and CoT entropy against step, one line per RL arm (mean over seeds) with a
    min..max band; a metric an arm never logged is left out of its panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CURVE_METRICS), figsize=(4.2 * len(CURVE_METRICS), 3.4))
    for ax, (key, label) in zip(axes, CURVE_METRICS):
        for arm, name, color in CURVE_ARMS:
            steps, mean, low, high = mean_curve(histories.get(arm, []), key)
            if steps:
                ax.plot(steps, mean, color=color, label=f"{name} (n={len(histories[arm])})")
                ax.fill_between(steps, low, high, color=color, alpha=0.2)
        ax.set_title(label)
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------
# Running


def main(argv: list[str] | None = None) -> int:
    from funrl.errors import user_errors

    with user_errors("funrl ablate"):  # bad flags, seeds or recipe values: one line, exit code 2
        (args,) = make_parser().parse_args_and_config(list(sys.argv[1:] if argv is None else argv))
    seeds = args.seed_list
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from funrl.toy.base import base_model_path

    torch.set_num_threads(args.threads)
    root = Path(args.output)
    root.mkdir(parents=True, exist_ok=True)
    plan = Plan.smoke() if args.smoke else Plan(warmup_steps=args.warmup_steps, rl_steps=args.rl_steps,
                                                 rl_lr=args.rl_lr, workers=args.workers)  # fmt: skip
    base = Path(args.base) if args.base else base_model_path()
    log(f"seeds {seeds}; warm-up {plan.warmup_steps} steps, each RL arm {plan.rl_steps} steps, control "
        f"{plan.control_steps} SFT steps; torch threads {args.threads}")  # fmt: skip
    start = time.monotonic()
    per_split: dict[str, dict[int, Any]] = {"eval_id": {}, "eval_ood": {}}
    histories: dict[str, list] = {"grpo": [], "funrl": []}
    signal_rows = []
    for seed in seeds:
        log(f"=== seed {seed}")
        run = run_seed(root / f"seed{seed}", seed, plan, base, rl_arms=("grpo", "funrl"), resume=True,
                       eval_split=args.eval_split)  # fmt: skip
        for split in per_split:
            per_split[split][seed] = run["accuracy"][split]
        for arm in histories:
            histories[arm].append(run["histories"][arm])
        stages = {s["stage"]: s for s in run["stages"]}
        pk = run["start_pass_at_k"]
        calling_k = [pk["categories"][c]["pass_at_k"] for c in CALLING_CATEGORIES if c in pk["categories"]]
        signal_rows.append({"seed": seed, "start_pass_at_k_calling": sum(calling_k) / len(calling_k),
                            "start_pass_at_1_calling": with_summaries(run["accuracy"]["eval_id"][ARM_NAMES["warmup"]])["calling"],
                            **{f"{arm}_frac_reward_zero_std": stages[arm].get("frac_reward_zero_std")
                               for arm in ("grpo", "funrl")}})  # fmt: skip
    names = {
        "eval_id": f"{args.eval_split}_id: in distribution",
        "eval_ood": f"{args.eval_split}: out of distribution",
    }
    aggs = {names[split]: aggregate(rows) for split, rows in per_split.items()}
    f, g, c, s0 = ARM_NAMES["funrl"], ARM_NAMES["grpo"], ARM_NAMES["sft_control"], ARM_NAMES["warmup"]
    diffs = {}
    for split, rows in per_split.items():
        tag = "ID" if split == "eval_id" else "OOD"
        for key in ("calling", "multi_call", "overall"):
            for name, (a, b) in {"FunRL - start": (f, s0), "GRPO - start": (g, s0), "FunRL - GRPO": (f, g),
                                 "FunRL - control": (f, c)}.items():  # fmt: skip
                diffs[f"{tag} {key}: {name}"] = difference(rows, a, b, key)
    signal = [f"- seed {r['seed']}: start calling pass@1 {100 * r['start_pass_at_1_calling']:.1f}, pass@{plan.k} "
              f"{100 * r['start_pass_at_k_calling']:.1f} (in distribution); mean frac_reward_zero_std GRPO "
              f"{r['grpo_frac_reward_zero_std']:.2f}, FunRL {r['funrl_frac_reward_zero_std']:.2f}"
              for r in signal_rows]  # fmt: skip
    settings = (f"Start: the shipped toy base after a {plan.warmup_steps}-step format warm-up. Each RL arm: "
                f"{plan.rl_steps} steps of {plan.rl_prompts_per_step} prompts x {plan.num_generations} generations, lr "
                f"{plan.rl_lr:g}, T={plan.temperature:g}, beta={plan.beta:g}. Control: {plan.control_steps} SFT steps "
                f"of {plan.sft_batch} demonstrations. Greedy pass@1 in %, mean ± std over seeds, {plan.n_eval} "
                "prompts per split.")  # fmt: skip
    table = results_markdown(aggs, seeds, diffs, settings, signal)
    (root / "results.md").write_text(table)
    (root / "results.json").write_text(json.dumps({"per_seed": per_split, "aggregate": aggs, "differences": diffs,
                                                   "signal": signal_rows, "settings": settings}, indent=2) + "\n")  # fmt: skip
    plot_ablation(histories, root / "curves.png", f"GRPO vs FunRL from the toy base ({len(seeds)} seeds)")
    print("\n" + table)
    print(f"done in {time.monotonic() - start:.0f} s wall: {root / 'results.md'}, {root / 'results.json'}, "
          f"{root / 'curves.png'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
