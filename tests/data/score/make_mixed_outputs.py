"""Rebuild `mixed_outputs.jsonl` and `mixed_official.json` (the expected data of test_metrics.py / test_score.py).

Runs under the official checker's environment (it imports `../shared/tools/bfcl_official_check.py`, hence
bfcl-eval), from the repository root:

    .venv-bfcl/bin/python tests/data/score/make_mixed_outputs.py

12 entries per single-turn category and 3 per multi-turn category (seeded), about 40% deliberately wrong:
the official tool's perturbations (wrong value, missing required, extra call, wrong name), a renamed function
for Java / JavaScript, flipped (ir)relevance decisions, a dropped multi-turn call, and prompt-mode format
variants (bare call, fenced, prose before the call). Then the official checker scores the file; its result plus
each line's verdict (`verdicts`: id -> [valid, error_type]) is written to `mixed_official.json`.
"""

import ast
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
TOOL = "../shared/tools/bfcl_official_check.py"
DATA = "../shared/bfcl_data"
sys.path.insert(0, str(Path(TOOL).parent))
import bfcl_official_check as oc  # noqa: E402


def build() -> list[dict]:
    data = oc.Data(DATA)
    rng = random.Random(20260101)
    out = []
    for cat in oc.SUPPORTED_CATEGORIES:
        idx = data.index(cat)
        ids = sorted(
            rng.sample(list(idx), min(12 if not oc.is_multi_turn(cat) else 3, len(idx))),
            key=lambda i: list(idx).index(i),
        )
        for k, i in enumerate(ids):
            q, a = idx[i]
            gt = oc.gt_to_output(cat, q, a, "prompt", data)
            mode = rng.random()
            output, kind = gt, "gt"
            if oc.is_multi_turn(cat):
                if k == 0:  # drop the last call of the last non-empty turn
                    kk = max(t for t, tr in enumerate(a["ground_truth"]) if tr)
                    tree = ast.parse(gt[kk][0], mode="eval").body
                    new = [list(t) for t in gt]
                    if len(tree.elts) > 1:
                        tree.elts = tree.elts[:-1]
                        new[kk] = [ast.unparse(tree)]
                    else:
                        new[kk] = ["Done."]
                    output, kind = new, "drop_last_call"
            elif oc.is_relevance_or_irrelevance(cat):
                if mode < 0.35:
                    f0 = q["function"][0]["name"]
                    output = "I cannot help with that." if "irrelevance" not in cat else f"[{f0}(x=1)]"
                    kind = "flipped"
                elif mode < 0.5 and "irrelevance" in cat:
                    output, kind = "[]", "empty_list"
            elif oc.is_java(cat) or oc.is_js(cat):
                if mode < 0.35:
                    name = next(iter(a["ground_truth"][0]))
                    output, kind = gt.replace(name + "(", name + "_x(", 1), "wrong_function_name"
            else:
                if mode < 0.4:
                    perts = oc.perturbed_outputs(cat, q, a)
                    kind = rng.choice(sorted(perts))
                    output = perts[kind]
                elif mode < 0.5:
                    output, kind = gt[1:-1] if gt.count("(") == 1 else gt, "bare_call"
                elif mode < 0.55:
                    output, kind = "```\n" + gt + "\n```", "fenced"
                elif mode < 0.6:
                    output, kind = "Sure! " + gt, "prose_before"
            row = {"id": i, "category": cat, "model_output": output, "kind": kind}
            if not oc.is_multi_turn(cat):
                row["output"] = output  # the field `funrl score` reads
            out.append(row)
    return out


def main() -> None:
    rows = build()
    outputs = HERE / "mixed_outputs.jsonl"
    outputs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    with tempfile.TemporaryDirectory() as tmp:
        details = Path(tmp) / "details.jsonl"
        cmd = [sys.executable, TOOL, "--data-dir", DATA, "score", str(outputs), "--details", str(details)]
        result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        verdicts = [json.loads(line) for line in details.read_text().splitlines()]
    result["verdicts"] = {d["id"]: [d["valid"], d["error_type"]] for d in verdicts}
    result["generated_by"] = (
        "../shared/tools/bfcl_official_check.py --data-dir ../shared/bfcl_data score tests/data/score/"
        "mixed_outputs.jsonl --details DETAILS (bfcl-eval 2026.3.23); verdicts = DETAILS as id -> [valid, error_type]"
    )
    (HERE / "mixed_official.json").write_text(json.dumps(result, indent=1))
    print(f"{len(rows)} lines; official result in {HERE / 'mixed_official.json'}")


if __name__ == "__main__":
    main()
