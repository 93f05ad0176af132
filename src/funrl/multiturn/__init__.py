"""BFCL multi-turn: stateful API environments, the conversation loop, and the official per-turn checker.

BFCL's multi-turn categories (`multi_turn_base`, `multi_turn_miss_func`, `multi_turn_miss_param`,
`multi_turn_long_context`) run a model's calls against simulated APIs (file system, math, messaging, posting,
tickets, trading, travel, vehicle control). Their classes ship in the `bfcl-eval` package; funrl imports only
those modules, lazily (`funrl.multiturn.apis`), so `import funrl` never pulls them and nothing of bfcl-eval's
SDK-heavy import chain is loaded. Install them with `pip install --no-deps bfcl-eval==2026.3.23 mpmath`
(`bash scripts/setup.sh dev` does it).

Modules:

- `apis`: where the API classes live, and the clear error when they are missing;
- `execute`: call strings as BFCL renders them from decoded calls, and a safe interpreter that dispatches them
  to the instances' public methods by name (never `eval`), with BFCL's per-call error results;
- `env`: `Environment`, the instances of one entry and their state;
- `data`: `MultiTurnEntry` and the loader of BFCL's multi-turn files (function docs, held-out functions);
- `checker`: `check_trajectory`, BFCL's per-entry verdict (state and response checks after every turn);
- `loop`: `Conversation` and `run_conversations`, the conversation loop as BFCL runs it;
- `evaluate`: generation and scoring for `funrl eval` and `funrl score`.
"""

MULTI_TURN_CATEGORIES: dict[str, int] = {
    "multi_turn_base": 200,
    "multi_turn_miss_func": 200,
    "multi_turn_miss_param": 200,
    "multi_turn_long_context": 200,
}
MULTI_TURN_GROUP = "multi_turn"


def is_multi_turn(name: str) -> bool:
    """Whether a category name or entry id belongs to BFCL's multi-turn categories (or is the group name)."""
    return name == MULTI_TURN_GROUP or any(name == c or name.startswith(c + "_") for c in MULTI_TURN_CATEGORIES)
