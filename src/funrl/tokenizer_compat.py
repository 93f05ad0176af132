"""Tokenizer files that transformers 4.x loads too, so a funrl checkpoint runs in the official BFCL tool.

`bfcl generate` runs in its own environment (`bfcl-eval[oss-eval-vllm]` pins vllm 0.8.5, a transformers 4.x
stack). transformers 5 saves `tokenizer_config.json` with `extra_special_tokens` as a list and, for tokenizers
without a model-specific class, `tokenizer_class: TokenizersBackend`; transformers 4.x reads `extra_special_tokens`
as a dict (`'list' object has no attribute 'keys'`) and knows no `TokenizersBackend`. `portable_config` writes the
same tokenizer in the form both read: the list goes to `additional_special_tokens` and the generic class becomes
`PreTrainedTokenizerFast`. transformers 5 loads the rewritten file to the same tokenizer (same special tokens,
ids and chat template: tests/test_tokenizer_compat.py), so funrl writes it on every save (`funrl.model_card`'s
save hook) and `scripts/bfcl_register_funrl.py` rewrites an older checkpoint's file before `bfcl generate`.

    make_portable("runs/funrl")        # True when tokenizer_config.json was rewritten
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONFIG = "tokenizer_config.json"
LEGACY_CLASSES = {"TokenizersBackend": "PreTrainedTokenizerFast"}  # transformers 5 generic class -> 4.x's


def portable_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` (a tokenizer_config.json mapping) in the form transformers 4.x and 5.x both load."""
    out = dict(config)
    extra = out.get("extra_special_tokens")
    if isinstance(extra, list):
        del out["extra_special_tokens"]
        merged = list(out.get("additional_special_tokens") or [])
        merged += [token for token in extra if token not in merged]
        out["additional_special_tokens"] = merged
    if out.get("tokenizer_class") in LEGACY_CLASSES:
        out["tokenizer_class"] = LEGACY_CLASSES[out["tokenizer_class"]]
    return out


def is_portable(model_dir: str | Path) -> bool:
    path = Path(model_dir) / CONFIG
    if not path.is_file():
        return True
    config = json.loads(path.read_text(encoding="utf-8"))
    return portable_config(config) == config


def make_portable(model_dir: str | Path) -> bool:
    """Rewrite `model_dir/tokenizer_config.json` in the portable form (atomically); False when nothing changed."""
    path = Path(model_dir) / CONFIG
    if not path.is_file():
        return False
    config = json.loads(path.read_text(encoding="utf-8"))
    new = portable_config(config)
    if new == config:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return True
