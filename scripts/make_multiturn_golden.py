#!/usr/bin/env python
"""Golden multi-turn verdicts: the official bfcl-eval checker's verdict on ground-truth and perturbed trajectories.

Run with the official checker's venv (`bash scripts/setup_bfcl_checker.sh` makes `.venv-bfcl`), not funrl's:

    .venv-bfcl/bin/python scripts/make_multiturn_golden.py --data-dir ../shared/bfcl_data --per-category 12

For the first N entries of each multi-turn category it builds trajectories (the raw step texts per turn that a
model would have produced) from the ground truth, rendered in the `bfcl-prompt`, `funrl` and `qwen-fc` formats:
the ground truth itself (all calls of a turn in one step, or one call per step), and perturbations (a wrong
argument, a missing call, an extra state-changing call, a call moved to an earlier turn, an unparseable step, a
turn without calls, a dropped last turn, hostile calls). Each trajectory is scored by bfcl-eval's own runner
(`_evaluate_single_multi_turn_entry`, with the decoder of the matching official handler: prompt mode,
`QwenFCHandler`, and for `funrl` the answer body as `scripts/bfcl_register_funrl.py` extracts it), and the
verdicts are written to `tests/data/golden/multiturn_verdicts.json.gz`; `tests/test_multiturn_golden.py`
requires funrl's checker to agree on every one. The official checker runs the calls with `eval`: the hostile
calls here are harmless ones.
"""

from __future__ import annotations

import argparse
import ast
import collections
import gzip
import inspect
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bfcl_eval.eval_checker.eval_runner import _evaluate_single_multi_turn_entry  # noqa: E402
from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call  # noqa: E402
from bfcl_eval.model_handler.local_inference.qwen_fc import QwenFCHandler  # noqa: E402
from bfcl_eval.model_handler.utils import default_decode_execute_prompting  # noqa: E402
from bfcl_register_funrl import extract_answer  # noqa: E402

CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
FORMATS = ("bfcl-prompt", "funrl", "qwen-fc")
OUT = REPO / "tests" / "data" / "golden" / "multiturn_verdicts.json.gz"


class _Decoder:
    """The official handlers' `decode_execute`, without building a handler (no model, no server)."""

    def __init__(self, fmt: str):
        self.fmt = fmt

    def decode_execute(self, result, has_tool_call_tag=False):
        if self.fmt == "qwen-fc":
            return QwenFCHandler.decode_execute(self, result, has_tool_call_tag)
        if self.fmt == "funrl":
            return default_decode_execute_prompting(extract_answer(result), has_tool_call_tag)
        return default_decode_execute_prompting(result, has_tool_call_tag)

    _extract_tool_calls = staticmethod(QwenFCHandler._extract_tool_calls)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def keyword_calls(entry: dict, truth: list[list[str]]) -> list[list[tuple[str, dict]]]:
    """Ground-truth call strings -> `(name, kwargs)`, positional arguments named from the method signature."""
    _, instances = execute_multi_turn_func_call([], entry["initial_config"], entry["involved_classes"], "sig", "x")
    methods = {}
    for inst in instances.values():
        for name, method in inspect.getmembers(inst, predicate=inspect.ismethod):
            if not name.startswith("_"):
                methods[name] = method
    out = []
    for turn in truth:
        calls = []
        for source in turn:
            node = ast.parse(source, mode="eval").body
            name = node.func.id
            params = list(inspect.signature(methods[name]).parameters)
            kwargs = {params[i]: ast.literal_eval(a) for i, a in enumerate(node.args)}
            kwargs.update({k.arg: ast.literal_eval(k.value) for k in node.keywords})
            calls.append((name, kwargs))
        out.append(calls)
    return out


def render(calls: list[tuple[str, dict]], fmt: str) -> str:
    if fmt == "qwen-fc":
        return "\n".join(
            f"<tool_call>\n{json.dumps({'name': n, 'arguments': a}, ensure_ascii=False)}\n</tool_call>"
            for n, a in calls
        )
    body = "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})" for n, a in calls) + "]"
    if fmt == "funrl":
        return f"<think>Call {', '.join(n for n, _ in calls) or 'nothing'}.</think>\n<answer>{body}</answer>"
    return body


def done_text(fmt: str) -> str:
    return "<think>All done.</think>\n<answer>[]</answer>" if fmt == "funrl" else "I have completed the request."


def trajectory(turns: list[list[tuple[str, dict]]], fmt: str, stepwise: bool = False) -> list[list[str]]:
    out = []
    for calls in turns:
        steps = [render([c], fmt) for c in calls] if stepwise else ([render(calls, fmt)] if calls else [])
        out.append(steps + [done_text(fmt)])
    return out


