"""The issue's done-when run: `funrl prepare`, `funrl score` and `funrl eval --backend openai` over files that mix good
records with every bad kind of `test_bad_inputs.BAD_KINDS`, the eval against a loopback server that answers 20% of
the requests with a fault (500, 429, a dropped connection, a broken JSON body, an empty `choices` list). Every good
record is processed, every bad one is rejected with its line, and no traceback reaches the user.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from openai_stub import OpenAIStub, StubReply
from test_bad_inputs import BAD_KINDS, good_line, mixed_file

from funrl.bfcl import load_bfcl
from funrl.cli import main
from funrl.template import render_target

FAULTS = [
    StubReply(status=500),
    StubReply(status=429),
    StubReply(drop_connection=True),
    StubReply(raw_body=b'{"id": "x", "choices": ['),  # a broken body
    StubReply(raw_body=b'{"id": "x", "object": "chat.completion", "choices": []}'),  # a 200 with no choices
]


def bad_lines(good: bytes) -> list[tuple[bytes, str]]:
    return [(build(good), code) for _, build, code in BAD_KINDS]


def interleave(path: Path, goods: list[bytes], bads: list[bytes]) -> tuple[list[int], list[int]]:
    """good, bad, good, bad, ...; returns the line numbers of the good and of the bad lines."""
    lines, good_at, bad_at = [], [], []
    for k in range(max(len(goods), len(bads))):
        if k < len(goods):
            lines.append(goods[k])
            good_at.append(len(lines))
        if k < len(bads):
            lines.append(bads[k])
            bad_at.append(len(lines))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good_at, bad_at


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def test_prepare_score_and_eval_over_bad_records_and_a_faulty_server(tmp_path, bfcl_dir, capsys):
    # prepare: 15 good xLAM records, 14 bad ones
    data = tmp_path / "mixed.jsonl"
    good_lines, bad = mixed_file(data, "xlam")
    out = tmp_path / "prepared"
    code, err = run(capsys, "prepare", "--input", str(data), "--format", "xlam", "--output", str(out),
                    "--no-decontaminate", "--no-progress", "--dedup", '{"exact": false, "near": false}')  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())["total"]
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    assert {r["origin"]["line"]: r["reasons"][0]["code"] for r in rejected if r["stage"] == "read"} == bad
    assert report["funnel"]["input"] == report["funnel"]["kept"] + report["rejected"] == len(good_lines) + len(bad)
    assert report["funnel"]["kept"] == len(good_lines)  # every good record kept (dedup is off: they are copies)

    # score: 30 good BFCL outputs, 14 bad lines
    samples = load_bfcl(bfcl_dir, "simple_python", limit=30)
    goods = [json.dumps({"id": s.id, "output": render_target(s, "funrl")}).encode() for s in samples]
    outputs = tmp_path / "outputs.jsonl"
    good_at, bad_at = interleave(outputs, goods, [b for b, _ in bad_lines(goods[0])])
    verdicts = tmp_path / "verdicts.jsonl"
    code, err = run(
        capsys, "score", "--outputs", str(outputs), "--data-dir", str(bfcl_dir), "--per-entry", str(verdicts)
    )
    assert code == 0, err
    rows = [json.loads(x) for x in verdicts.read_text().splitlines()]
    assert len(rows) == len(good_at) + len(bad_at)
    assert [rows[k - 1]["valid"] for k in good_at] == [True] * len(good_at)  # every good line scored (and right)
    for k, (_, code_) in zip(bad_at, bad_lines(goods[0])):
        assert rows[k - 1]["reason"] == f"input:{code_}" and f"{outputs}:{k}:" in rows[k - 1]["detail"]

    # eval --backend openai: 30 good samples and 14 bad lines in --samples, 20% of the replies a fault
    sample_file = tmp_path / "samples.jsonl"
    sample_lines = [json.dumps(s.to_dict()).encode() for s in samples]
    good_at, bad_at = interleave(sample_file, sample_lines, [b for b, _ in bad_lines(sample_lines[0])])
    by_question = {s.messages[-1]["content"]: s for s in samples}
    served = {"faults": 0, "answers": 0}
    lock = threading.Lock()

    def respond(request):  # every 5th request a fault, the five kinds in turn: 20% of the replies
        with lock:
            n = served["faults"] + served["answers"]
            if n % 5 == 4:
                served["faults"] += 1
                return FAULTS[(n // 5) % len(FAULTS)]
            served["answers"] += 1
        return render_target(by_question[request.last_user_content], "funrl")

    run_dir = tmp_path / "eval"
    with OpenAIStub(respond) as stub:
        code, err = run(capsys, "eval", "--model", "served", "--backend", "openai", "--base-url", stub.base_url,
                        "--samples", str(sample_file), "--output", str(run_dir), "--max-retries", "6",
                        "--concurrency", "4")  # fmt: skip
    assert code == 0, err
    for k in bad_at:
        assert f"{sample_file}:{k}:" in err  # each bad sample line named
    results = json.loads((run_dir / "results.json").read_text())
    assert results["entries"] == len(samples) and results["micro_accuracy"] == 1.0
    assert served["faults"] >= len(FAULTS)  # every kind of fault was served at least once
    print(f"\nfault demo: prepare kept {report['funnel']['kept']} of {report['funnel']['input']} items ({report['rejected']} "
          f"rejected); score {len(good_at)} good + {len(bad_at)} bad lines; eval {results['entries']} entries, "
          f"{served['faults']} faults served, {served['answers']} answers")  # fmt: skip
    assert good_line("xlam")  # the fixture the mixed files start from
