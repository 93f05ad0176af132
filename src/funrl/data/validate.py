"""Stage B of data preparation: AST validation of one canonical `Sample` against its own tool schemas.

`validate_sample(sample, config)` applies the per-sample rules of data-validation.md §2 (S2, S4-S10 on tools via
`rules_schema`; C1-C8 and R1/R2 on the calls; T1-T4 and V1-V6 on argument values via `rules_values`; P5/P7/P8/P9
on the target) and returns a `ValidationResult(status, sample, findings)`:

* `status` is `"kept"` (no change), `"repaired"` (lossless fixes applied) or `"rejected"`;
* `sample` is a new `Sample` (the input is never mutated) whose `meta["audit"]` lists every repair and warning
  as `{"rule", "action", "detail"}`; `None` when rejected;
* `findings` are all `Finding(code, action, detail)`s, `code` being the rule ID (the stable reason code).

Rules run cheapest first (schemas, calls, values, then the reward round trip) and stop at the first group with a
REJECT. The last check (P5/P8) renders the ground truth in the FunRL template with `funrl.calls.render_calls` and
scores it with `funrl.calls.check_output`, the reward's own parser and matcher: a kept sample is one the reward
can score 1.0. A sample may carry a raw target text in `meta["target_text"]` (FunRL template or `<tool_call>`
JSON blocks); then P7/P8/P9 check that text and its calls must equal the ground truth.

    from funrl.data.validate import ValidationConfig, validate_sample
    result = validate_sample(sample, ValidationConfig())
    if result.status != "rejected":
        keep(result.sample)
    else:
        print([f.code for f in result.findings if f.action == "reject"])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from funrl.data.rules_base import RULES, Finding, ValidationConfig
from funrl.data.rules_schema import ToolChecker
from funrl.data.rules_values import conform, format_failures, unwrap_allowed, wrap_allowed
from funrl.schema import Sample, base_category

__all__ = [
    "RULES",
    "Finding",
    "ValidationConfig",
    "ValidationResult",
    "Validator",
    "validate_sample",
]

# C8: a value that stands for another call's result makes the target sequential, not parallel.
_DEPENDENCY_RE = re.compile(
    r"^\s*<[^<>]*\b(result|output|response|return)\b[^<>]*>\s*$|\{\{[^{}]*\}\}|\$\{[^{}]*\}|\bresult of (the )?(previous|first|second|above)",
    re.IGNORECASE,
)


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
        notes = [f.to_audit() for f in findings]
        if notes:
            meta["audit"] = [*(meta.get("audit") or []), *notes]
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
        calls = self._check_calls(sample, checks, findings)
        if calls is None or any(f.action == "reject" for f in findings):
            return None
        ground_truth = self._check_values(sample, calls, checks, findings)
        if any(f.action == "reject" for f in findings):
            return None
        category = self._check_count(sample, ground_truth, len(tools), findings)
        self._check_relevance(sample, tools, ground_truth, findings)
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

    def _check_calls(self, sample: Sample, checks: dict, findings: list[Finding]) -> list | None:
        ground_truth = sample.ground_truth
        if not isinstance(ground_truth, list):
            findings.append(Finding("C2", "reject", f"ground_truth is a {type(ground_truth).__name__}, not a list"))
            return None
        calls = []
        for i, call in enumerate(ground_truth):
            if (
                isinstance(call, dict)
                and isinstance(call.get("name"), str)
                and set(call) <= {"name", "arguments", "parameters"}
                and call["name"] not in ("arguments", "parameters")
            ):
                name = call["name"]
                raw = call.get("arguments", call.get("parameters"))
                args = {k: [v] for k, v in raw.items()} if isinstance(raw, dict) else raw
                findings.append(
                    Finding("C2", "repair", f"call {i} ({name}): {{name, arguments}} -> possible-answer form")
                )
            elif isinstance(call, dict) and len(call) == 1:
                name, args = next(iter(call.items()))
            else:
                findings.append(
                    Finding("C2", "reject", f"call {i} is not one function with its arguments: {call!r:.120}")
                )
                continue
            if name not in checks:
                key = name.lower().replace(".", "_")
                matches = [n for n in checks if n.lower().replace(".", "_") == key]
                if self.config.repair_names and len(matches) == 1:
                    findings.append(Finding("C1", "repair", f"call {i}: name {name!r} -> {matches[0]!r}"))
                    name = matches[0]
                else:
                    findings.append(Finding("C1", "reject", f"call {i}: function {name!r} is not in the tool list"))
                    continue
            check = checks[name]
            if args is None:
                if check.required:
                    findings.append(
                        Finding(
                            "C3", "reject", f"{name}: arguments are null but {sorted(check.required)} are required"
                        )
                    )
                    continue
                findings.append(Finding("C3", "repair", f"{name}: null arguments -> {{}}"))
                args = {}
            if not isinstance(args, dict) or not all(isinstance(v, list) for v in args.values()):
                findings.append(
                    Finding("C3", "reject", f"{name}: arguments must map each parameter to a list of allowed values")
                )
                continue
            extra = [a for a in args if a not in check.properties and "" not in args[a]]  # "": may be omitted
            if extra and not check.additional:
                findings.append(Finding("C5", "reject", f"{name}: unknown argument(s) {extra}"))
            missing = [
                r for r in sorted(check.required) if all(isinstance(v, str) and v == "" for v in args.get(r, [""]))
            ]
            if missing:
                findings.append(Finding("C4", "reject", f"{name}: missing required argument(s) {missing}"))
            calls.append((name, args))
        names = [name for name, _ in calls]
        if len(set(names)) < len(names):  # only a repeated function can be a repeated call
            seen: set[str] = set()
            for name, args in calls:
                key = _canon({name: args})
                if key in seen:
                    findings.append(Finding("C7", "warn", f"{name}: identical call repeated"))
                seen.add(key)
        return calls

    def _check_values(self, sample: Sample, calls: list, checks: dict, findings: list[Finding]) -> list:
        config = self.config
        # dict values already in BFCL per-key form when the key schemas cannot tell (bfcl/canonical inputs)
        bfcl_form = sample.meta.get("source_format") in ("bfcl", "canonical")
        context: list[str] = []  # the lower-cased conversation text, built on first use (V5)
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
                    value = self._check_value(value, arg, schema, check, path, bfcl_form, sample, notes, context)
                    if real:
                        findings.extend(
                            Finding(
                                f.code, "warn" if f.action == "reject" else f.action, f"alternative {real}: {f.detail}"
                            )
                            for f in notes
                        )
                    real += 1
                    if value is not _DROP:
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

    def _check_value(self, value, arg, schema, check, path, bfcl_form, sample, findings, context) -> Any:
        """T/V/C8 rules on one allowed value; returns the (repaired) value, or `_DROP`."""
        config = self.config
        original = None
        if check.dict_kinds.get(arg) is not None:
            value, original = unwrap_allowed(value, schema, bfcl_form)
            if original is not None and value is original:
                return value  # several alternatives per key (BFCL data): left as is
        canonical = check.canonical.get(arg)
        skip = canonical is not None and original is None and canonical(value)
        if not skip:
            value = conform(value, schema, path, findings, config)
        if self._is_placeholder(value, schema):
            if arg in check.required:
                findings.append(Finding("V2", "reject", f"{path}: placeholder {value!r} for a required parameter"))
            else:
                findings.append(Finding("V2", "repair", f"{path}: placeholder {value!r} dropped"))
            return _DROP
        fast = check.fast.get(arg)
        if not skip and (fast is None or not fast(value)):
            value = self._check_schema_value(value, check.validators.get(arg), schema, path, findings)
        if arg in check.formats:
            for failure in format_failures(value, schema, path):
                findings.append(Finding("V4", config.format_action, failure))
        texts = [value] if isinstance(value, str) else list(_strings(value))
        for text in texts:
            if ("<" in text or "{" in text or "result" in text) and _DEPENDENCY_RE.search(text):
                findings.append(Finding("C8", "reject", f"{path}: {text!r} refers to another call's result"))
            if config.check_grounding and len(text) >= config.grounding_min_length:
                if not context:
                    parts = (str(m.get("content") or "") for m in sample.messages if isinstance(m, dict))
                    context.append(" ".join(parts).lower())
                low = text.lower()
                if low not in context[0] and low not in check.grounding:
                    findings.append(Finding("V5", "warn", f"possibly_hallucinated: {path}={text!r}"))
        if check.dict_kinds.get(arg) is not None:
            wrapped = wrap_allowed(value, schema, original)
            if original is None and wrapped is not value:
                findings.append(Finding("C3", "repair", f"{path}: dict value -> per-key allowed values"))
            value = wrapped
        return value

    def _is_placeholder(self, value: Any, schema: Any) -> bool:
        if value is None:
            allowed = isinstance(schema, dict) and (
                schema.get("type") == "null" or "null" in (schema.get("type") or [])
            )
            return not allowed
        if isinstance(value, str) and value.lower() in self.config.placeholder_values:
            enum = schema.get("enum") if isinstance(schema, dict) else None
            return not (isinstance(enum, list) and value in enum)
        return False

    def _check_schema_value(self, value: Any, validator: Any, schema: Any, path: str, findings: list[Finding]) -> Any:
        if validator is not None and not validator.is_valid(value):
            errors = list(validator.iter_errors(value))
            if (
                len(errors) == 1
                and errors[0].validator == "enum"
                and not errors[0].absolute_path
                and isinstance(value, str)
            ):
                matches = [e for e in schema["enum"] if isinstance(e, str) and e.casefold() == value.casefold()]
                if len(matches) == 1:
                    findings.append(Finding("V1", "repair", f"{path}: {value!r} -> enum value {matches[0]!r}"))
                    return matches[0]
            for error in errors:
                where = path + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
                if error.validator == "enum":
                    code = "V1"
                elif error.validator == "pattern":
                    code = "V4"
                elif error.absolute_path:
                    code = "T4"
                else:
                    code = "T1"
                action = self.config.format_action if code == "V4" else "reject"
                findings.append(Finding(code, action, f"{where}: {error.message}"))
        return value

    def _check_count(self, sample: Sample, ground_truth: list, n_tools: int, findings: list[Finding]) -> str:
        category = sample.category
        if base_category(category) == "relevance":
            return category
        kind = sample.meta.get("target_kind") or ("no_call" if not ground_truth else "call")
        if kind == "call" and not ground_truth:
            findings.append(Finding("C6", "reject", "target_kind is 'call' but the target has no call"))
        elif kind == "no_call" and ground_truth:
            findings.append(
                Finding("C6", "reject", f"target_kind is 'no_call' but the target has {len(ground_truth)} call(s)")
            )
        if not self.config.recompute_category:
            return category
        names = {next(iter(call)) for call in ground_truth}
        if not ground_truth:
            expected = "irrelevance"
        elif len(ground_truth) == 1:
            expected = "simple" if n_tools == 1 else "multiple"
        else:
            expected = "parallel" if len(names) == 1 else "parallel_multiple"
        if base_category(category) != expected:
            findings.append(Finding("C6", "repair", f"category {category!r} -> {expected!r} from the calls"))
            return expected
        return category

    def _check_relevance(self, sample: Sample, tools: list, ground_truth: list, findings: list[Finding]) -> None:
        if ground_truth or base_category(sample.category) == "relevance":
            return
        if not tools:
            findings.append(Finding("R1", "reject", "no-call sample without any tool"))
        removed = sample.meta.get("removed_tools") or []
        if removed:

            def key(name: Any) -> str:
                return re.sub(r"[^a-z0-9]", "", str(name).lower())

            names = {key(t.get("name")): t.get("name") for t in tools}
            descriptions = {str(t.get("description") or "").strip(): t.get("name") for t in tools}
            for gone in removed:
                gone = gone if isinstance(gone, dict) else {"name": gone}
                same = names.get(key(gone.get("name")))
                desc = str(gone.get("description") or "").strip()
                twin = same or (descriptions.get(desc) if desc else None)
                if twin:
                    findings.append(
                        Finding(
                            "R2", "reject", f"removed tool {gone.get('name')!r} has a near-duplicate {twin!r} left"
                        )
                    )

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


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


_DROP = object()  # a value removed by a repair (V2)
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
