"""The fast decoder (`funrl.calls.fastpath`) against the full `ast` decoder: identical results, always.

`decode_prompt(text)` tries the fast path first; `decode_prompt(text, fast=False)` never does. Both must return
the same calls (compared with their exact types: `1`, `1.0` and `True` differ), reason and notes on the golden
corpus (every perturbed output of every BFCL entry), the decoder's recorded corpus (ground truths, mutations,
quirks, fuzz), the hostile corpus, and hypothesis-generated call lists written in many surface styles.
"""

from __future__ import annotations

import gzip
import json
import keyword
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from perturbations import outputs_for
from test_calls_parse import read_hostile

from funrl.bfcl import load_bfcl
from funrl.calls.decode import decode_prompt
from funrl.calls.fastpath import MAX_FAST_DEPTH, MAX_REJECT_CHARS, fast_decode, surely_syntax_error

DATA = Path(__file__).parent / "data"


def typed(value):
    """A structure that compares equal only when types match too (1 != 1.0 != True, list != tuple)."""
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def same(text: str) -> tuple[bool, bool]:
    """(fast and full decoders agree, the fast path decided) for one text."""
    fast, full = decode_prompt(text), decode_prompt(text, fast=False)
    agree = (typed(fast.calls), fast.reason, fast.notes) == (typed(full.calls), full.reason, full.notes)
    return agree, _decided(text)


def _decided(text: str) -> bool:
    code = text.strip("`\n ")
    code = code if code.startswith("[") else "[" + code
    code = code if code.endswith("]") else code + "]"
    return fast_decode(code) is not None


# --- (text, fast path decides?, why) -------------------------------------------------------------------------------
CASES = [
    ("[f(a=1, b='x')]", True, "plain call list"),
    ("[a.b.c(x=-1.5e3, y=[1, 2.0, None], z={'k': True, 2: [False]})]", True, "dotted name, nested literals"),
    ('[f(a="it\'s")]', True, "double-quoted string with a single quote"),
    ("[f(a=1,), g(),]", True, "trailing commas"),
    ("[f(\n  a = 1 ,\n\tb = - 2 )]", True, "whitespace anywhere between tokens"),
    ("[f(a={})]", True, "empty dict"),
    ("[f(a=.5, b=1., c=1e5, d=00.5, e=0)]", True, "float spellings and zero"),
    ("[f(a=1, a=2)]", True, "repeated keyword: last value wins, as ast.parse accepts it"),
    ("[f(a='x\\n')]", False, "escapes go to ast"),
    ("[f(a=007)]", False, "leading zeros: a syntax error, ast says so"),
    ("[f(a=00)]", False, "00 is legal but rare"),
    ("[f(a=1_000)]", False, "underscores in numbers"),
    ("[f(a=0x1f)]", False, "hex"),
    ("[f(a=1j)]", False, "complex"),
    ("[f(a=+1)]", False, "unary plus is a quirk (minus)"),
    ("[f(a=--1)]", False, "double minus"),
    ("[f(a=-True)]", False, "minus on a bool"),
    ("[f(a=x)]", False, "bare name"),
    ("[f(1)]", False, "positional argument"),
    ("[f(a=(1, 2))]", False, "tuple"),
    ("[f(a=1+2)]", False, "arithmetic"),
    ("[f(a=u'x')]", False, "string prefix"),
    ("[f(a='a' 'b')]", False, "implicit concatenation"),
    ("[f(a='''x''')]", False, "triple quotes"),
    ("[f(a=1)] # c", False, "comment"),
    ("[f(a={[1]: 2})]", False, "unhashable key"),
    ("[f(a=g(b=1))]", False, "nested call"),
    ("[f(lambda=1)]", False, "keyword as a name"),
    ("[f(None=1)]", False, "constant as a name"),
    ("[f(é=1)]", False, "non-ASCII name (NFKC-normalised by Python)"),
    ("[f(a=٣)]", False, "non-ASCII digit"),
    ("[f(a='\ud800')]", False, "lone surrogate"),
    ("[f(a='x\ry')]", False, "carriage return inside a string"),
    ("[f(a=1)][0]", False, "subscript of the list"),
    ("[f(a=1)] + [g()]", False, "list arithmetic"),
    ("[f(a=1)", True, "closing bracket added by the preprocessing"),
    ("[" * (MAX_FAST_DEPTH + 5) + "]" * (MAX_FAST_DEPTH + 5), False, "deep nesting"),
    ("[f(a=" + "[" * (MAX_FAST_DEPTH - 2) + "]" * (MAX_FAST_DEPTH - 2) + ")]", True, "nesting within the bound"),
    ("[f(a=" + "[" * MAX_FAST_DEPTH + "]" * MAX_FAST_DEPTH + ")]", False, "nesting beyond the bound"),
]


# --- (text, known to be a syntax error without ast?, why) ----------------------------------------------------------
REJECT_CASES = [
    ("Here you go: [f(a=1)]", True, "prose before the call"),
    ("None of the provided functions can be used.", True, "prose instead of a call"),
    ("[f(a=1)] Done now", True, "prose after the call"),
    ("[f(a='x y z')]", False, "words inside a string"),
    ("[f(a=x if y else z)]", False, "keywords between names"),
    ("[f(a=not x, b=a is not b, c=a in b)]", False, "more keywords"),
    ("[f(a=[x for x in y])]", False, "comprehension"),
    ("[f(a=lambda x: x)]", False, "lambda"),
    ("[match x]", False, "soft keyword: left to ast"),
    ("['" + "''a'b c'd''" + "']", False, "triple quotes: the tokenizer would misread the inside"),
    ("[f(a='it\\'s a b')]", False, "backslash: left to ast"),
    ("[f(a=1)] # a b", False, "comment"),
    ("[f(a='x\ny z')]", False, "a quote that opens no one-line string"),
    ("[café bar]", False, "non-ASCII letters split names: not decided"),
    ("[a b" + " c" * MAX_REJECT_CHARS + "]", False, "too long to decide"),
    ("[a b" + "(" * 201 + "]", False, "too many brackets: the depth bound may answer first"),
]


