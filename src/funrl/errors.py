"""How funrl's entry points report a user error: one line on stderr naming the command, exit code 2, no traceback.

A user error is bad input the user can fix: a missing file, a broken JSONL line (`funrl.schema.SchemaError`), an
unknown reward or format, a config value a dataclass rejects, a YAML recipe that does not parse. Entry points
wrap their argument parsing and set-up (everything before the long-running work) in `user_errors`, so such an
error reads like argparse's own messages. Set `FUNRL_TRACEBACK=1` to get the full traceback instead.

    from funrl.errors import user_errors

    def main(argv=None) -> int:
        with user_errors("funrl train"):
            args = parse(argv)
            trainer = build(args)
        trainer.train()                       # errors from here on are bugs: full traceback
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# ValueError covers SchemaError and the dataclasses' __post_init__ checks; OSError covers missing files and folders.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


def _user_error_types() -> tuple[type[BaseException], ...]:
    try:  # a recipe that is not valid YAML (TrlParser reads recipes with PyYAML)
        import yaml

        return (*USER_ERRORS, yaml.YAMLError)
    except ImportError:  # pragma: no cover - PyYAML comes with transformers
        return USER_ERRORS


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Turn a user error raised inside the block into `<prog>: error: <message>` on stderr and `SystemExit(2)`.

    Args:
        prog (`str`):
            Command name put in front of the message, e.g. `"funrl train"`.

    Raises:
        `SystemExit`: with code 2 on a user error (unless the environment sets `FUNRL_TRACEBACK=1`, in which case
        the original exception propagates).
    """
    try:
        yield
    except _user_error_types() as exc:
        if os.environ.get("FUNRL_TRACEBACK", "") not in ("", "0"):
            raise
        message = str(exc) or type(exc).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
