"""Dataset-level rules: exact dedup (D1), near-dedup (D2) and decontamination against BFCL (D3).

`Deduper(config)` is stateful and streams: call `check(sample)` on samples in a fixed order (the pipeline's input
order) and it returns `None` (keep) or the REJECT `Finding` that drops the sample. The first of a group is kept.

* D1: key = BLAKE2b of the normalised conversation (role + whitespace-collapsed content of every message), the
  sorted tool names and the canonical target (`ground_truth` as sorted-key JSON).
* D2: MinHash (64 permutations, 16 LSH bands of 4 rows) over character 5-gram shingles of the normalised user
  text, confirmed by the exact Jaccard similarity of the shingle sets (>= `near_threshold`). Each sample joins
  the cluster of the first earlier sample it matches; at most `near_cap` samples are kept per cluster. Steps
  split from the same multi-turn record never count against each other (they share their user text by design).
* D3: the user text (all user turns, and the last one alone) is compared with the user text of every BFCL
  single-turn question loaded with `funrl.bfcl.load_bfcl`: an exact match of the normalised text, or a
  Jaccard similarity >= `decontaminate_threshold`, drops the sample. The BFCL folder comes from
  `bfcl_data_dir`, then `$BFCL_DATA_DIR`, then an installed bfcl-eval; if none is found `BFCLDataNotFound`
  says to pass `--bfcl-data-dir` or `--no-decontaminate`.

Hashes are content-based (CRC32 shingles, fixed-seed permutations), so results are identical across runs.

    from funrl.data.dedup import DedupConfig, Deduper
    deduper = Deduper(DedupConfig(bfcl_data_dir="../shared/bfcl_data"))
    kept = [s for s in samples if deduper.check(s) is None]
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from funrl.data.records import dataclass_from_dict
from funrl.data.rules_base import Finding
from funrl.schema import Sample

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


class BFCLDataNotFound(FileNotFoundError):
    """D3 is on but no BFCL data folder was found."""


@dataclass
class DedupConfig:
    """Switches of the dataset-level rules (D1-D3).

    Args:
        exact (`bool`, *optional*, defaults to `True`): D1 exact dedup.
        near (`bool`, *optional*, defaults to `True`): D2 near-dedup of user text.
        near_threshold (`float`, *optional*, defaults to `0.85`): D2 Jaccard similarity of 5-gram shingles.
        near_cap (`int`, *optional*, defaults to `3`): D2 samples kept per near-duplicate cluster.
        decontaminate (`bool`, *optional*, defaults to `True`): D3 decontamination against BFCL.
        decontaminate_threshold (`float`, *optional*, defaults to `0.8`): D3 Jaccard similarity for a near match.
        bfcl_data_dir (`str`, *optional*): BFCL data folder (else `$BFCL_DATA_DIR`, else bfcl-eval's data).
        bfcl_categories (`str`, *optional*, defaults to `"single_turn"`): BFCL categories compared against.
    """

    exact: bool = field(default=True, metadata={"help": "D1: drop exact duplicates (first kept)."})
    near: bool = field(default=True, metadata={"help": "D2: cap near-duplicate user texts per cluster."})
    near_threshold: float = field(default=0.85, metadata={"help": "D2: Jaccard threshold on 5-gram shingles."})
    near_cap: int = field(default=3, metadata={"help": "D2: samples kept per near-duplicate cluster."})
    decontaminate: bool = field(default=True, metadata={"help": "D3: drop samples matching BFCL questions."})
    decontaminate_threshold: float = field(default=0.8, metadata={"help": "D3: Jaccard threshold of a near match."})
    bfcl_data_dir: str | None = field(default=None, metadata={"help": "D3: BFCL data folder."})
    bfcl_categories: str = field(default="single_turn", metadata={"help": "D3: BFCL categories or groups."})

    def __post_init__(self) -> None:
        for name in ("near_threshold", "decontaminate_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.near_cap < 1:
            raise ValueError(f"near_cap must be >= 1, got {self.near_cap}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "dedup") -> DedupConfig:
        return dataclass_from_dict(cls, values, where)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------
# Text normalisation and MinHash


def normalize_text(text: str) -> str:
    """Lower-case, punctuation to spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def user_texts(sample: Sample) -> list[str]:
    """Contents of the user messages of a sample, in order."""
    return [str(m.get("content") or "") for m in sample.messages if isinstance(m, dict) and m.get("role") == "user"]


def shingles(text: str, n: int = 5) -> frozenset[int]:
    """CRC32 hashes of the character n-grams of an already normalised text (the text itself when shorter)."""
    data = text.encode("utf-8")
    if len(data) <= n:
        return frozenset({zlib.crc32(data)})
    return frozenset(zlib.crc32(data[i : i + n]) for i in range(len(data) - n + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    inter = len(a & b) if len(a) <= len(b) else len(b & a)
    return inter / (len(a) + len(b) - inter)


class MinHashIndex:
    """MinHash signatures with LSH banding; candidates are confirmed with the exact Jaccard similarity.

    A candidate is first screened by its signature agreement (the MinHash estimate of Jaccard, vectorised over
    all candidates) and only those within `0.1` of the threshold get the exact set computation. A band bucket
    holds at most `max_bucket` entries (the first ones): a family of thousands of templated near-misses then
    costs a bounded number of comparisons per query instead of growing quadratically.

    Args:
        num_perm (`int`): signature length (permutations); `bands * rows == num_perm`.
        bands (`int`): LSH bands.
        seed (`int`): seed of the permutations (fixed: signatures are reproducible across runs).
        max_bucket (`int`): entries kept per LSH bucket.
    """

    def __init__(self, num_perm: int = 64, bands: int = 16, seed: int = 0, max_bucket: int = 64):
        if num_perm % bands:
            raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
        rng = np.random.default_rng(seed)
        # multiply-add hashing modulo 2^64 (odd multipliers): one wrapping multiply per shingle and permutation
        self.a = rng.integers(0, 1 << 63, size=(num_perm, 1), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 1 << 63, size=(num_perm, 1), dtype=np.uint64)
        self.bands, self.rows, self.max_bucket = bands, num_perm // bands, max_bucket
        self.buckets: dict[bytes, list[int]] = {}
        self.sets: list[frozenset[int]] = []
        self.labels: list[Any] = []
        self._sigs = np.zeros((1024, num_perm), dtype=np.uint64)  # (capacity, num_perm), rows [0, len) used

    def signature(self, shingle_set: frozenset[int]) -> np.ndarray:
        """`(num_perm,)` uint64 signature: per permutation, the minimum of `(a * x + b) mod 2^64`."""
        x = np.fromiter(shingle_set, dtype=np.uint64, count=len(shingle_set))[None, :]  # (1, n)
        return (self.a * x + self.b).min(axis=1)  # (num_perm, n), wrapping mod 2^64 -> (num_perm,)

    def _keys(self, signature: np.ndarray) -> list[bytes]:
        return [bytes([i]) + signature[i * self.rows : (i + 1) * self.rows].tobytes() for i in range(self.bands)]

    def add(self, shingle_set: frozenset[int], label: Any, signature: np.ndarray | None = None) -> int:
        signature = self.signature(shingle_set) if signature is None else signature
        index = len(self.sets)
        if index == len(self._sigs):
            self._sigs = np.concatenate([self._sigs, np.zeros_like(self._sigs)])
        self._sigs[index] = signature
        self.sets.append(shingle_set)
        self.labels.append(label)
        for key in self._keys(signature):
            bucket = self.buckets.setdefault(key, [])
            if len(bucket) < self.max_bucket:
                bucket.append(index)
        return index

    def query(
        self, shingle_set: frozenset[int], threshold: float, signature: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Entries with Jaccard >= threshold, as `(index, similarity)` in insertion order."""
        signature = self.signature(shingle_set) if signature is None else signature
        found: set[int] = set()
        for key in self._keys(signature):
            found.update(self.buckets.get(key, ()))
        if not found:
            return []
        candidates = np.fromiter(sorted(found), dtype=np.int64, count=len(found))
        estimate = (self._sigs[candidates] == signature).mean(axis=1)  # (k,) MinHash Jaccard estimates
        out = []
        for index in candidates[estimate >= threshold - 0.1].tolist():
            similarity = jaccard(shingle_set, self.sets[index])
            if similarity >= threshold:
                out.append((index, similarity))
        return out


# ---------------------------------------------------------------------------------------------------
# The rules


def exact_key(sample: Sample) -> str:
    """D1 key: hash of the normalised conversation, the sorted tool names and the canonical target."""
    conversation = [
        [m.get("role"), " ".join(str(m.get("content") or "").split()), m.get("tool_calls")]
        for m in sample.messages
        if isinstance(m, dict)
    ]
    names = sorted(str(t.get("name")) for t in sample.tools if isinstance(t, dict))
    payload = json.dumps([conversation, names, sample.ground_truth], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def load_bfcl_questions(data_dir: str | None, categories: str = "single_turn") -> list[tuple[str, str]]:
    """`(bfcl_id, user_text)` of every BFCL question of `categories`; a clear error when no data is found."""
    from funrl.bfcl import find_data_dir

    try:
        root = find_data_dir(data_dir)
    except FileNotFoundError:
        tried = data_dir or os.environ.get("BFCL_DATA_DIR") or "the bfcl-eval package"
        raise BFCLDataNotFound(
            f"decontamination (D3) needs the BFCL data and none was found (looked in {tried}). Pass "
            "--bfcl-data-dir DIR (a folder with BFCL_v4_<category>.json and possible_answer/; or set "
            "BFCL_DATA_DIR, or install bfcl-eval), or turn decontamination off with --no-decontaminate."
        ) from None
    return list(_bfcl_questions(str(root.resolve()), categories))


@functools.lru_cache(maxsize=4)
def _bfcl_questions(root: str, categories: str) -> tuple[tuple[str, str], ...]:
    from funrl.bfcl import load_bfcl

    return tuple((s.id, "\n".join(user_texts(s))) for s in load_bfcl(root, categories))


class Deduper:
    """Streaming D3 / D1 / D2 checks (see the module docstring)."""

    def __init__(self, config: DedupConfig | None = None, bfcl_questions: list[tuple[str, str]] | None = None):
        self.config = config or DedupConfig()
        self.seen: dict[str, str] = {}
        self.near_index = MinHashIndex()
        self.cluster_size: list[int] = []
        self.bfcl_exact: dict[str, str] = {}
        self.bfcl_index = MinHashIndex()
        if self.config.decontaminate:
            if bfcl_questions is None:
                bfcl_questions = load_bfcl_questions(self.config.bfcl_data_dir, self.config.bfcl_categories)
            for qid, text in bfcl_questions:
                norm = normalize_text(text)
                if norm:
                    self.bfcl_exact.setdefault(norm, qid)
                    self.bfcl_index.add(shingles(norm), qid)
        self.bfcl_size = len(self.bfcl_index.sets)

    def check(self, sample: Sample) -> Finding | None:
        """`None` to keep `sample`, else the D1 / D2 / D3 REJECT finding (state is updated either way)."""
        users = user_texts(sample)
        norm = normalize_text("\n".join(users))
        if self.config.decontaminate and norm:
            found = self._contaminated(norm, normalize_text(users[-1]) if users else "")
            if found is not None:
                return found
        if self.config.exact:
            key = exact_key(sample)
            first = self.seen.get(key)
            if first is not None:
                return Finding("D1", "reject", f"exact duplicate of {first}")
            self.seen[key] = sample.id
        if self.config.near and norm:
            origin = json.dumps(sample.meta.get("origin"), sort_keys=True, default=str)
            sset = shingles(norm)
            signature = self.near_index.signature(sset)
            for index, similarity in self.near_index.query(sset, self.config.near_threshold, signature):
                head_id, head_origin = self.near_index.labels[index]
                if head_origin == origin and sample.meta.get("origin") is not None:
                    continue  # steps of one multi-turn record share their user text
                self.cluster_size[index] += 1
                if self.cluster_size[index] > self.config.near_cap:
                    return Finding(
                        "D2",
                        "reject",
                        f"near duplicate (Jaccard {similarity:.2f}) of {head_id}; cluster over the cap of {self.config.near_cap}",
                    )
                return None
            self.near_index.add(sset, (sample.id, origin), signature)
            self.cluster_size.append(1)
        return None

    def _contaminated(self, norm: str, last: str) -> Finding | None:
        for text in dict.fromkeys((norm, last)):
            if not text:
                continue
            qid = self.bfcl_exact.get(text)
            if qid is not None:
                return Finding("D3", "reject", f"user text equals BFCL question {qid}")
            matches = self.bfcl_index.query(shingles(text), self.config.decontaminate_threshold)
            if matches:
                index, similarity = max(matches, key=lambda m: (m[1], -m[0]))
                return Finding(
                    "D3",
                    "reject",
                    f"user text near BFCL question {self.bfcl_index.labels[index]} (Jaccard {similarity:.2f})",
                )
        return None
