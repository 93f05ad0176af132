"""Hostile and broken input over every reader and command: each bad record is a rejection (prepare) or a per-entry
verdict (score, eval) naming file and line, the good records around it are processed, only whole-file problems end
a run (one line, non-zero exit), and no traceback reaches the user. Each case checks input = kept + rejected.

Bad kinds (tables below): nested `[` x 100000, lone surrogates, non-UTF-8 bytes, NaN / Infinity / 1e999, a bare
`\\r` inside a line, a byte-order mark, a truncated line, wrong types, empty files, folders, huge lines, and kills
during the multi-file writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funrl.atomic import clean_stale, write_set
from funrl.data.readers import read_source
from funrl.jsonl import LINE_CODES, dumps, loads, read_lines

REPO = Path(__file__).resolve().parents[1]
FORMATS_DIR = REPO / "tests" / "data" / "formats"
JSONL_FORMATS = ["xlam", "toolace", "glaive", "hermes", "openai", "sharegpt", "canonical"]


def good_line(fmt: str) -> bytes:
    """The first record of the format's fixture, without the test-only `_case` key."""
    record = json.loads((FORMATS_DIR / f"{fmt}.jsonl").read_text().splitlines()[0])
    record.pop("_case", None)
    return json.dumps(record).encode()


def with_key(line: bytes, text: bytes) -> bytes:
    """A good record with one more key whose raw JSON value is `text`."""
    return line[:-1] + b', "zz_extra": ' + text + b"}"


# (name, bad line builder, reason code): each line is one record that must be rejected with its line number
BAD_KINDS = [
    ("nested", lambda good: b"[" * 100000, "READ_DEPTH"),
    ("nested-object", lambda good: b'{"a": ' * 5000 + b"1" + b"}" * 5000, "READ_DEPTH"),
    ("surrogate", lambda good: with_key(good, b'"\\ud800"'), "READ_SURROGATE"),
    ("surrogate-key", lambda good: good[:-1] + b', "\\udcff": 1}', "READ_SURROGATE"),
    ("non-utf8", lambda good: with_key(good, b'"caf\xe9"'), "READ_ENCODING"),
    ("nan", lambda good: with_key(good, b"NaN"), "READ_NONFINITE"),
    ("infinity", lambda good: with_key(good, b"-Infinity"), "READ_NONFINITE"),
    ("overflow", lambda good: with_key(good, b"1e999"), "READ_NONFINITE"),
    ("cr-in-string", lambda good: with_key(good, b'"a\rb"'), "READ_JSON"),
    ("truncated", lambda good: good[: len(good) // 2], "READ_JSON"),
    ("garbage", lambda good: b"\x00\x01 not json", "READ_JSON"),
    ("list", lambda good: b"[1, 2]", "READ_FIELD"),
    ("string", lambda good: b'"a record?"', "READ_FIELD"),
    ("null", lambda good: b"null", "READ_FIELD"),
]


def mixed_file(path: Path, fmt: str) -> tuple[list[int], dict[int, str]]:
    """good, (bad, good)*: returns the good line numbers and {bad line number: expected code}. The file starts with
    a byte-order mark and uses CRLF on one line (both fine), and holds a bare `\\r` between tokens (fine)."""
    good = good_line(fmt)

    def numbered(k: int) -> bytes:  # the good record with its own id, so that ids stay unique
        record = json.loads(good)
        if "id" in record:
            record["id"] = f"{record['id']}-{k}"
        return json.dumps(record).encode()

    lines, good_lines, bad_lines = [b"\xef\xbb\xbf" + numbered(0)], [1], {}
    for k, (_, build, code) in enumerate(BAD_KINDS, start=1):
        lines.append(build(good))
        bad_lines[len(lines)] = code
        line = numbered(k)
        lines.append(line.replace(b'", "', b'",\r "', 1) if len(lines) % 4 == 0 else line)
        good_lines.append(len(lines))
    path.write_bytes(b"\n".join(lines[:-1]) + b"\r\n" + lines[-1] + b"\n")
    return good_lines, bad_lines


@pytest.mark.parametrize("fmt", JSONL_FORMATS)
def test_every_reader_rejects_each_bad_kind_with_its_line(fmt, tmp_path):
    path = tmp_path / f"mixed_{fmt}.jsonl"
    good_lines, bad_lines = mixed_file(path, fmt)
    items = list(read_source(path, fmt))
    assert len(items) == len(good_lines) + len(bad_lines)  # one item per record: nothing dropped, nothing split
    by_line = {item.origin["line"]: item for item in items}
    for lineno in good_lines:
        assert by_line[lineno].ok and by_line[lineno].samples, (lineno, by_line[lineno].rejection)
    for lineno, code in bad_lines.items():
        rejection = by_line[lineno].rejection
        assert rejection is not None and rejection.codes == [code], (lineno, rejection)
        assert f"{path}:{lineno}:" in rejection.reasons[0]["detail"]
        dumps(rejection.to_dict())  # strict JSON: the rejection itself can be written


def test_nonfinite_and_surrogates_inside_json_strings_are_rejected(tmp_path):
    """xLAM keeps tools and answers as JSON strings: what they hold is checked as strictly as the line."""
    record = json.loads(good_line("xlam"))
    answers = json.loads(record["answers"])
    cases = {"inf": "Infinity", "nan": "NaN", "surrogate": '"\\ud800"'}
    lines = []
    for value in cases.values():
        text = json.dumps(answers).replace("120.0", value, 1)
        lines.append(json.dumps({**record, "answers": text}))
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines) + "\n")
    codes = [item.rejection.codes for item in read_source(path, "xlam")]
    assert codes == [["READ_NONFINITE"], ["READ_NONFINITE"], ["READ_SURROGATE"]]


