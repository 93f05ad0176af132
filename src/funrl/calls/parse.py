"""The one parser: a completion's text -> calls in BFCL's decoded form, with a strict format verdict.

Usage:
    >>> from funrl.calls import parse_calls
    >>> r = parse_calls("<think>Paris weather.</think><answer>[get_weather(city='Paris')]</answer>")
    >>> r.calls, r.format_ok, r.reason, r.think
    ([{'get_weather': {'city': 'Paris'}}], True, None, 'Paris weather.')

Formats (`FORMATS`):

- `"funrl"`: `<think>…</think><answer>[f(a=1), g.h(b='x')]</answer>`. `format_ok` iff each of the four tags
  appears exactly once, in that order, with only whitespace outside them, and the answer body is a Python
  list of calls (possibly empty: a no-call / irrelevance answer is `<answer>[]</answer>`). `calls` is the
  body of the first `<answer>…</answer>` pair (the first `<answer>` and the next `</answer>`) decoded exactly like
  BFCL prompt mode whenever there is one, even when another rule of the template fails (the evaluator is lenient, the reward is strict); None without an answer pair.
- `"bfcl-prompt"`: bare BFCL prompt-mode output, decoded like bfcl-eval's prompt-mode decoder
  (`funrl.calls.decode`); `format_ok` iff it decodes.
- `"qwen-fc"`: `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` blocks, decoded like BFCL's
  Qwen FC handler (blocks that are not JSON are skipped). Text without any block is a no-call answer.
- `"openai"`: a JSON list of `tool_calls` (`{"function": {"name", "arguments"}}`, arguments a JSON string
  or object), or an object with a `tool_calls` key.

Java / JavaScript (`language="java"|"javascript"`) are decoded with BFCL's tree-sitter grammars
(`funrl.calls.treesitter`, optional extra `funrl[bfcl-java]`); without them the reason is `unsupported_language`.
Nothing here raises on any text; reasons are the stable codes of `REASONS`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from funrl.calls.decode import MAX_CALLS, MAX_CODE_CHARS, MAX_DEPTH, bracket_depth, decode_prompt

# the formats a model is prompted and trained in (`funrl.template` renders them), then every parsable format
TEMPLATE_FORMATS = ("funrl", "bfcl-prompt", "qwen-fc")
FORMATS = (*TEMPLATE_FORMATS, "openai")
LANGUAGES = ("python", "java", "javascript")
MAX_TEXT_CHARS = 1_000_000  # whole completion (think text included)

REASONS = {
    # decoding: the official decoder raises here too (BFCL's `ast_decoder:decoder_failed`)
    "syntax_error": "not valid Python / JSON",
    "not_a_call": "not a list of calls (an element is not a call, or the JSON has the wrong shape)",
    "unsupported_value": "an argument value BFCL's decoder rejects (lambda, attribute, set, f-string, -x on a name...)",
    "eval_error": "a literal arithmetic expression that raises (1/0, 'a' - 1...)",
    # safety bounds and safety refusals (BFCL would decode these, or hang; calls is None)
    "input_too_long": f"more than {MAX_CODE_CHARS} characters to decode (or {MAX_TEXT_CHARS} in all)",
    "too_deep": f"nesting deeper than {MAX_DEPTH}",
    "too_many_calls": f"more than {MAX_CALLS} calls",
    "literal_too_large": "a number, string or list literal (or computed value) beyond the bounds",
    "unsafe_expression": "arithmetic on something other than literals (names, calls...): never evaluated",
    "unsupported_language": "Java / JavaScript decoding needs the tree-sitter packages (funrl[bfcl-java])",
    "no_call_found": "Java / JavaScript: no call in the source (BFCL: decoder_wrong_output_format)",
    "repeated_argument": "Java / JavaScript: an argument name given twice (the official decoder raises)",
    "not_text": "the completion is not a string",
    "internal_error": "a bug in the parser (please report)",
    # template (format_ok is False; calls may still be decoded)
    "no_answer": "funrl: no <answer>…</answer> pair",
    "tag_count": "funrl: a tag does not appear exactly once",
    "tag_order": "funrl: tags not in the order <think></think><answer></answer>",
    "text_outside_tags": "funrl: non-whitespace text outside the think and answer blocks",
    "answer_not_list": "funrl: the answer body is not literally a Python list `[...]`",
    "bad_tool_call_block": "qwen-fc: a <tool_call> block that is not JSON (skipped, as BFCL does)",
    "text_outside_blocks": "qwen-fc: text besides the <tool_call> blocks (and a leading think block)",
}
# reasons with calls=None that BFCL reports as `ast_decoder:decoder_failed` (everything with calls=None)
DECODE_FAILURES = frozenset(REASONS) - {
    "no_answer",
    "tag_count",
    "tag_order",
    "text_outside_tags",
    "answer_not_list",
    "bad_tool_call_block",
    "text_outside_blocks",
}

_THINK, _END_THINK, _ANSWER, _END_ANSWER = "<think>", "</think>", "<answer>", "</answer>"
_OPEN_CALL, _CLOSE_CALL = "<tool_call>\n", "\n</tool_call>"


@dataclass(frozen=True)
class ParseResult:
    """What `parse_calls` found in one completion.

    Args:
        calls: BFCL's decoded form `[{name: {arg: value}}]`; `[]` for an answer without calls; None when
            nothing decodable.
        format_ok: whether the text follows the requested format strictly.
        reason: stable code (`REASONS`) when `format_ok` is False, else None.
        think: the chain-of-thought text (funrl template, or a leading think block in qwen-fc), else None.
        notes: BFCL decoding quirks applied, e.g. `positional_args_dropped`, `binop_evaluated`,
            `bare_name_as_string`, `call_as_string` (see docs/parsing.md for the list).
    """

    calls: list[dict] | None
    format_ok: bool
    reason: str | None = None
    think: str | None = None
    notes: tuple[str, ...] = ()


def parse_calls(text: str, fmt: str = "funrl", language: str = "python") -> ParseResult:
    """Parse one completion. Never raises on any `text`; bounded time and memory.

    Args:
        text: the raw completion.
        fmt: one of `FORMATS`.
        language: "python", or "java" / "javascript" (BFCL simple_java / simple_javascript).

    Returns:
        `ParseResult`.

    Raises:
        ValueError: only for an unknown `fmt` or `language` (a programming error, not a text problem).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; valid languages: {', '.join(LANGUAGES)}")
    if not isinstance(text, str):
        return ParseResult(None, False, "not_text")
    if len(text) > MAX_TEXT_CHARS:
        return ParseResult(None, False, "input_too_long")
    try:
        if fmt == "qwen-fc":
            return _parse_qwen_fc(text)
        if fmt == "openai":
            return _parse_openai(text)
        decode = decode_prompt if language == "python" else functools.partial(_decode_source, language=language)
        if fmt == "bfcl-prompt":
            d = decode(text)
            return ParseResult(d.calls, d.reason is None, d.reason, None, d.notes)
        return _parse_funrl(text, decode)
    except Exception:  # pragma: no cover - defensive: the parsers above report failures as reasons
        return ParseResult(None, False, "internal_error")


