"""Judge prompts and verdicts: render a sample into chat messages from a replaceable template file, and
parse the judge's answer strictly into a `Verdict`.

Templates live in `src/funrl/data/prompts/` (`judge_evaluate.txt`, `judge_final.txt`); a `prompt_dir`
with files of the same names overrides them. A template has a free-text header (a comment), then a
`### system` and a `### user` section; `{{name}}` placeholders are filled per sample (see `PLACEHOLDERS`).
An unknown placeholder or a missing section is a `ValueError` naming the file.

    template = load_template("evaluate", prompt_dir=None)
    messages = template.render(sample, round_index=1)      # [{"role": "system", ...}, {"role": "user", ...}]
    verdict = parse_verdict(response_text)                 # Verdict, or raises VerdictError

The answer format (`VERDICT_SCHEMA`, also sent as a JSON-schema `response_format`):
`{"reasoning": str, "verdict": "pass"|"fail", "failure_type": null|<FAILURE_TYPES>, "fixable": bool,
"corrected_calls": null|[{"name": str, "arguments": {...}}]}`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funrl.data.records import calls_from_ground_truth

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"
TEMPLATE_FILES = {"evaluate": "judge_evaluate.txt", "final": "judge_final.txt"}
PLACEHOLDERS = ("tools", "conversation", "target", "flags", "category", "round")
FAILURE_TYPES = (
    "unsolvable",
    "wrong_function",
    "wrong_count",
    "hallucinated_value",
    "missing_info",
    "wrong_value",
    "bad_result",
)
VERDICT_KEYS = ("reasoning", "verdict", "failure_type", "fixable", "corrected_calls")
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "failure_type": {"anyOf": [{"type": "null"}, {"type": "string", "enum": list(FAILURE_TYPES)}]},
        "fixable": {"type": "boolean"},
        "corrected_calls": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "arguments": {"type": "object"}},
                        "required": ["name", "arguments"],
                    },
                },
            ]
        },
    },
    "required": list(VERDICT_KEYS),
    "additionalProperties": False,
}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"^###\s*(system|user)\s*$", re.MULTILINE)
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)


class VerdictError(ValueError):
    """The judge's answer is not a valid verdict; `code` is a short stable name of the problem."""

    def __init__(self, code: str, detail: str):
        self.code = code
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True)
class Verdict:
    """A parsed judge answer (see the module docstring)."""

    reasoning: str
    verdict: str
    failure_type: str | None
    fixable: bool
    corrected_calls: list[dict[str, Any]] | None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


@dataclass(frozen=True)
class Template:
    """A loaded judge prompt: `system` and `user` texts with `{{placeholder}}`s, and where it came from."""

    name: str
    path: str
    system: str
    user: str

    def render(self, sample: Any, round_index: int, max_field_chars: int = 2000) -> list[dict[str, str]]:
        """Chat messages for one `Sample` (context tool results and long texts cut at `max_field_chars`
        characters, for the judge prompt only)."""
        values = {
            "tools": "\n".join(_ordered_json(tool, ("name", "description", "parameters")) for tool in sample.tools)
            or "(no tools)",
            "conversation": render_conversation(sample.messages, max_field_chars),
            "target": render_target(sample.ground_truth),
            "flags": render_flags(sample.meta.get("audit") or []),
            "category": sample.category,
            "round": str(round_index),
        }

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

        return [{"role": "system", "content": fill(self.system)}, {"role": "user", "content": fill(self.user)}]


def load_template(name: str, prompt_dir: str | Path | None = None) -> Template:
    """Load `judge_<name>.txt` from `prompt_dir` if it has one, else the packaged default."""
    if name not in TEMPLATE_FILES:
        raise ValueError(f"unknown judge template {name!r}; valid: {', '.join(TEMPLATE_FILES)}")
    path = PROMPT_DIR / TEMPLATE_FILES[name]
    if prompt_dir is not None:
        candidate = Path(prompt_dir) / TEMPLATE_FILES[name]
        if candidate.is_file():
            path = candidate
        elif not Path(prompt_dir).is_dir():
            raise ValueError(f"prompt_dir {prompt_dir} is not a directory")
    text = path.read_text(encoding="utf-8")
    markers = list(_SECTION.finditer(text))
    if [m.group(1) for m in markers] != ["system", "user"]:
        found = [m.group(1) for m in markers]
        raise ValueError(f"{path}: expected one '### system' then one '### user' section, found {found}")
    sections = {
        "system": text[markers[0].end() : markers[1].start()],
        "user": text[markers[1].end() :],
    }
    for match in _PLACEHOLDER.finditer(text, markers[0].start()):
        if match.group(1) not in PLACEHOLDERS:
            line = text.count("\n", 0, match.start()) + 1
            valid = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
            raise ValueError(f"{path}:{line}: unknown placeholder {match.group(0)}; valid placeholders: {valid}")
    return Template(name, str(path), sections["system"].strip("\n"), sections["user"].strip("\n"))


