"""Deterministic model outputs for the golden verdicts: BFCL ground truth rendered as output, plus perturbations.

Shared by `scripts/make_golden.py` (which has the official BFCL checker score these outputs) and
`tests/test_golden.py` (which regenerates the same strings and requires our matcher to agree).
No randomness: the same data gives byte-identical outputs, checked by a hash stored with the verdicts.

    from perturbations import outputs_for
    for kind, text in outputs_for(sample, fmt="prompt"):   # sample: funrl.schema.Sample from funrl.bfcl
        ...

Formats: `prompt` (BFCL prompt mode: a Python call list, Java/JavaScript syntax for those categories)
and `qwen_fc` (`<tool_call>` JSON blocks, Python categories only). The ground truth is rendered with
the official tool's `gt` convention: the first allowed value of each parameter, `""` meaning omitted.
Kinds whose perturbation does not apply to an entry (e.g. `list_reversed` without a list) are skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

OMIT = object()  # marker: parameter omitted


class Raw(str):
    """Source text inserted as-is in a Python rendering (positional args, BinOp, bare names, tuples)."""


# ---------------------------------------------------------------------------------------------------
# Ground truth -> concrete calls


def _first(allowed: Any) -> Any:
    if not isinstance(allowed, list):
        return allowed
    for value in allowed:
        if value != "":
            return value
    return OMIT


def _resolve_dict(value: dict) -> dict:
    out = {}
    for key, allowed in value.items():
        chosen = _first(allowed)
        if chosen is not OMIT:
            out[key] = chosen
    return out


def concrete_calls(sample) -> list[tuple[str, dict[str, Any]]]:
    """`[(name, {param: value})]`: the first allowed value of each ground-truth parameter (the `gt` convention)."""
    docs = {d["name"]: d for d in sample.meta.get("bfcl_functions") or sample.tools}
    calls = []
    for call in sample.ground_truth:
        ((name, answer),) = call.items()
        doc = docs.get(name) or {}
        props = (doc.get("parameters") or {}).get("properties") or {}
        required = (doc.get("parameters") or {}).get("required") or []
        params = {}
        for param, allowed in answer.items():
            if props and param not in props and "" in allowed:
                continue
            value = _first(allowed)
            if value is OMIT:
                if param in required and "" in allowed:
                    value = ""
                else:
                    continue
            ptype = props.get(param, {}).get("type")
            item_type = (props.get(param, {}).get("items") or {}).get("type")
            if ptype in ("dict", "HashMap") and isinstance(value, dict):
                value = _resolve_dict(value)
            elif isinstance(value, list) and item_type == "dict" and all(isinstance(e, dict) for e in value):
                value = [_resolve_dict(e) for e in value]
            params[param] = value
        calls.append((name, params))
    return calls


# ---------------------------------------------------------------------------------------------------
# Rendering


def render_python(calls, bracket: bool = True, sep: str = ", ") -> str:
    parts = []
    for name, params in calls:
        args = []
        for key, value in params.items():
            text = value if isinstance(value, Raw) else repr(value)
            args.append(text if key.startswith("\0pos") else f"{key}={text}")
        parts.append(f"{name}({sep.join(args)})")
    body = sep.join(parts)
    return f"[{body}]" if bracket else body


def _has_raw(calls) -> bool:
    return any(isinstance(v, Raw) or k.startswith("\0pos") for _, p in calls for k, v in p.items())


def render_fc(calls) -> str:
    return "\n".join(
        "<tool_call>\n" + json.dumps({"name": n, "arguments": p}, ensure_ascii=False) + "\n</tool_call>"
        for n, p in calls
    )


def _java_value(value: Any, ptype: str | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if '"' in value or ptype not in ("String", "char") else f'"{value}"'
    if ptype == "long":
        return f"{value}L"
    if isinstance(value, list):
        return "new ArrayList<>(Arrays.asList(" + ", ".join(_java_value(v, "String") for v in value) + "))"
    if isinstance(value, dict):
        puts = " ".join(f'put("{k}", {_java_value(v, "String")});' for k, v in value.items())
        return "new HashMap<String, String>() {{ " + puts + " }}"
    return str(value)


def _js_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_js_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_js_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _add_block(found: re.Match) -> str:
    """`new ArrayList<T>(Arrays.asList(a, b))` -> `new ArrayList<T>() {{ add(a); add(b); }}`."""
    adds = " ".join(f"add({part.strip()});" for part in found.group(2).split(",") if part.strip())
    return f"new ArrayList<{found.group(1)}>() {{{{ {adds} }}}}"


def render_source(calls, sample) -> str:
    """Java / JavaScript prompt-mode rendering."""
    docs = {d["name"]: d for d in sample.meta.get("bfcl_functions") or []}
    parts = []
    for name, params in calls:
        props = ((docs.get(name) or {}).get("parameters") or {}).get("properties") or {}
        if sample.language == "java":
            args = [f"{k}={_java_value(v, props.get(k, {}).get('type'))}" for k, v in params.items()]
        else:
            args = [f"{k}={_js_value(v)}" for k, v in params.items()]
        parts.append(f"{name}({', '.join(args)})")
    return "[" + ", ".join(parts) + "]"


# ---------------------------------------------------------------------------------------------------
# Value perturbations


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, float):
        return value + 7.25
    if isinstance(value, str):
        return value + " zzqx"
    if isinstance(value, list):
        return value + [value[-1] if value else "zzqx"]
    if isinstance(value, dict):
        return {**value, "zzqx_key": "zzqx"}
    return "zzqx"


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return str(value[0]) if value else "[]"
    if isinstance(value, dict):
        return json.dumps(value)
    return 0


def _str_variant(value: str, how: str) -> str | None:
    if how == "upper":
        out = value.upper() if value.upper() != value else value.lower()
    elif how == "punct":  # only characters the official normalisation removes
        out = value.replace(" ", "_") + "." if " " in value else "-" + value + "."
    elif how == "quote":
        out = value.replace('"', "'") if '"' in value else value + "'"
    else:  # a change normalisation does not undo
        out = value + "!"
    return out if out != value else None


def _with(calls, index, params):
    return [(n, params if i == index else p) for i, (n, p) in enumerate(calls)]


def _first_param(calls, test):
    """(call index, param, value) of the first argument (in call order) satisfying `test(value)`."""
    for index, (_, params) in enumerate(calls):
        for key, value in params.items():
            if test(value):
                return index, key, value
    return None


def _edit(calls, test, change):
    found = _first_param(calls, test)
    if found is None:
        return None
    index, key, value = found
    new = change(value)
    if new is None:
        return None
    params = dict(calls[index][1])
    params[key] = new
    return _with(calls, index, params)


def _is_str(v):
    return type(v) is str and v != ""


def _doc(sample, name):
    return next((d for d in sample.meta.get("bfcl_functions") or [] if d["name"] == name), None) or {}


def call_perturbations(calls, sample) -> dict[str, list]:
    """Perturbed call lists, by kind (only the kinds that apply)."""
    out: dict[str, list | None] = {}
    name0, params0 = calls[0]
    doc0 = _doc(sample, name0)
    required = (doc0.get("parameters") or {}).get("required") or []
    props = (doc0.get("parameters") or {}).get("properties") or {}
    answer0 = next(iter(sample.ground_truth[0].values()))

    out["wrong_value"] = _edit(calls, lambda v: True, _wrong)
    out["wrong_type"] = _edit(calls, lambda v: True, _wrong_type)
    out["int_to_float"] = _edit(calls, lambda v: type(v) is int, float)
    out["float_to_int"] = _edit(calls, lambda v: type(v) is float and v.is_integer(), int)
    out["nested_float_to_int"] = _edit(
        calls,
        lambda v: type(v) is list and any(type(e) is float and e.is_integer() for e in v),
        lambda v: [int(e) if type(e) is float and e.is_integer() else e for e in v],
    )
    out["nested_int_to_float"] = _edit(
        calls,
        lambda v: type(v) is list and any(type(e) is int for e in v),
        lambda v: [float(e) if type(e) is int else e for e in v],
    )
    out["bool_to_int"] = _edit(calls, lambda v: type(v) is bool, int)
    out["int_to_bool"] = _edit(calls, lambda v: type(v) is int and v in (0, 1), bool)
    present_required = [p for p in required if p in params0]
    if present_required:
        out["drop_required"] = _with(calls, 0, {k: v for k, v in params0.items() if k != present_required[0]})
    optional = [p for p in params0 if p not in required]
    if optional:
        out["drop_optional"] = _with(calls, 0, {k: v for k, v in params0.items() if k != optional[0]})
    out["extra_param"] = _with(calls, 0, {**params0, "zzqx_param": 1})
    unlisted = [p for p in props if p not in params0]
    if unlisted:
        spec = props[unlisted[0]]
        filler = spec.get(
            "default",
            {"integer": 1, "float": 1.0, "boolean": True, "array": [], "dict": {}}.get(spec.get("type"), "x"),
        )
        out["extra_doc_param"] = _with(calls, 0, {**params0, unlisted[0]: filler})
    alternatives = [(k, a) for k, a in answer0.items() if isinstance(a, list) and len([x for x in a if x != ""]) > 1]
    if alternatives and alternatives[0][0] in params0:
        key, allowed = alternatives[0]
        out["alt_value"] = _with(calls, 0, {**params0, key: [x for x in allowed if x != ""][1]})
    out["wrong_name"] = [(name0 + "_zzqx", params0)] + calls[1:]
    if name0 != name0.lower():
        out["name_case"] = [(name0.lower(), params0)] + calls[1:]
    others = [d["name"] for d in sample.meta.get("bfcl_functions") or [] if d["name"] != name0]
    if others:
        out["swapped_name"] = [(others[0], params0)] + calls[1:]
    if len(calls) > 1:
        out["reorder_calls"] = calls[::-1]
        out["drop_call"] = calls[:-1]
        if calls[0][0] != calls[1][0]:
            out["swap_names_between_calls"] = [(calls[1][0], calls[0][1]), (calls[0][0], calls[1][1])] + calls[2:]
    out["duplicate_call"] = calls + [calls[0]]
    if others:
        out["extra_call"] = calls + [(others[0], {})]
    for how in ("upper", "punct", "quote", "other"):
        out[f"str_{how}"] = _edit(calls, _is_str, lambda v, how=how: _str_variant(v, how))
    out["list_reversed"] = _edit(calls, lambda v: type(v) is list and len(v) > 1 and v != v[::-1], lambda v: v[::-1])
    out["list_drop_elem"] = _edit(calls, lambda v: type(v) is list and len(v) > 0, lambda v: v[:-1])
    out["list_elem_upper"] = _edit(
        calls,
        lambda v: type(v) is list and any(_is_str(e) and e.upper() != e for e in v),
        lambda v: [e.upper() if _is_str(e) else e for e in v],
    )
    out["list_as_tuple"] = _edit(calls, lambda v: type(v) is list, lambda v: Raw(repr(tuple(v))))
    out["dict_drop_key"] = _edit(calls, lambda v: type(v) is dict and v, lambda v: dict(list(v.items())[1:]))
    out["dict_extra_key"] = _edit(calls, lambda v: type(v) is dict, lambda v: {**v, "zzqx_key": "zzqx"})
    out["dict_value_changed"] = _edit(
        calls, lambda v: type(v) is dict and v, lambda v: {**v, next(iter(v)): _wrong(next(iter(v.values())))}
    )
    out["dict_value_upper"] = _edit(
        calls,
        lambda v: type(v) is dict and any(_is_str(x) and x.upper() != x for x in v.values()),
        lambda v: {k: x.upper() if _is_str(x) else x for k, x in v.items()},
    )
    out["list_of_dicts_reversed"] = _edit(
        calls,
        lambda v: type(v) is list and len(v) > 1 and all(type(e) is dict for e in v) and v != v[::-1],
        lambda v: v[::-1],
    )
    out["list_of_dicts_value_changed"] = _edit(
        calls,
        lambda v: type(v) is list and v and all(type(e) is dict and e for e in v),
        lambda v: [{**v[0], next(iter(v[0])): _wrong(next(iter(v[0].values())))}] + v[1:],
    )
    if params0:
        key, value = next(iter(params0.items()))
        out["positional_first"] = _with(calls, 0, {"\0pos0": value, **{k: v for k, v in params0.items() if k != key}})
    out["binop_int"] = _edit(calls, lambda v: type(v) is int and v > 1, lambda v: Raw(f"{v - 1} + 1"))
    out["negative_float"] = _edit(calls, lambda v: type(v) in (int, float) and v < 0, lambda v: Raw(f"-{repr(-v)}"))
    out["bare_name"] = _edit(
        calls, lambda v: type(v) is str and v.isidentifier() and v not in ("None", "True", "False"), lambda v: Raw(v)
    )
    out["none_value"] = _edit(calls, lambda v: True, lambda v: Raw("None"))
    out["empty_list_value"] = _edit(calls, lambda v: type(v) is list and v, lambda v: [])
    out["str_no_spaces"] = _edit(calls, lambda v: _is_str(v) and " " in v, lambda v: v.replace(" ", ""))
    out["call_value"] = _edit(calls, _is_str, lambda v: Raw("datetime.now()"))
    out["kw_call_value"] = _edit(calls, lambda v: type(v) is dict, lambda v: Raw(f"dict(zzqx={v!r})"))
    if "." in name0:
        out["name_dots_to_underscores"] = [(name0.replace(".", "_"), params0)] + calls[1:]
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------------------------------------------
# Outputs per entry


def _relevance_outputs(sample) -> list[tuple[str, str]]:
    docs = sample.meta.get("bfcl_functions") or sample.tools
    name = docs[0]["name"] if docs else "f"
    props = list((docs[0].get("parameters") or {}).get("properties") or {}) if docs else []
    arg = f"{props[0]}='x'" if props else ""
    no_call = "None of the provided functions can be used to answer this question."
    return [
        ("gt", no_call if "irrelevance" in sample.category else f"[{name}()]"),
        ("no_call_text", no_call),
        ("empty_output", ""),
        ("empty_list", "[]"),
        ("call_no_args", f"[{name}()]"),
        ("call_with_arg", f"[{name}({arg})]"),
        ("bare_call", f"{name}({arg})"),
        ("unknown_function", "[zzqx_function(a=1)]"),
        ("fenced_call", f"```\n[{name}()]\n```"),
        ("fenced_python_call", f"```python\n[{name}()]\n```"),
        ("prose_with_call", f"I will call [{name}()] now."),
        ("prose_with_parens", "I cannot help (sorry)."),
        ("positional_call", f"[{name}('x')]"),
        ("fc_block", "<tool_call>\n" + json.dumps({"name": name, "arguments": {}}) + "\n</tool_call>"),
        ("empty_dict_list", "[{}]"),
        ("number", "42"),
    ]


def outputs_for(sample, fmt: str = "prompt") -> list[tuple[str, str]]:
    """`[(kind, output_text)]` for one BFCL entry, in a fixed order."""
    if "relevance" in sample.category:
        no_call = "None of the provided functions can be used to answer this question."
        outs = _relevance_outputs(sample)
        if fmt == "qwen_fc":
            fc_block = dict(outs)["fc_block"]
            outs = [("gt", no_call if "irrelevance" in sample.category else fc_block)]
            outs += [(k, v) for k, v in _relevance_outputs(sample) if k in ("empty_output", "fc_block", "empty_list")]
            outs.append(("fc_no_newline", fc_block.replace("\n", "")))
        return outs
    calls = concrete_calls(sample)
    perturbed = call_perturbations(calls, sample)
    if sample.language != "python":
        if fmt != "prompt":
            return []
        keep = ("wrong_value", "drop_required", "wrong_name", "extra_call", "str_upper", "duplicate_call")
        gt = render_source(calls, sample)
        outs = [("gt", gt)]
        outs += [
            (k, render_source(perturbed[k], sample)) for k in keep if k in perturbed and not _has_raw(perturbed[k])
        ]
        # more kinds, and source-text variants of the ground truth (type spellings, layout, prose)
        more = ("wrong_type", "drop_optional", "extra_param", "str_punct", "name_case", "int_to_float",
                "float_to_int", "list_reversed", "list_drop_elem", "dict_drop_key", "dict_value_changed", "alt_value")  # fmt: skip
        outs += [
            (k, render_source(perturbed[k], sample)) for k in more if k in perturbed and not _has_raw(perturbed[k])
        ]
        variants = [
            ("fenced", "```\n" + gt + "\n```"),
            ("bare", gt[1:-1]),
            ("prose_before", "Sure: " + gt),
            ("semicolon", gt[:-1] + ";]"),
            ("quotes_swapped", gt.translate(str.maketrans("'\"", "\"'"))),
            ("no_spaces", gt.replace(", ", ",")),
            ("long_suffix_dropped", re.sub(r"(\d)[lL]\b", r"\1", gt)),
            ("float_suffix_added", re.sub(r"(\d\.\d+)(?![\dfFeE])", r"\1f", gt)),
            ("bigint_suffix_added", re.sub(r"(?<![\w.])(\d+)(?![\w.])", r"\1n", gt)),
            ("as_list_to_add_block", re.sub(r"new ArrayList<(\w*)>\(Arrays\.asList\((.*?)\)\)", _add_block, gt)),
            ("array_literal_to_new_array", re.sub(r"=\[([^\[\]]*)\]", r"=new Array(\1)", gt)),
        ]
        outs += [(k, v) for k, v in variants if v != gt]
        return outs
    if fmt == "qwen_fc":
        outs = [("gt", render_fc(calls))]
        outs += [(k, render_fc(c)) for k, c in perturbed.items() if not _has_raw(c)]
        outs += [
            ("fc_no_newline", render_fc(calls).replace("\n", "")),
            ("fc_prose_around", "Let me check.\n" + render_fc(calls) + "\nDone."),
            ("fc_broken_json", render_fc(calls).replace("}", "", 1)),
            ("fc_python_list", render_python(calls)),
        ]
        return outs
    gt = render_python(calls)
    outs = [
        ("gt", gt),
        ("gt_bare", render_python(calls, bracket=False)),
        ("gt_tight", render_python(calls, sep=",")),
        ("gt_fence", f"```\n{gt}\n```"),
        ("gt_fence_python", f"```python\n{gt}\n```"),
        ("gt_quoted", f"'{gt}'"),
        ("gt_newlines", "\n " + gt + " \n"),
        ("prose_before", f"Sure, here are the calls: {gt}"),
        ("prose_after", f"{gt} I hope this helps."),
        ("empty_output", ""),
        ("empty_list", "[]"),
        ("fc_block", render_fc(calls)),
    ]
    outs += [(k, render_python(c)) for k, c in perturbed.items()]
    return outs


def outputs_hash(outputs: list[tuple[str, str]]) -> str:
    """A short hash of an entry's outputs, stored with the verdicts to detect a changed generator."""
    return hashlib.sha1(json.dumps(outputs, ensure_ascii=False).encode()).hexdigest()[:10]
