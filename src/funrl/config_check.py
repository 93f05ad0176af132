"""Checks of a train / sft configuration that run before anything heavy loads (model, data, vLLM).

A recipe's YAML values reach the config dataclasses without the command line's type conversion, so
`learning_rate: [1, 2]` would load the model and the data and only then fail inside the optimizer. `check_config`
compares every field with its type annotation, tells a local path that does not exist from a Hub id, and asks for
optional engines (`use_vllm`, DeepSpeed, TensorBoard: `funrl.optional`) before they are needed; each problem is one
`ValueError` saying what to set instead.

    from funrl.config_check import check_config

    check_config(script_args, training_args, model_args)   # first thing in `setup`
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any

SPECIAL_DATASETS = ("toy", "toy-multiturn")  # the toy worlds (funrl.rl_trainer: toy, TOY_MULTI_TURN)
SPECIAL_MODELS = ("funrl-tiny",)
_PLAIN = (bool, int, float, str, list, tuple, dict)  # what a YAML recipe or a flag can give


def _accepts(hint: Any, value: Any) -> bool:
    """Whether `value` fits the annotation `hint`; annotations this cannot judge accept anything."""
    if hint is Any or isinstance(hint, (str, typing.TypeVar)):
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return len(args) != 1 or all(_accepts(args[0], v) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, (hint, str))
    return True


def _describe(hint: Any) -> str:
    text = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else None
    return text or str(hint).replace("typing.", "")


def check_types(config: Any) -> None:
    """Raise `ValueError` naming the first field of the dataclass `config` whose value does not fit its type."""
    try:
        hints = typing.get_type_hints(type(config))
    except Exception:  # an annotation this Python cannot resolve: nothing to check against
        return
    for f in dataclasses.fields(config):
        if f.name not in hints or not f.init:
            continue
        value = getattr(config, f.name)
        if not isinstance(value, _PLAIN) and value is not None:
            continue  # an object `__post_init__` built from a valid value (e.g. transformers' AcceleratorConfig)
        if not _accepts(hints[f.name], value):
            raise ValueError(
                f"{f.name}: expected {_describe(hints[f.name])}, got {type(value).__name__} {value!r:.80} "
                "(check the recipe YAML or the flag)"
            )


def looks_local(name: str) -> bool:
    """Whether `name` can only be a local path, not a Hub id (`org/name`): it starts like a path, has more than one
    `/`, ends with a data-file extension, or its first part is an existing local folder (`out/xlam`)."""
    if name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1:
        return True
    if Path(name).suffix.lower() in (".jsonl", ".json", ".parquet", ".ndjson", ".csv", ".txt"):
        return True
    head = name.split("/", 1)[0]
    return "/" in name and Path(head).is_dir()


def check_dataset_name(name: str | None, what: str = "dataset_name") -> None:
    """A dataset that is neither special (`toy`, `toy-multiturn`), nor an existing path, nor a Hub id `org/name`: an error at once
    (not 30 seconds of Hub retries)."""
    if not name or name in SPECIAL_DATASETS or Path(name).expanduser().exists():
        return
    if looks_local(name):
        raise ValueError(f"{what}={name!r}: no such file or folder")
    if "/" not in name:
        raise ValueError(
            f"{what}={name!r}: not a local file or folder, nor a Hub dataset id (org/name); pass a funrl prepare "
            "output folder, a .jsonl file, `toy`, `toy-multiturn`, or the full Hub id"
        )


def check_model_name(name: str | None, what: str = "model_name_or_path") -> None:
    """A local-looking model path that does not exist: an error at once (a bare name may be a Hub model id)."""
    if not name or name.split(":", 1)[0] in SPECIAL_MODELS or Path(name).expanduser().exists():
        return
    if looks_local(name):
        raise ValueError(f"{what}={name!r}: no such folder")


def check_engines(config: Any) -> None:
    """Optional engines the config asks for (`use_vllm`, DeepSpeed, `report_to: tensorboard`) must be installed: say
    so now, not from deep inside the trainer (`funrl.optional.check_training`, one `MissingDependency` line)."""
    from funrl.optional import check_training

    check_training(config)


def check_config(script_args: Any, training_args: Any, model_args: Any = None) -> None:
    """Every check above over the three config objects of `funrl train` / `funrl sft` (see the module docstring)."""
    for config in (script_args, training_args, model_args):
        if config is not None and dataclasses.is_dataclass(config):
            check_types(config)
    check_dataset_name(getattr(script_args, "dataset_name", None))
    if model_args is not None:
        check_model_name(getattr(model_args, "model_name_or_path", None))
    check_engines(training_args)
