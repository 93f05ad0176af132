"""`Environment`: the API instances of one BFCL multi-turn entry, their public methods, and their state.

    env = Environment(["GorillaFileSystem", "TwitterAPI"], entry.initial_config)
    env.execute(["ls(a=True)", "cd(folder='document')"])      # -> result strings, one per call
    env.state()                                                # public attributes of every instance

Instances are built as BFCL builds them: the class with no arguments, then (except stateless classes) its
scenario loaded from a deep copy of the entry's `initial_config`, with `long_context=True` in the
long-context category. Classes other than BFCL's (e.g. the toy world's, `funrl.toy.multiturn`) are passed
in `classes`; they follow the same protocol (`_load_scenario(config, long_context=...)`). Method names map to the instance of the last involved class that defines them (BFCL's
mapping order). Calls run through `funrl.multiturn.execute.run_call`: dispatch by name, never `eval`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from funrl.multiturn.apis import STATELESS, load_class
from funrl.multiturn.execute import PROMPT_STYLE, execution_strings, run_call


class Environment:
    """Stateful API instances for one entry (one per involved class)."""

    def __init__(
        self,
        involved_classes: Iterable[str],
        initial_config: dict[str, Any],
        long_context: bool = False,
        classes: Mapping[str, type] | None = None,
    ):
        self.instances: dict[str, Any] = {}
        self.methods: dict[str, Any] = {}
        for name in involved_classes:
            instance = (classes[name] if classes and name in classes else load_class(name))()
            if name not in STATELESS:
                instance._load_scenario(copy.deepcopy(initial_config.get(name, {})), long_context=long_context)
            self.instances[name] = instance
            for method_name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not method_name.startswith("_"):
                    self.methods[method_name] = method

    def execute(self, call_strings: Iterable[str]) -> list[str]:
        """Run BFCL call strings in order; one result string per call (errors included, never raised)."""
        return [run_call(source, self.methods) for source in call_strings]

    def execute_calls(self, calls: list[dict[str, Any]], style: str = PROMPT_STYLE) -> list[str]:
        """Run decoded calls `[{name: {arg: value}}]` (rendered as BFCL renders them for `style`)."""
        return self.execute(execution_strings(calls, style))

    def state(self) -> dict[str, dict[str, Any]]:
        """Public attributes of every stateful instance (a deep copy), as BFCL's state check compares them."""
        return {
            name: {k: copy.deepcopy(v) for k, v in vars(inst).items() if not k.startswith("_")}
            for name, inst in self.instances.items()
        }


def compare_states(model: Environment, truth: Environment) -> tuple[str, dict[str, Any]] | None:
    """BFCL's state check: the first class whose public attributes differ, with the differences; None if equal.

    Attributes are those of the ground-truth instance (`vars`, names not starting with `_`), compared with `!=`."""
    for name, truth_instance in truth.instances.items():
        model_instance = model.instances[name]
        differences = {}
        for attr in vars(truth_instance):
            if attr.startswith("_"):
                continue
            model_value, truth_value = getattr(model_instance, attr), getattr(truth_instance, attr)
            if model_value != truth_value:
                differences[attr] = {"model": model_value, "ground_truth": truth_value}
        if differences:
            return name, differences
    return None
