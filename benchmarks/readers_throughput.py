"""Reader throughput: input records/s and samples/s per format, on the fixture rows repeated N times.

The readers run before AST validation in `funrl prepare`, so their rate bounds the pipeline's (the issue's
target for validation is >= 5,000 xLAM-format samples/s on one core). Each format's fixture
(tests/data/formats/<fmt>.jsonl, good and broken rows) is written `--repeat` times to a temporary JSONL
file and read with `read_source`; the median of `--runs` runs is printed. Shared machines give noisy
figures: compare the ratios, not the absolute numbers.

    .venv/bin/python benchmarks/readers_throughput.py                 # defaults: 500 copies, 3 runs
    .venv/bin/python benchmarks/readers_throughput.py --formats xlam --repeat 2000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from funrl.data.readers import read_source

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "formats"
DEFAULT_FORMATS = ("xlam", "toolace", "glaive", "hermes", "openai", "sharegpt")


def measure(fmt: str, repeat: int, runs: int) -> tuple[int, int, float]:
    lines = [line for line in (FIXTURES / f"{fmt}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{fmt}.jsonl"
        path.write_text("\n".join(lines * repeat) + "\n", encoding="utf-8")
        times, records, samples = [], 0, 0
        for _ in range(runs):
            start = time.perf_counter()
            records = samples = 0
            for item in read_source(path, fmt):
                records += 1
                samples += len(item.samples)
            times.append(time.perf_counter() - start)
    return records, samples, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--repeat", type=int, default=500, help="copies of each fixture file")
    parser.add_argument("--runs", type=int, default=3, help="runs per format; the median is printed")
    args = parser.parse_args()
    print(f"{'format':<10} {'records':>8} {'samples':>8} {'records/s':>10} {'samples/s':>10}")
    for fmt in args.formats.split(","):
        records, samples, seconds = measure(fmt, args.repeat, args.runs)
        print(f"{fmt:<10} {records:>8} {samples:>8} {records / seconds:>10.0f} {samples / seconds:>10.0f}")


if __name__ == "__main__":
    main()