def _decode_source(text: str, language: str):
    from funrl.calls.treesitter import decode_source  # tree-sitter is imported on first use only

    return decode_source(text, language)


def _parse_funrl(text: str, decode=decode_prompt) -> ParseResult:
    t0 = text.find(_THINK)
    t1 = text.find(_END_THINK, t0 + len(_THINK)) if t0 >= 0 else -1
    think = text[t0 + len(_THINK) : t1].strip() if t1 >= 0 else None
    a0 = text.find(_ANSWER)
    a1 = text.find(_END_ANSWER, a0 + len(_ANSWER)) if a0 >= 0 else -1
    if a1 < 0:
        return ParseResult(None, False, "no_answer", think)
    body = text[a0 + len(_ANSWER) : a1]
    if len(body) > MAX_CODE_CHARS:
        return ParseResult(None, False, "input_too_long", think)
    d = decode(body)
    if d.reason == "unsupported_language":
        return ParseResult(None, False, d.reason, think)
    if any(text.count(tag) != 1 for tag in (_THINK, _END_THINK, _ANSWER, _END_ANSWER)):
        reason = "tag_count"
    elif not (0 <= t0 and t1 >= 0 and t1 + len(_END_THINK) <= a0):
        reason = "tag_order"
    elif text[:t0].strip() or text[t1 + len(_END_THINK) : a0].strip() or text[a1 + len(_END_ANSWER) :].strip():
        reason = "text_outside_tags"
    elif d.reason is not None:
        reason = d.reason
    elif not (body.strip().startswith("[") and body.strip().endswith("]")):
        reason = "answer_not_list"
    else:
        reason = None
    return ParseResult(d.calls, reason is None, reason, think, d.notes)


