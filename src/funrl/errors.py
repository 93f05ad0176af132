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
from collections.abc import Callable, Iterator
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


def debug_enabled() -> bool:
    """Whether a failing command shows the full traceback (`funrl --debug ...` or `FUNRL_TRACEBACK=1`)."""
    return os.environ.get("FUNRL_TRACEBACK", "") not in ("", "0")


def run_guarded(prog: str, main: Callable[[list[str]], int | None], argv: list[str]) -> int:
    """Run a command's `main(argv)` so that no traceback reaches the user: any exception that escapes is one line
    on stderr (`<prog>: error: <Type>: <message>`) and exit code 1; Ctrl-C is exit code 130. With `--debug` (or
    `FUNRL_TRACEBACK=1`) the exception propagates with its traceback."""
    if debug_enabled():
        return int(main(argv) or 0)
    try:
        return int(main(argv) or 0)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except _user_error_types() as exc:
        print(f"{prog}: error: {str(exc) or type(exc).__name__}", file=sys.stderr)
        return 2
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        message = " ".join(str(exc).split())[:500]
        print(
            f"{prog}: error: {type(exc).__name__}: {message} (an internal error; run with --debug, or set "
            "FUNRL_TRACEBACK=1, for the traceback)",
            file=sys.stderr,
        )
        return 1
