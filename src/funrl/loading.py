"""The loaders `funrl train` and `funrl sft` share: training samples from `dataset_name`, the model path to load.

A library module (stages import it; it imports no stage): both commands fill a `funrl.configs.DataArguments`
(`FunRLScriptArguments`, `SFTScriptArguments`) and hand it here.

    from funrl.configs import DataArguments
    from funrl.loading import load_samples, resolve_model
    samples = load_samples(DataArguments(dataset_name="toy", max_train_samples=8))
    path = resolve_model("funrl-tiny", DataArguments(), "runs/x")     # builds the tiny model once
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: this module loads neither TRL nor torch
    from funrl.configs import DataArguments

TINY_MODEL = "funrl-tiny"
DEFAULT_TOY_SIZE = 256


def load_samples(script_args: DataArguments) -> list:
    """The training samples (`funrl.schema.Sample`) named by `dataset_name`, cut to `max_train_samples`.

    `toy`: the toy world's `dataset_train_split`; an existing `.jsonl` file: canonical samples; a folder: its
    `<dataset_train_split>.jsonl` when it has one (a `funrl prepare` output folder), else all its `*.jsonl` files;
    a folder written by `datasets.save_to_disk`, or any other value: a `datasets` dataset with canonical rows.
    """
    from funrl.schema import Sample, read_samples

    name, limit = script_args.dataset_name, script_args.max_train_samples
    if name == "toy":
        from funrl.toy.world import generate

        return generate(script_args.dataset_train_split, n=limit or DEFAULT_TOY_SIZE, seed=script_args.toy_seed)
    path = Path(name)
    if not path.exists() and looks_like_path(name):
        raise FileNotFoundError(f"dataset_name={name!r}: no such file or folder")
    if path.is_file():
        samples = read_samples(path)
    elif path.is_dir() and not any((path / marker).exists() for marker in ("dataset_dict.json", "state.json")):
        # a `funrl prepare` output folder holds train/validation/rejected(/judge_cache).jsonl: read only the split
        split_file = path / f"{script_args.dataset_train_split}.jsonl"
        files = [split_file] if split_file.is_file() else sorted(path.glob("*.jsonl"))
        if not files:
            raise FileNotFoundError(f"dataset_name={name!r}: folder holds no *.jsonl file and no saved `datasets`")
        samples = [s for file in files for s in read_samples(file)]
    else:
        import datasets

        if path.is_dir():
            data = datasets.load_from_disk(str(path))
            if isinstance(data, datasets.DatasetDict):
                data = data[script_args.dataset_train_split]
        else:
            data = datasets.load_dataset(name, script_args.dataset_config, split=script_args.dataset_train_split)
        if limit is not None:
            data = data.select(range(min(limit, len(data))))
        samples = [Sample.from_dict(row, where=f"{name}[{i}]") for i, row in enumerate(data)]
    if not samples:
        raise ValueError(f"dataset_name={name!r}: no samples")
    return samples[:limit] if limit is not None else samples


def looks_like_path(name: str) -> bool:
    """Whether `name` can only be a local path, not a Hub id (`org/name`): so a missing one is reported as missing
    instead of being looked up on the Hub."""
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or name.endswith((".jsonl", ".json"))


def resolve_model(model_name_or_path: str | None, script_args: DataArguments, output_dir: str) -> str:
    """The model path to load: `funrl-tiny[:<size>[:<seed>]]` is built (once) under `tiny_model_dir`."""
    if not model_name_or_path:
        raise ValueError("model_name_or_path is not set; give a model path/name, or `funrl-tiny` for the tiny model.")
    if model_name_or_path != TINY_MODEL and not model_name_or_path.startswith(TINY_MODEL + ":"):
        if not Path(model_name_or_path).exists() and looks_like_path(model_name_or_path):
            raise FileNotFoundError(f"model_name_or_path={model_name_or_path!r}: no such folder")
        return model_name_or_path
    from funrl.toy.tiny_model import resolve_model_path

    spec = TINY_MODEL + ":tiny" if model_name_or_path == TINY_MODEL else model_name_or_path
    return resolve_model_path(spec, script_args.tiny_model_dir or str(Path(output_dir) / "tiny-model"))