def _loads(code: str):
    """json.loads with the size and depth bounds; raises ValueError with a reason code."""
    if len(code) > MAX_CODE_CHARS:
        raise ValueError("input_too_long")
    if bracket_depth(code) > MAX_DEPTH:
        raise ValueError("too_deep")
    try:
        return json.loads(code)
    except Exception:
        raise ValueError("syntax_error") from None


def _tool_call_blocks(text: str) -> list[tuple[int, int, str]]:
    """(start, end, body) of each `<tool_call>\\n…\\n</tool_call>` block, as a lazy DOTALL regex finds them."""
    blocks, pos = [], 0
    while True:
        i = text.find(_OPEN_CALL, pos)
        if i < 0:
            return blocks
        j = text.find(_CLOSE_CALL, i + len(_OPEN_CALL))
        if j < 0:
            return blocks
        blocks.append((i, j + len(_CLOSE_CALL), text[i + len(_OPEN_CALL) : j]))
        pos = j + len(_CLOSE_CALL)


def _parse_qwen_fc(text: str) -> ParseResult:
    think = None
    if _END_THINK in text:
        think = text.split(_END_THINK)[0].rstrip("\n").split(_THINK)[-1].lstrip("\n")
    blocks = _tool_call_blocks(text)
    if len(blocks) > MAX_CALLS:
        return ParseResult(None, False, "too_many_calls", think)
    items, reason, notes = [], None, []
    for _, _, body in blocks:
        try:
            items.append(_loads(body))
        except ValueError as e:
            if str(e) != "syntax_error":  # a bound, not a JSON error: refuse the whole output
                return ParseResult(None, False, str(e), think)
            reason = reason or "bad_tool_call_block"
            if "tool_call_block_skipped" not in notes:
                notes.append("tool_call_block_skipped")
    calls = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item or not isinstance(item.get("arguments"), dict):
            return ParseResult(None, False, "not_a_call", think, tuple(notes))
        try:
            calls.append({item["name"]: dict(item["arguments"])})
        except TypeError:  # unhashable name
            return ParseResult(None, False, "not_a_call", think, tuple(notes))
    if reason is None:
        reason = _qwen_layout_reason(text, blocks)
    return ParseResult(calls, reason is None, reason, think, tuple(notes))


def _qwen_layout_reason(text: str, blocks: list[tuple[int, int, str]]) -> str | None:
    """Strict layout: an optional reasoning part ending with `</think>`, then only blocks and whitespace."""
    think_end = text.find(_END_THINK)
    pos = think_end + len(_END_THINK) if think_end >= 0 else 0
    if blocks and blocks[0][0] < pos:
        return "text_outside_blocks"  # a tool call inside the reasoning
    rest = []
    for start, end, _ in blocks:
        rest.append(text[pos:start])
        pos = end
    rest.append(text[pos:])
    outside = "".join(rest)
    if "<tool_call>" in outside or "</tool_call>" in outside:
        return "bad_tool_call_block"
    if blocks and outside.strip():
        return "text_outside_blocks"
    return None


def _parse_openai(text: str) -> ParseResult:
    try:
        obj = _loads(text.strip())
    except ValueError as e:
        return ParseResult(None, False, str(e))
    if isinstance(obj, dict):
        if "tool_calls" not in obj:
            return ParseResult(None, False, "not_a_call")
        obj = obj["tool_calls"] if obj["tool_calls"] is not None else []
    if not isinstance(obj, list):
        return ParseResult(None, False, "not_a_call")
    if len(obj) > MAX_CALLS:
        return ParseResult(None, False, "too_many_calls")
    calls = []
    for item in obj:
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or "arguments" not in fn:
            return ParseResult(None, False, "not_a_call")
        args = fn["arguments"]
        if isinstance(args, str):
            try:
                args = _loads(args) if args.strip() else {}
            except ValueError as e:
                return ParseResult(None, False, str(e))
        if not isinstance(args, dict):
            return ParseResult(None, False, "not_a_call")
        calls.append({fn["name"]: args})
    return ParseResult(calls, True, None)
