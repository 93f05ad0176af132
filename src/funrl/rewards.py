"""Reward functions for GRPO / FunRL training, with TRL's reward-function signature.

Every reward scores a completion with the one parser and the one matcher of `funrl.calls`, so the training
signal is exactly the evaluator's verdict (`check_output`), BFCL relevance/irrelevance rules included:

| name (`REWARD_KINDS`) | value |
|---|---|
| `funrl`     | 1.0 if the completion follows the template **and** its calls match the ground truth, else 0.0 (the paper's single-criteria reward) |
| `format`    | 1.0 if the completion follows the template, else 0.0 (for ablations) |
| `ast_match` | 1.0 if `check_output(...).ok`, whatever the template, else 0.0 (for ablations) |

The dataset columns reach the reward as keyword arguments: `ground_truth` (BFCL possible-answer form, a list
or its JSON string), `tools` (normalised specs, list or JSON string) and `category` (BFCL or funrl category;
it picks the checker). A row whose `ground_truth` is `None` is not scorable and gets `None` (TRL's contract).
Completions are strings or TRL conversational lists `[{"role": "assistant", "content": ...}]`.

With TRL's `GRPOTrainer` (1.16 passes `log_extra` and `log_metric` to reward functions), each reward logs
the reason of every completion as a column of the completions table (`<name>_reason`) and the fraction of
each reason in the batch as `rewards/<name>/reason/<code>` metrics.

    from funrl.rewards import load_reward_funcs, score_completion
    reward_funcs = load_reward_funcs(["funrl"])                      # for GRPOTrainer(reward_funcs=...)
    score_completion("<think>t</think><answer>[f(a=1)]</answer>", [{"f": {"a": [1]}}], tools, "simple")
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from funrl.calls import FORMATS, check_output
from funrl.schema import Sample

REWARD_KINDS = ("funrl", "format", "ast_match")
DEFAULT_FORMAT = "funrl"


def completion_text(completion: Any) -> str:
    """The text of one completion: a string as is, or the assistant contents of a TRL conversational list.

    Examples:

    ```python
    >>> completion_text([{"role": "assistant", "content": "<answer>[]</answer>"}])
    '<answer>[]</answer>'

    ```
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, list):
        parts = []
        for message in completion:
            if not isinstance(message, dict):
                raise TypeError(f"conversational completion items must be dicts, got {type(message).__name__}")
            if message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content") or ""
            if isinstance(content, list):  # multimodal-style content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            parts.append(content)
        return "".join(parts)
    raise TypeError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def _load(value: Any, column: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"reward column {column!r} holds a string that is not valid JSON ({exc})") from None
    return value


def _sample(ground_truth: Any, tools: Any, category: str, sample_id: Any = None) -> Sample:
    gt, specs = _load(ground_truth, "ground_truth"), _load(tools, "tools")
    if not isinstance(gt, list) or not isinstance(specs, list):
        raise ValueError(
            f"reward columns 'ground_truth' and 'tools' must be lists (or their JSON), got "
            f"{type(gt).__name__} and {type(specs).__name__} (id {sample_id!r})"
        )
    if not isinstance(category, str) or not category:
        raise ValueError(f"reward column 'category' must be a non-empty string, got {category!r} (id {sample_id!r})")
    return Sample(id=str(sample_id), messages=[], tools=specs, ground_truth=gt, category=category)


def _score(text: str, sample: Sample, fmt: str, kind: str) -> tuple[float, str]:
    """(reward, reason) of one completion for a reward `kind` (see `REWARD_KINDS`), from the one checker's verdict."""
    verdict = check_output(text, sample, fmt)
    if kind != "ast_match" and verdict.reason != "unsupported_language":  # Java / JS refused: not a template error
        if not verdict.format_ok:
            return 0.0, f"format:{verdict.format_reason}"
        if kind == "format":
            return 1.0, "ok"
    return (1.0, "ok") if verdict.ok else (0.0, verdict.reason or "match:failed")


