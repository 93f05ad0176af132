"""Crash-safe writes: one file (`write_atomic`) or a set of files that must appear together (`write_set`).

`write_atomic` writes a temporary file beside the target, fsyncs it and renames it over the target: a reader sees
the old file or the new one, never half of one, even after `kill -9` or a power cut.

`write_set` writes several files into a folder as one set. They are written into a hidden staging folder beside
it (`.NAME.staging-<pid>`), together with hard links to the files already in the folder that are not part of the
set (a judge cache, notes), and the staging folder then takes the folder's place in one atomic exchange
(`renameat2(RENAME_EXCHANGE)` on Linux). A kill at any point leaves the previous set or the new one, never a
mix; the staging or retired folder a kill leaves behind is hidden and removed by the next `write_set` (or
`clean_stale`). Where the exchange is not available the folder is moved aside and the staging folder renamed
in its place; a kill between those two renames is repaired by the next run (`clean_stale` moves the old
folder back).

    write_atomic("runs/x/results.json", dumps(result) + "\\n")
    write_set("out/xlam", {"train.jsonl": lines, "validation.jsonl": more, "report.json": text})

A folder that holds other folders cannot be switched this way; `write_set` refuses it before writing anything
(choose an output folder of its own).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write(path: Path, content: str | Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        if isinstance(content, str):
            handle.write(content)
        else:
            handle.writelines(content)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: str | Path, content: str | Iterable[str]) -> None:
    """Write `content` (a string or an iterable of lines) to `path` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        _write(tmp, content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux `renameat2`); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _staging(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.staging-{os.getpid()}"


def _retired(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.retired-{os.getpid()}"


def clean_stale(folder: str | Path) -> None:
    """Remove what a killed `write_set` left beside `folder`; restore the folder if a kill hit between the two
    renames of the fallback switch."""
    folder = Path(folder)
    parent = folder.parent
    if not parent.is_dir():
        return
    retired = sorted(parent.glob(f".{folder.name}.retired-*"))
    if not folder.exists() and retired:
        os.rename(retired[-1], folder)  # the fallback was killed between its renames: the old set comes back
        retired = retired[:-1]
    for stale in [*parent.glob(f".{folder.name}.staging-*"), *retired]:
        shutil.rmtree(stale, ignore_errors=True)
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp-*"):
            tmp.unlink(missing_ok=True)


def check_switchable(folder: str | Path) -> None:
    """Raise `ValueError` when `folder` cannot be replaced as a set (it holds folders of its own)."""
    folder = Path(folder)
    if folder.is_dir():
        inner = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
        if inner:
            raise ValueError(
                f"output folder {folder} holds folders ({', '.join(inner[:3])}); outputs are switched in as one "
                "set by replacing the whole folder: choose an output folder of their own"
            )
    elif folder.exists():
        raise ValueError(f"output {folder} exists and is not a folder")


def write_set(folder: str | Path, files: dict[str, str | Iterable[str]]) -> None:
    """Write `files` (name -> text or lines) into `folder` as one set (see the module docstring).

    Files already in `folder` that are not in the set are kept (hard-linked, or copied, into the new folder).
    """
    folder = Path(folder)
    if folder.is_symlink():
        folder = folder.resolve()
    clean_stale(folder)
    check_switchable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging(folder)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, content in files.items():
            _write(staging / name, content)
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name in files or entry.name.startswith(".") and ".tmp-" in entry.name:
                    continue
                try:
                    os.link(entry, staging / entry.name, follow_symlinks=False)
                except OSError:
                    shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
        _fsync_dir(staging)
        if not folder.exists():
            os.rename(staging, folder)
        elif _exchange(staging, folder):
            shutil.rmtree(staging, ignore_errors=True)  # now the old set
        else:
            retired = _retired(folder)
            os.rename(folder, retired)
            os.rename(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