def test_huge_line_is_rejected_and_the_next_line_read(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "' + b"x" * 5000 + b'"}\n{"c": 3}\n')
    lines = list(read_lines(path, max_line_bytes=1000))
    assert [(line.lineno, line.error.code if line.error else None) for line in lines] == [
        (1, None),
        (2, "READ_SIZE"),
        (3, None),
    ]


def test_json_list_file_rows_are_checked_too(tmp_path):
    good = json.loads(good_line("xlam"))
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([good, {**good, "id": 8, "query": "\ud800"}], ensure_ascii=True))
    first, second = read_source(path, "xlam")
    assert first.ok and second.rejection.codes == ["READ_SURROGATE"]


# ---------------------------------------------------------------------------------------------------
# Properties of the JSON Lines reader and writer


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.binary(max_size=60) | st.sampled_from([b"[" * 3000, b"NaN", b'"\\ud800"', b"\r"]), max_size=8))
def test_read_lines_never_raises_and_accounts_for_every_line(tmp_path, data):
    path = tmp_path / "fuzz.jsonl"
    raw = b"\n".join(data)
    path.write_bytes(raw)
    lines = list(read_lines(path))
    chunks = raw.split(b"\n")
    if chunks and chunks[0].startswith(b"\xef\xbb\xbf"):
        chunks[0] = chunks[0][3:]
    expected = [k + 1 for k, chunk in enumerate(chunks) if chunk.strip()]
    assert [line.lineno for line in lines] == expected
    for line in lines:
        assert (line.error is None) != (line.value is None and line.error is None) or line.value is None
        if line.error is not None:
            assert line.error.code in LINE_CODES and f"{path}:{line.lineno}:" in line.error.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_dumps_is_strict_utf8_json_that_reads_back(value):
    """Strings with lone surrogates are escaped, never written as invalid UTF-8; the text is valid strict JSON."""
    text = dumps(value)
    text.encode("utf-8")  # always writable
    assert json.loads(text) == value


def test_dumps_refuses_nonfinite():
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})
    with pytest.raises(ValueError):
        loads("[Infinity]")


# ---------------------------------------------------------------------------------------------------
# Commands: one line, non-zero exit, no traceback