def score_completion(
    completion: Any, ground_truth: Any, tools: Any, category: str, fmt: str = DEFAULT_FORMAT
) -> tuple[float, str]:
    """The `funrl` reward of one completion and the reason behind it.

    Args:
        completion (`str` or `list[dict]`): the generated text, or a TRL conversational completion.
        ground_truth (`list` or `str`): BFCL possible answers `[{name: {param: [allowed, ...]}}]` (or JSON).
        tools (`list` or `str`): normalised function specs (or JSON).
        category (`str`): the sample's category (`simple`, `parallel`, `irrelevance`, `live_multiple`, ...).
        fmt (`str`, *optional*, defaults to `"funrl"`): output format the model was trained in
            (`funrl`, `bfcl-prompt`, `qwen-fc`; see `funrl.calls.parse_calls`).

    Returns:
        `tuple[float, str]`: `(1.0, "ok")`, `(0.0, "format:<code>")` when the template is not followed, or
        `(0.0, <BFCL error type>)` such as `simple_function_checker:missing_required` when the calls do not match.

    Examples:

    ```python
    >>> tools = [{"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}},
    ...                                       "required": ["a"]}}]
    >>> score_completion("<think>a is 1</think><answer>[f(a=1)]</answer>", [{"f": {"a": [1]}}], tools, "simple")
    (1.0, 'ok')
    >>> score_completion("<think>a is 2</think><answer>[f(a=2)]</answer>", [{"f": {"a": [1]}}], tools, "simple")
    (0.0, 'value_error:others')
    >>> score_completion("[f(a=1)]", [{"f": {"a": [1]}}], tools, "simple")[0]   # right call, no template
    0.0

    ```
    """
    return _score(completion_text(completion), _sample(ground_truth, tools, category), fmt, "funrl")


