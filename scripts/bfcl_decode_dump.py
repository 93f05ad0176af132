"""Record the official BFCL decodings of a corpus of model outputs, for the parser's differential test.

Run with the checker's virtual environment (bfcl-eval installed, see scripts/setup_bfcl_checker.sh), from the
repository root:

    .venv-bfcl/bin/python scripts/bfcl_decode_dump.py --data-dir ../shared/bfcl_data \\
        --out tests/data/bfcl_decode_expected.jsonl.gz

The corpus: the ground truth of the Python single-turn categories rendered as model output by the official
tool's `gt` renderer (every `--stride`-th entry, prompt mode and Qwen FC mode), systematic mutations of those
renderings (fences, prose, missing brackets, positional arguments, arithmetic, bare names...), a hand-written
list of decoder quirks, random call-like texts (`--fuzz`, seeded), and tests/data/hostile_strings.txt (decoded in a forked child with a time and memory
limit, since the official decoder evaluates arithmetic with `eval`). Each output line:
`{"kind", "fmt": "prompt"|"qwen_fc", "text" (or "hostile": line index), "ok", "repr", "error"}` where `repr`
is `repr()` of the official decoded value and `error` the exception class when decoding raised
(`"timeout"` / `"killed"` when the child had to be stopped).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import pickle
import random
import re
import resource
import signal
import sys
from pathlib import Path

PYTHON_CATEGORIES = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
)

QUIRKS = [
    "[f(a=1, b='x', c=2.5, d=True, e=None, g=[1, 2], h={'k': 'v'})]",
    "f(a=1)",
    "f(a=1), g(b=2)",
    "[f(a=1), g.h(b='x'), a.b.c.d(e=1)]",
    "[]",
    "[f()]",
    "[f(1, 2, a=3)]",
    "[f(*xs, a=1)]",
    "[f(a=(1, 2), b=(), c=(1,))]",
    "[f(a={'k': 1, 'k': 2}, b={1: 'x', True: 'y'}, c={(1, 2): 3})]",
    "[f(a={'k': [1, {'j': (2,)}]})]",
    "[f(a=-1, b=-2.5, c=-True, d=-False, e=+7, f=~3, g=not 1, h=-0.0, i=-1j)]",
    "[f(a=5*2, b=1/3, c=2**10, d=7//2, e=7%3, f=1-5, g=2**-1, h=2.0**0.5)]",
    "[f(a='ab' + 'cd', b='ab' * 3, c=3 * 'x', d=[1] + [2], e=(1,) * 2, f=[0] * 0, g='x' * -1)]",
    "[f(a='%s-%d' % ('x', 3), b='%05.1f' % 2.25, c='%(k)s' % {'k': 1}, d=b'%d' % 5)]",
    "[f(a={1, 2} | {3}, b={'a': 1} | {'b': 2}, c=5 & 3, d=5 ^ 1, e=1 << 10, f=1024 >> 3)]",
    "[f(a=True + True, b=None + 1, c=[1] * 2.0, d=(1 + 2) * -3, e=-2 ** 2, f=2 * -3)]",
    "[f(a=-(2 ** 2))]",
    "[f(a=1 + 2j, b=1e308 * 10, c=10 ** -2, d=1e999)]",
    "[f(a=0.1 + 0.2, b=100 / 7, c=3 % -2, d=-7 // 2)]",
    "[f(a=foo, b=True_, c=none, d=null, e=true)]",
    "[f(a=datetime.now(), b=g(1, 2), c=str(5), d=g(x=1), e=h(1, y=2))]",
    "[f(a=g(x=h(y=1)), b=[g(x=1)], c={'k': g(x=1)})]",
    "[f(a=x[0], b=x[1:2], c=x['k'], d=x[1, 2], e=x[0][1], f=x[::2])]",
    "[f(a=..., b=[...])]",
    "[f(a=b'bytes', b=r'raw\\n', c='\\u00e9', d='''tri\nple''', e='a' 'b')]",
    "[f(a=0x1F, b=0o17, c=0b101, d=1_000, e=1e3, f=1E-3, g=.5, h=5.)]",
    "[f(a=math.pi)]",
    "[f(a={1, 2})]",
    "[f(a=[x for x in y])]",
    "[f(a=lambda: 1)]",
    "[f(a=1 < 2)]",
    "[f(a=x or y)]",
    "[f(a=f'x{y}')]",
    "[f(a=-x)]",
    "[f(a=-'s')]",
    "[f(a=-(1, 2))]",
    "[f(a=x + 1)]",
    "[f(a=1 / 0)]",
    "[f(a='a' - 'b')]",
    "[f(a=[1] @ [2])]",
    "[f(a={**d})]",
    "[f(a={[1]: 2})]",
    "[f(a={g(x=1): 2})]",
    "[f(**kw)]",
    "[f(a=1, **kw)]",
    "[f(a=1)][0]",
    "[f(a=1)] + [g()]",
    "[f(a=1)], [g()]",
    "[1, f(a=1)]",
    "['f(a=1)']",
    "'[f(a=1)]'",
    "```\n[f(a=1)]\n```",
    "```python\n[f(a=1)]\n```",
    "``` [f(a=1)] ```",
    "\n\n  [f(a=1)]  \n\n",
    "\t[f(a=1)]",
    "[f(a=1)]\r\n",
    "[f(a=1)]\n# done",
    "[f(a=1) # note\n]",
    "[f(a=1),]",
    "[f(\n    a=1,\n    b=2,\n)]",
    "[ f ( a = 1 ) ]",
    "Sure, calling now: [f(a=1)]",
    "[f(a=1)] I called f.",
    "<answer>[f(a=1)]</answer>",
    "[f(a=1)]]",
    "[[f(a=1)]",
    "[f(a=1)",
    "f(a=1)]",
    "None",
    "[None]",
    "I cannot help with that.",
    "[f(a='it''s')]",
    '[f(a="it\'s", b=\'say "hi"\')]',
    "[f(a='\u65e5\u672c', b='\U0001f600')]",
    "[\u00e9t\u00e9(a=1)]",
    "[f()(a=1)]",
    "[a[0].b(c=1)]",
    "['s'.join(a=1)]",
    "[(f)(a=1)]",
    "[f.g.h(a=1)(b=2)]",
    "[f(a=1, a=2)]",
    "[f(a=(b:=1))]",
    "[f(a=1 if x else 2)]",
    "[f(a=x.y.z)]",
    "[f(a=[1, 2][0])]",
    "[f(a=(1))]",
    "[f(a=((1, 2)))]",
    "[f(a=[1, -2, +3])]",
    "[f(a={'k': -1, 'j': 2 * 3})]",
    "[f(a=(2 + 3) * 4, b=2 + 3 * 4)]",
    "[f(a=-1 * 5, b=5 * -1)]",
    "[f(a=True * 3, b=False - 1)]",
    "[f(a=2 ** 100, b=-2 ** 63)]",
    "[f(a=10 ** 400 // 10 ** 399)]",
    "[f(a=1e308 + 1e308)]",
    "[f(a=(1, 2) + (3,), b=[[0] * 2] * 2)]",
    "[f(a='x' + str)]",
]

_FUZZ_ATOMS = [
    "1", "-1", "0", "2.5", "-0.5", "1e3", "True", "False", "None", "'x'", '"y z"', "''", "b'q'", "1j", "...",
    "foo", "a.b", "x[0]", "x[1:2]", "g()", "g(1)", "g(k=1)", "h(1, k='v')", "(1, 2)", "()", "(1,)", "[]", "{}",
    "{1, 2}", "lambda: 1", "f'a{b}'", "not 1", "~2", "+3", "-x", "-'s'", "1 < 2", "a or b", "[i for i in y]",
    "0x10", "1_000", "'%d' % 3", "'a' 'b'", "r'\\d'", "'\\u00e9'", "-(1)", "(-1)", "--1", "- 1", "len('ab')",
]  # fmt: skip
_FUZZ_OPS = [" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " & ", " | ", " ^ ", " >> ", " << ", " @ "]


def fuzz_texts(seed: int, n: int) -> list[str]:
    """Random call-like texts: nested values, operators, odd callees, `**kw`, missing brackets, fences, and a
    character-level mutation in one text out of five."""
    rng = random.Random(seed)

    def value(d=0):
        r = rng.random()
        if d > 2 or r < 0.45:
            return rng.choice(_FUZZ_ATOMS)
        if r < 0.6:
            return "[" + ", ".join(value(d + 1) for _ in range(rng.randint(0, 3))) + "]"
        if r < 0.7:
            return "{" + ", ".join(f"{value(d + 1)}: {value(d + 1)}" for _ in range(rng.randint(0, 2))) + "}"
        if r < 0.8:
            return "(" + ", ".join(value(d + 1) for _ in range(rng.randint(0, 3))) + ")"
        if r < 0.95:
            a, b = (value(d + 1), value(d + 1)) if rng.random() < 0.5 else rng.choices(_FUZZ_ATOMS[:14], k=2)
            return a + rng.choice(_FUZZ_OPS) + b
        return (
            rng.choice(["g", "m.n"]) + "(" + ", ".join(f"k{i}={value(d + 1)}" for i in range(rng.randint(0, 2))) + ")"
        )

    def argument():
        if rng.random() < 0.05:
            return "**kw"
        if rng.random() < 0.1:
            return value()
        return f"{rng.choice(['a', 'b', 'a', 'c'])}{'' if rng.random() < 0.9 else ' '}={value()}"

    def call():
        name = rng.choice(["f", "a.b", "a.b.c", "f_1", "\u00e9", "Math.max", "f()", "'s'.join", "x[0].y"])
        return f"{name}({', '.join(argument() for _ in range(rng.randint(0, 3)))})"

    out = []
    for _ in range(n):
        calls = ", ".join(call() for _ in range(rng.randint(0, 3)))
        s = rng.choice(
            ["[" + calls + "]", calls, "[" + calls, calls + "]", "```\n[" + calls + "]\n```", " [" + calls + "] \n"]
        )
        if rng.random() < 0.2:
            i = rng.randrange(len(s) + 1)
            s = (
                s[:i]
                + rng.choice(["", "(", ")", "[", "]", ",", "=", "'", " ", "\n", "`", "-", "*"])
                + s[i + rng.randint(0, 2) :]
            )
        out.append(s)
    return out


def _load_tool(path: str):
    spec = importlib.util.spec_from_file_location("bfcl_official_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_hostile(path: Path) -> list[str]:
    """The hostile texts: one JSON string, or {"parts": [[text, times], ...]}, per non-comment line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        value = json.loads(line)
        out.append(value if isinstance(value, str) else "".join(t * n for t, n in value["parts"]))
    return out


