"""Shared vocabulary of the AST-validation rules: `Finding`, `ValidationConfig` and the rule-ID table.

Every rule of docs/data.md, "Validation rules" reports a `Finding(code, action, detail)` where `code` is the rule ID
(`"S7"`, `"T2"`, ...), a stable reason code, and `action` is `"reject"`, `"repair"` or `"warn"`. The rule
modules (`rules_schema`, `rules_values`, `rules_calls`) and `funrl.data.validate` import from here; user code
imports `ValidationConfig` and `Finding` from `funrl.data.validate`.

    from funrl.data.validate import ValidationConfig
    config = ValidationConfig(repair_names=True, default_policy="both")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from funrl.data.records import dataclass_from_dict

# Rule ID -> (funnel class, one-line description). The class decides the funnel column a rejection falls in.
RULES: dict[str, tuple[str, str]] = {
    "S2": ("schema", "tool names non-empty and unique; exact duplicate tools collapsed"),
    "S4": ("schema", "parameters is a JSON-Schema object (dict -> object)"),
    "S5": ("schema", "Python-style type strings mapped to JSON-Schema types; unknown types unconstrained"),
    "S6": ("schema", "required set decided (explicit `required` wins, else `, optional` suffixes)"),
    "S7": ("schema", "required is a subset of properties; no empty property name"),
    "S8": ("schema", "enum values and defaults have the declared type"),
    "S9": ("schema", "parameters pass the JSON-Schema 2020-12 meta-schema"),
    "S10": ("schema", "tool description present"),
    "P5": ("parse", "target survives render -> parse -> match with the project parser and matcher"),
    "P7": ("parse", "no positional arguments in a pythonic target"),
    "P8": ("parse", "reasoning/answer wrappers of a target text appear once each, in order"),
    "P9": ("parse", "no duplicate key in a JSON object of a target text"),
    "C1": ("calls", "every called function is in the sample's tool list"),
    "C2": ("calls", "each call is one function with its arguments"),
    "C3": ("calls", "arguments are an object of allowed-value lists"),
    "C4": ("calls", "all required parameters present"),
    "C5": ("calls", "no argument outside the schema's properties"),
    "C6": ("calls", "call count matches target kind; category matches the calls"),
    "C7": ("calls", "identical duplicate parallel calls"),
    "C8": ("calls", "no argument refers to another call's result"),
    "R1": ("calls", "a no-call sample offers at least one tool"),
    "R2": ("calls", "synthesized irrelevance keeps no near-duplicate of a removed tool"),
    "T1": ("types", "arguments validate against the parameter schema"),
    "T2": ("types", "lossless type coercion"),
    "T3": ("types", "canonical numbers (integer -> int, number -> float)"),
    "T4": ("types", "nested arrays/objects validate recursively"),
    "V1": ("types", "enum membership (unique case-folded match repaired)"),
    "V2": ("types", "placeholder values ('', null, 'None', 'N/A', 'unknown')"),
    "V3": ("types", "optional parameter equal to its default"),
    "V4": ("types", "format hints (date, date-time, email, uri, pattern)"),
    "V5": ("types", "string value not grounded in the conversation (possibly_hallucinated)"),
    "V6": ("types", "leading/trailing whitespace trimmed from string values"),
    "D1": ("dedup", "exact duplicate (conversation, tool names, target)"),
    "D2": ("dedup", "near-duplicate user text over the per-cluster cap"),
    "D3": ("dedup", "user text matches a BFCL question (decontamination)"),
}


@dataclass(frozen=True)
class Finding:
    """One rule outcome on one sample.

    Args:
        code (`str`): the rule ID (a key of `RULES`), used as the stable reason code.
        action (`str`): `"reject"`, `"repair"` or `"warn"`.
        detail (`str`): what was found, naming the function/parameter concerned.
    """

    code: str
    action: str
    detail: str

    def to_audit(self) -> dict[str, str]:
        """The `meta["audit"]` entry of this finding: `{"rule", "action", "detail"}`."""
        return {"rule": self.code, "action": self.action, "detail": self.detail}


@dataclass
class ValidationConfig:
    """Per-source actions of the AST-validation rules (docs/data.md, "Validation rules"). Defaults are lossless.

    Args:
        repair_names (`bool`, *optional*, defaults to `False`):
            C1: repair a called name that matches exactly one tool case-insensitively or with `.`<->`_`.
        default_makes_optional (`bool`, *optional*, defaults to `False`):
            S6: without an explicit `required`, a parameter with a `default` counts as optional.
        default_policy (`str`, *optional*, defaults to `"omit"`):
            V3: an optional argument equal to its declared default is `"omit"`-ted from the target, allowed
            `"both"` ways (`[value, ""]`, BFCL style) or `"keep"`-ed as is.
        format_action (`str`, *optional*, defaults to `"warn"`):
            V4: `"warn"` or `"reject"` when a value breaks a `format` or `pattern` hint.
        coerce_number_to_string (`bool`, *optional*, defaults to `False`):
            T2: allow a number where the schema wants a string (lossy for formatting; off by default).
        placeholder_values (`tuple[str, ...]`, *optional*):
            V2: strings (compared case-insensitively) treated like `null` for a parameter.
        grounding_min_length (`int`, *optional*, defaults to `4`):
            V5: string values at least this long must appear in the conversation, a default or an enum.
        check_grounding (`bool`, *optional*, defaults to `True`):
            V5: run the grounding precheck (warnings only; they feed the LLM judge).
        recompute_category (`bool`, *optional*, defaults to `True`):
            C6: set `category` from the calls (simple / multiple / parallel / parallel_multiple / irrelevance).
        check_reward_roundtrip (`bool`, *optional*, defaults to `True`):
            P5/P8: render the target in the FunRL template and score it with the project parser and matcher;
            a target the reward cannot score 1.0 is rejected.
        think_text (`str`, *optional*, defaults to `"..."`):
            Reasoning text used when rendering a target for the round trip.
    """

    repair_names: bool = field(default=False, metadata={"help": "C1: repair case / '.'<->'_' name mismatches."})
    default_makes_optional: bool = field(
        default=False, metadata={"help": "S6: a `default` alone makes a parameter optional (xLAM-style tools)."}
    )
    default_policy: str = field(
        default="omit", metadata={"help": "V3: optional argument equal to its default: omit | both | keep."}
    )
    format_action: str = field(default="warn", metadata={"help": "V4: warn | reject on format/pattern failures."})
    coerce_number_to_string: bool = field(
        default=False, metadata={"help": "T2: allow number -> string coercion (off: lossless only)."}
    )
    placeholder_values: tuple[str, ...] = field(
        default=("", "none", "null", "n/a", "unknown"),
        metadata={"help": "V2: case-insensitive stand-in values rejected for required parameters."},
    )
    grounding_min_length: int = field(
        default=4, metadata={"help": "V5: minimum length of a string value checked for grounding."}
    )
    check_grounding: bool = field(default=True, metadata={"help": "V5: flag ungrounded string values (warn)."})
    recompute_category: bool = field(default=True, metadata={"help": "C6: derive `category` from the calls."})
    check_reward_roundtrip: bool = field(
        default=True, metadata={"help": "P5/P8: the rendered target must score 1.0 with the project matcher."}
    )
    think_text: str = field(default="...", metadata={"help": "Reasoning text used in the round-trip rendering."})

    def __post_init__(self) -> None:
        if self.default_policy not in ("omit", "both", "keep"):
            raise ValueError(f"default_policy must be 'omit', 'both' or 'keep', got {self.default_policy!r}")
        if self.format_action not in ("warn", "reject"):
            raise ValueError(f"format_action must be 'warn' or 'reject', got {self.format_action!r}")
        self.placeholder_values = tuple(str(v).lower() for v in self.placeholder_values)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "validation") -> ValidationConfig:
        """Build from a YAML mapping; an unknown key raises `ValueError` listing the valid ones."""
        return dataclass_from_dict(cls, values, where)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["placeholder_values"] = list(self.placeholder_values)
        return out