@pytest.mark.parametrize(("text", "rejected", "why"), REJECT_CASES, ids=[c[2] for c in REJECT_CASES])
def test_surely_syntax_error(text, rejected, why):
    agree, _ = same(text)
    assert agree, why
    code = text if text.startswith("[") else "[" + text
    code = code if code.endswith("]") else code + "]"
    assert surely_syntax_error(code) == rejected, why
    if rejected:
        assert decode_prompt(text, fast=False).reason == "syntax_error"


@pytest.mark.parametrize(("text", "decides", "why"), CASES, ids=[c[2] for c in CASES])
def test_fast_path_scope(text, decides, why):
    agree, decided = same(text)
    assert agree, why
    assert decided == decides, why


def test_fast_path_equals_full_decoder_on_golden_corpus(bfcl_dir):
    texts = []
    for sample in load_bfcl(bfcl_dir, "single_turn"):
        if sample.language == "python":
            texts += [text for _, text in outputs_for(sample, "prompt")]
    assert len(texts) > 40_000
    decided, bad = 0, []
    for text in texts:
        agree, fast = same(text)
        decided += fast
        if not agree:
            bad.append(text[:200])
    print(f"golden corpus: fast path decides {decided}/{len(texts)}")
    assert not bad, f"{len(bad)} differ, e.g. {bad[:5]}"
    assert decided > 0.6 * len(texts)  # the corpus exercises the fast path, not only the fallback


def test_fast_path_equals_full_decoder_on_recorded_and_hostile_corpora():
    with gzip.open(DATA / "bfcl_decode_expected.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [json.loads(line).get("text") for line in handle]
    texts = [t for t in texts if t is not None] + read_hostile()
    bad = [t[:200] for t in texts if not same(t)[0]]
    assert not bad, f"{len(bad)} differ, e.g. {bad[:5]}"


# --- hypothesis: call lists in many surface styles -------------------------------------------------------------
_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(lambda s: not keyword.iskeyword(s))
_ws = st.sampled_from(["", " ", "  ", "\n", "\t", " \n "])
_str_body = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_scalars = st.one_of(
    st.integers(-(10**30), 10**30).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["True", "False", "None", "1e400", "-0", "-0.0", ".5", "5.", "1E-3", "007", "00", "1_0", "0x1"]),
    _str_body.map(repr),
    _str_body.map(lambda s: '"' + s + '"'),
    _str_body.map(lambda s: "'" + s + "'"),  # may be malformed on purpose (quotes, newlines, backslashes)
    _names,  # bare names
)


def _join(parts, ws, trailing):
    return ("," + ws).join(parts) + ("," if trailing and parts else "")


@st.composite
def _value(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(_scalars)
    ws, trailing = draw(_ws), draw(st.booleans())
    kind = draw(st.sampled_from(["list", "dict", "tuple", "neg"]))
    if kind == "neg":
        return "-" + ws + draw(_scalars)
    items = draw(st.lists(_value(depth + 1), max_size=3))
    if kind == "list":
        return "[" + ws + _join(items, ws, trailing) + ws + "]"
    if kind == "tuple":
        return "(" + _join(items, ws, trailing) + ")"
    keys = draw(st.lists(_scalars, min_size=len(items), max_size=len(items)))
    return "{" + _join([f"{k}{ws}:{ws}{v}" for k, v in zip(keys, items)], ws, trailing) + "}"


@st.composite
def _call_list(draw):
    ws = draw(_ws)
    calls = []
    for _ in range(draw(st.integers(0, 3))):
        name = ".".join(draw(st.lists(_names, min_size=1, max_size=3)))
        args = [f"{draw(_names)}{ws}={ws}{draw(_value())}" for _ in range(draw(st.integers(0, 3)))]
        if draw(st.integers(0, 9)) == 0:
            args.insert(0, draw(_value()))  # a positional argument
        calls.append(f"{name}{ws}({_join(args, ws, draw(st.booleans()))})")
    text = "[" + _join(calls, ws, draw(st.booleans())) + "]"
    if draw(st.integers(0, 9)) == 0:  # damage it: cut, or insert a character
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", ")", "(", ",", "'", "#", "\\", "=", "é"])) + text[cut:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_call_list())
def test_fast_path_equals_full_decoder_on_generated_call_lists(text):
    agree, _ = same(text)
    assert agree, text


@pytest.mark.slow
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_call_list())
def test_fast_path_equals_full_decoder_on_many_generated_call_lists(text):
    agree, _ = same(text)
    assert agree, text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[](){}=,:.-'\" \n\tab_1e0.5TrueNonx#\\é")), max_size=40))
def test_fast_path_equals_full_decoder_on_token_soup(text):
    agree, _ = same(text)
    assert agree, text


_WORDS = ["Here", "you", "go", ":", "[f(a=1)]", "f(a=1)", "if", "else", "not", "is", "in", "for", "lambda", "match",
          "x", "'a b'", '"c d"', "'''", "#", "\\", "(", ")", "[", "]", ",", "1", "None", "True", "é", "\n", "."]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=12), st.sampled_from([" ", "", "\n"]))
def test_fast_rejection_equals_full_decoder_on_word_salad(words, sep):
    agree, _ = same(sep.join(words))
    assert agree, sep.join(words)
