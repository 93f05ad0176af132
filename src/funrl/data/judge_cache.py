"""Persistent cache of raw LLM-judge responses: an append-only JSONL file, one fsync'ed line per entry.

The judge (`funrl.data.judge`) looks every request up here before it calls the endpoint, so a re-run or a
run resumed after a crash (even `kill -9`) makes no request twice. The key is a content hash of everything
that determines the answer (model, full prompt messages, decoding parameters; see `request_key`); response
*parsing* is not part of it, so a parser change reuses cached raw responses.

    cache = JudgeCache("out/judge_cache.jsonl")
    key = request_key({"model": "m", "messages": [...], "temperature": 0.0})
    hit = cache.get(key)                      # None, or {"key", "content", "usage", "finish_reason", ...}
    cache.put(key, {"content": "...", "usage": {"prompt_tokens": 10, "completion_tokens": 3}})

Durability: each entry is one line written with a single `os.write` on an `O_APPEND` descriptor followed by
`os.fsync`, so a crash can only leave a torn *last* line. On open that torn tail is truncated away (and
reported in `torn_tail_bytes`); a corrupt line anywhere else raises `ValueError` naming the file and line.
`put` is thread-safe. Only one process may write a cache file at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

CACHE_FORMAT = 1


def canonical_json(value: Any) -> str:
    """Sorted-key, compact, ASCII JSON: the byte-stable text that content hashes are taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def request_key(payload: dict[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of a request payload (model, messages, decoding params...)."""
    return hashlib.sha256(canonical_json({"v": CACHE_FORMAT, **payload}).encode("utf-8")).hexdigest()


class JudgeCache:
    """Key -> raw response store, loaded fully into memory on open, appended to on `put`.

    Args:
        path: the JSONL file (created with its parent folders); `None` keeps the cache in memory only.
        fsync: flush every entry to disk before `put` returns (default; what makes `kill -9` safe).
    """

    def __init__(self, path: str | os.PathLike | None, *, fsync: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.fsync = fsync
        self.entries: dict[str, dict[str, Any]] = {}
        self.torn_tail_bytes = 0
        self._fd: int | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.path.read_bytes() if self.path.exists() else b""
        good_end = 0
        lines = data.split(b"\n")
        for lineno, line in enumerate(lines, start=1):
            is_last = lineno == len(lines)
            if is_last:
                # bytes after the final newline: empty for a clean file, else a torn write
                self.torn_tail_bytes = len(line)
                break
            if line.strip():
                try:
                    entry = json.loads(line)
                    key = entry["key"]
                except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
                    raise ValueError(
                        f"{self.path}:{lineno}: corrupt judge-cache entry ({type(exc).__name__}: {exc}); "
                        "only a torn last line is repaired automatically"
                    ) from None
                self.entries[key] = entry
            good_end += len(line) + 1
        if self.torn_tail_bytes:
            with self.path.open("r+b") as handle:
                handle.truncate(good_end)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store `entry` (JSON-serialisable) under `key`; durable on disk when this returns."""
        record = {"key": key, **entry}
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:  # callable from worker threads
            self.entries[key] = record
            if self._fd is None:
                return
            written = os.write(self._fd, line)
            if written != len(line):  # O_APPEND writes of this size are not split on local file systems
                raise OSError(f"{self.path}: short write to the judge cache ({written} of {len(line)} bytes)")
            if self.fsync:
                os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
