"""Every YAML under recipes/ parses through the parser of the command that reads it, so a renamed or misspelt field
fails here rather than in a GPU job.

    .venv/bin/python -m pytest tests/test_recipes.py -q

Which command reads a file follows from where it lives (recipes/README.md): `accelerate/` holds launcher configs
(checked against accelerate's own config loader and `accelerate launch` options), `data/` holds `funrl prepare`
recipes, `sft*.yaml` are `funrl sft` recipes and every other YAML is a `funrl train` recipe (parsed by the
`TrlParser` of `funrl.rl_trainer.make_parser`, which rejects unknown keys, into `FunRLScriptArguments`, `FunRLConfig` and
`ModelConfig`, whose `__post_init__` checks run). GPU recipes set `bf16: true`, which transformers refuses on a
machine without a GPU unless `use_cpu` is set, so the tests add `--use_cpu true`; nothing else is overridden.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
ALL_YAML = sorted(p for p in RECIPES.rglob("*") if p.suffix in (".yaml", ".yml"))
PAPER_MODELS = {
    "qwen2.5-coder-7b-instruct": "Qwen/Qwen2.5-Coder-7B-Instruct",
    "llama-3.2-3b-instruct": "meta-llama/Llama-3.2-3B-Instruct",
}
# docs/method.md §2 and §6: the values the paper (or the third-party report of its setup) used.
PAPER_VALUES = {
    "beta": 0.001,  # KL coefficient [3RD]
    "temperature": 0.7,  # rollout temperature [3RD]
    "learning_rate": 1e-6,  # [3RD]
    "entropy_adv_alpha": 0.4,  # entropy weight [3RD]
    "entropy_adv_kappa": 2.0,  # cap divisor [3RD]
    "max_steps": 570,  # learning-curve x-axis [PAPER]
    "reward_funcs": ["funrl"],  # binary format AND calls reward [PAPER]
    "prompt_format": "funrl",  # <think>/<answer> template [PAPER]
    "loss_type": "grpo",  # GRPO objective (TRL's default is dapo)
}

# Where a run writes and which seed it uses name the run, not the method: they need no source comment.
RUN_IDENTITY = ("output_dir", "seed")


def kind(path: Path) -> str:
    """`accelerate`, `prepare`, `sft` or `train`: the command that reads this recipe (see recipes/README.md)."""
    folder = path.parent.name
    if folder == "accelerate":
        return "accelerate"
    if folder == "data":
        return "prepare"
    if path.name.startswith("sft"):
        return "sft"
    return "train"


def _ids(paths):
    return [str(p.relative_to(RECIPES)) for p in paths]


def of_kind(*kinds: str) -> list[Path]:
    return [p for p in ALL_YAML if kind(p) in kinds]


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: a recipe is a YAML mapping"
    return data


def parse_trl(path: Path, *extra: str) -> tuple:
    """The dataclasses `funrl train` / `funrl sft` would build from this recipe (+ command-line `extra`)."""
    if kind(path) == "sft":
        from funrl.sft_trainer import make_parser
    else:
        from funrl.rl_trainer import make_parser
    return make_parser().parse_args_and_config(["--config", str(path), "--use_cpu", "true", *extra])


def _field_default(dataclass_types, key: str):
    for cls in dataclass_types:
        for f in dataclasses.fields(cls):
            if f.name == key:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
                return dataclasses.MISSING
    raise KeyError(key)


def _same(yaml_value, parsed) -> bool:
    """A YAML value and what the parser made of it (enums, lists from a single string, numbers from strings)."""
    if isinstance(parsed, enum.Enum):
        parsed = parsed.value
    if isinstance(parsed, list) and not isinstance(yaml_value, list):
        yaml_value = [] if yaml_value == "none" else [yaml_value]  # report_to: none -> []
    if isinstance(parsed, bool) or isinstance(yaml_value, bool):
        return parsed == yaml_value
    if isinstance(parsed, (int, float)) and isinstance(yaml_value, (int, float, str)):
        try:
            return float(yaml_value) == pytest.approx(float(parsed))
        except ValueError:
            return False
    return parsed == yaml_value


def test_recipes_found():
    kinds = {kind(p) for p in ALL_YAML}
    assert {"train", "sft", "accelerate"} <= kinds, f"recipes/ lost a kind of recipe: {sorted(kinds)}"
    for folder in PAPER_MODELS:
        for name in ("funrl.yaml", "grpo.yaml"):
            assert (RECIPES / folder / name).is_file(), f"missing paper recipe recipes/{folder}/{name}"
    for name in ("zero3.yaml", "fsdp.yaml"):
        assert (RECIPES / "accelerate" / name).is_file()


# ---------------------------------------------------------------------------------------------------
# funrl train / funrl sft recipes


@pytest.mark.parametrize("path", of_kind("train", "sft"), ids=_ids(of_kind("train", "sft")))
def test_training_recipe_parses(path):
    data = load(path)
    parsed = parse_trl(path)
    for key, value in data.items():
        owners = [obj for obj in parsed if key in {f.name for f in dataclasses.fields(obj)}]
        assert owners, f"{path.name}: {key} reached no dataclass"
        assert any(_same(value, getattr(obj, key)) for obj in owners), (
            f"{path.name}: {key}: recipe says {value!r}, parsed {[getattr(o, key) for o in owners]!r}"
        )


def test_renamed_field_fails(tmp_path):
    """The mechanism the test above relies on: an unknown key (a renamed field) is an error, not ignored."""
    source = (RECIPES / "qwen2.5-coder-7b-instruct" / "funrl.yaml").read_text(encoding="utf-8")
    renamed = source.replace("entropy_adv_kappa:", "entropy_adv_capdiv:")
    assert renamed != source
    (tmp_path / "renamed.yaml").write_text(renamed, encoding="utf-8")
    with pytest.raises(ValueError, match="entropy_adv_capdiv"):
        parse_trl(tmp_path / "renamed.yaml")


def test_invalid_value_fails(tmp_path):
    """`__post_init__` checks run on recipe values: a cap divisor <= 1 could flip the advantage's sign."""
    source = (RECIPES / "qwen2.5-coder-7b-instruct" / "funrl.yaml").read_text(encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(re.sub(r"entropy_adv_kappa: 2.0", "entropy_adv_kappa: 1.0", source))
    with pytest.raises(ValueError, match="entropy_adv_kappa"):
        parse_trl(tmp_path / "bad.yaml")


@pytest.mark.parametrize("path", of_kind("train", "sft"), ids=_ids(of_kind("train", "sft")))
def test_every_non_default_value_names_its_source(path):
    """House rule: a header comment, and a trailing comment on every value that differs from the default."""
    if kind(path) == "sft":
        from trl import ModelConfig, SFTConfig

        from funrl.sft_trainer import SFTScriptArguments

        classes = (SFTScriptArguments, SFTConfig, ModelConfig)
    else:
        from trl import ModelConfig

        from funrl.configs import FunRLConfig, FunRLScriptArguments

        classes = (FunRLScriptArguments, FunRLConfig, ModelConfig)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith("#"), f"{path.name}: no header comment"
    data = load(path)
    for key, value in data.items():
        default = _field_default(classes, key)
        if key in RUN_IDENTITY or default not in (dataclasses.MISSING, None) and _same(value, default):
            continue
        line = next(line for line in lines if re.match(rf"{re.escape(key)}\s*:", line))
        assert " # " in line, (
            f"{path.relative_to(RECIPES)}: {key} = {value!r} differs from the default {default!r} and has no "
            "trailing comment giving its source"
        )


@pytest.mark.parametrize("folder", sorted({p.parent for p in of_kind("train")}), ids=lambda p: p.name)
def test_funrl_and_grpo_differ_only_in_the_bonus(folder):
    """A FunRL recipe and its GRPO baseline differ in `use_entropy_adv` and `output_dir` only."""
    if not (folder / "funrl.yaml").is_file() or not (folder / "grpo.yaml").is_file():
        pytest.skip(f"{folder.name} has no funrl/grpo pair")
    funrl, grpo = load(folder / "funrl.yaml"), load(folder / "grpo.yaml")
    differ = sorted(k for k in funrl.keys() | grpo.keys() if funrl.get(k) != grpo.get(k))
    assert differ == ["output_dir", "use_entropy_adv"], differ
    assert funrl["use_entropy_adv"] is True and grpo["use_entropy_adv"] is False


@pytest.mark.parametrize("model_dir", sorted(PAPER_MODELS))
@pytest.mark.parametrize("name", ["funrl.yaml", "grpo.yaml"])
def test_paper_recipe_values(model_dir, name):
    script_args, args, model_args = parse_trl(RECIPES / model_dir / name)
    assert model_args.model_name_or_path == PAPER_MODELS[model_dir]
    for key, expected in PAPER_VALUES.items():
        obj = next(o for o in (script_args, args, model_args) if hasattr(o, key))
        assert _same(expected, getattr(obj, key)), f"{model_dir}/{name}: {key}={getattr(obj, key)!r}"
    assert args.entropy_adv_form == "cheng" and args.use_vllm
    assert args.use_entropy_adv is (name == "funrl.yaml")
    assert args.logging_steps == 1, "the learning curves need a log entry every step"
    # vLLM server mode trains on 7 GPUs, colocate mode on 8: a step's completions must split into whole groups.
    for processes in (7, 8):
        completions = args.per_device_train_batch_size * processes * args.steps_per_generation
        assert completions % args.num_generations == 0, f"{processes} processes: {completions} completions"


# ---------------------------------------------------------------------------------------------------
# funrl prepare recipes


@pytest.mark.parametrize("path", of_kind("prepare"), ids=_ids(of_kind("prepare")))
def test_prepare_recipe_parses(path):
    from funrl.data.prepare import parse_config

    config = parse_config(["--config", str(path)])
    assert config.inputs and config.output


# ---------------------------------------------------------------------------------------------------
# accelerate launcher configs


def _launch_options() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {action.dest for action in launch_command_parser()._actions}


@pytest.mark.parametrize("path", of_kind("accelerate"), ids=_ids(of_kind("accelerate")))
def test_accelerate_config(path):
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    # accelerate's own loader: rejects unknown top-level keys and builds its ClusterConfig
    config = load_config_from_file(str(path))
    assert config.compute_environment.value == "LOCAL_MACHINE"
    assert config.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP, DistributedType.MULTI_GPU)
    assert config.num_processes == 8 and config.num_machines == 1, "recipes/README.md launches 8 GPUs on one node"
    assert str(config.mixed_precision) in ("bf16", "PrecisionType.BF16")
    # `accelerate launch` copies nested keys onto its own options without checking them: check them here.
    options = _launch_options()
    if config.distributed_type == DistributedType.DEEPSPEED:
        unknown = sorted(set(config.deepspeed_config) - options)
        assert not unknown, f"{path.name}: deepspeed_config keys accelerate does not know: {unknown}"
        assert config.deepspeed_config["zero_stage"] in (2, 3)
        assert path.stem == f"zero{config.deepspeed_config['zero_stage']}"
    if config.distributed_type == DistributedType.FSDP:
        keys = {k if k.startswith("fsdp_") else f"fsdp_{k}" for k in config.fsdp_config}
        unknown = sorted(keys - options)
        assert not unknown, f"{path.name}: fsdp_config keys accelerate does not know: {unknown}"
        assert int(config.fsdp_config["fsdp_version"]) == 2


# ---------------------------------------------------------------------------------------------------
# recipes/README.md


def test_readme_lists_every_recipe_and_names_only_existing_files():
    readme = (RECIPES / "README.md").read_text(encoding="utf-8")
    for path in ALL_YAML:
        rel = path.relative_to(RECIPES)
        # listed by its path, by its folder's pattern (`data/*.yaml`), or by its name in a README naming its folder
        listed = str(rel) in readme or f"`{rel.parent}/*.yaml`" in readme
        named = f"`{path.name}`" in readme or f"/{path.name}`" in readme
        listed = listed or (f"{rel.parent}/" in readme and named)
        assert listed, f"recipes/README.md does not list {rel}"
    named = set(re.findall(r"recipes/[\w.\-/]+\.yaml", readme))
    named |= {m.replace("$R", "recipes/qwen2.5-coder-7b-instruct") for m in re.findall(r"\$R/[\w.\-]+\.yaml", readme)}
    assert named, "README names no recipe file"
    for rel in sorted(named):
        assert (REPO / rel).is_file(), f"README names {rel}, which does not exist"
