"""The prompt/target template shared by SFT, the trainer and the evaluator, so a model is evaluated in the format
it was trained on.

Three formats (`FORMATS`, defined once as `funrl.calls.parse.TEMPLATE_FORMATS`), each parsed by `funrl.calls.parse_calls`:

* `"funrl"` (default, docs/method.md §4): a system prompt that lists the sample's tools as JSON schemas and asks for
  `<think>…</think>\n<answer>[func(a=1, b='x')]</answer>` (BFCL Python-call syntax, keyword arguments,
  `<answer>[]</answer>` when no function fits). The sample's own system message is appended to ours. A sample
  with `meta["prompt_style"] == "compact"` lists its tools as one-line Python signatures under a one-sentence
  system prompt instead (`tool_signature`; about a third of the tokens; same target and output format).
* `"bfcl-prompt"`: BFCL's default prompt-mode system prompt (the official OSS handlers' default) with the
  functions in BFCL's own JSON (`dict`/`float` types, language hint); the target is a bare `[func(a=1)]`.
* `"qwen-fc"`: the sample's messages with the tools rendered Qwen/Hermes style (`# Tools … <tools>…</tools>`), the
  target one `<tool_call>\\n{json}\\n</tool_call>` block per call.

Per-sample tools are written into each prompt's system message by this module (`prompt_messages`), never through
TRL's global `tools=` (which starts TRL's tool loop), so the same conversational prompt serves SFTTrainer,
GRPOTrainer and the evaluator:

    from funrl.template import render_prompt, render_target, to_rl_row, to_sft_row
    text = render_prompt(tokenizer, sample, "funrl")       # str, ends with the assistant header
    target = render_target(sample, "funrl")                # "<think>…</think><answer>[…]</answer>"
    row = to_rl_row(sample, "funrl")                       # GRPOTrainer row: prompt, ground_truth, tools, …
    row = to_sft_row(sample, "funrl")                      # SFTTrainer row: prompt / completion messages

`CHAT_TEMPLATE` is the ChatML-like Jinja template of `funrl.toy.tiny_model`; its `tools=` rendering is byte-identical
to `prompt_messages(..., "qwen-fc")`, and assistant turns carry `{% generation %}` markers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS
from funrl.schema import JSON_TO_BFCL_TYPE, Sample, base_category

FUNRL_SYSTEM_PROMPT = (
    "You are an expert in composing functions. Reply as <think>...</think><answer>[...]</answer>. In <think>, name "
    "the function to call, list the parameter values taken from the question and check that every required "
    "parameter has one. In <answer>, write a Python list of calls with keyword arguments, e.g. "
    "[func_name1(param1=value1, param2=value2), func_name2(param=value)], or [] if no function fits the question "
    "or a required value is missing.\n\nFunctions (JSON schema, one per line):\n"
)
# BFCL's default system prompt (ret_fmt=python, no tool-call tag, json docs, plaintext, classic style). The
# missing space after "functions." and the double space before "You SHOULD NOT" are in BFCL's string.
BFCL_SYSTEM_PROMPT = (
    "You are an expert in composing functions."
    "You are given a question and a set of possible functions. Based on the question, you will need to make one "
    "or more function/tool calls to achieve the purpose. If none of the functions can be used, point it out. If "
    "the given question lacks the parameters required by the function, also point it out.\n\n"
    "You should only return the function calls in your response.\n\n"
    "If you decide to invoke any of the function(s), you MUST put it in the format of "
    "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)].  "
    "You SHOULD NOT include any other text in the response.\n\n"
    "At each turn, you should try your best to complete the tasks requested by the user within the current turn. "
    "Continue to output functions to call until you have fulfilled the user's request to the best of your "
    "ability. Once you have no more functions to call, the system will consider the current turn complete and "
    "proceed to the next turn or task.\n\n"
    "Here is a list of functions in json format that you can invoke.\n{functions}\n"
)
QWEN_TOOLS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
QWEN_TOOLS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call>"
)
LANGUAGE_HINTS = {
    "python": " Note that the provided function is in Python 3 syntax.",
    "java": " Note that the provided function is in Java 8 SDK syntax.",
    "javascript": " Note that the provided function is in JavaScript syntax.",
}
# Opt-in compact prompt of the `funrl` format (a sample with `meta["prompt_style"] == "compact"`): one-line Python
# signatures instead of JSON schemas, about a third of the prompt tokens. Used by the CPU quickstart, where every
# token of a 2M-parameter model's prompt costs training time. The target and the output format are unchanged.
PROMPT_STYLES = ("json", "compact")
COMPACT_SYSTEM_PROMPT = (
    "Reply as <think>...</think><answer>[...]</answer>: a Python list of calls with keyword arguments, or [] if no "
    "function fits.\nFunctions:\n"
)
# The compact prompt of the `bfcl-prompt` format: BFCL's plain call syntax, no think span. The shipped toy base model
# (`funrl.toy.base`) is trained on it, the analogue of an instruct model's own prompt.
COMPACT_BFCL_SYSTEM_PROMPT = (
    "Reply with a Python list of calls with keyword arguments, or [] if no function fits.\nFunctions:\n"
)
_PY_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}
NO_CALL_THINK = "None of the functions fits the question, so no function is called."
NO_CALL_TEXT = "None of the functions fits the question."

# ChatML with Qwen/Hermes-style tools. Jinja string escapes (\n) are read by Jinja, hence the raw string.
CHAT_TEMPLATE = r"""{%- if messages and messages[0].role == 'system' -%}
{%- set system = messages[0].content -%}{%- set rest = messages[1:] -%}
{%- else -%}
{%- set system = '' -%}{%- set rest = messages -%}
{%- endif -%}
{%- if tools -%}
{{- '<|im_start|>system\n' -}}
{%- if system -%}{{- system + '\n\n' -}}{%- endif -%}
{{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
{%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}
{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' -}}
{%- elif system -%}
{{- '<|im_start|>system\n' + system + '<|im_end|>\n' -}}
{%- endif -%}
{%- for message in rest -%}
{%- if message.role == 'assistant' -%}
{{- '<|im_start|>assistant\n' -}}
{%- generation -%}
{%- if message.content is string -%}{{- message.content -}}{%- endif -%}
{%- for call in (message.tool_calls or []) -%}
{%- set fn = call.function if call.function is defined else call -%}
{%- if message.content or not loop.first -%}{{- '\n' -}}{%- endif -%}
{{- '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' -}}
{%- if fn.arguments is string -%}{{- fn.arguments -}}{%- else -%}{{- fn.arguments | tojson -}}{%- endif -%}
{{- '}\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>' -}}
{%- endgeneration -%}
{{- '\n' -}}
{%- elif message.role == 'tool' -%}
{%- if loop.first or loop.previtem.role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' -}}
{%- if loop.last or loop.nextitem.role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
{%- else -%}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"""


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown template format {fmt!r}; valid formats: {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------------------------------
# Tool docs


def _to_bfcl_schema(schema: Any) -> Any:
    """JSON-schema parameter -> BFCL's own type names (`object` -> `dict`, `number` -> `float`); the source type
    kept in `x-bfcl-type` (tuple, any, and every Java/JavaScript type) wins."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    source = out.pop("x-bfcl-type", None)
    if source is not None:
        out["type"] = source
    elif isinstance(out.get("type"), str):
        out["type"] = JSON_TO_BFCL_TYPE.get(out["type"], out["type"])
    elif "type" not in out:
        out["type"] = "any"
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _to_bfcl_schema(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = _to_bfcl_schema(out["items"])
    return out


def _add_language_hints(docs: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """What BFCL's handlers do to function docs before prompting: a language hint on each description, and for
    Java/JavaScript every parameter turned into a string with a hint naming its source type."""
    lang_name = {"java": "Java", "javascript": "JavaScript"}.get(language)
    for doc in docs:
        doc["description"] = doc.get("description", "") + LANGUAGE_HINTS[language]
        if lang_name is None:
            continue
        for param in (doc.get("parameters") or {}).get("properties", {}).values():
            kind = param.get("type")
            desc = param.get("description", "")
            if kind == "any":
                desc += f" This parameter can be of any type of {lang_name} object in string representation."
            else:
                desc += f" This is {lang_name} {kind} type parameter in string representation."
            if (language == "java" and kind in ("ArrayList", "Array")) or (
                language == "javascript" and kind == "array"
            ):
                if isinstance(param.get("items"), dict):
                    desc += f" The list elements are of type {param['items'].get('type')}; they are not in string "
                    desc += "representation."
                param.pop("items", None)
            if language == "javascript" and kind == "dict" and "properties" in param:
                desc += " The dictionary entries have the following schema; they are not in string representation. "
                desc += json.dumps(param.pop("properties"))
            param["description"] = desc
            param["type"] = "string"
    return docs


def bfcl_tool_docs(sample: Sample) -> list[dict[str, Any]]:
    """The sample's functions as BFCL shows them to a model: the original BFCL docs when the sample came from BFCL
    (`meta["bfcl_functions"]`), else its tools mapped back to BFCL type names; with BFCL's language hints."""
    raw = sample.meta.get("bfcl_functions")
    if raw:
        docs = copy.deepcopy(raw)
    else:
        docs = []
        for tool in sample.tools:
            doc = {k: v for k, v in tool.items() if k != "parameters"}
            doc["parameters"] = _to_bfcl_schema(tool.get("parameters") or {"type": "object", "properties": {}})
            docs.append(doc)
    return _add_language_hints(docs, sample.language)


def tool_signature(tool: dict[str, Any]) -> str:
    """One-line Python-style signature of a JSON-schema tool, for the compact prompt style.

    Example: `get_weather(city: str, unit: str in ['celsius', 'fahrenheit'] = 'celsius') - Current weather.`
    Required parameters come first in schema order, then the optional ones (with their default when declared).
    """
    params = (tool.get("parameters") or {}).get("properties") or {}
    required = list((tool.get("parameters") or {}).get("required") or [])
    parts = []
    for name in [p for p in params if p in required] + [p for p in params if p not in required]:
        schema = params[name] if isinstance(params[name], dict) else {}
        kind = schema.get("type")
        text = f"{name}: {_PY_TYPES.get(kind, kind) if isinstance(kind, str) else 'any'}"
        if schema.get("enum"):
            text += f" in {schema['enum']!r}"
        if name not in required:
            text += f" = {schema['default']!r}" if "default" in schema else " = None"
        parts.append(text)
    description = str(tool.get("description") or "").strip()
    return f"{tool['name']}({', '.join(parts)})" + (f" - {description}" if description else "")


def prompt_style(sample: Sample) -> str:
    """The sample's prompt style (`meta["prompt_style"]`, default `"json"`); an unknown value is an error."""
    style = sample.meta.get("prompt_style", "json") if isinstance(sample.meta, dict) else "json"
    if style not in PROMPT_STYLES:
        raise ValueError(
            f"sample {sample.id!r}: meta.prompt_style={style!r}; valid styles: {', '.join(PROMPT_STYLES)}"
        )
    return style


def qwen_tools_block(tools: list[dict[str, Any]]) -> str:
    """The Qwen/Hermes `# Tools` block (one JSON line per tool), as `CHAT_TEMPLATE` renders `tools=`."""
    return QWEN_TOOLS_HEAD + "".join("\n" + json.dumps(t, ensure_ascii=False) for t in tools) + QWEN_TOOLS_TAIL


# ---------------------------------------------------------------------------------------------------
# Prompts


def _merge_system(ours: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL's rule: our system prompt first; a system message the sample has is appended after a blank line."""
    messages = copy.deepcopy(messages)
    if messages and messages[0].get("role") == "system":
        return [{"role": "system", "content": ours + "\n\n" + str(messages[0].get("content") or "")}] + messages[1:]
    return [{"role": "system", "content": ours}] + messages


def build_messages(sample: Sample, fmt: str = "funrl") -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The chat messages of a sample's prompt in `fmt`, and the tools to hand to a chat template (`qwen-fc` only).

    Returns:
        `tuple[list[dict], list[dict] | None]`: `(messages, tools)`. For `funrl` and `bfcl-prompt` the tools are
        already in the system message and `tools` is `None`; for `qwen-fc` `messages` are the sample's own and
        `tools` its BFCL-style function docs (use `prompt_messages` to get them written into the system message).
    """
    _check_format(fmt)
    if not sample.messages:
        raise ValueError(f"sample {sample.id!r}: no messages to build a prompt from")
    if fmt == "funrl":
        if prompt_style(sample) == "compact":
            functions = "\n".join(tool_signature(t) for t in sample.tools)
            return _merge_system(COMPACT_SYSTEM_PROMPT + functions, sample.messages), None
        functions = "\n".join(json.dumps(t, ensure_ascii=False) for t in sample.tools)
        return _merge_system(FUNRL_SYSTEM_PROMPT + functions, sample.messages), None
    if fmt == "bfcl-prompt" and prompt_style(sample) == "compact":
        functions = "\n".join(tool_signature(t) for t in sample.tools)
        return _merge_system(COMPACT_BFCL_SYSTEM_PROMPT + functions, sample.messages), None
    docs = bfcl_tool_docs(sample)
    if fmt == "bfcl-prompt":
        return _merge_system(BFCL_SYSTEM_PROMPT.format(functions=json.dumps(docs, indent=4)), sample.messages), None
    return copy.deepcopy(sample.messages), docs


def prompt_messages(sample: Sample, fmt: str = "funrl") -> list[dict[str, Any]]:
    """The conversational prompt used everywhere (SFT, RL, evaluation): `build_messages` with any tools written
    into the system message, so no `tools=` argument is needed downstream."""
    messages, tools = build_messages(sample, fmt)
    if not tools:
        return messages
    block = qwen_tools_block(tools)
    if messages[0].get("role") == "system":
        return [{"role": "system", "content": str(messages[0].get("content") or "") + "\n\n" + block}] + messages[1:]
    return [{"role": "system", "content": block}] + messages


def render_prompt(tokenizer: Any, sample: Sample, fmt: str = "funrl") -> str:
    """The prompt text a model sees for `sample`: the chat template applied with `add_generation_prompt=True`."""
    if getattr(tokenizer, "chat_template", None) is None:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ValueError(
            f"tokenizer {name!r} has no chat template. Use an instruct/chat model, a model built by "
            "`funrl tiny-model`, or set one (`tokenizer.chat_template = funrl.template.CHAT_TEMPLATE`, or "
            "`chat_template_path` in the SFT recipe)."
        )
    return tokenizer.apply_chat_template(prompt_messages(sample, fmt), tokenize=False, add_generation_prompt=True)


# ---------------------------------------------------------------------------------------------------
# Targets


def _target_calls(sample: Sample) -> list[dict[str, dict[str, Any]]]:
    from funrl.calls.render import ground_truth_to_calls

    if not sample.ground_truth and base_category(sample.category) == "relevance":
        raise ValueError(
            f"sample {sample.id!r} (category {sample.category}): relevance samples accept any call and have no "
            "ground-truth call to render as a target; leave them out of SFT data"
        )
    return ground_truth_to_calls(sample.ground_truth, sample.tools)


def render_think(sample: Sample) -> str:
    """A deterministic chain of thought in the paper's pattern: name the function, enumerate the extracted parameter
    values, verify the required ones (docs/method.md §4)."""
    from funrl.calls.render import render_calls

    calls = _target_calls(sample)
    if not calls:
        return NO_CALL_THINK
    parts = []
    for call in calls:
        name, args = next(iter(call.items()))
        rendered = render_calls([call])  # "[name(a=1, b='x')]": the argument list in the answer's own syntax
        values = rendered[len(name) + 2 : -2] or "none"
        tool = sample.tool(name) or {}
        required = list((tool.get("parameters") or {}).get("required") or [])
        check = f"required {', '.join(required)}: all given." if required else "no required parameters."
        parts.append(f"Use {name}. Values: {values}. Check {check}")
    return " ".join(parts)


def render_target(sample: Sample, fmt: str = "funrl", think: str | None = None) -> str:
    """The completion a perfect model would write for `sample`: `funrl.calls.render.ground_truth_to_calls` picks one
    concrete answer (the first allowed value that is not `""`; a parameter whose only allowed value is `""` is left
    out), rendered by `funrl.calls.render_calls`.

    Args:
        sample (`Sample`): the sample; its `ground_truth` is rendered.
        fmt (`str`, *optional*, defaults to `"funrl"`): one of `FORMATS`.
        think (`str` or `None`, *optional*): CoT for `funrl`; `None` uses `sample.meta["think"]` when present, else
            `render_think(sample)`. Ignored by the other formats.

    Returns:
        `str`: `<think>{cot}</think>\n<answer>[...]</answer>` (funrl, `funrl.calls.render.render_funrl`), `[...]`
        (bfcl-prompt) or `<tool_call>` blocks (qwen-fc; a plain sentence when no call is expected). No eos: the chat
        template adds `<|im_end|>`.
    """
    _check_format(fmt)
    from funrl.calls.render import render_calls, render_funrl

    calls = _target_calls(sample)
    if fmt == "funrl":
        cot = think if think is not None else sample.meta.get("think") or render_think(sample)
        return render_funrl(calls, cot)
    if fmt == "bfcl-prompt":
        return render_calls(calls, "python")
    return render_calls(calls, "qwen-fc") if calls else NO_CALL_TEXT


# ---------------------------------------------------------------------------------------------------
# Trainer rows


def to_rl_row(sample: Sample, fmt: str = "funrl") -> dict[str, Any]:
    """A GRPOTrainer row: `prompt` (conversational messages), `ground_truth` and `tools` (JSON strings, as the
    reward functions receive them), `category`, `id`."""
    return {
        "prompt": prompt_messages(sample, fmt),
        "ground_truth": json.dumps(sample.ground_truth, ensure_ascii=False),
        "tools": json.dumps(sample.tools, ensure_ascii=False),
        "category": sample.category,
        "id": sample.id,
    }


def to_sft_row(sample: Sample, fmt: str = "funrl", think: str | None = None) -> dict[str, Any]:
    """An SFTTrainer row in conversational prompt/completion form (the loss covers the completion only)."""
    return {
        "prompt": prompt_messages(sample, fmt),
        "completion": [{"role": "assistant", "content": render_target(sample, fmt, think=think)}],
        "category": sample.category,
        "id": sample.id,
    }


def boilerplate_texts() -> list[str]:
    """The fixed text of every format (system prompts, tool blocks, CoT phrases): part of the tiny tokenizer's
    corpus so that prompts cost few tokens."""
    return [
        FUNRL_SYSTEM_PROMPT,
        COMPACT_SYSTEM_PROMPT,
        COMPACT_BFCL_SYSTEM_PROMPT,
        BFCL_SYSTEM_PROMPT.format(functions="[]"),
        QWEN_TOOLS_HEAD + QWEN_TOOLS_TAIL,
        NO_CALL_THINK,
        NO_CALL_TEXT,
        "Use f. Values: a=1, b='x'. Check required a, b: all given. Check no required parameters.",
        *LANGUAGE_HINTS.values(),
        '{"type": "object", "properties": {}, "required": []}',
    ]
