"""Optional dependencies: one-line errors that say what to install, before anything slow starts.

vLLM, DeepSpeed, TensorBoard and the tree-sitter grammars are extras of funrl (pyproject.toml). A setting that
needs one that is missing (`use_vllm: true`, an accelerate/DeepSpeed config, `report_to: tensorboard`, the
Java/JavaScript categories) would otherwise fail with a traceback deep inside TRL or transformers, or after the
model has loaded. `require(name)` raises `MissingDependency` (an `ImportError` and a `ValueError`, so
`funrl.errors.user_errors` prints it as one line); `check_training(args)` checks a training config's settings;
`missing_dependencies()` turns the ImportError a library raises for one of them into the same one line.

    from funrl.optional import require, check_training, missing_dependencies
    require("vllm", "the vllm backend")      # MissingDependency: the vllm backend needs vLLM, ...: pip install ...
    with user_errors("funrl train"), missing_dependencies("funrl train"):
        args = parse(argv)                   # a DeepSpeed config without DeepSpeed: one line, exit 2
        check_training(args)                 # use_vllm / deepspeed / report_to
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Extra:
    modules: tuple[str, ...]  # importable when the dependency is installed (any of them)
    label: str
    install: str


EXTRAS: dict[str, Extra] = {
    "vllm": Extra(("vllm",), "vLLM", "pip install 'funrl[vllm]' (GPU machines; the pinned stack is in README.md)"),
    "deepspeed": Extra(("deepspeed",), "DeepSpeed", "pip install 'funrl[deepspeed]' (GPU machines)"),
    "tensorboard": Extra(("tensorboard", "tensorboardX"), "TensorBoard", "pip install 'funrl[tensorboard]'"),
    "tree-sitter": Extra(
        ("tree_sitter", "tree_sitter_java", "tree_sitter_javascript"),
        "the tree-sitter Java/JavaScript grammars",
        "pip install 'funrl[bfcl-java]'",
    ),
}


class MissingDependency(ImportError, ValueError):
    """An optional dependency a setting needs is not installed; the message says what to install."""


def available(name: str) -> bool:
    """Whether the optional dependency `name` (a key of `EXTRAS`) is installed (found, not imported)."""
    modules = EXTRAS[name].modules
    if name == "tree-sitter":  # all three packages are needed
        return all(importlib.util.find_spec(m) is not None for m in modules)
    return any(importlib.util.find_spec(m) is not None for m in modules)


def missing_message(name: str, purpose: str) -> str:
    extra = EXTRAS[name]
    return f"{purpose} needs {extra.label}, which is not installed: {extra.install}"


def require(name: str, purpose: str) -> None:
    """Raise `MissingDependency` naming what to install when `name` is missing."""
    if not available(name):
        raise MissingDependency(missing_message(name, purpose))


def check_training(args: Any) -> None:
    """Check the optional dependencies a `GRPOConfig`/`SFTConfig` asks for: `use_vllm`, `deepspeed` (also set by
    `accelerate launch` with a DeepSpeed config) and `report_to: tensorboard`."""
    import os

    if getattr(args, "use_vllm", False):
        require("vllm", f"use_vllm: true (vllm_mode: {getattr(args, 'vllm_mode', 'colocate')})")
    if getattr(args, "deepspeed", None) or os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        require("deepspeed", "a DeepSpeed config (accelerate launch --config_file recipes/accelerate/zero*.yaml)")
    report_to = getattr(args, "report_to", None) or []
    if "tensorboard" in ([report_to] if isinstance(report_to, str) else report_to):
        require("tensorboard", "report_to: tensorboard")


@contextmanager
def missing_dependencies(purpose: str = "this run") -> Iterator[None]:
    """Turn an `ImportError` raised inside the block for one of `EXTRAS` (e.g. transformers' `deepspeed>=0.9.3 ...
    is required` while parsing a DeepSpeed config, TRL's `vLLM is not available`) into `MissingDependency`."""
    try:
        yield
    except MissingDependency:
        raise
    except ImportError as exc:
        text = str(exc).lower()
        for name, extra in EXTRAS.items():
            if any(key.lower() in text for key in (name, *extra.modules)):
                raise MissingDependency(missing_message(name, purpose)) from exc
        raise