class CallReward:
    """A TRL reward function scoring completions with funrl's parser and matcher.

    A class rather than a closure so that the reward pickles (multiprocess data loading, accelerate) and has a
    stable `__name__` for TRL's logs, as TRL's own reward factories do.

    Args:
        kind (`str`): `"funrl"` (format AND match), `"format"` or `"ast_match"`.
        fmt (`str`, *optional*, defaults to `"funrl"`): the output format (`funrl`, `bfcl-prompt`, `qwen-fc`).

    Calling it follows TRL's reward signature `(prompts, completions, **columns) -> list[float | None]`.
    `score_batch` returns `(reward, reason)` pairs instead, for callers that want the reasons.

    Examples:

    ```python
    >>> reward = CallReward("format")
    >>> reward(prompts=["q"], completions=[[{"role": "assistant", "content": "<think></think><answer>[]</answer>"}]],
    ...        ground_truth=["[]"], tools=["[]"], category=["irrelevance"])
    [1.0]

    ```
    """

    def __init__(self, kind: str = "funrl", fmt: str = DEFAULT_FORMAT):
        if kind not in REWARD_KINDS:
            raise ValueError(f"unknown reward kind {kind!r}; valid: {', '.join(REWARD_KINDS)}")
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; valid: {', '.join(FORMATS)}")
        self.kind, self.fmt = kind, fmt
        self.__name__ = f"{kind}_reward" if fmt == DEFAULT_FORMAT else f"{kind}_reward_{fmt.replace('-', '_')}"
        self._seen_reasons: set[str] = set()

    def __repr__(self) -> str:
        return f"CallReward(kind={self.kind!r}, fmt={self.fmt!r})"

    def score_batch(
        self,
        completions: Sequence[Any],
        ground_truth: Sequence[Any],
        tools: Sequence[Any],
        category: Sequence[str],
        id: Sequence[Any] | None = None,  # noqa: A002 (TRL passes dataset columns by name)
    ) -> list[tuple[float, str] | None]:
        """`(reward, reason)` per completion; `None` for rows whose `ground_truth` is `None` (not scorable)."""
        n = len(completions)
        for column, values in (("ground_truth", ground_truth), ("tools", tools), ("category", category)):
            if values is None or len(values) != n:
                got = "missing" if values is None else f"{len(values)} values"
                raise ValueError(f"{self.__name__}: column {column!r} must have one value per completion ({n}); {got}")
        # GRPO repeats each row num_generations times, one after the other: the current row's sample (its JSON
        # parsed once) and its verdicts by completion text are kept while the row repeats, then let go, so that a
        # batch does not keep every row's parsed columns alive (fewer garbage-collector passes)
        last_key, sample, memo = None, None, {}
        out: list[tuple[float, str] | None] = []
        for i in range(n):
            if ground_truth[i] is None:
                out.append(None)
                continue
            gt, specs, cat = ground_truth[i], tools[i], category[i]
            key = (gt, specs, cat) if isinstance(gt, str) and isinstance(specs, str) else None
            if key is None or key != last_key:
                sample = _sample(gt, specs, cat, id[i] if id is not None else i)
                last_key, memo = key, {}
            text = completion_text(completions[i])
            # identical completions of one prompt are common once the policy sharpens: check each pair once
            verdict = memo.get(text) if key is not None else None
            if verdict is None:
                verdict = _score(text, sample, self.fmt, self.kind)
                if key is not None:
                    memo[text] = verdict
            out.append(verdict)
        return out

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        ground_truth: Sequence[Any] | None = None,
        tools: Sequence[Any] | None = None,
        category: Sequence[str] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        results = self.score_batch(completions, ground_truth, tools, category, kwargs.get("id"))
        if log_extra is not None or log_metric is not None:
            self._log(results, log_extra, log_metric)
        return [None if r is None else r[0] for r in results]

    def _log(self, results, log_extra, log_metric) -> None:
        reasons = [None if r is None else r[1] for r in results]
        if log_extra is not None:
            log_extra(f"{self.__name__}_reason", reasons)
        scored = [r for r in reasons if r is not None]
        if log_metric is None or not scored:
            return
        counts = Counter(scored)
        # TRL averages a metric over the steps in which it was logged, so once a reason has been seen it is
        # logged at every later step (0.0 when absent); otherwise rare reasons would look frequent.
        self._seen_reasons.update(counts)
        for reason in sorted(self._seen_reasons):
            log_metric(f"rewards/{self.__name__}/reason/{reason.replace(':', '/')}", counts[reason] / len(scored))


def load_reward_funcs(names: str | Sequence[str], fmt: str = DEFAULT_FORMAT) -> list[Callable]:
    """The one way to get rewards: a `REWARD_KINDS` name (a `CallReward` for output format `fmt`) or a dotted
    import path to a callable.

    Args:
        names (`str` or `Sequence[str]`): e.g. `["funrl"]`, `"format,ast_match"` or `["my_pkg.rewards.length"]`.
        fmt (`str`, *optional*, defaults to `"funrl"`): output format for the built-in rewards.

    Raises:
        `ValueError`: for a name that is neither a key nor an importable callable; the message lists the keys.

    Examples:

    ```python
    >>> [f.__name__ for f in load_reward_funcs("funrl,format")]
    ['funrl_reward', 'format_reward']
    >>> load_reward_funcs(["funrl"], fmt="qwen-fc")[0].__name__
    'funrl_reward_qwen_fc'

    ```
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    funcs: list[Callable] = []
    for name in names:
        if name in REWARD_KINDS:
            funcs.append(CallReward(name, fmt))
            continue
        module_name, _, attr = name.rpartition(".")
        func = None
        if module_name:
            try:
                func = getattr(importlib.import_module(module_name), attr, None)
            except ImportError:
                func = None
        if not callable(func):
            raise ValueError(
                f"unknown reward function {name!r}; valid names: {', '.join(REWARD_KINDS)} "
                "(or a dotted import path to a callable, e.g. my_package.rewards.my_reward)"
            )
        funcs.append(func)
    return funcs
