"""The toy base model that ships with funrl: the CPU demo's analogue of the instruct model the paper starts from.

A ~2M-parameter Qwen2-style model and its BPE tokenizer, trained on the toy world (`funrl.toy.world`) to answer in
BFCL's plain prompt-mode call syntax (`[func(a=1, b='x')]`, no think span) from the compact prompt of the
`bfcl-prompt` format. It copies values from the query; it is weaker on the multi-call categories (they are a small
share of its data), which is where RL has somewhere to go. The quickstart teaches it the think/answer format with a
short warm-up and then runs FunRL from there.

    funrl toy-base --output src/funrl/toy/base_model       # rebuild the shipped model (see its README.md card)
    funrl toy-base --output runs/base --steps 20 --eval-n 20  # a few steps: a quick look at the pipeline

The command is `funrl.toy.base_cmd`; this module holds the builder (`build_toy_base`, its `ToyBaseArguments`) and
what the demo reads of the base (`base_model_path`, `load_card`, `compact`, `excluded_queries`).

Data: `generate("train", seed=BASE_DATA_SEED, mix=BASE_MIX)`, disjoint from every split the quickstart evaluates:
the out-of-distribution splits use a template, a joiner and values the train split never produces, and every query
of the in-distribution splits (`heldout_id`, `validation_id`) for the quickstart seeds `EVAL_SEEDS` is removed from
the base's data (the count is in the card). The quickstart's own SFT and RL data come from other seeds.

Weights are stored in bfloat16 (4 MB); the card's scores are measured on the stored weights loaded in float32, the
way the quickstart loads them. `toy_base.json` beside the weights holds the card's facts in machine-readable form.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from funrl.schema import Sample, write_samples

BASE_DIR = Path(__file__).with_name("base_model")
CARD_FILE = "toy_base.json"
BASE_DATA_SEED = 1_000_000
EVAL_SEEDS = range(3)  # quickstart / ablate seeds whose in-distribution eval splits the base never sees
EVAL_SPLIT_SIZE = 300  # entries per excluded split and seed (the quickstart evaluates at most this many)
# Multi-call categories are a small share: the base learns the call syntax and value copying from the single-call
# ones, and leaves headroom on parallel / parallel_multiple for RL.
BASE_MIX = {"simple": 0.4, "multiple": 0.32, "parallel": 0.06, "parallel_multiple": 0.04, "irrelevance": 0.18}


@dataclass
class ToyBaseArguments:
    """Options of `funrl toy-base` (`funrl.toy.base_cmd`): the settings `build_toy_base` trains with and records in
    the card."""

    output: str = field(metadata={"help": "Folder of the finished model (weights, tokenizer, README.md card)."})
    steps: int = field(default=2000, metadata={"help": "Optimizer steps (batch 32, cosine learning rate)."})
    batch_size: int = field(default=32, metadata={"help": "Samples per optimizer step."})
    learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate (50 warm-up steps, cosine)."})
    seed: int = field(default=0, metadata={"help": "Seed of the weight initialisation and the data order."})
    eval_n: int = field(default=200, metadata={"help": "Entries per evaluation split in the card."})
    threads: int = field(default=1, metadata={"help": "Torch threads."})
    work_dir: str | None = field(
        default=None, metadata={"help": "Checkpoints, data and evaluations (default: <output>.work); resumable."}
    )


# ---------------------------------------------------------------------------------------------------
# Data


def compact(samples: list[Sample]) -> list[Sample]:
    """Mark samples for the compact prompt style of `funrl.template` (one-line signatures, few tokens)."""
    for sample in samples:
        sample.meta = {**sample.meta, "prompt_style": "compact"}
    return samples


def excluded_queries() -> set[str]:
    """Every query of the in-distribution evaluation splits of the quickstart seeds."""
    from funrl.toy.world import generate

    return {
        s.messages[-1]["content"]
        for split in ("heldout_id", "validation_id")
        for seed in EVAL_SEEDS
        for s in generate(split, n=EVAL_SPLIT_SIZE, seed=seed)
    }


def base_data(n: int) -> tuple[list[Sample], int]:
    """`n` training samples of the base and how many drawn samples were removed as evaluation queries."""
    from funrl.toy.world import generate

    banned = excluded_queries()
    kept, removed = [], 0
    for sample in generate("train", n=2 * n + 100, seed=BASE_DATA_SEED, mix=BASE_MIX):
        if len(kept) == n:
            break
        if sample.messages[-1]["content"] in banned:
            removed += 1
        else:
            kept.append(sample)
    if len(kept) < n:
        raise RuntimeError(f"only {len(kept)} base samples left after decontamination; fewer steps or a larger draw")
    return compact(kept), removed


def tokenizer_corpus(seed: int = 0) -> list[str]:
    """The toy tokenizer's corpus: `funrl.toy.tiny_model.default_corpus` plus whole compact-style turns of the
    formats the demo uses (the base's plain calls and the warm-up's think/answer), so both merge to few tokens."""
    from funrl.template import prompt_messages, render_target
    from funrl.toy.tiny_model import default_corpus
    from funrl.toy.world import generate

    texts = default_corpus(seed)
    for fmt in ("funrl", "bfcl-prompt"):
        for sample in compact(generate("train", n=500, seed=seed + 7)):
            system = prompt_messages(sample, fmt)[0]["content"]
            texts.append(system + "\n" + sample.messages[-1]["content"] + "\n" + render_target(sample, fmt))
    return texts


# ---------------------------------------------------------------------------------------------------
# Build


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent)  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True,
                               timeout=10, cwd=Path(__file__).parent).stdout.strip()  # fmt: skip
        return out.stdout.strip() + ("+uncommitted" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def train_base(args: ToyBaseArguments, work: Path) -> dict[str, Any]:
    """Initialise (tokenizer + random weights), write the data, and train with `funrl sft` (resumes a stopped run)."""
    from funrl.sft_trainer import build_trainer, make_parser
    from funrl.toy.tiny_model import build_tiny_model

    init, data, ckpts = work / "init", work / "base_train.jsonl", work / "train"
    if not (init / "config.json").is_file():
        build_tiny_model(init, size="small", corpus=tokenizer_corpus(args.seed), seed=args.seed)
    removed = json.loads((work / "data.json").read_text())["removed"] if (work / "data.json").is_file() else None
    if removed is None:
        samples, removed = base_data(args.steps * args.batch_size)
        write_samples(samples, data)
        (work / "data.json").write_text(json.dumps({"samples": len(samples), "removed": removed}) + "\n")
    last = sorted(ckpts.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1])) if ckpts.is_dir() else []
    argv = ["--model_name_or_path", str(init), "--dataset_name", str(data), "--prompt_format", "bfcl-prompt",
            "--per_device_train_batch_size", str(args.batch_size), "--learning_rate", str(args.learning_rate),
            "--lr_scheduler_type", "cosine", "--warmup_steps", str(min(50, args.steps // 10)), "--max_steps",
            str(args.steps), "--max_length", "512", "--output_dir", str(ckpts), "--seed", str(args.seed),
            "--bf16", "false", "--dtype", "float32", "--save_strategy", "steps", "--save_steps", "200",
            "--save_total_limit", "1", "--report_to", "none", "--logging_steps", "25", "--dataloader_num_workers",
            "0", "--activation_checkpointing", "false", "--num_train_epochs", "1"]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer = build_trainer(script_args, training_args, model_args)
    start = time.monotonic()
    trainer.train(resume_from_checkpoint=str(last[-1]) if last else None)
    seconds = time.monotonic() - start
    trainer.save_model(str(work / "final"))
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    return {"steps": trainer.state.global_step, "train_seconds_this_run": round(seconds, 1),
            "resumed_from": last[-1].name if last else None, "final_loss": round(losses[-1], 4) if losses else None,
            "samples": args.steps * args.batch_size, "removed_eval_queries": removed}  # fmt: skip


def save_bf16(src: Path, dst: Path) -> int:
    """Save `src`'s model in bfloat16 with its tokenizer to `dst`; returns the parameter count."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    model.to(torch.bfloat16).save_pretrained(dst)
    AutoTokenizer.from_pretrained(src).save_pretrained(dst)
    return model.num_parameters()


