#!/usr/bin/env python
"""Record the official BFCL decodings of Java / JavaScript outputs, for the tree-sitter decoder's differential test.

Run from the repository root with funrl's environment; the official decoder runs in the checker's environment:

    .venv/bin/python scripts/bfcl_source_decode_dump.py --out tests/data/bfcl_source_decode_expected.jsonl.gz

The corpus: every Java / JavaScript prompt-mode output of `tests/perturbations.py` (ground truths, perturbations,
source spellings), seeded random edits of them (a character deleted, inserted or replaced, a cut, non-ASCII text),
and the tests/data/hostile_strings.txt texts within funrl's size bound. Each output line: `{"language", "text" (or "hostile": line index), "ok",
"repr", "error"}` where `repr` is `repr()` of what bfcl-eval's `default_decode_ast_prompting` returned (a list of
calls, `{}` or `None` when there is no call) and `error` the exception class when it raised.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from perturbations import outputs_for  # noqa: E402

from funrl.bfcl import load_bfcl  # noqa: E402
from funrl.calls.decode import MAX_CODE_CHARS  # noqa: E402

# Runs inside the bfcl-eval environment: decodes {"language", "text"} lines with the official decoder.
DRIVER = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from bfcl_eval.constants.enums import ReturnFormat
from bfcl_eval.model_handler.utils import default_decode_ast_prompting
src, dst = sys.argv[1:3]
with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
    for line in fin:
        rec = json.loads(line)
        fmt = ReturnFormat.JAVA if rec["language"] == "java" else ReturnFormat.JAVASCRIPT
        try:
            out = {"ok": True, "repr": repr(default_decode_ast_prompting(rec["text"], fmt)), "error": None}
        except BaseException as e:
            out = {"ok": False, "repr": None, "error": type(e).__name__}
        fout.write(json.dumps(out) + "\n")
"""
EDIT_CHARS = list("\"'(){}[],;=.\\ \n<>é中") + ["new ", "true", "L", "f", "n", "\t"]


def edits(text: str, rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        i = rng.randrange(len(text) + 1)
        kind = rng.randrange(4)
        if kind == 0:
            out.append(text[:i] + text[i + 1 :])
        elif kind == 1:
            out.append(text[:i] + rng.choice(EDIT_CHARS) + text[i:])
        elif kind == 2:
            out.append(text[:i] + rng.choice(EDIT_CHARS) + text[i + 1 :])
        else:
            out.append(text[:i])
    return out


def read_hostile(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            value = json.loads(line)
            out.append(value if isinstance(value, str) else "".join(t * n for t, n in value["parts"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "bfcl_data"))
    parser.add_argument("--bfcl-python", default=str(REPO / ".venv-bfcl" / "bin" / "python"))
    parser.add_argument("--edits", type=int, default=2, help="random edits per output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "tests" / "data" / "bfcl_source_decode_expected.jsonl.gz"))
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    records = []
    for sample in load_bfcl(args.data_dir, ["simple_java", "simple_javascript"]):
        for _, text in outputs_for(sample, "prompt"):
            records.append({"kind": "golden", "language": sample.language, "text": text})
            records += [{"kind": "edit", "language": sample.language, "text": t} for t in edits(text, rng, args.edits)]
    hostile = read_hostile(REPO / "tests" / "data" / "hostile_strings.txt")
    # texts beyond funrl's MAX_CODE_CHARS are refused by design (input_too_long); the official decoder even
    # crashes (SIGSEGV in tree-sitter) on one of them, so only the others are recorded
    short = [i for i, text in enumerate(hostile) if len(text) <= MAX_CODE_CHARS]
    for language in ("java", "javascript"):
        records += [{"kind": "hostile", "language": language, "hostile": i} for i in short]
    with tempfile.TemporaryDirectory(prefix="source_decode_") as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        with src.open("w", encoding="utf-8") as handle:
            for rec in records:
                text = rec["text"] if "text" in rec else hostile[rec["hostile"]]
                handle.write(json.dumps({"language": rec["language"], "text": text}) + "\n")
        subprocess.run([args.bfcl_python, "-c", DRIVER, str(src), str(dst)], check=True)
        with dst.open(encoding="utf-8") as handle:
            results = [json.loads(line) for line in handle]
    with gzip.GzipFile(args.out, "wb", mtime=0) as handle:
        for rec, result in zip(records, results, strict=True):
            handle.write((json.dumps({**rec, **result}, ensure_ascii=False) + "\n").encode())
    kinds: dict[str, int] = {}
    for rec in records:
        kinds[rec["kind"]] = kinds.get(rec["kind"], 0) + 1
    print(f"wrote {len(records)} records to {args.out}: {kinds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
