"""AST-validation throughput on xLAM-format data: samples per second for read + validate, on one core.

Generates synthetic xLAM-60k-layout records (JSON-in-string `tools` / `answers`, Python-style types, `, optional`
suffixes, string defaults; a pool of distinct tools shared across records as in the real set, 1-3 calls each)
into a temporary JSONL file, then times, as medians over `--repeat` runs:

* read only (`funrl.data.readers.read_source(..., "xlam")`),
* read + validate (`funrl.data.validate.Validator`), with and without the reward round trip (P5/P8).

    .venv/bin/python benchmarks/validate_throughput.py --records 5000 --repeat 3

Times are CPU seconds of the process (medians); the machine may be shared, so they can still be noisy. The target
is >= 5,000 samples/s for read + validate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time

TYPES = ["str", "int", "float", "bool", "List[int]", "List[str]", "Dict[str, Any]"]
WORDS = "alpha beta gamma delta city weather stock price music flight hotel news recipe movie book game".split()


def _value(kind: str, rng: random.Random):
    if kind == "str":
        return rng.choice(WORDS).title() + str(rng.randint(1, 99))
    if kind == "int":
        return rng.randint(0, 500)
    if kind == "float":
        return rng.choice([rng.randint(1, 99), round(rng.uniform(0, 100), 2)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "List[int]":
        return [rng.randint(0, 9) for _ in range(rng.randint(1, 4))]
    if kind == "List[str]":
        return [rng.choice(WORDS) for _ in range(rng.randint(1, 3))]
    return {"key": rng.choice(WORDS)}


def make_tools(n: int, rng: random.Random) -> list[dict]:
    tools = []
    for i in range(n):
        params = {}
        for j in range(rng.randint(1, 5)):
            kind = rng.choice(TYPES)
            entry = {"description": f"Parameter {j} of tool {i}.", "type": kind}
            if j > 0 and rng.random() < 0.5:
                entry["type"] = kind + ", optional"
                if kind in ("int", "float", "str"):
                    entry["default"] = str(_value(kind, rng))
            params[f"p{j}_{rng.choice(WORDS)}"] = entry
        tools.append(
            {"name": f"{rng.choice(WORDS)}_tool_{i}", "description": f"Tool number {i}.", "parameters": params}
        )
    return tools


def make_records(n: int, n_tools: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    pool = make_tools(n_tools, rng)
    records = []
    for i in range(n):
        tools = rng.sample(pool, rng.randint(1, 4))
        answers, words = [], []
        for tool in rng.sample(tools, rng.randint(1, min(3, len(tools)))):
            args = {}
            for name, spec in tool["parameters"].items():
                if spec["type"].endswith(", optional") and rng.random() < 0.5:
                    continue
                value = _value(spec["type"].split(",")[0], rng)
                args[name] = value
                words.append(json.dumps(value))
            answers.append({"name": tool["name"], "arguments": args})
        query = f"Please run {' and '.join(a['name'] for a in answers)} with {', '.join(words)} (request {i})."
        records.append({"id": i, "query": query, "tools": json.dumps(tools), "answers": json.dumps(answers)})
    return records


def _time(fn, repeat: int) -> float:
    """Median CPU time of this process (`time.process_time`): on a shared machine it is much less noisy than
    wall time, and it is what "samples/s on one core" means."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--tools", type=int, default=400, help="distinct tools in the pool")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from funrl.data.readers import read_source
    from funrl.data.validate import ValidationConfig, Validator

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "xlam_synthetic.jsonl")
        with open(path, "w", encoding="utf-8") as handle:
            for record in make_records(args.records, args.tools):
                handle.write(json.dumps(record) + "\n")

        def read_only() -> int:
            return sum(len(item.samples) for item in read_source(path, "xlam"))

        def read_validate(roundtrip: bool) -> dict:
            validator = Validator(ValidationConfig(check_reward_roundtrip=roundtrip))  # fresh tool cache per run
            counts = {"kept": 0, "repaired": 0, "rejected": 0}
            for item in read_source(path, "xlam"):
                for sample in item.samples:
                    counts[validator(sample).status] += 1
            return counts

        samples = [s for item in read_source(path, "xlam") for s in item.samples]

        def validate_only(roundtrip: bool) -> None:
            validator = Validator(ValidationConfig(check_reward_roundtrip=roundtrip))
            for sample in samples:
                validator(sample)

        n = read_only()
        counts = read_validate(True)
        t_read = _time(read_only, args.repeat)
        t_fast = _time(lambda: read_validate(False), args.repeat)
        t_full = _time(lambda: read_validate(True), args.repeat)
        t_vfast = _time(lambda: validate_only(False), args.repeat)
        t_vfull = _time(lambda: validate_only(True), args.repeat)
    print(f"{args.records} synthetic xLAM records, {n} samples, {args.tools} distinct tools; outcomes {counts}")
    print(f"read only                        : {n / t_read:9.0f} samples/s  (median of {args.repeat})")
    print(f"read + validate (no round trip)  : {n / t_fast:9.0f} samples/s")
    print(f"read + validate (with round trip): {n / t_full:9.0f} samples/s  (target >= 5000)")
    print(f"validate only (no round trip)    : {n / t_vfast:9.0f} samples/s  (cold tool cache each run)")
    print(f"validate only (with round trip)  : {n / t_vfull:9.0f} samples/s")
    print(f"validation share of read+validate: {(t_full - t_read) / t_full:.2f}")


if __name__ == "__main__":
    main()
