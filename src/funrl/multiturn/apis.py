"""Where BFCL's simulated API classes live, and how funrl loads them (lazily, one module at a time).

The classes ship in `bfcl-eval` (Apache-2.0) under `bfcl_eval/eval_checker/multi_turn_eval/func_source_code/`.
The package's `__init__` files are empty, so importing one of these modules loads only it (and `mpmath` for
`MathAPI`), never the SDKs the rest of bfcl-eval needs. Install without its dependencies:

    pip install --no-deps bfcl-eval==2026.3.23 mpmath

`load_class("GorillaFileSystem")` returns the class; a missing package raises `MultiTurnUnavailable` saying so.
"""

from __future__ import annotations

import importlib
import importlib.util

BFCL_EVAL_VERSION = "2026.3.23"
INSTALL_HINT = f"pip install --no-deps bfcl-eval=={BFCL_EVAL_VERSION} mpmath (or: bash scripts/setup.sh dev)"
_PREFIX = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"

# class name -> (module under func_source_code, function-doc file under multi_turn_func_doc/)
CLASSES: dict[str, tuple[str, str]] = {
    "GorillaFileSystem": ("gorilla_file_system", "gorilla_file_system.json"),
    "MathAPI": ("math_api", "math_api.json"),
    "MessageAPI": ("message_api", "message_api.json"),
    "TwitterAPI": ("posting_api", "posting_api.json"),
    "TicketAPI": ("ticket_api", "ticket_api.json"),
    "TradingBot": ("trading_bot", "trading_bot.json"),
    "TravelAPI": ("travel_booking", "travel_booking.json"),
    "VehicleControlAPI": ("vehicle_control", "vehicle_control.json"),
}
# classes without a scenario to load (BFCL's STATELESS_CLASSES)
STATELESS = frozenset({"MathAPI"})


class MultiTurnUnavailable(ImportError):
    """The bfcl-eval API classes are not installed (the message says how to install them)."""


def available() -> bool:
    """Whether the API classes can be imported (without importing them)."""
    try:
        return importlib.util.find_spec(f"{_PREFIX}.gorilla_file_system") is not None
    except ModuleNotFoundError:
        return False


def load_class(name: str) -> type:
    """The API class `name` (a key of `CLASSES`), imported on first use."""
    if name not in CLASSES:
        raise ValueError(
            f"unknown BFCL API class {name!r}; funrl runs {', '.join(CLASSES)} (web search and memory are out of scope)"
        )
    module_name = f"{_PREFIX}.{CLASSES[name][0]}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MultiTurnUnavailable(
            f"BFCL multi-turn needs the API classes of bfcl-eval ({module_name}: {exc}); {INSTALL_HINT}"
        ) from exc
    return getattr(module, name)
