"""Target rules P5/P7/P8/P9: a kept sample's target is producible in the template and scores 1.0 with the reward.

* `check_roundtrip(sample, think, findings)`: renders the ground truth in the FunRL template
  (`funrl.template.render_target`, i.e. `funrl.calls.render_calls` of the first allowed values inside
  `<think>…</think><answer>…</answer>`, a no-call target as `<answer>[]</answer>`, rule R5) and scores it with
  `funrl.rewards.score_completion`, the training reward itself. Anything but 1.0 is a REJECT: P8 when the template
  is not followed, P5 when the parsed calls do not match (the matcher's reason is in the detail).
* `check_target_text(text, sample, findings)`: for samples that carry a raw target (`meta["target_text"]`, e.g. SFT
  data with a written chain of thought): P9 duplicate JSON keys in `<tool_call>` bodies, P7 positional arguments in
  pythonic calls, P8 template, P5 calls equal to the ground truth.

    findings = []
    check_roundtrip(sample, "...", findings)   # [] when the reward can score the sample's target 1.0
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from funrl.data.rules_base import Finding
from funrl.schema import Sample, base_category

_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def check_roundtrip(sample: Sample, think: str, findings: list[Finding]) -> None:
    """Reject (P8 / P5) a sample whose rendered ground truth does not get reward 1.0 (see the module docstring)."""
    if base_category(sample.category) == "relevance":
        return  # any call passes; there is no single target to render
    from funrl.calls import check_output, match_calls, parse_calls
    from funrl.template import render_target

    try:
        text = render_target(sample, "funrl", think=think)
    except (TypeError, ValueError, KeyError) as exc:
        hint = " (ToolACE-style names: set the reader option identifier_names)" if "identifier" in str(exc) else ""
        findings.append(Finding("P5", "reject", f"the target cannot be rendered as calls: {exc}{hint}"))
        return
    # the reward's own steps (funrl.rewards.score_completion): template check, then the matcher; the parse is
    # shared between the two (tests assert that kept samples score 1.0 with score_completion itself)
    parsed = parse_calls(text, "funrl", sample.language)
    if not parsed.format_ok:
        findings.append(
            Finding("P8", "reject", f"rendered target breaks the template ({parsed.reason}): {text[-300:]!r}")
        )
        return
    if "relevance" in sample.category:
        result = check_output(text, sample, "funrl")
    else:
        result = match_calls(parsed.calls, sample.ground_truth, sample.tools, sample.category, sample.language)
    if not result.ok:
        findings.append(
            Finding("P5", "reject", f"rendered target fails the matcher ({result.reason}): {text[-300:]!r}")
        )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise KeyError(key)
        out[key] = value
    return out


def _target_format(text: str) -> str:
    if "<tool_call>" in text:
        return "qwen-fc"
    if "<answer>" in text or "<think>" in text:
        return "funrl"
    return "bfcl-prompt"


def check_target_text(text: str, sample: Sample, findings: list[Finding]) -> None:
    """P9, P7, P8 and P5 on a raw target text (see the module docstring)."""
    fmt = _target_format(text)
    if fmt == "qwen-fc":
        for body in _TOOL_CALL_RE.findall(text):
            try:
                json.loads(body, object_pairs_hook=_no_duplicate_keys)
            except KeyError as exc:
                findings.append(Finding("P9", "reject", f"duplicate key {exc.args[0]!r} in a <tool_call> body"))
            except json.JSONDecodeError:
                pass  # P8 reports the unparsable block
    else:
        match = _ANSWER_RE.search(text) if fmt == "funrl" else None
        body = match.group(1) if match else text
        try:
            tree = ast.parse(body.strip() or "[]", mode="eval")
        except SyntaxError:
            tree = None  # P8 / P5 report it through the parser
        if tree is not None:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and node.args:
                    name = ast.unparse(node.func)
                    findings.append(Finding("P7", "reject", f"{name}: {len(node.args)} positional argument(s)"))
    if any(f.action == "reject" for f in findings):
        return
    from funrl.calls import check_output, parse_calls

    parsed = parse_calls(text, fmt, sample.language)
    if not parsed.format_ok:
        findings.append(Finding("P8", "reject", f"target text does not follow the {fmt} template ({parsed.reason})"))
        return
    result = check_output(text, sample, fmt)
    if not result.ok:
        findings.append(Finding("P5", "reject", f"target text calls do not match the ground truth ({result.reason})"))
