"""The one parser and the one matcher: completion text -> calls -> verdict against BFCL-style ground truth.

Used by the reward (`funrl.rewards`), data validation (`funrl.data`) and the evaluator
(`funrl.evaluate`, `funrl score`), so training, data preparation and evaluation cannot disagree.
Pure Python: no torch, no eval/exec of model text.

Contract
--------
`parse_calls(text, fmt="funrl", language="python") -> ParseResult`
    fmt: "funrl" (`<think>…</think><answer>[f(a=1)]</answer>`), "bfcl-prompt" (bare `[f(a=1)]`, decoded
    with BFCL prompt-mode quirks), "qwen-fc" (`<tool_call>\\n{json}\\n</tool_call>` blocks) or "openai"
    (a JSON `tool_calls` list). `ParseResult.calls` is BFCL's decoded form `[{name: {arg: value}}]`
    (`None` when nothing decodable), `.format_ok` says whether the text follows the requested template
    strictly, `.reason` is a stable code when it does not, `.think` the CoT text, `.notes` the BFCL
    decoding quirks applied (e.g. positional arguments dropped).
    In the funrl template a no-call answer (irrelevance) is written `<answer>[]</answer>`.
    `language="java"|"javascript"` decodes with BFCL's tree-sitter grammars (extra `funrl[bfcl-java]`,
    imported on first use; without it the reason is `unsupported_language`). Plain Python call lists go
    through a fast path (`funrl.calls.fastpath`) proven equal to the full `ast` decoder.

`match_calls(calls, ground_truth, tools, category, language="python") -> MatchResult`
    Official BFCL AST-checker semantics for `calls` in decoded form against possible-answer
    `ground_truth`, normalised `tools` (see `funrl.schema`) and the BFCL `category`.
    `MatchResult.ok`, `.reason` (BFCL's error type, e.g. `simple_function_checker:missing_required`).
    Java / JavaScript values (source text) are converted by type as the official checker does
    (`funrl.calls.javajs`).

`check_output(text, sample, fmt) -> Verdict`
    The one checker entry (`funrl.calls.check`): parse once + match for one `Sample`, with BFCL's
    relevance/irrelevance rules. `Verdict.format_ok` / `.format_reason` (template followed?), `.ok`,
    `.reason`, `.detail` (calls match?).

`render_calls(calls, style="python") -> str`
    The inverse of the parser: `[{name: {arg: value}}]` -> `[f(a=1, b='x')]` (or JSON / `<tool_call>`).
"""

from funrl.calls.check import Verdict, check_output
from funrl.calls.match import MatchResult, match_calls
from funrl.calls.parse import FORMATS, TEMPLATE_FORMATS, ParseResult, parse_calls
from funrl.calls.render import render_calls

__all__ = [
    "FORMATS",
    "TEMPLATE_FORMATS",
    "MatchResult",
    "ParseResult",
    "Verdict",
    "check_output",
    "match_calls",
    "parse_calls",
    "render_calls",
]
