"""Evaluation and reporting of `funrl quickstart` / `funrl ablate`: greedy pass@1 through `funrl eval`, the SFT
model's pass@k (k sampled completions per prompt, scored by `funrl.evaluate.scoring.score_samples`),
per-category accuracy, the learning-curve figure and the results table.

    from funrl.toy.evaluation import evaluate_greedy, pass_at_k, category_accuracy
    acc = category_accuracy(evaluate_greedy("runs/qs/sft", Path("runs/qs/data/heldout.jsonl"), Path("out"), 160))
    pk = pass_at_k("runs/qs/sft", samples, k=8, temperature=1.0, max_new_tokens=160, seed=0)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from funrl.schema import Sample

EVAL_CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
CALLING_CATEGORIES = EVAL_CATEGORIES[:4]
CURVE_KEYS = (("reward", "reward"), ("kl", "KL to reference"), ("entropy", "token entropy"),
              ("entropy_adv/bonus_mean", "entropy bonus"))  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Evaluation


def evaluate_greedy(
    model: str, samples: Path, out_dir: Path, max_new_tokens: int, fmt: str = "funrl"
) -> dict[str, Any]:
    """`funrl eval`'s run (greedy pass@1, `funrl.evaluate.runner`) on canonical samples in format `fmt`; returns
    `results.json`."""
    from funrl.evaluate.arguments import EvalArguments
    from funrl.evaluate.runner import evaluate

    evaluate(EvalArguments(model=model, samples=str(samples), output=str(out_dir), device="cpu",
                           max_new_tokens=max_new_tokens, batch_size=32, dtype="float32", format=fmt))  # fmt: skip
    return json.loads((out_dir / "results.json").read_text())


def pass_at_k(model: str, samples: list[Sample], k: int, temperature: float, max_new_tokens: int,
              seed: int, fmt: str = "funrl") -> dict[str, Any]:  # fmt: skip
    """k sampled completions per prompt at `temperature`, scored by `funrl.evaluate.scoring.score_samples`.

    Returns:
        `dict`: `pass_at_k` (share of prompts with at least one correct completion), `mean_sampled` (share of
        correct completions, i.e. sampled pass@1) and both per category.
    """
    import torch

    from funrl.evaluate.backends import HFBackend
    from funrl.evaluate.scoring import score_samples
    from funrl.template import render_prompt

    backend = HFBackend(model, batch_size=max(1, 64 // k), max_new_tokens=max_new_tokens, device="cpu")
    tok, stop = backend.tokenizer, set(backend.eos_token_id or [])
    torch.manual_seed(seed)
    pairs = []
    for start in range(0, len(samples), backend.batch_size):
        batch = samples[start : start + backend.batch_size]
        enc = tok([render_prompt(tok, s, fmt) for s in batch], return_tensors="pt", padding=True,
                  add_special_tokens=False)  # fmt: skip
        with torch.no_grad():
            gen = backend.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True, temperature=temperature,
                                         top_k=0, top_p=1.0, num_return_sequences=k,
                                         pad_token_id=tok.pad_token_id, eos_token_id=backend.eos_token_id)  # fmt: skip
        rows = gen[:, enc["input_ids"].shape[1] :].tolist()
        for j, row in enumerate(rows):
            cut = next((i for i, t in enumerate(row) if t in stop), len(row))
            sample = batch[j // k]
            pairs.append(({"id": sample.id, "output": tok.decode(row[:cut], skip_special_tokens=True)}, sample))
    result = score_samples(pairs, fmt, progress=False)
    hits: dict[str, list[int]] = {}
    for (_record, sample), entry in zip(pairs, result.per_entry):
        hits.setdefault(sample.id, []).append(int(bool(entry["valid"])))
    by_cat: dict[str, list[tuple[float, float]]] = {}
    for sample in samples:
        h = hits[sample.id]
        by_cat.setdefault(sample.category, []).append((float(any(h)), sum(h) / len(h)))
    every = [v for values in by_cat.values() for v in values]
    return {
        "k": k,
        "temperature": temperature,
        "prompts": len(samples),
        "pass_at_k": sum(a for a, _ in every) / len(every),
        "mean_sampled": sum(b for _, b in every) / len(every),
        "categories": {
            c: {
                "pass_at_k": sum(a for a, _ in v) / len(v),
                "mean_sampled": sum(b for _, b in v) / len(v),
                "prompts": len(v),
            }
            for c, v in sorted(by_cat.items())
        },  # fmt: skip
    }


def category_accuracy(results: dict[str, Any]) -> dict[str, float | None]:
    """Per-category greedy accuracy (and `overall`, all entries pooled) from a `funrl eval` results.json."""
    cats = results.get("categories", {})
    out = {c: (cats[c]["accuracy"] if c in cats else None) for c in EVAL_CATEGORIES}
    out["overall"] = results.get("micro_accuracy")
    return out


# ---------------------------------------------------------------------------------------------------
# Reporting


def plot_curves(log_history: list[dict[str, Any]], path: Path, title: str) -> None:
    """reward, KL, entropy and entropy bonus against step (`funrl.curves`, the library's one plotter)."""
    from funrl.curves import curves_figure

    curves_figure([log_history], tuple(key for key, _ in CURVE_KEYS), ["RL"], title).savefig(path, dpi=110)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def calling(acc: dict[str, Any]) -> float | None:
    """Mean accuracy over the calling categories (every category but irrelevance) that were scored."""
    values = [acc[c] for c in CALLING_CATEGORIES if acc.get(c) is not None]
    return sum(values) / len(values) if values else None


def _row(name: str, acc: dict[str, Any]) -> str:
    cells = [acc.get(c) for c in EVAL_CATEGORIES] + [calling(acc), acc.get("overall")]
    return f"| {name} | " + " | ".join(_pct(v) for v in cells) + " |"


SPLIT_TITLES = {"eval_id": "in distribution (seen templates, fresh combinations)",
                "eval_ood": "out of distribution (unseen template and joiner, partly unseen values)"}  # fmt: skip


def results_markdown(table: dict[str, dict[str, dict[str, Any]]], pass_k: dict[str, Any] | None, meta: dict) -> str:
    """The results tables: greedy pass@1 per category of every model on each split, the start model's pass@k and
    sampled pass@1, and the RL stage's signal (`frac_reward_zero_std`)."""
    head = "| model | " + " | ".join(EVAL_CATEGORIES) + " | calling | overall |"
    rule = "|" + "---|" * (len(EVAL_CATEGORIES) + 3)
    lines = [
        f"# Quickstart results (seed {meta['seed']}, {meta['split']} splits, {meta['entries']} prompts each)",
        "",
        "Greedy pass@1 (%), scored by funrl's BFCL checker. `calling` = mean over the four calling categories.",
    ]
    for split, rows in table.items():
        lines += ["", f"## {meta['split']} split, {SPLIT_TITLES.get(split, split)}", "", head, rule]
        lines += [_row(name, acc) for name, acc in rows.items()]
    if pass_k:
        cats = pass_k["categories"]
        lines += ["", f"## Headroom at the start of RL (in distribution, {pass_k['prompts']} prompts, "
                  f"T={pass_k['temperature']:g})", "", head, rule,
                  _row(f"start pass@{pass_k['k']}", {c: cats.get(c, {}).get("pass_at_k") for c in EVAL_CATEGORIES}
                       | {"overall": pass_k["pass_at_k"]}),
                  _row("start sampled pass@1", {c: cats.get(c, {}).get("mean_sampled") for c in EVAL_CATEGORIES}
                       | {"overall": pass_k["mean_sampled"]})]  # fmt: skip
    lines += ["", "## Stages", ""]
    for stage in meta["stages"]:
        extra = ""
        if "frac_reward_zero_std" in stage:
            extra = (f"; mean frac_reward_zero_std {stage['frac_reward_zero_std']:.2f}, reward "
                     f"{stage.get('reward_first_10', 0):.2f} (first 10 steps) -> {stage.get('reward_last_10', 0):.2f} "
                     "(last 10)")  # fmt: skip
        capped = " (stopped by the wall-clock safety net)" if stage.get("capped_by_safety_net") else ""
        lines.append(f"- {stage['stage']}: {stage['steps']}/{stage.get('planned_steps', stage['steps'])} steps"
                     f"{capped}, {stage['wall_seconds']:.0f} s wall{extra}")  # fmt: skip
    lines += ["", "Start = the toy base after the format warm-up. Control = the warm-up SFT continued on the same "
              "demonstrations for RL's compute. Evaluation queries never appear in any training data.",
              f"Torch threads: {meta['threads']}; total wall time {meta['total_wall_seconds']:.0f} s."]  # fmt: skip
    return "\n".join(lines) + "\n"