def funrl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "FUNRL_TRACEBACK": ""}
    return subprocess.run(
        [sys.executable, "-m", "funrl", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_prepare_over_a_mixed_file_keeps_every_good_record(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good_lines, bad_lines = mixed_file(path, "xlam")
    out = tmp_path / "out"
    proc = funrl("prepare", "--input", str(path), "--format", "xlam", "--output", str(out), "--no-decontaminate",
                 "--no-progress", "--val-ratio", "0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    total = report["total"]
    assert total["records"] == len(good_lines) + len(bad_lines)
    assert total["funnel"]["input"] == total["funnel"]["kept"] + total["rejected"]  # input = kept + rejected
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    read_rejections = {r["origin"]["line"]: r["reasons"][0]["code"] for r in rejected if r["stage"] == "read"}
    assert read_rejections == bad_lines
    kept = (out / "train.jsonl").read_text().splitlines()
    assert len(kept) + sum(r["stage"] != "read" for r in rejected) == len(good_lines)  # every good one processed
    for name in ("train.jsonl", "rejected.jsonl"):  # strict UTF-8 JSON: no NaN, no lone surrogate
        assert all(line.error is None for line in read_lines(out / name))
    loads((out / "report.json").read_text())


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["prepare", "--input", "{d}", "--format", "xlam", "--output", "{t}/o", "--no-decontaminate"], "is a folder"),
        (["prepare", "--input", "{t}/none.jsonl", "--format", "xlam", "--output", "{t}/o", "--no-decontaminate"],
         "not found"),
        (["prepare", "--input", "{t}/empty.jsonl", "--format", "xlam", "--output", "{t}/o", "--no-decontaminate"],
         "the inputs hold no record"),
        (["score", "--outputs", "{d}"], "is a folder"),
        (["score", "--outputs", "{t}/latin1.jsonl", "--samples", "{d}"], "folder"),
        (["score", "--outputs", "{t}/empty.jsonl"], "no output lines"),
        (["eval", "--model", "m", "--output", "{t}/e", "--samples", "{d}"], "folder"),
        (["eval", "--model", "m", "--output", "{t}/e", "--samples", "{t}/empty.jsonl"], "no usable sample"),
        (["report", "{d}"], "results.json not found"),
    ],
    ids=["prepare-dir", "prepare-missing", "prepare-empty", "score-dir", "score-samples-dir", "score-empty",
         "eval-samples-dir", "eval-empty-samples", "report-not-a-run"],
)  # fmt: skip
def test_whole_file_problems_are_one_line(args, fragment, tmp_path):
    data_dir = tmp_path / "folder"
    data_dir.mkdir()
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"id": "x", "output": "caf\xe9"}\n')
    proc = funrl(*[a.format(d=data_dir, t=tmp_path) for a in args])
    err = proc.stderr.strip()
    assert proc.returncode != 0 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert fragment in last and last.startswith(f"funrl {args[0]}: error:"), err


def test_train_with_a_dataset_that_is_not_there_fails_before_loading(tmp_path, capsys):
    """`dataset_name: my_data` is neither a local path nor a Hub id: one line at once, no Hub retries, no model."""
    from funrl.train import main

    args = ["--dataset_name", "my_data", "--model_name_or_path", "funrl-tiny", "--output_dir", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--use_cpu", "true", "--bf16", "false"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "funrl train: error: dataset_name='my_data'" in err
    assert not (tmp_path / "r" / "tiny-model").exists()  # nothing was built or loaded


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    from funrl import cli

    class Boom:
        @staticmethod
        def main(argv):
            raise KeyError("boom")

    monkeypatch.setitem(cli.COMMANDS, "boom", ("builtins", ""))
    monkeypatch.setattr("importlib.import_module", lambda name: Boom)
    monkeypatch.setenv("FUNRL_TRACEBACK", "0")  # restored at teardown, also after `--debug` sets it
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "funrl boom: error: KeyError: 'boom'" in err and "--debug" in err
    with pytest.raises(KeyError):
        cli.main(["--debug", "boom"])


# ---------------------------------------------------------------------------------------------------
# Kills during the write of a multi-file output


WRITER = """
import sys
from funrl.atomic import write_set
tag, size = sys.argv[2], int(sys.argv[3])
write_set(sys.argv[1], {f"{name}.jsonl": [f"{tag} {i}\\n" for i in range(size)] for name in ("a", "b", "c", "d")})
"""


def state(folder: Path) -> set[str]:
    """The tags the set's files hold: one tag when the set is whole."""
    tags = set()
    for name in ("a", "b", "c", "d"):
        path = folder / f"{name}.jsonl"
        text = path.read_text() if path.exists() else "MISSING 0\n"
        tags |= {line.split()[0] for line in text.splitlines()}
    return tags


def test_a_kill_at_any_point_leaves_the_old_set_or_the_new_one(tmp_path):
    folder = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", WRITER, str(folder), "first", "50000"], env=env, check=True)
    duration = time.monotonic() - start  # a whole run, start-up included: kills are spread over it
    (folder / "judge_cache.jsonl").write_text("kept across sets\n")
    seen = {"first"}
    for k, share in enumerate([0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2]):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), f"run{k}", "50000"], env=env)
        time.sleep(duration * share)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        clean_stale(folder)
        tags = state(folder)
        assert len(tags) == 1 and "MISSING" not in tags, (share, tags)  # never a mix, never a hole
        seen |= tags
        assert (folder / "judge_cache.jsonl").read_text() == "kept across sets\n"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no orphans
    # a run left alone switches its set in (on a loaded machine every kill above may land before the switch)
    subprocess.run([sys.executable, "-c", WRITER, str(folder), "last", "50000"], env=env, check=True)
    assert state(folder) == {"last"} and (folder / "judge_cache.jsonl").is_file(), seen


def test_write_set_refuses_a_folder_holding_folders(tmp_path):
    (tmp_path / "out" / "inner").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds folders"):
        write_set(tmp_path / "out", {"a.jsonl": "x\n"})