def evaluate_base(model: Path, work: Path, n: int) -> dict[str, Any]:
    """Greedy pass@1 per category (plain-call format, compact prompt) on both evaluation splits of seed 0."""
    from funrl.toy.evaluation import category_accuracy, evaluate_greedy
    from funrl.toy.world import generate

    scores = {}
    for split in ("heldout_id", "heldout"):
        path = work / f"eval_{split}.jsonl"
        write_samples(compact(generate(split, n=n, seed=0)), path)
        result = evaluate_greedy(str(model), path, work / f"eval-{split}", 96, fmt="bfcl-prompt")
        scores[split] = category_accuracy(result)
    return scores


def write_card(out: Path, facts: dict[str, Any]) -> None:
    """`toy_base.json` (the facts) and `README.md` (a model card in words and tables)."""
    from funrl.toy.evaluation import EVAL_CATEGORIES

    (out / CARD_FILE).write_text(json.dumps(facts, indent=2) + "\n")

    def row(name: str, acc: dict[str, float | None]) -> str:
        cells = [acc.get(c) for c in (*EVAL_CATEGORIES, "overall")]
        return f"| {name} | " + " | ".join("—" if v is None else f"{100 * v:.1f}" for v in cells) + " |"

    a = facts["architecture"]
    lines = [
        "---", "license: apache-2.0", "library_name: transformers", "pipeline_tag: text-generation",
        "tags: [funrl, toy, function-calling]", "---", "", "# funrl toy base model", "",
        "The pretrained starting point of funrl's CPU quickstart: a Qwen2-style causal LM "
        f"({facts['parameters'] / 1e6:.2f}M parameters: hidden {a['hidden_size']}, {a['num_hidden_layers']} layers, "
        f"vocab {a['vocab_size']}, tied embeddings) with a byte-level BPE tokenizer trained on the toy world. It "
        "answers the toy world's requests in BFCL's plain prompt-mode syntax (`[func(a=1, b='x')]`, `[]` when no "
        "function fits) from the compact `bfcl-prompt` prompt; it has never seen the think/answer format.", "",
        "## How it was built", "", f"- command: `{facts['command']}`", f"- funrl commit: `{facts['commit']}`",
        f"- optimizer steps: {facts['steps']} (batch {facts['batch_size']}, peak lr {facts['learning_rate']}, cosine, "
        f"seed {facts['seed']}); last logged training loss {facts['final_loss']}",
        f"- wall time: {facts['wall_seconds'] / 60:.1f} min ({facts['threads']} torch thread(s), {facts['machine']})",
        f"- data: {facts['samples']} toy-world samples, `generate('train', seed={BASE_DATA_SEED})` with mix "
        f"{facts['mix']}; {facts['removed_eval_queries']} drawn samples whose query is in an in-distribution "
        f"evaluation split (`heldout_id`/`validation_id`, seeds 0-{max(EVAL_SEEDS)}) were removed",
        "- weights stored in bfloat16; the scores below are of the stored weights loaded in float32", "",
        f"## Scores (greedy pass@1 %, {facts['eval_n']} entries per split, seed 0)", "",
        "| split | " + " | ".join(EVAL_CATEGORIES) + " | overall |", "|" + "---|" * (len(EVAL_CATEGORIES) + 2),
        row("heldout_id (in distribution)", facts["scores"]["heldout_id"]),
        row("heldout (unseen template, joiner, values)", facts["scores"]["heldout"]), "",
        "Rebuild: the command above (the folder is reproduced up to floating-point nondeterminism of the machine).",
    ]  # fmt: skip
    (out / "README.md").write_text("\n".join(lines) + "\n")


