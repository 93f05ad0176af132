"""A multi-turn toy world: a small stateful home API and 2-turn conversations, for multi-turn FunRL on CPU.

`ToyHome` follows the protocol of BFCL's simulated APIs (`_load_scenario`, public methods returning dicts, public
attributes as the state the checker compares), so the same `funrl.multiturn` environment, loop and checker run it:

    from funrl.toy.multiturn import generate_entries
    entries = generate_entries(64, seed=0)          # MultiTurnEntry objects, category "toy_multi_turn"

Each entry starts from a random home (rooms with lights on or off, a few alarms) and has two user turns, each
asking for one or two changes (lights, alarms); the ground truth is the calls that make them. Prompts are distinct
(the first user message identifies the entry).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from funrl.multiturn.data import MultiTurnEntry

CATEGORY = "toy_multi_turn"
MAX_STEPS = 2  # executed steps per turn before the loop stops a conversation (BFCL allows 20; the toy needs 1)
ROOMS = ("kitchen", "bedroom", "office", "garage", "hallway", "bathroom", "attic", "porch")
LABELS = ("wake up", "gym", "meeting", "medicine", "laundry", "call mom", "pickup", "dinner")


class ToyHome:
    """Lights per room and a list of alarms. Public attributes `lights` and `alarms` are the state."""

    def __init__(self):
        self.lights: dict[str, bool] = {}
        self.alarms: list[dict[str, str]] = []

    def _load_scenario(self, scenario: dict, long_context: bool = False) -> None:
        self.lights = dict(scenario.get("lights", {}))
        self.alarms = [dict(a) for a in scenario.get("alarms", [])]

    def turn_on(self, room: str) -> dict:
        """Switch on the light of a room."""
        if room not in self.lights:
            return {"error": f"no room named {room!r}"}
        self.lights[room] = True
        return {"room": room, "light": "on"}

    def turn_off(self, room: str) -> dict:
        """Switch off the light of a room."""
        if room not in self.lights:
            return {"error": f"no room named {room!r}"}
        self.lights[room] = False
        return {"room": room, "light": "off"}

    def set_alarm(self, time: str, label: str) -> dict:
        """Add an alarm at a time (HH:MM) with a label."""
        self.alarms.append({"time": time, "label": label})
        return {"alarms": len(self.alarms)}

    def delete_alarm(self, label: str) -> dict:
        """Delete the alarms with a label."""
        before = len(self.alarms)
        self.alarms = [a for a in self.alarms if a["label"] != label]
        return {"deleted": before - len(self.alarms)}

    def list_alarms(self) -> dict:
        """The alarms, in the order they were set."""
        return {"alarms": copy.deepcopy(self.alarms)}


def _doc(name: str, description: str, params: dict[str, str]) -> dict[str, Any]:
    props = {p: {"type": "string", "description": d} for p, d in params.items()}
    return {"name": name, "description": description, "parameters": {"type": "dict", "properties": props, "required": list(params)}}  # fmt: skip


FUNCTIONS = [
    _doc("turn_on", "Switch on the light of a room.", {"room": "The room, e.g. kitchen."}),
    _doc("turn_off", "Switch off the light of a room.", {"room": "The room, e.g. kitchen."}),
    _doc("set_alarm", "Add an alarm.", {"time": "Time as HH:MM, 24-hour clock.", "label": "The alarm's label."}),
    _doc("delete_alarm", "Delete the alarms with a label.", {"label": "The label of the alarms to delete."}),
    _doc("list_alarms", "List the alarms.", {}),
]


def _request(rng: random.Random, state: dict) -> tuple[str, list[str]]:
    """One user request and its ground-truth calls, given (and updating) the simulated state."""
    kind = rng.choice(("on", "off", "alarm", "delete", "two_lights"))
    if kind == "delete" and state["alarms"]:
        label = rng.choice(state["alarms"])["label"]
        state["alarms"] = [a for a in state["alarms"] if a["label"] != label]
        return f"Please delete my '{label}' alarm.", [f"delete_alarm(label={label!r})"]
    if kind == "alarm" or kind == "delete":
        time, label = f"{rng.randrange(5, 23):02d}:{rng.choice((0, 15, 30, 45)):02d}", rng.choice(LABELS)
        state["alarms"].append({"time": time, "label": label})
        return f"Set an alarm for {time} called '{label}'.", [f"set_alarm(time={time!r}, label={label!r})"]
    if kind == "two_lights":
        a, b = rng.sample(sorted(state["lights"]), 2)
        return f"Turn on the {a} light and turn off the {b} light.", [f"turn_on(room={a!r})", f"turn_off(room={b!r})"]
    room = rng.choice(sorted(state["lights"]))
    verb = "on" if kind == "on" else "off"
    return f"Switch the {room} light {verb}, please.", [f"turn_{verb}(room={room!r})"]


def generate_entries(n: int, seed: int = 0) -> list[MultiTurnEntry]:
    """`n` distinct 2-turn entries (distinct first user messages, so a prompt identifies its entry)."""
    rng = random.Random(seed)
    out: list[MultiTurnEntry] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"cannot draw {n} distinct toy multi-turn entries")
        rooms = rng.sample(ROOMS, 4)
        scenario = {
            "lights": {r: rng.random() < 0.5 for r in rooms},
            "alarms": [{"time": "07:00", "label": rng.choice(LABELS)}] if rng.random() < 0.5 else [],
        }
        state = copy.deepcopy(scenario)
        turns, truth = [], []
        for _ in range(2):
            text, calls = _request(rng, state)
            turns.append([{"role": "user", "content": text}])
            truth.append(calls)
        rooms_text = ", ".join(rooms)
        turns[0][0]["content"] = f"My home has these rooms: {rooms_text}. " + turns[0][0]["content"]
        key = turns[0][0]["content"]
        if key in seen:
            continue
        seen.add(key)
        out.append(
            MultiTurnEntry(
                id=f"{CATEGORY}_{len(out)}",
                category=CATEGORY,
                turns=turns,
                functions=copy.deepcopy(FUNCTIONS),
                initial_config={"ToyHome": scenario},
                involved_classes=["ToyHome"],
                ground_truth=truth,
                api_classes={"ToyHome": ToyHome},
            )
        )
    return out