def prompt_mutations(s: str) -> list[str]:
    """Variants of a rendered `[f(a=1), ...]` output that exercise the decoder's quirks."""
    out = [
        s[1:-1],
        "```\n" + s + "\n```",
        "```python\n" + s + "\n```",
        "Here you go: " + s,
        "  " + s + " \n",
        "'" + s + "'",
        s.replace("=", " = "),
        s.replace(", ", ",\n    "),
        re.sub(r"^\[([\w.]+)\(", r"[\1(0, ", s, count=1),
        re.sub(r"=(\d+)([,)])", r"=\1*1\2", s, count=1),
        re.sub(r"=(\d+(?:\.\d+)?)([,)])", r"=-\1\2", s, count=1),
        re.sub(r"='([A-Za-z_]\w*)'", r"=\1", s, count=1),
        re.sub(r"\[([^\[\]]*)\]", r"(\1)", s[1:-1], count=1),
        s.replace("True", "true").replace("False", "false"),
    ]
    return [m for m in dict.fromkeys(out) if m != s]


def qwen_mutations(s: str) -> list[str]:
    first = s.split("\n</tool_call>")[0] + "\n</tool_call>"
    out = [
        "<think>\nLet me call it.\n</think>\n\n" + s,
        "Calling the tool.\n" + s,
        s.replace("<tool_call>\n", "<tool_call>"),
        s.replace("\n</tool_call>", "</tool_call>"),
        s.replace("}\n</tool_call>", "\n</tool_call>", 1),
        s.replace('"arguments": ', '"args": ', 1),
        s.replace('"name": ', '"function": ', 1),
        first + "\n<tool_call>\n[]\n</tool_call>",
        first + "\n<tool_call>\nnot json\n</tool_call>",
        s.replace("\n", "\r\n"),
        "```\n" + s + "\n```",
        s + s,
    ]
    return [m for m in dict.fromkeys(out) if m != s]


