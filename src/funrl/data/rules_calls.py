"""Call-level rules C1-C7 and R1/R2: the ground-truth calls against the sample's tool list.

Used by `funrl.data.validate.Validator`; each function appends `Finding`s (rule ID, action, detail) and never
raises on malformed input.

    calls = check_calls(sample, checks, config, findings)  # [(name, {arg: [allowed values]})] or None
    category = check_count(sample, ground_truth, len(tools), config, findings)
"""

from __future__ import annotations

import json
import re
from typing import Any

from funrl.data.rules_base import Finding, ValidationConfig
from funrl.schema import Sample, base_category


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def check_calls(sample: Sample, checks: dict, config: ValidationConfig, findings: list[Finding]) -> list | None:
    """C1-C5, C7 on the ground-truth calls; returns `[(name, {arg: allowed values})]` (None when unusable)."""
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
            findings.append(Finding("C2", "repair", f"call {i} ({name}): {{name, arguments}} -> possible-answer form"))
        elif isinstance(call, dict) and len(call) == 1:
            name, args = next(iter(call.items()))
        else:
            findings.append(Finding("C2", "reject", f"call {i} is not one function with its arguments: {call!r:.120}"))
            continue
        if name not in checks:
            key = name.lower().replace(".", "_")
            matches = [n for n in checks if n.lower().replace(".", "_") == key]
            if config.repair_names and len(matches) == 1:
                findings.append(Finding("C1", "repair", f"call {i}: name {name!r} -> {matches[0]!r}"))
                name = matches[0]
            else:
                findings.append(Finding("C1", "reject", f"call {i}: function {name!r} is not in the tool list"))
                continue
        check = checks[name]
        if args is None:
            if check.required:
                findings.append(
                    Finding("C3", "reject", f"{name}: arguments are null but {sorted(check.required)} are required")
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
        missing = [r for r in sorted(check.required) if all(isinstance(v, str) and v == "" for v in args.get(r, [""]))]
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


def check_count(
    sample: Sample, ground_truth: list, n_tools: int, config: ValidationConfig, findings: list[Finding]
) -> str:
    """C6: call count against `target_kind`; the category derived from the calls (returned)."""
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
    if not config.recompute_category:
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


def check_relevance(sample: Sample, tools: list, ground_truth: list, findings: list[Finding]) -> None:
    """R1 and R2 on no-call samples."""
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
                    Finding("R2", "reject", f"removed tool {gone.get('name')!r} has a near-duplicate {twin!r} left")
                )
