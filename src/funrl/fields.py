"""Help for the options dataclasses of every command (parsed by TRL's `TrlParser`): a field's metadata.

from funrl.fields import option_help
seed: int = field(default=0, metadata=option_help("seed of the data and of training"))
"""

from __future__ import annotations

from typing import Any


def option_help(text: str, **extra: Any) -> dict[str, Any]:
    """A dataclass field's metadata: its `--help` text, plus argparse extras such as `choices`."""
    return {"help": text, **extra}