def _ordered_json(obj: dict[str, Any], first: tuple[str, ...]) -> str:
    """One-line JSON of `obj` with the keys in `first` leading and everything else (nested values included) in
    sorted key order: the same text whatever key order the sample was read with, so cache keys are stable."""
    keys = [k for k in first if k in obj] + sorted(k for k in obj if k not in first)
    items = (
        f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(obj[k], ensure_ascii=False, sort_keys=True)}" for k in keys
    )
    return "{" + ", ".join(items) + "}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...[+{len(text) - limit} chars]"


def render_conversation(messages: list[dict[str, Any]], max_chars: int = 2000) -> str:
    """`[role] content` blocks; assistant tool calls as JSON; tool results and long texts truncated."""
    blocks = []
    for message in messages:
        role = str(message.get("role", "?"))
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, sort_keys=True)
        if content is None:
            text = ""
        if message.get("tool_calls"):
            calls = json.dumps(message["tool_calls"], ensure_ascii=False, sort_keys=True)
            text = f"{text}\ncalls: {calls}".strip()
        blocks.append(f"[{role}] {_cut(text, max_chars)}")
    return "\n".join(blocks) if blocks else "(empty)"


def render_target(ground_truth: list[dict[str, Any]]) -> str:
    """The candidate calls as a JSON list of `{name, arguments}`, or `NO CALL` for an empty target."""
    calls = calls_from_ground_truth(ground_truth)
    if not calls:
        return "NO CALL"
    return "[" + ", ".join(_ordered_json(call, ("name", "arguments")) for call in calls) + "]"


def render_flags(audit: list[Any]) -> str:
    lines = []
    for entry in audit:
        if isinstance(entry, dict):
            lines.append(f"{entry.get('rule', '?')} {entry.get('action', '')}: {entry.get('detail', '')}".strip())
        else:
            lines.append(str(entry))
    return "; ".join(lines) if lines else "none"


def _check_calls(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise VerdictError(
            "bad_corrected_calls", f"corrected_calls must be null or a list, got {type(value).__name__}"
        )
    for i, call in enumerate(value):
        if not isinstance(call, dict) or set(call) != {"name", "arguments"}:
            raise VerdictError("bad_corrected_calls", f"corrected_calls[{i}] must have exactly 'name' and 'arguments'")
        if not isinstance(call["name"], str) or not call["name"]:
            raise VerdictError("bad_corrected_calls", f"corrected_calls[{i}].name must be a non-empty string")
        if not isinstance(call["arguments"], dict):
            raise VerdictError("bad_corrected_calls", f"corrected_calls[{i}].arguments must be an object")
    return value


def parse_verdict(text: str | None) -> Verdict:
    """Parse a judge answer strictly. Accepted: one JSON object with exactly `VERDICT_KEYS`, optionally inside
    a single ```json fence and surrounding whitespace; nothing else. Raises `VerdictError` otherwise."""
    if text is None or not text.strip():
        raise VerdictError("empty", "the judge returned no content")
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise VerdictError("invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise VerdictError("not_object", f"expected a JSON object, got {type(data).__name__}")
    missing = [k for k in VERDICT_KEYS if k not in data]
    extra = sorted(set(data) - set(VERDICT_KEYS))
    if missing or extra:
        raise VerdictError("bad_keys", f"missing keys {missing}, unexpected keys {extra}")
    if not isinstance(data["reasoning"], str):
        raise VerdictError("bad_reasoning", "reasoning must be a string")
    if data["verdict"] not in ("pass", "fail"):
        raise VerdictError("bad_verdict", f"verdict must be 'pass' or 'fail', got {data['verdict']!r}")
    failure_type = data["failure_type"]
    if failure_type is not None and failure_type not in FAILURE_TYPES:
        raise VerdictError("bad_failure_type", f"failure_type {failure_type!r} is not one of {FAILURE_TYPES}")
    if not isinstance(data["fixable"], bool):
        raise VerdictError("bad_fixable", "fixable must be true or false")
    calls = None if data["corrected_calls"] is None else _check_calls(data["corrected_calls"])
    if data["verdict"] == "pass" and (failure_type is not None or calls is not None):
        raise VerdictError("inconsistent", "a 'pass' verdict must have failure_type and corrected_calls null")
    if data["verdict"] == "fail" and data["fixable"] and calls is None:
        raise VerdictError("inconsistent", "a fixable 'fail' verdict must give corrected_calls")
    return Verdict(data["reasoning"], data["verdict"], failure_type, data["fixable"], calls)
