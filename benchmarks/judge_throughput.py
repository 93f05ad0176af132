"""Judge throughput against a loopback OpenAI-compatible server with fixed latency.

With `concurrency` requests in flight and every answer taking `latency` seconds, no client can do better
than `concurrency / latency` requests per second; this prints the measured rate as a fraction of that
bound (target >= 0.90), for the judge with its on-disk cache (one fsync per answer) and without a cache.
Machines shared with other work give noisy figures: the median of `--repeats` runs is reported.

    .venv/bin/python benchmarks/judge_throughput.py                  # defaults: 640 samples, c=32, 0.5 s
    .venv/bin/python benchmarks/judge_throughput.py --concurrency 64 --latency 0.2 --samples 1280

The client spends roughly 1-3 ms of CPU per request (the `openai` SDK's HTTP stack), so the fraction drops when
the bound (requests/s) times that cost approaches 1 second per second, i.e. on a CPU-starved machine at
short latencies; real judge answers take seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from openai_stub import OpenAIStub  # noqa: E402

from funrl.data.judge import JudgeConfig, run_judge, summarize  # noqa: E402
from funrl.schema import Sample, normalize_tools  # noqa: E402

TOOLS = normalize_tools(
    [
        {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ]
)
PASS = json.dumps(
    {"reasoning": "matches", "verdict": "pass", "failure_type": None, "fixable": False, "corrected_calls": None}
)


def make_samples(n: int) -> list[Sample]:
    return [
        Sample(
            id=f"b{i}",
            messages=[{"role": "user", "content": f"Weather in city number {i}?"}],
            tools=TOOLS,
            ground_truth=[{"get_weather": {"city": [f"city {i}"]}}],
            category="simple",
            source="bench",
        )
        for i in range(n)
    ]


def _answer(request) -> str:
    return PASS


def _serve(latency: float, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """The stub server in its own process, as a real judge server would be (no shared GIL)."""
    with OpenAIStub(_answer, latency_s=latency) as stub:
        urls.put(stub.base_url)
        stop.wait()
        urls.put(len(stub.chat_requests()))


def one_run(args: argparse.Namespace, base_url: str, cache_dir: str | None) -> tuple[float, dict]:
    samples = make_samples(args.samples)
    config = JudgeConfig(
        base_url=base_url,
        model="stub-judge",
        api_key_env=None,
        concurrency=args.concurrency,
        final_pass=args.final_pass,
        cache_path=str(Path(cache_dir) / "cache.jsonl") if cache_dir else None,
        progress=False,
    )
    start = time.perf_counter()
    outcomes = run_judge(samples, config, lambda sample: (sample, []))
    elapsed = time.perf_counter() - start
    totals = summarize(outcomes)
    if totals["status"]["kept"] != len(samples):
        raise SystemExit(f"benchmark run failed: {totals}")
    return totals["requests"] / elapsed, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=640)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.5, help="server latency per answer, seconds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--final-pass", action="store_true", help="also run the final pass (2 requests/sample)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    ctx = multiprocessing.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=60)
    bound = args.concurrency / args.latency
    print(f"bound: concurrency {args.concurrency} / latency {args.latency:.3f} s = {bound:.1f} requests/s")
    warmup = argparse.Namespace(**{**vars(args), "samples": args.concurrency})
    one_run(warmup, base_url, None)  # imports and first connections are not part of the measurement
    print(f"{'cache':<10} {'median req/s':>13} {'fraction':>9}   runs (req/s)")
    for label, use_cache in (("disk", True), ("none", False)):
        rates = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                rate, _ = one_run(args, base_url, tmp if use_cache else None)
            rates.append(rate)
        median = statistics.median(rates)
        runs = ", ".join(f"{r:.1f}" for r in rates)
        print(f"{label:<10} {median:>13.1f} {median / bound:>9.3f}   {runs}")
    stop.set()
    served = urls.get(timeout=30)
    server.join(timeout=30)
    print(f"server answered {served} chat requests in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
