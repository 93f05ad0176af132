#!/usr/bin/env python
"""Produce the golden verdicts: the official BFCL checker's verdict on every output of `tests/perturbations.py`.

For every single-turn BFCL entry (13 categories) the generator renders the ground truth as model output
plus systematic perturbations; this script has the official checker (`../shared/tools/bfcl_official_check.py`,
run with the separate bfcl-eval venv) score them and stores a compact verdict file per format under
`tests/data/golden/` (gzip JSON: a hash of each entry's outputs instead of the strings, and one
verdict code per output). `tests/test_golden.py` regenerates the outputs and requires our matcher to agree.

    python scripts/make_golden.py                       # both formats, default paths
    python scripts/make_golden.py --formats prompt --bfcl-python .venv-bfcl/bin/python

The official tool's `score` command refuses repeated ids in one file, and an entry has up to ~60 outputs,
so the outputs are scored through the tool's own per-entry function (`check_entry`, the one `score`
calls) in a single process; as a cross-check, the ground-truth outputs (one per id) are also scored
with the `score --details` command itself and the two must agree.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from perturbations import outputs_for, outputs_hash  # noqa: E402

from funrl.bfcl import load_bfcl  # noqa: E402

FORMATS = ("prompt", "qwen_fc")
PASS_CODE = "ok"

# Runs inside the bfcl-eval venv: scores {"id", "category", "model_output"} lines with the official glue.
DRIVER = r"""
import json, sys
tool_dir, data_dir, fmt, src, dst = sys.argv[1:6]
sys.path.insert(0, tool_dir)
import bfcl_official_check as t
data = t.Data(data_dir)
handler, model_name = t.make_handler(fmt), t.MODEL_NAME[fmt]
with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
    for line in fin:
        rec = json.loads(line)
        cat = rec["category"]
        q, a = data.index(cat)[rec["id"]]
        res = t.check_entry(handler, model_name, cat, rec["id"], rec["model_output"], q, a)
        fout.write(json.dumps({"valid": bool(res.get("valid")), "error_type": t._error_type(res)}) + "\n")
"""


def official_verdicts(records, fmt, bfcl_python, tool, data_dir, workdir: Path) -> list[dict]:
    src, dst = workdir / f"{fmt}_outputs.jsonl", workdir / f"{fmt}_verdicts.jsonl"
    with src.open("w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    cmd = [bfcl_python, "-c", DRIVER, str(Path(tool).parent), str(data_dir), fmt, str(src), str(dst)]
    subprocess.run(cmd, check=True)
    with dst.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def cli_cross_check(records, verdicts, fmt, bfcl_python, tool, data_dir, workdir: Path) -> int:
    """Score the `gt` outputs (unique ids) with the tool's `score --details` and compare with the driver."""
    gt = [(r, v) for r, v in zip(records, verdicts, strict=True) if r["kind"] == "gt"]
    out, details = workdir / f"{fmt}_gt.jsonl", workdir / f"{fmt}_gt_details.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        for rec, _ in gt:
            handle.write(json.dumps({"id": rec["id"], "model_output": rec["model_output"]}, ensure_ascii=False) + "\n")
    cmd = [
        bfcl_python,
        tool,
        "--data-dir",
        str(data_dir),
        "--format",
        fmt,
        "score",
        str(out),
        "--details",
        str(details),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    by_id = {}
    with details.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            by_id[row["id"]] = (row["valid"], row["error_type"])
    bad = [r["id"] for r, v in gt if by_id[r["id"]] != (v["valid"], v["error_type"])]
    if bad:
        raise SystemExit(f"{fmt}: driver and `score --details` disagree on {len(bad)} ids, e.g. {bad[:5]}")
    return len(gt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "bfcl_data"))
    parser.add_argument("--tool", default=str(REPO.parent / "shared" / "tools" / "bfcl_official_check.py"))
    parser.add_argument("--bfcl-python", default=str(REPO / ".venv-bfcl" / "bin" / "python"))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--out-dir", default=str(REPO / "tests" / "data" / "golden"))
    args = parser.parse_args(argv)

    samples = load_bfcl(args.data_dir, "single_turn")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = subprocess.run(
        [args.bfcl_python, "-c", "import importlib.metadata as m; print(m.version('bfcl-eval'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for fmt in args.formats.split(","):
        if fmt not in FORMATS:
            raise SystemExit(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
        started = time.time()
        records, entries = [], []
        for sample in samples:
            outputs = outputs_for(sample, fmt)
            if not outputs:
                continue
            entries.append((sample.id, outputs_hash(outputs), len(outputs)))
            records += [
                {"id": sample.id, "category": sample.category, "kind": kind, "model_output": text}
                for kind, text in outputs
            ]
        with tempfile.TemporaryDirectory(prefix="golden_") as tmp:
            verdicts = official_verdicts(records, fmt, args.bfcl_python, args.tool, args.data_dir, Path(tmp))
            checked = cli_cross_check(records, verdicts, fmt, args.bfcl_python, args.tool, args.data_dir, Path(tmp))
        codes: list[str] = [PASS_CODE]
        index = {PASS_CODE: 0}
        rows, position = [], 0
        summary = collections.Counter()
        for entry_id, digest, count in entries:
            verdict_codes = []
            for verdict in verdicts[position : position + count]:
                code = PASS_CODE if verdict["valid"] else (verdict["error_type"] or "unknown")
                if code not in index:
                    index[code] = len(codes)
                    codes.append(code)
                verdict_codes.append(index[code])
                summary[code] += 1
            rows.append([entry_id, digest, verdict_codes])
            position += count
        payload = {
            "about": "official BFCL verdicts on tests/perturbations.py outputs; written by scripts/make_golden.py",
            "bfcl_eval_version": version,
            "format": fmt,
            "n_outputs": len(records),
            "codes": codes,
            "entries": rows,
        }
        path = out_dir / f"verdicts_{fmt}.json.gz"
        with gzip.GzipFile(path, "wb", mtime=0) as handle:
            handle.write(json.dumps(payload, separators=(",", ":")).encode())
        print(
            json.dumps(
                {
                    "format": fmt,
                    "outputs": len(records),
                    "entries": len(rows),
                    "cli_cross_checked": checked,
                    "seconds": round(time.time() - started, 1),
                    "bytes": path.stat().st_size,
                    "verdicts": dict(summary.most_common()),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
