"""Stage 2 of data preparation: AST validation of one canonical `Sample` against its own tool schemas.

`validate_sample(sample, config)` applies the per-sample rules of docs/data.md, "Validation rules" (S2, S4-S10 on tools via
`rules_schema`; C1-C7 and R1/R2 on the calls via `rules_calls`; T1-T4, V1-V6 and C8 on argument values, with
`rules_values`; P5/P7/P8/P9 on the target via `rules_target`) and returns a
`ValidationResult(status, sample, findings)`:

* `status` is `"kept"` (no change), `"repaired"` (lossless fixes applied) or `"rejected"`;
* `sample` is a new `Sample` (the input is never mutated) whose `meta["audit"]` lists every repair and warning
  as `{"rule", "action", "detail"}`; `None` when rejected;
* `findings` are all `Finding(code, action, detail)`s, `code` being the rule ID (the stable reason code).

Rules run cheapest first (schemas, calls, values, then the reward round trip) and stop at the first group with a
REJECT. The last check (P5/P8) renders the ground truth in the FunRL template with `funrl.calls.render_calls` and
scores it with the reward's own parser and matcher (`funrl.calls`): a kept sample is one the reward can score
1.0. A sample may carry a raw target text in `meta["target_text"]` (FunRL template or `<tool_call>` JSON blocks);
then P7/P8/P9 check that text and its calls must equal the ground truth.

    from funrl.data.validate import ValidationConfig, validate_sample
    result = validate_sample(sample, ValidationConfig())
    if result.status != "rejected":
        keep(result.sample)
    else:
        print([f.code for f in result.findings if f.action == "reject"])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from funrl.data.rules_base import RULES, Finding, ValidationConfig
from funrl.data.rules_calls import check_calls, check_count, check_relevance
from funrl.data.rules_schema import ToolChecker
from funrl.data.rules_values import DROP, ValueContext, check_value
from funrl.schema import Sample

__all__ = [
    "RULES",
    "Finding",
    "ValidationConfig",
    "ValidationResult",
    "Validator",
    "validate_sample",
]


@dataclass
class ValidationResult:
    """The outcome of `validate_sample` (see the module docstring)."""

    status: str
    sample: Sample | None
    findings: list[Finding]

    @property
    def reasons(self) -> list[str]:
        """Rule IDs of the REJECT findings, in order, without repeats."""
        return list(dict.fromkeys(f.code for f in self.findings if f.action == "reject"))


def _first_values(args: dict[str, list[Any]]) -> dict[str, Any]:
    """One concrete argument dict from allowed-value lists (first value other than BFCL's omission marker `""`)."""
    out = {}
    for arg, allowed in args.items():
        for value in allowed:
            if not (isinstance(value, str) and value == ""):
                out[arg] = value
                break
    return out


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class Validator:
    """A reusable validator: holds the config and the per-tool cache. `Validator(config)(sample)` validates."""

    def __init__(self, config: ValidationConfig | None = None):
        self.config = config or ValidationConfig()
        self.tools = ToolChecker(self.config)

    def __call__(self, sample: Sample) -> ValidationResult:
        findings: list[Finding] = []
        out = self._run(sample, findings)
        if any(f.action == "reject" for f in findings):
            return ValidationResult("rejected", None, findings)
        meta = dict(sample.meta)
        audit = list(meta.get("audit") or [])
        # a sample validated again (a judge correction) does not repeat the notes it already carries
        seen = {(a.get("rule"), a.get("action"), a.get("detail")) for a in audit if isinstance(a, dict)}
        notes = [f.to_audit() for f in findings if (f.code, f.action, f.detail) not in seen]
        if notes:
            meta["audit"] = [*audit, *notes]
        out.meta = meta
        status = "repaired" if any(f.action == "repair" for f in findings) else "kept"
        return ValidationResult(status, out, findings)

    def judge_callback(self, sample: Sample) -> tuple[Sample | None, list[str]]:
        """The `validate` callback of `funrl.data.judge.run_judge`: (repaired sample or None, reason codes)."""
        result = self(sample)
        if result.status == "rejected":
            return None, result.reasons
        return result.sample, list(dict.fromkeys(f.code for f in result.findings if f.action == "repair"))

    # ------------------------------------------------------------------------------------------------

    def _run(self, sample: Sample, findings: list[Finding]) -> Sample | None:
        checks, tools = self._check_tools(sample.tools, findings)
        if any(f.action == "reject" for f in findings):
            return None
        calls = check_calls(sample, checks, self.config, findings)
        if calls is None or any(f.action == "reject" for f in findings):
            return None
        ground_truth = self._check_values(sample, calls, checks, findings)
        if any(f.action == "reject" for f in findings):
            return None
        category = check_count(sample, ground_truth, len(tools), self.config, findings)
        check_relevance(sample, tools, ground_truth, findings)
        if any(f.action == "reject" for f in findings):
            return None
        out = Sample(sample.id, sample.messages, tools, ground_truth, category, sample.source, sample.meta)
        self._check_target(out, findings)
        return out

    def _check_tools(self, tools: Any, findings: list[Finding]) -> tuple[dict, list]:
        if not isinstance(tools, list):
            findings.append(Finding("S4", "reject", f"tools is a {type(tools).__name__}, not a list"))
            return {}, []
        checks: dict[str, Any] = {}
        out = []
        for tool in tools:
            check = self.tools.check(tool)
            findings.extend(check.findings)
            if check.rejected:
                continue
            name = check.tool["name"]
            if name in checks:
                if _canon(checks[name].tool) == _canon(check.tool):
                    findings.append(Finding("S2", "repair", f"{name}: exact duplicate tool collapsed"))
                else:
                    findings.append(Finding("S2", "reject", f"{name}: two different tools share this name"))
                continue
            checks[name] = check
            out.append(check.tool)  # a repaired tool is shared by the samples that carry it: treat as read-only
        return checks, out

    def _check_values(self, sample: Sample, calls: list, checks: dict, findings: list[Finding]) -> list:
        config = self.config
        # dict values already in BFCL per-key form when the key schemas cannot tell (bfcl/canonical inputs)
        bfcl_form = sample.meta.get("source_format") in ("bfcl", "canonical")
        context = ValueContext(sample, config, bfcl_form)
        ground_truth = []
        for name, args in calls:
            check = checks[name]
            new_args: dict[str, list] = {}
            for arg, allowed in args.items():
                schema = check.properties.get(arg)
                path = f"{name}.{arg}"
                if arg not in check.properties and not check.additional:
                    findings.append(Finding("C5", "repair", f"{path}: unknown argument that may be omitted; dropped"))
                    continue  # C4/C5 already rejected the other cases
                if sample.language != "python":
                    new_args[arg] = allowed  # Java/JavaScript values are source code checked by BFCL's own rules
                    continue
                kept = []
                real = 0
                for value in allowed:
                    if isinstance(value, str) and value == "":
                        kept.append(value)
                        continue
                    # BFCL lists alternatives after the first; they need not be schema-exact (the matcher
                    # normalises strings), so their problems are warnings, never rejections
                    notes: list[Finding] = [] if real else findings
                    value = check_value(value, check, name, arg, context, notes)
                    if real:
                        findings.extend(
                            Finding(
                                f.code, "warn" if f.action == "reject" else f.action, f"alternative {real}: {f.detail}"
                            )
                            for f in notes
                        )
                    real += 1
                    if value is not DROP:
                        kept.append(value)
                if not kept:
                    continue
                default = schema.get("default") if isinstance(schema, dict) else None
                if (
                    config.default_policy != "keep"
                    and arg not in check.required
                    and default is not None
                    and len(kept) == 1
                    and _canon(kept[0]) == _canon(default)
                ):
                    if config.default_policy == "omit":
                        findings.append(Finding("V3", "repair", f"{path}: equals its default {default!r}; omitted"))
                        continue
                    findings.append(Finding("V3", "repair", f"{path}: equals its default {default!r}; may be omitted"))
                    kept = [kept[0], ""]
                new_args[arg] = kept
            if check.object_validator is not None:
                concrete = _first_values(new_args)
                for error in check.object_validator.iter_errors(concrete):
                    findings.append(Finding("T1", "reject", f"{name}: {error.message}"))
            ground_truth.append({name: new_args})
        return ground_truth

    def _check_target(self, sample: Sample, findings: list[Finding]) -> None:
        from funrl.data.rules_target import check_roundtrip, check_target_text

        text = sample.meta.get("target_text")
        if isinstance(text, str):
            check_target_text(text, sample, findings)
        if (
            self.config.check_reward_roundtrip
            and sample.language == "python"
            and not any(f.action == "reject" for f in findings)
        ):
            check_roundtrip(sample, self.config.think_text, findings)


_VALIDATORS: dict[int, Validator] = {}


def validate_sample(sample: Sample, config: ValidationConfig | None = None) -> ValidationResult:
    """Validate one sample (see the module docstring). Validators, and their tool caches, are reused per config
    object: build one `ValidationConfig` per source and do not mutate it afterwards."""
    config = config or _DEFAULT
    validator = _VALIDATORS.get(id(config))
    if validator is None or validator.config is not config:
        validator = _VALIDATORS[id(config)] = Validator(config)
    return validator(sample)


_DEFAULT = ValidationConfig()
