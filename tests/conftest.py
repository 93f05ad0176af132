"""Shared pytest fixtures: the BFCL data folder, CPU forcing and offline mode.

Run the default suite with `bash scripts/test.sh` (or `pytest -m "not slow and not gpu"`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Tests never reach a model hub and never see a GPU.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")


def _bfcl_dir() -> Path | None:
    for candidate in (os.environ.get("BFCL_DATA_DIR"), REPO.parent / "shared" / "bfcl_data"):
        if candidate and (Path(candidate) / "possible_answer").is_dir():
            return Path(candidate)
    return None


BFCL_DIR = _bfcl_dir()


@pytest.fixture(scope="session")
def bfcl_dir() -> Path:
    """The BFCL v4 data folder (`../shared/bfcl_data` beside the repo, or $BFCL_DATA_DIR)."""
    if BFCL_DIR is None:
        pytest.skip("BFCL data not found: set BFCL_DATA_DIR or place shared/bfcl_data beside the repo")
    return BFCL_DIR


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if not has_cuda:
        skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random-weight tiny Qwen2-style model + tokenizer (`funrl.toy.tiny_model`), built once per test session."""
    from funrl.toy.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), size="tiny", seed=0)