def official_decode(handler, text: str, fmt: str) -> dict:
    from bfcl_eval.constants.enums import ReturnFormat
    from bfcl_eval.utils import is_function_calling_format_output

    try:
        decoded = handler[fmt].decode_ast(text, language=ReturnFormat.PYTHON, has_tool_call_tag=False)
    except BaseException as e:  # noqa: BLE001 - every failure is a verdict here
        return {"ok": False, "repr": None, "error": type(e).__name__}
    if not is_function_calling_format_output(decoded):
        return {"ok": False, "repr": repr(decoded)[:200], "error": "wrong_output_format"}
    return {"ok": True, "repr": repr(decoded), "error": None}


def official_decode_isolated(handler, text: str, fmt: str, timeout_s: int = 3) -> dict:
    """official_decode in a forked child with a CPU-time and memory limit (for hostile inputs)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        vm_kib = int(re.search(r"VmSize:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
        limit = vm_kib * 1024 + (1 << 30)  # what the interpreter already maps + 1 GiB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (timeout_s, timeout_s + 1))
        try:
            result = official_decode(handler, text, fmt)
        except BaseException as e:  # noqa: BLE001
            result = {"ok": False, "repr": None, "error": type(e).__name__}
        with os.fdopen(write_fd, "wb") as f:
            f.write(pickle.dumps(result))
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if data:
        return pickle.loads(data)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL)
    return {"ok": False, "repr": None, "error": "timeout" if killed else "killed"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/bfcl_data")
    parser.add_argument("--tool", default="../shared/tools/bfcl_official_check.py")
    parser.add_argument("--hostile", default="tests/data/hostile_strings.txt")
    parser.add_argument("--stride", type=int, default=8, help="use every n-th ground-truth entry")
    parser.add_argument("--fuzz", type=int, default=1500, help="number of random call-like texts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="tests/data/bfcl_decode_expected.jsonl.gz")
    args = parser.parse_args(argv)

    tool = _load_tool(args.tool)
    handler = {"prompt": tool.make_handler("prompt"), "qwen_fc": tool.make_handler("qwen_fc")}
    records = []

    def add(kind, fmt, text, **extra):
        records.append({"kind": kind, "fmt": fmt, "text": text, **extra, **official_decode(handler, text, fmt)})

    for cat in PYTHON_CATEGORIES:
        questions = [json.loads(x) for x in open(Path(args.data_dir) / f"BFCL_v4_{cat}.json", encoding="utf-8")]
        answers = {
            a["id"]: a for a in map(json.loads, open(Path(args.data_dir) / "possible_answer" / f"BFCL_v4_{cat}.json"))
        }
        for q in questions[:: args.stride]:
            for fmt, mutate in (("prompt", prompt_mutations), ("qwen_fc", qwen_mutations)):
                text = tool.gt_to_output(cat, q, answers[q["id"]], fmt=fmt)
                add("gt", fmt, text, id=q["id"])
                for m in mutate(text):
                    add("mutation", fmt, m)
    for text in QUIRKS:
        add("quirk", "prompt", text)
    for text in fuzz_texts(args.seed, args.fuzz):  # operators can blow up under eval: decode in a child
        decode = official_decode_isolated if any(op in text for op in ("*", "<<")) else official_decode
        records.append({"kind": "fuzz", "fmt": "prompt", "text": text, **decode(handler, text, "prompt")})
    for i, text in enumerate(read_hostile(Path(args.hostile))):
        for fmt in ("prompt", "qwen_fc"):
            result = official_decode_isolated(handler, text, fmt)
            records.append({"kind": "hostile", "fmt": fmt, "hostile": i, **result})

    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds = {}
    for r in records:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"wrote {len(records)} records to {args.out}: {kinds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