def build_toy_base(args: ToyBaseArguments, command: str = "") -> Path:
    """Train, store in bfloat16, evaluate and write the card; returns the output folder."""
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.output)
    work = Path(args.work_dir or f"{out}.work")
    work.mkdir(parents=True, exist_ok=True)
    wall, commit = time.monotonic(), _git_commit()  # the code that trains, not what the tree holds at the end
    trained = train_base(args, work)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.safetensors"):
        stale.unlink()
    parameters = save_bf16(work / "final", out)
    scores = evaluate_base(out, work, args.eval_n)
    config = json.loads((out / "config.json").read_text())
    facts = {
        "command": command or f"funrl toy-base --output {args.output} --steps {args.steps}",
        "commit": commit,
        **{k: v for k, v in asdict(args).items() if k not in ("output", "work_dir")},
        "mix": BASE_MIX,
        "parameters": parameters,
        "architecture": {
            k: config[k]
            for k in (
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "intermediate_size",
                "vocab_size",
            )
        },  # fmt: skip
        "machine": f"{os.cpu_count()}-core CPU",
        "wall_seconds": round(time.monotonic() - wall, 1),
        **trained,
        "scores": scores,
    }
    write_card(out, facts)
    return out


def load_card(path: str | Path = BASE_DIR) -> dict[str, Any]:
    """The facts of a toy base folder (`toy_base.json`)."""
    return json.loads((Path(path) / CARD_FILE).read_text())


def base_model_path() -> Path:
    """The shipped toy base model folder; a clear error if the package was installed without it."""
    if not (BASE_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the toy base model is missing from {BASE_DIR}: reinstall funrl, or rebuild it with "
            f"`funrl toy-base --output {BASE_DIR}`"
        )
    return BASE_DIR
