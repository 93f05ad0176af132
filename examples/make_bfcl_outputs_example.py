"""Rebuild `bfcl_outputs_example.jsonl`: 53 model outputs in the funrl template over every single-turn category.

Runs under the official checker's environment (it uses the ground-truth renderer and perturbations of
`../shared/tools/bfcl_official_check.py`), from the repository root:

    .venv-bfcl/bin/python examples/make_bfcl_outputs_example.py examples/bfcl_outputs_example.jsonl

The first 4 entries of each category: the ground truth inside `<think>…</think><answer>…</answer>`, the second
one wrong (a perturbation or a flipped relevance decision), a few with a broken template, and one question
sampled twice. Each line's `note` says which.
"""

import json
import sys

sys.path.insert(0, "../shared/tools")
import bfcl_official_check as oc

data = oc.Data("../shared/bfcl_data")
cats = [c for c in oc.NON_LIVE_CATEGORY + oc.LIVE_CATEGORY]
rows = []


def wrap(think, ans):
    return f"<think>{think}</think><answer>{ans}</answer>"


for cat in cats:
    idx = data.index(cat)
    n = 4
    ids = list(idx)[:n]
    for k, i in enumerate(ids):
        q, a = idx[i]
        gt = oc.gt_to_output(cat, q, a, "prompt", data)
        if oc.is_relevance_or_irrelevance(cat):
            f0 = q["function"][0]["name"]
            if "irrelevance" in cat:
                right = wrap("None of the available functions can answer this request.", "[]")
                wrong = wrap(f"I will call {f0}.", f"[{f0}()]")
            else:
                right = wrap(f"{f0} is relevant here.", f"[{f0}()]")
                wrong = wrap("No function applies.", "[]")
            out, note = (right, "right") if k != 1 else (wrong, "wrong: relevance decision flipped")
        else:
            names = ", ".join(dict.fromkeys(next(iter(c)) for c in a["ground_truth"]))
            think = f"The question asks for {names}; all required parameters are given in the question."
            out, note = wrap(think, gt), "right"
            if k == 1:
                if oc.is_java(cat) or oc.is_js(cat):
                    name = next(iter(a["ground_truth"][0]))
                    out, note = wrap(think, gt.replace(name + "(", name + "_v2(", 1)), "wrong: function name"
                else:
                    p = oc.perturbed_outputs(cat, q, a)
                    kind = sorted(p)[(len(rows)) % len(p)]
                    out, note = wrap(think, p[kind]), "wrong: " + kind.replace("_", " ")
            elif k == 3 and cat in ("simple_python", "multiple", "live_simple", "parallel"):
                out, note = (
                    f"<think>{think}\n<answer>{gt}</answer>",
                    "right calls, template broken (</think> missing): the evaluator reads the answer, the funrl reward gives 0",
                )
        rows.append({"id": i, "output": out, "note": note})
# several samples of one question
q, a = data.index("simple_python")["simple_python_0"]
gt = oc.gt_to_output("simple_python", q, a, "prompt", data)
rows.append(
    {
        "id": "simple_python_0",
        "output": wrap("Triangle area: base 10, height 5.", gt.replace("base=10", "base=5")),
        "note": "second sample of simple_python_0, wrong: base value",
    }
)
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(rows))
