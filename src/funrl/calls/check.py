"""The one checker entry: completion text + `Sample` -> `Verdict` (format followed? calls match? why not?).

The text is parsed once (`funrl.calls.parse`) and the decoded calls matched once (`funrl.calls.match`), with
BFCL's relevance rules. The reward (`funrl.rewards`), data validation (`funrl.data`) and the evaluator
(`funrl score`, `funrl eval`) all call `check_output`, so training, data and evaluation cannot disagree.

    from funrl.calls import check_output
    verdict = check_output("<think>t</think><answer>[area(base=10, height=5)]</answer>", sample, "funrl")
    verdict.format_ok, verdict.ok, verdict.reason, verdict.detail    # True, True, None, None
    ok, reason = verdict                                              # unpacks as (ok, reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funrl.calls.match import match_calls
from funrl.calls.parse import parse_calls

__all__ = ["Verdict", "check_output", "output_language"]


@dataclass(slots=True)  # not frozen: a frozen dataclass costs ~1 us more per check (measured), ~7% of the reward
class Verdict:
    """What the checker says about one completion.

    Args:
        ok (`bool`): whether the decoded calls pass BFCL's rules for the sample (whatever the template).
        reason (`str` or `None`): BFCL's error type when `ok` is False (`value_error:string`,
            `ast_decoder:decoder_failed`, `unsupported_language`, ...), else None.
        detail (`str` or `None`): a human-readable explanation (which parameter, which value; or the parser's
            reason when nothing decodes).
        format_ok (`bool`): whether the text follows its template strictly (`ParseResult.format_ok`).
        format_reason (`str` or `None`): the parser's reason code when `format_ok` is False (`tag_order`, ...).

    Unpacks as `(ok, reason)` and is truthy iff `ok`, like `MatchResult`.
    """

    ok: bool
    reason: str | None = None
    detail: str | None = None
    format_ok: bool = True
    format_reason: str | None = None

    def __iter__(self):
        return iter((self.ok, self.reason))

    def __bool__(self) -> bool:
        return self.ok


def output_language(sample: Any) -> str:
    """The language an output is decoded in: Python for (ir)relevance entries (as BFCL does), else the sample's."""
    return "python" if "relevance" in sample.category else sample.language


def check_output(text: str, sample: Any, fmt: str = "bfcl-prompt", *, underscore_to_dot: bool = False) -> Verdict:
    """Parse one completion once and match it against a `funrl.schema.Sample`, with BFCL's relevance rules.

    Args:
        text (`str`): the raw completion.
        sample (`Sample`): provides `tools`, `ground_truth`, `category` and `language`.
        fmt (`str`): parser format (`funrl`, `bfcl-prompt`, `qwen-fc`, `openai`; see `funrl.calls.parse_calls`).
            For `funrl` the calls come from the `<answer>` body.
        underscore_to_dot (`bool`): see `match_calls`.

    Irrelevance entries pass iff no call is decoded, live_relevance entries iff any non-empty call is; as in
    BFCL, those are decoded as Python whatever the sample's language. `ok` is on the decoded calls only (the
    evaluator is lenient); `format_ok` says whether the template was followed (the `funrl` reward needs both).
    """
    category = sample.category
    parsed = parse_calls(text, fmt, output_language(sample))
    fmt_ok, fmt_reason = parsed.format_ok, None if parsed.format_ok else (parsed.reason or "invalid")
    if "relevance" in category:  # also irrelevance: decided by match_calls on "any call decoded"
        result = match_calls(parsed.calls, [], sample.tools, category)
        return Verdict(result.ok, result.reason, result.detail, fmt_ok, fmt_reason)
    language = sample.language
    if parsed.reason == "unsupported_language":
        detail = f"decoding {language} needs funrl[bfcl-java] (tree-sitter)"
        return Verdict(False, "unsupported_language", detail, fmt_ok, fmt_reason)
    if parsed.reason == "no_call_found":  # BFCL's Java / JavaScript decoder returns a non-list here
        detail = "no call found in the source"
        return Verdict(False, "ast_decoder:decoder_wrong_output_format", detail, fmt_ok, fmt_reason)
    # Java / JavaScript types are read from BFCL's own function docs when the sample has them (element types)
    tools = sample.tools if language == "python" else (sample.meta or {}).get("bfcl_functions") or sample.tools
    result = match_calls(
        parsed.calls, sample.ground_truth, tools, category, language, underscore_to_dot=underscore_to_dot
    )
    detail = parsed.reason if parsed.calls is None and parsed.reason else result.detail
    return Verdict(result.ok, result.reason, detail, fmt_ok, fmt_reason)
