"""The model card funrl writes beside every saved model and checkpoint (README.md + funrl_training.json).

TRL's own card names the trainer class's paper; `FunRLTrainer` subclasses `GRPOTrainer`, so without this module a
FunRL checkpoint would credit DeepSeekMath. The funrl card says what the model is: the method (FunRL, arXiv
2508.05118, with its BibTeX; or the plain-GRPO baseline / the SFT warm-up), TRL as the trainer, `base_model` (a hub
id, or for a local checkpoint the hub id it was itself trained from, else its path), the dataset, the recipe and
the command, and, once `funrl eval --update-card` has run on it, the BFCL results.

`ModelCardMixin` is the hook: mixed into a TRL trainer it writes the card on `save_model` (the final model and
each `checkpoint-N`, whose weights `_save_checkpoint` saves through `save_model`) and on `create_model_card` (what
TRL's `_save_checkpoint` and `push_to_hub` call), so the published card is this one. The same save hook writes the
tokenizer config in the form transformers 4.x loads too (`funrl.tokenizer_compat`, for the official BFCL tool).

    class MyTrainer(ModelCardMixin, GRPOTrainer): ...
    trainer.funrl_card = CardInfo.from_run("FunRL", "Qwen/Qwen2.5-0.5B-Instruct", dataset="data/train.jsonl")
    update_card_results("runs/funrl", results, "runs/eval-funrl")      # what `funrl eval --update-card` does
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRAINING_INFO = "funrl_training.json"
RESULTS_START, RESULTS_END = "<!-- funrl:bfcl-results:start -->", "<!-- funrl:bfcl-results:end -->"

FUNRL_PAPER = {
    "title": "Exploring Superior Function Calls via Reinforcement Learning",
    "id": "2508.05118",
    "citation": (
        "@article{hao2025funrl,\n"
        "    title         = {{Exploring Superior Function Calls via Reinforcement Learning}},\n"
        "    author        = {Hao, Bingguang and others},\n"
        "    year          = 2025,\n"
        "    eprint        = {2508.05118},\n"
        "    archivePrefix = {arXiv},\n"
        "    primaryClass  = {cs.LG},\n"
        "}"
    ),
}
TRL_CITATION = (
    "@software{vonwerra2020trl,\n"
    "  title   = {{TRL: Transformers Reinforcement Learning}},\n"
    "  author  = {von Werra, Leandro and Belkada, Younes and Tunstall, Lewis and Beeching, Edward and Thrush, "
    "Tristan and Lambert, Nathan and Huang, Shengyi and Rasul, Kashif and Gallouédec, Quentin},\n"
    "  license = {Apache-2.0},\n"
    "  url     = {https://github.com/huggingface/trl},\n"
    "  year    = {2020}\n"
    "}"
)
METHODS = {
    "FunRL": "FunRL: GRPO whose advantage gets a clipped entropy bonus from the chain of thought, "
    "`A + min(alpha * H, |A| / kappa)`, with a strict binary function-call reward",
    "GRPO": "plain GRPO in the FunRL harness (the baseline of FunRL: same reward, data and settings, no entropy bonus)",
    "SFT": "supervised warm-up in the FunRL output format (`<think>...</think><answer>[calls]</answer>`), "
    "completion-only loss",
}
TRAINERS = {"FunRL": "GRPOTrainer", "GRPO": "GRPOTrainer", "SFT": "SFTTrainer"}


def _is_hub_id(name: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not Path(name).exists()


def resolve_base_model(name_or_path: str | None) -> str | None:
    """The `base_model` of a card: a hub id as given; for a local folder the hub id it records (a funrl
    `funrl_training.json`, a card's `base_model`, or `_name_or_path` in its config.json), else the path itself."""
    if not name_or_path:
        return None
    path = Path(name_or_path)
    if not path.is_dir():
        return name_or_path
    candidates: list[Any] = []
    if (path / TRAINING_INFO).is_file():
        candidates.append(_read_json(path / TRAINING_INFO).get("base_model"))
    if (path / "README.md").is_file():
        match = re.search(r"^base_model:\s*(\S+)\s*$", (path / "README.md").read_text(errors="replace"), re.M)
        candidates.append(match and match.group(1).strip("'\""))
    if (path / "config.json").is_file():
        candidates.append(_read_json(path / "config.json").get("_name_or_path"))
    return next((c for c in candidates if isinstance(c, str) and _is_hub_id(c)), name_or_path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class CardInfo:
    """What a card says about a training run. Build it with `CardInfo.from_run` in the entry points."""

    method: str = "FunRL"  # a key of METHODS
    base_model: str | None = None  # hub id or local path (see `resolve_base_model`)
    started_from: str | None = None  # the model folder/id training loaded, when it differs from base_model
    dataset: str | None = None
    recipe_path: str | None = None
    recipe: str | None = None  # the recipe file's text
    command: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # a few resolved values (format, lengths, alpha, ...)

    @classmethod
    def from_run(
        cls,
        method: str,
        model_name_or_path: str | None,
        dataset: str | None = None,
        argv: list[str] | None = None,
        settings: dict[str, Any] | None = None,
        prog: str = "funrl train",
    ) -> CardInfo:
        """From an entry point's arguments: the model as given, the dataset and the command line (its `--config`
        file is read into the card). `argv` defaults to the process's own when it is a funrl command line."""
        if argv is None:  # the process's command line, when it is a funrl one (not, e.g., pytest's)
            launcher = Path(sys.argv[0])
            argv = sys.argv[1:] if "funrl" in (launcher.name, launcher.parent.name) else []
        base = resolve_base_model(model_name_or_path)
        info = cls(
            method=method,
            base_model=base,
            started_from=model_name_or_path if model_name_or_path != base else None,
            dataset=dataset,
            settings=dict(settings or {}),
        )
        info.record_command(argv, prog)
        return info

    def record_command(self, argv: list[str], prog: str = "funrl train") -> None:
        """Record the command line and read the recipe its `--config` names."""
        argv = list(argv)
        if argv and argv[0] == prog.split()[-1]:  # `funrl train ...`: the command word is in prog already
            argv = argv[1:]
        path = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config"), None)
        path = path or next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
        self.recipe_path = path
        self.recipe = Path(path).read_text() if path and Path(path).is_file() else None
        self.command = shlex.join([*prog.split(), *argv]) if argv else None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("funrl", "trl", "transformers", "torch", "datasets", "tokenizers"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def render_card(info: CardInfo, model_name: str, results: str | None = None, step: int | None = None) -> str:
    """The card's markdown: YAML metadata (via `huggingface_hub.ModelCardData`), method, training, recipe,
    BFCL results (between markers `update_card_results` replaces) and citations."""
    from huggingface_hub import ModelCardData

    tags = ["funrl", "function-calling", "trl", "generated_from_trainer"]
    tags += ["grpo"] if info.method in ("FunRL", "GRPO") else ["sft"]
    data = ModelCardData(
        base_model=info.base_model if info.base_model and _is_hub_id(info.base_model) else None,
        datasets=[info.dataset] if info.dataset and _is_hub_id(info.dataset) else None,
        library_name="transformers",
        pipeline_tag="text-generation",
        model_name=model_name,
        tags=tags,
    )
    base = info.base_model or "an unrecorded model"
    base_link = f"[{base}](https://huggingface.co/{base})" if _is_hub_id(base) else f"`{base}`"
    lines = [
        "---",
        data.to_yaml(),
        "---",
        "",
        f"# {model_name}",
        "",
        f"A function-calling model fine-tuned from {base_link} with **{info.method}**"
        + (f" (step {step})" if step is not None else "")
        + " by funrl on [TRL](https://github.com/huggingface/trl)'s "
        f"`{TRAINERS.get(info.method, 'Trainer')}`.",
        "",
        "## Method",
        "",
        f"{METHODS.get(info.method, info.method)}.",
    ]
    if info.method in ("FunRL", "GRPO"):
        lines += [
            f"FunRL was introduced in [{FUNRL_PAPER['title']}](https://huggingface.co/papers/{FUNRL_PAPER['id']}) "
            f"(arXiv {FUNRL_PAPER['id']})."
        ]
    lines += ["", "## Training", ""]
    if info.started_from:
        lines.append(f"- started from: `{info.started_from}`")
    lines.append(f"- base model: {base_link}")
    lines.append(f"- dataset: `{info.dataset}`" if info.dataset else "- dataset: not recorded")
    lines += [f"- {k}: `{v}`" for k, v in info.settings.items() if v is not None]
    lines += [f"- {name}: {v}" for name, v in _versions().items()]
    if info.command:
        lines += ["", "Command:", "", "```bash", info.command, "```"]
    if info.recipe:
        lines += ["", f"Recipe (`{info.recipe_path}`):", "", "```yaml", info.recipe.rstrip(), "```"]
    lines += ["", "## BFCL results", "", RESULTS_START]
    lines += [results or "Not evaluated yet: `funrl eval --model <this folder> --update-card` adds the results here."]
    lines += [RESULTS_END, "", "## Citations", ""]
    if info.method in ("FunRL", "GRPO"):
        lines += ["Cite FunRL as:", "", "```bibtex", FUNRL_PAPER["citation"], "```", ""]
    lines += ["Cite TRL as:", "", "```bibtex", TRL_CITATION, "```", ""]
    return "\n".join(lines)


def write_card(output_dir: str | Path, info: CardInfo, model_name: str | None = None, step: int | None = None):
    """Write `README.md` (the card) and `funrl_training.json` (the card's facts, machine-readable) to `output_dir`.

    A card written for new weights drops BFCL results of older weights in the same folder."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = model_name or out.resolve().name
    (out / "README.md").write_text(render_card(info, name, step=step), encoding="utf-8")
    facts = asdict(info)
    facts.update(facts.pop("settings"))
    (out / TRAINING_INFO).write_text(json.dumps(facts, indent=2) + "\n")


def results_markdown(results: dict[str, Any], run_dir: str | Path) -> str:
    """The card's BFCL section from a `funrl eval` results.json."""
    from funrl.evaluate.metrics import SUMMARY_COLUMNS
    from funrl.evaluate.truncation import render_coverage, render_truncation

    head = "| " + " | ".join(label for _, label in SUMMARY_COLUMNS) + " |"
    groups = results.get("groups", {})
    cells = [
        "N/A" if groups.get(k, {}).get("value") is None else f"{100 * groups[k]['value']:.2f}"
        for k, _ in SUMMARY_COLUMNS
    ]
    cats = {c: i for c, i in results.get("categories", {}).items() if i.get("accuracy") is not None}
    lines = [
        f"`funrl eval` (backend `{results.get('backend')}`, format `{results.get('format')}`, "
        f"{results.get('entries')} entries; run folder `{Path(run_dir).name}`):",
        "",
        head,
        "|" + "---:|" * len(SUMMARY_COLUMNS),
        "| " + " | ".join(cells) + " |",
    ]
    if cats:
        lines += ["", "| " + " | ".join(cats) + " |", "|" + "---:|" * len(cats)]
        lines.append("| " + " | ".join(f"{100 * i['accuracy']:.2f}" for i in cats.values()) + " |")
    coverage = render_coverage(results.get("coverage") or {})
    if coverage:
        lines += ["", coverage]
    if results.get("truncation"):
        lines += ["", render_truncation(results["truncation"]).split("\n\n")[0]]
    lines += ["", "Overall (paper) = (Non-Live AST + Live) / 2 as in the FunRL tables; not a BFCL aggregate."]
    return "\n".join(lines)


def update_card_results(model_dir: str | Path, results: dict[str, Any], run_dir: str | Path) -> Path:
    """Put the BFCL results of `funrl eval` into the model folder's card (written first if the folder has none).

    Raises:
        `ValueError`: `model_dir` is not a local folder.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ValueError(f"--update-card needs a local model folder; {model_dir} is not one")
    card = model_dir / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    if RESULTS_START not in text or RESULTS_END not in text:
        facts = _read_json(model_dir / TRAINING_INFO)
        known = {k: facts.pop(k) for k in list(facts) if k in CardInfo.__dataclass_fields__}
        info = CardInfo(**{**known, "settings": facts}) if known else CardInfo(method="unrecorded")
        text = render_card(info, model_dir.resolve().name)
    start, end = text.index(RESULTS_START) + len(RESULTS_START), text.index(RESULTS_END)
    text = text[:start] + "\n" + results_markdown(results, run_dir) + "\n" + text[end:]
    card.write_text(text, encoding="utf-8")
    return card


@functools.cache
def with_model_card(trainer_cls: type) -> type:
    """`trainer_cls` with `ModelCardMixin` mixed in (e.g. TRL's `SFTTrainer` for `funrl sft`)."""
    return type(f"FunRL{trainer_cls.__name__}", (ModelCardMixin, trainer_cls), {})


class ModelCardMixin:
    """Mix into a TRL trainer (before it in the bases) to write funrl's card instead of TRL's.

    Set `trainer.funrl_card` to a `CardInfo`; without one the card is built from the trainer (its model's
    `_name_or_path`, the method from the class)."""

    funrl_card: CardInfo | None = None

    def _funrl_card_info(self) -> CardInfo:
        if self.funrl_card is not None:
            return self.funrl_card
        model_id = getattr(getattr(self.model, "config", None), "_name_or_path", None)
        method = "SFT" if "SFT" in type(self).__name__ else "FunRL"
        if method == "FunRL" and not getattr(self.args, "use_entropy_adv", True):
            method = "GRPO"
        base = resolve_base_model(model_id)
        return CardInfo(method=method, base_model=base, started_from=model_id if model_id != base else None)

    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None, tags=None, **kwargs):
        if not self.is_world_process_zero():
            return
        info = self._funrl_card_info()
        if dataset_name and not info.dataset:
            info.dataset = dataset_name
        write_card(self.args.output_dir, info, model_name, step=self.state.global_step or None)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        super().save_model(output_dir, _internal_call)
        if self.args.should_save:
            from funrl.tokenizer_compat import make_portable

            write_card(output_dir or self.args.output_dir, self._funrl_card_info(), step=self.state.global_step)
            make_portable(output_dir or self.args.output_dir)  # loadable by the official BFCL tool's transformers 4.x