def _perturb_value(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    return "x"


def variants(turns: list[list[tuple[str, dict]]], rng: random.Random) -> dict[str, list[list[tuple[str, dict]]]]:
    """Perturbed call lists per turn (each a deep copy)."""
    nonempty = [i for i, t in enumerate(turns) if t]
    out = {}
    copy = lambda: json.loads(json.dumps(turns))  # noqa: E731
    if not nonempty:
        return out
    t = rng.choice(nonempty)
    with_args = [(i, j) for i in nonempty for j, c in enumerate(turns[i]) if c[1]]
    if with_args:
        i, j = rng.choice(with_args)
        v = copy()
        key = rng.choice(sorted(v[i][j][1]))
        v[i][j][1][key] = _perturb_value(v[i][j][1][key])
        out["wrong_arg"] = v
    v = copy()
    v[t].pop(rng.randrange(len(v[t])))
    out["missing_call"] = v
    v = copy()
    v[t].append(v[t][-1])  # the same call again: state-changing calls change state twice (or fail)
    out["repeated_call"] = v
    v = copy()
    last = nonempty[-1]
    v[nonempty[0]].append(v[last][-1])  # a later turn's call, made too early (and again later)
    out["extra_call_from_later_turn"] = v
    if len(nonempty) > 1:
        v = copy()
        a, b = nonempty[0], nonempty[1]
        v[a].append(v[b].pop(0))  # a call moved to the turn before
        out["call_at_wrong_turn"] = v
    v = copy()
    v[t] = []
    out["no_call_in_turn"] = v
    return out


def build(entry: dict, truth: list[list[str]], rng: random.Random) -> list[tuple[str, str, list]]:
    turns = keyword_calls(entry, truth)
    out = []
    for fmt in FORMATS:
        out.append(("gt", fmt, trajectory(turns, fmt)))
        out.append(("gt_stepwise", fmt, trajectory(turns, fmt, stepwise=True)))
        out.append(("gt_literal", fmt, [[f"[{', '.join(t)}]"] if t else [] for t in truth]))
        for kind, perturbed in variants(turns, rng).items():
            out.append((kind, fmt, trajectory(perturbed, fmt)))
        traj = trajectory(turns, fmt)
        nonempty = [i for i, t in enumerate(turns) if t]
        if nonempty:
            unparseable = json.loads(json.dumps(traj))
            step = unparseable[nonempty[0]][0]
            unparseable[nonempty[0]][0] = step[: max(1, len(step) // 2)]  # a step cut in half
            out.append(("unparseable_step", fmt, unparseable))
        out.append(("dropped_last_turn", fmt, traj[:-1]))
        hostile = json.loads(json.dumps(traj))
        bad = [("__import__", {"name": "os"}), ("exit", {"code": 1}), ("os.system", {"command": "true"})]
        hostile[0].insert(0, render(bad, fmt) if fmt != "funrl" else render(bad, fmt))
        out.append(("hostile_calls", fmt, hostile))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="BFCL data folder (BFCL_v4_*.json, possible_answer/)")
    parser.add_argument("--per-category", type=int, default=12, help="first N entries of each category")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    root = Path(args.data_dir)
    rng = random.Random(0)
    rows, stats, k = [], collections.Counter(), 0
    for category in CATEGORIES:
        entries = _rows(root / f"BFCL_v4_{category}.json")[: args.per_category]
        truths = {r["id"]: r["ground_truth"] for r in _rows(root / "possible_answer" / f"BFCL_v4_{category}.json")}
        for entry in entries:
            truth = truths[entry["id"]]
            for kind, fmt, result in build(entry, truth, rng):
                k += 1
                verdict = _evaluate_single_multi_turn_entry(
                    _Decoder(fmt), entry["id"], result, truth, dict(entry), f"golden{k}", category
                )
                error = verdict.get("error", {}).get("error_type") if not verdict["valid"] else None
                rows.append({"id": entry["id"], "kind": kind, "format": fmt, "result": result, "error_type": error})
                stats[(kind, error)] += 1
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as handle:
        json.dump({"bfcl_eval": "2026.3.23", "rows": rows}, handle, ensure_ascii=False, separators=(",", ":"))
    for (kind, error), n in sorted(stats.items(), key=lambda x: (x[0][0], str(x[0][1]))):
        print(f"{kind:28s} {error or 'valid':45s} {n}")
    print(f"{len(rows)} trajectories -> {args.out} ({Path(args.out).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
