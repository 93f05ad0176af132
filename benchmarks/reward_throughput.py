"""Reward throughput: funrl's checker vs the official BFCL checker on the same inputs, in one run.

Inputs are built by the official tool's own renderer (`../shared/tools/bfcl_official_check.py`): the ground truth
of every single-turn entry rendered as a prompt-mode output, plus its perturbations (wrong value, missing
required parameter, extra call, wrong function name for AST entries; a flipped decision for (ir)relevance) and a
few format variants (bare call, fenced, prose before the call). Then:

1. the official checker (bfcl-eval, in its own virtual environment) checks them in a subprocess that imports
   bfcl's checker once and times only the checking loop;
2. funrl checks them in-process with the `ast_match` reward (`funrl.rewards`, output format `bfcl-prompt`),
   called on batches of training-style columns (JSON strings), and with bare `check_output`; inputs are
   deduplicated by (id, output), so the reward's memo of identical completions of one prompt never helps here;
3. verdicts are compared line by line.

Printed: checks/s of each side (CPU time of this process, not wall time, so that other jobs on a shared
machine disturb the figures less; median of `--repeat` runs), whether the
verdicts are identical, and the ratio last. The default categories are the Python ones (the figures stay
comparable with earlier runs); Java / JavaScript are scored too when tree-sitter is installed (`funrl[bfcl-java]`):
add `simple_java,simple_javascript` with `--categories` (their inputs are the ground truths only).

    .venv/bin/python benchmarks/reward_throughput.py --data-dir ../shared/bfcl_data
    .venv/bin/python benchmarks/reward_throughput.py --categories simple_python,parallel --repeat 5

This same file is the worker run under the official environment (`--worker gen|check`); in that mode it imports
only the standard library and bfcl-eval, never funrl.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO.parent / "shared" / "tools" / "bfcl_official_check.py"
DEFAULT_CATEGORIES = (
    "simple_python,multiple,parallel,parallel_multiple,irrelevance,live_simple,live_multiple,live_parallel,"
    "live_parallel_multiple,live_irrelevance,live_relevance"
)


# ---------------------------------------------------------------------------------------------------
# Worker side (official environment)


def _official(tool: str):
    sys.path.insert(0, str(Path(tool).parent))
    import bfcl_official_check as oc  # the official tool: bfcl-eval's decoders and checkers behind a thin glue

    return oc


def worker_gen(args) -> None:
    oc = _official(args.tool)
    data = oc.Data(args.data_dir)
    rows = []
    for cat in args.categories.split(","):
        for entry_id, (q, a) in data.index(cat).items():
            gt = oc.gt_to_output(cat, q, a, "prompt", data)
            outputs = {"gt": gt}
            if oc.is_relevance_or_irrelevance(cat):
                f0 = q["function"][0]["name"] if q["function"] else "f"
                outputs["flipped"] = f"[{f0}(x=1)]" if "irrelevance" in cat else "I cannot help with that."
            elif not (oc.is_java(cat) or oc.is_js(cat)):
                outputs.update(oc.perturbed_outputs(cat, q, a))
                outputs["bare"] = gt[1:-1]
                outputs["fenced"] = "```\n" + gt + "\n```"
                outputs["prose"] = "Here you go: " + gt
            rows += [{"id": entry_id, "category": cat, "kind": k, "output": v} for k, v in outputs.items()]
    with open(args.inputs, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def worker_check(args) -> None:
    oc = _official(args.tool)
    data = oc.Data(args.data_dir)
    rows = [json.loads(line) for line in open(args.inputs, encoding="utf-8")]
    handler, model_name = oc.make_handler("prompt"), oc.MODEL_NAME["prompt"]
    items = [(r["category"], r["id"], r["output"], *data.index(r["category"])[r["id"]]) for r in rows]
    times, verdicts = [], []
    for _ in range(args.repeat):
        t0 = time.process_time()
        results = [oc.check_entry(handler, model_name, cat, i, out, q, a) for cat, i, out, q, a in items]
        times.append(time.process_time() - t0)
        verdicts = [[bool(r.get("valid")), oc._error_type(r)] for r in results]
    json.dump({"seconds": times, "verdicts": verdicts}, open(args.result, "w"))


# ---------------------------------------------------------------------------------------------------
# Main side (funrl environment)


def run_worker(python: str, mode: str, args, **extra: str) -> None:
    cmd = [python, __file__, "--worker", mode, "--tool", str(args.tool), "--data-dir", str(args.data_dir)]
    cmd += ["--categories", args.categories, "--repeat", str(args.repeat)]
    for key, value in extra.items():
        cmd += [f"--{key}", value]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"official worker ({mode}) failed:\n{proc.stderr[-3000:]}")


def time_funrl(rows: list[dict], data_dir: str, repeat: int, batch: int) -> tuple[list[float], list[float], list]:
    from funrl.bfcl import load_bfcl
    from funrl.calls import check_output
    from funrl.rewards import CallReward

    samples = {s.id: s for s in load_bfcl(data_dir, sorted({r["category"] for r in rows}))}
    # training-style columns: JSON strings, one object per dataset row, repeated for each completion
    columns = {i: (json.dumps(s.ground_truth), json.dumps(s.tools), s.category) for i, s in samples.items()}
    reward_times, check_times, verdicts = [], [], []
    for _ in range(repeat):
        reward = CallReward("ast_match", "bfcl-prompt")  # fresh each run: nothing cached from the previous one
        t0 = time.process_time()
        results = []
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            cols = [columns[r["id"]] for r in chunk]
            results += reward.score_batch(
                [r["output"] for r in chunk], [c[0] for c in cols], [c[1] for c in cols], [c[2] for c in cols]
            )
        reward_times.append(time.process_time() - t0)
        verdicts = [[score == 1.0, None if reason == "ok" else reason] for score, reason in results]
        t0 = time.process_time()
        for r in rows:
            check_output(r["output"], samples[r["id"]], "bfcl-prompt")
        check_times.append(time.process_time() - t0)
    return reward_times, check_times, verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "bfcl_data"))
    parser.add_argument("--bfcl-python", default=str(REPO / ".venv-bfcl" / "bin" / "python"))
    parser.add_argument("--tool", default=str(TOOL))
    parser.add_argument("--categories", default=DEFAULT_CATEGORIES)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side; the median is printed")
    parser.add_argument("--batch", type=int, default=64, help="completions per reward call (prompts x generations)")
    parser.add_argument("--worker", choices=["gen", "check"], help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "gen":
        return worker_gen(args) or 0
    if args.worker == "check":
        return worker_check(args) or 0

    with tempfile.TemporaryDirectory(prefix="reward_bench_") as tmp:
        inputs, result = os.path.join(tmp, "inputs.jsonl"), os.path.join(tmp, "official.json")
        run_worker(args.bfcl_python, "gen", args, inputs=inputs)
        rows, seen = [], set()
        for line in open(inputs, encoding="utf-8"):
            row = json.loads(line)
            if (row["id"], row["output"]) not in seen:  # distinct inputs: no memo or cache can help either side
                seen.add((row["id"], row["output"]))
                rows.append(row)
        with open(inputs, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        print(f"{len(rows)} inputs over {len(args.categories.split(','))} categories (GT + perturbations)")
        run_worker(args.bfcl_python, "check", args, inputs=inputs, result=result)
        official = json.load(open(result))
    reward_times, check_times, ours = time_funrl(rows, args.data_dir, args.repeat, args.batch)

    theirs = official["verdicts"]
    diff = [i for i in range(len(rows)) if ours[i][0] != theirs[i][0]]
    reason_diff = sum(1 for i in range(len(rows)) if ours[i] != theirs[i])
    for i in diff[:10]:
        r = rows[i]
        print(f"  verdict differs: {r['id']} [{r['kind']}] funrl={ours[i]} official={theirs[i]} {r['output'][:120]!r}")
    n = len(rows)
    t_off, t_rew, t_chk = (statistics.median(t) for t in (official["seconds"], reward_times, check_times))
    print(f"official BFCL checker       : {n / t_off:10.0f} checks/s  (CPU time, median of {args.repeat})")
    print(f"funrl check_output          : {n / t_chk:10.0f} checks/s")
    print(f"funrl ast_match reward      : {n / t_rew:10.0f} checks/s  (batches of {args.batch}, JSON columns)")
    print(
        f"verdicts identical          : {not diff} ({n - len(diff)}/{n} agree; error types equal on {n - reason_diff})"
    )
    print(f"ratio funrl reward / official: {t_off / t_rew:.2f}x")
    return 0 if not diff else 1


if __name__ == "__main__":
    sys.exit(main())
