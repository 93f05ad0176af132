"""A built-in toy function-calling world: typed tools, paraphrased queries, ground truth, held-out split.

Deterministic from a seed, no downloads. Used by the smoke recipes, the tiny-model tokenizer corpus, the
tests and the CPU quickstart. Every BFCL single-turn category shape is covered: simple (one tool shown),
multiple (three shown, one called), parallel (one tool called twice), parallel_multiple (two tools, one call
each) and irrelevance (the tools shown cannot answer; the target is no call).

The held-out split is out of distribution: a paraphrase template never seen in training, a joiner never seen in
training for two-call queries, fresh numbers and, with probability `unseen_value_p`, string values from a pool the
training split never uses. The `validation` split is drawn the same way as `heldout` from its own random
stream: use it for every choice of settings, and the held-out split only for the final numbers.

`heldout_id` and `validation_id` are the in-distribution pair: drawn like `train` (seen templates, seen joiners,
training value pools) from their own random streams, so they test fresh combinations of seen parts. A small world
repeats itself (six people, three templates): consumers that train on `train` drop the queries these splits hold
(`funrl.toy.base` for the shipped base, `funrl.toy.pipeline.evaluation_queries` for a quickstart run), so an
in-distribution entry is never a training example.

    from funrl.toy.world import generate, to_xlam, corpus_text
    train = generate("train", n=512, seed=0)        # list[Sample]
    heldout = generate("heldout", n=100, seed=1)
    val = generate("validation", n=100, seed=1)      # same distribution as heldout, other samples
    heldout_id = generate("heldout_id", n=100, seed=1)  # in distribution: seen templates, fresh combinations
    raw = [to_xlam(s) for s in train]                # xLAM-format records, input for `funrl prepare --format xlam`
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from funrl.schema import Sample, normalize_tools

SPLITS = ("train", "heldout", "validation", "heldout_id", "validation_id")
OOD_SPLITS = ("heldout", "validation")  # unseen paraphrase template, unseen joiner, partly unseen values
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
DEFAULT_MIX = {"simple": 0.3, "multiple": 0.25, "parallel": 0.15, "parallel_multiple": 0.15, "irrelevance": 0.15}

# string pools: (train values, held-out-only values)
POOLS: dict[str, tuple[list[str], list[str]]] = {
    "city": (["Paris", "London", "Tokyo", "Berlin", "Madrid", "Rome", "Oslo", "Cairo"], ["Lima", "Dublin", "Seoul"]),
    "person": (["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"], ["Grace", "Heidi", "Ivan"]),
    "artist": (["Adele", "Queen", "Muse", "Abba", "Blur"], ["Oasis", "Bjork"]),
    "symbol": (["AAPL", "MSFT", "TSLA", "AMZN", "NVDA"], ["ORCL", "INTC"]),
    "topic": (["sports", "science", "politics", "music", "travel"], ["health", "finance"]),
    "task": (["buy milk", "call mom", "pay rent", "walk dog", "clean desk"], ["fix bike", "read book"]),
    "restaurant": (["Luigi", "Sakura", "Le Bistro", "Taj", "El Toro"], ["Nordic", "Pho Bar"]),
    "subject": (["meeting", "invoice", "party", "report", "lunch"], ["budget", "holiday"]),
    "phrase": (["good morning", "thank you", "see you soon", "where is the station"], ["happy birthday"]),
    "tz": (["UTC", "CET", "EST", "JST", "PST"], ["IST", "AEST"]),
}
CURRENCIES = {"dollars": "USD", "euros": "EUR", "yen": "JPY", "pounds": "GBP", "francs": "CHF"}
LANGUAGES = {"French": "fr", "German": "de", "Spanish": "es", "Italian": "it", "Japanese": "ja"}
HELDOUT_TEMPLATE = 3  # index of the paraphrase kept out of training
JOINERS_TRAIN = (" Also, ", " And ")
JOINER_HELDOUT = " Then "


def _p(type_: str, desc: str, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "description": desc, **extra}


@dataclass
class Tool:
    """One toy tool: its JSON schema, query paraphrases and a sampler of argument values."""

    name: str
    description: str
    params: dict[str, dict[str, Any]]
    required: list[str]
    templates: list[str]  # str.format templates over the `mention` dict returned by `sample`
    sample: Callable[[random.Random, bool], tuple[dict[str, Any], dict[str, Any]]]  # (args, mentions)
    defaults: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": {"type": "object", "properties": self.params, "required": self.required},
        }


def _pick(rng: random.Random, pool: str, heldout: bool, unseen_p: float) -> str:
    train, unseen = POOLS[pool]
    return rng.choice(unseen if heldout and rng.random() < unseen_p else train)


def _catalogue(unseen_p: float) -> list[Tool]:
    def s(pool: str) -> Callable[[random.Random, bool], str]:
        return lambda rng, h: _pick(rng, pool, h, unseen_p)

    def weather(rng, h):
        city = s("city")(rng, h)
        if rng.random() < 0.5:
            unit = rng.choice(["celsius", "fahrenheit"])
            return {"city": city, "unit": unit}, {"city": city, "extra": f" in {unit}"}
        return {"city": city}, {"city": city, "extra": ""}

    def currency(rng, h):
        amount = float(rng.choice([5, 20, 120, 350, 1000, 20000]) + rng.choice([0, 0, 0.5, 0.25]))
        src, dst = rng.sample(sorted(CURRENCIES), 2)
        args = {"amount": amount, "from_currency": CURRENCIES[src], "to_currency": CURRENCIES[dst]}
        return args, {"amount": f"{amount:g}", "src": src, "dst": dst}

    def alarm(rng, h):
        hour, minute = rng.randint(0, 23), rng.choice([0, 5, 15, 30, 45])
        return {"hour": hour, "minute": minute}, {"time": f"{hour}:{minute:02d}"}

    def email(rng, h):
        to, subject = s("person")(rng, h), s("subject")(rng, h)
        if rng.random() < 0.3:
            return {"to": to, "subject": subject, "urgent": True}, {"to": to, "subject": subject, "urg": " urgent"}
        return {"to": to, "subject": subject}, {"to": to, "subject": subject, "urg": ""}

    def stock(rng, h):
        sym = s("symbol")(rng, h)
        return {"symbol": sym}, {"symbol": sym}

    def book(rng, h):
        name, people, hour = s("restaurant")(rng, h), rng.randint(2, 8), rng.randint(17, 22)
        return {"restaurant": name, "people": people, "time": f"{hour}:00"}, {
            "name": name,
            "people": people,
            "time": f"{hour}:00",
        }

    def music(rng, h):
        artist = s("artist")(rng, h)
        if rng.random() < 0.4:
            return {"artist": artist, "shuffle": True}, {"artist": artist, "shuf": " on shuffle"}
        return {"artist": artist}, {"artist": artist, "shuf": ""}

    def translate(rng, h):
        text, lang = s("phrase")(rng, h), rng.choice(sorted(LANGUAGES))
        return {"text": text, "target_language": LANGUAGES[lang]}, {"text": text, "lang": lang}

    def timer(rng, h):
        minutes = rng.randint(1, 90)
        return {"minutes": minutes}, {"minutes": minutes}

    def flights(rng, h):
        a, b = rng.sample(POOLS["city"][0] + (POOLS["city"][1] if h else []), 2)
        day = rng.randint(1, 28)
        date = f"2025-0{rng.randint(1, 9)}-{day:02d}"
        return {"origin": a, "destination": b, "date": date}, {"a": a, "b": b, "date": date}

    def news(rng, h):
        topic = s("topic")(rng, h)
        if rng.random() < 0.4:
            limit = rng.randint(2, 9)
            return {"topic": topic, "limit": limit}, {"topic": topic, "n": f"{limit} "}
        return {"topic": topic}, {"topic": topic, "n": ""}

    def contact(rng, h):
        name = s("person")(rng, h)
        return {"name": name}, {"name": name}

    def todo(rng, h):
        task = s("task")(rng, h)
        if rng.random() < 0.35:
            tags = rng.sample(["home", "work", "urgent", "later"], 2)
            return {"task": task, "tags": tags}, {"task": task, "tags": f" tagged {tags[0]} and {tags[1]}"}
        return {"task": task}, {"task": task, "tags": ""}

    def clock(rng, h):
        tz = s("tz")(rng, h)
        return {"timezone": tz}, {"tz": tz}

    def tip(rng, h):
        bill, pct = float(rng.randint(10, 200)) + rng.choice([0.0, 0.5]), float(rng.choice([10, 12.5, 15, 18, 20]))
        return {"bill": bill, "percent": pct}, {"bill": f"{bill:g}", "pct": f"{pct:g}"}

    S, INT, N, B = "string", "integer", "number", "boolean"
    return [
        Tool(
            "get_weather",
            "Current weather for a city.",
            {
                "city": _p(S, "City name."),
                "unit": _p(S, "Temperature unit.", enum=["celsius", "fahrenheit"], default="celsius"),
            },
            ["city"],
            [
                "What's the weather in {city}{extra}?",
                "Tell me the weather for {city}{extra}.",
                "How is the weather in {city} right now{extra}?",
                "Weather report for {city}{extra}, please.",
            ],
            weather,
            {"unit": "celsius"},
        ),
        Tool(
            "convert_currency",
            "Convert an amount between currencies (ISO codes).",
            {
                "amount": _p(N, "Amount to convert."),
                "from_currency": _p(S, "ISO code to convert from."),
                "to_currency": _p(S, "ISO code to convert to."),
            },
            ["amount", "from_currency", "to_currency"],
            [
                "Convert {amount} {src} to {dst}.",
                "How much is {amount} {src} in {dst}?",
                "Change {amount} {src} into {dst}.",
                "What do {amount} {src} come to in {dst}?",
            ],
            currency,
        ),
        Tool(
            "set_alarm",
            "Set an alarm.",
            {"hour": _p(INT, "Hour, 0-23."), "minute": _p(INT, "Minute, 0-59.")},
            ["hour", "minute"],
            [
                "Set an alarm for {time}.",
                "Wake me up at {time}.",
                "Alarm at {time} please.",
                "I need an alarm at {time}.",
            ],
            alarm,
        ),
        Tool(
            "send_email",
            "Send an email.",
            {
                "to": _p(S, "Recipient name."),
                "subject": _p(S, "Subject line."),
                "urgent": _p(B, "Mark as urgent.", default=False),
            },
            ["to", "subject"],
            [
                "Send {to} an{urg} email about the {subject}.",
                "Email {to} about the {subject}{urg}.",
                "Write an{urg} email to {to} on the {subject}.",
                "Drop {to} an{urg} email regarding the {subject}.",
            ],
            email,
            {"urgent": False},
        ),
        Tool(
            "get_stock_price",
            "Latest price of a stock.",
            {"symbol": _p(S, "Ticker symbol.")},
            ["symbol"],
            [
                "What is {symbol} trading at?",
                "Stock price of {symbol}?",
                "Quote {symbol} for me.",
                "How much is one {symbol} share?",
            ],
            stock,
        ),
        Tool(
            "book_table",
            "Book a restaurant table.",
            {"restaurant": _p(S, "Restaurant name."), "people": _p(INT, "Party size."), "time": _p(S, "Time, HH:MM.")},
            ["restaurant", "people", "time"],
            [
                "Book {name} for {people} at {time}.",
                "Reserve a table at {name} for {people} people at {time}.",
                "Get me a table for {people} at {name}, {time}.",
                "Table for {people} at {name} at {time}.",
            ],
            book,
        ),
        Tool(
            "play_music",
            "Play music by an artist.",
            {"artist": _p(S, "Artist name."), "shuffle": _p(B, "Shuffle tracks.", default=False)},
            ["artist"],
            [
                "Play {artist}{shuf}.",
                "Put on some {artist}{shuf}.",
                "I want to hear {artist}{shuf}.",
                "Start {artist} music{shuf}.",
            ],
            music,
            {"shuffle": False},
        ),
        Tool(
            "translate_text",
            "Translate text.",
            {
                "text": _p(S, "Text to translate."),
                "target_language": _p(S, "Target language code.", enum=sorted(LANGUAGES.values())),
            },
            ["text", "target_language"],
            [
                "Translate '{text}' into {lang}.",
                "How do you say '{text}' in {lang}?",
                "Say '{text}' in {lang}.",
                "Give me '{text}' in {lang}.",
            ],
            translate,
        ),
        Tool(
            "set_timer",
            "Start a countdown timer.",
            {"minutes": _p(INT, "Duration in minutes.")},
            ["minutes"],
            [
                "Set a timer for {minutes} minutes.",
                "Start a {minutes} minute timer.",
                "Timer, {minutes} minutes.",
                "Count down {minutes} minutes.",
            ],
            timer,
        ),
        Tool(
            "search_flights",
            "Search flights.",
            {
                "origin": _p(S, "Departure city."),
                "destination": _p(S, "Arrival city."),
                "date": _p(S, "Date, YYYY-MM-DD."),
            },
            ["origin", "destination", "date"],
            [
                "Find flights from {a} to {b} on {date}.",
                "Flights {a} to {b}, {date}?",
                "Search a flight from {a} to {b} for {date}.",
                "Any flights {a} to {b} on {date}?",
            ],
            flights,
        ),
        Tool(
            "get_news",
            "Latest news headlines.",
            {"topic": _p(S, "News topic."), "limit": _p(INT, "Number of headlines.", default=5)},
            ["topic"],
            [
                "Show me {n}{topic} news.",
                "Get {n}{topic} headlines.",
                "What are the {n}latest {topic} stories?",
                "Any {n}{topic} news today?",
            ],
            news,
            {"limit": 5},
        ),
        Tool(
            "call_contact",
            "Phone a contact.",
            {"name": _p(S, "Contact name.")},
            ["name"],
            ["Call {name}.", "Phone {name} now.", "Ring {name} for me.", "Give {name} a call."],
            contact,
        ),
        Tool(
            "add_todo",
            "Add a to-do item.",
            {"task": _p(S, "Task text."), "tags": _p("array", "Tags.", items={"type": S})},
            ["task"],
            [
                "Add '{task}' to my to-do list{tags}.",
                "Remind me to '{task}'{tags}.",
                "New task: '{task}'{tags}.",
                "Put '{task}' on my list{tags}.",
            ],
            todo,
        ),
        Tool(
            "get_time",
            "Current time in a timezone.",
            {"timezone": _p(S, "Timezone code.")},
            ["timezone"],
            [
                "What time is it in {tz}?",
                "Current time in {tz}?",
                "Tell me the {tz} time.",
                "What's the clock in {tz}?",
            ],
            clock,
        ),
        Tool(
            "calculate_tip",
            "Compute a tip.",
            {"bill": _p(N, "Bill amount."), "percent": _p(N, "Tip percentage.")},
            ["bill", "percent"],
            [
                "What is a {pct}% tip on {bill}?",
                "Tip {pct} percent of {bill}.",
                "Calculate {pct}% tip for {bill}.",
                "How much is {pct}% of a {bill} bill as tip?",
            ],
            tip,
        ),
    ]


def _ground_truth(tool: Tool, args: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """BFCL possible-answer form: given values exactly; unmentioned optional parameters may be omitted or
    restate the default (as BFCL's own answers do)."""
    allowed: dict[str, list[Any]] = {k: [v] for k, v in args.items()}
    for name, default in tool.defaults.items():
        if name not in args:
            allowed[name] = ["", default]
    return {tool.name: allowed}


def generate(
    split: str = "train",
    n: int = 256,
    seed: int = 0,
    mix: dict[str, float] | None = None,
    unseen_value_p: float = 0.3,
) -> list[Sample]:
    """Generate `n` samples of the `train`, `heldout` or `validation` split, deterministically from `seed`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    mix = mix or DEFAULT_MIX
    unknown = set(mix) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown toy categories {sorted(unknown)}; valid: {', '.join(CATEGORIES)}")
    heldout = split in OOD_SPLITS  # validation is drawn like heldout; the *_id splits like train; own streams
    rng = random.Random(f"{split}:{seed}")
    tools = _catalogue(unseen_value_p)
    cats, weights = zip(*sorted(mix.items()))
    samples = []
    for index in range(n):
        category = rng.choices(cats, weights=weights)[0]
        template = HELDOUT_TEMPLATE if heldout else rng.randrange(HELDOUT_TEMPLATE)
        joiner = JOINER_HELDOUT if heldout else rng.choice(JOINERS_TRAIN)
        if category == "parallel":
            picked = rng.sample(tools, 1) * 2
            shown = picked[:1] + rng.sample([t for t in tools if t is not picked[0]], rng.randint(0, 1))
        elif category == "parallel_multiple":
            picked = rng.sample(tools, 2)
            shown = picked + rng.sample([t for t in tools if t not in picked], 1)
        elif category == "multiple":
            picked = rng.sample(tools, 1)
            shown = picked + rng.sample([t for t in tools if t is not picked[0]], 2)
        else:
            picked = rng.sample(tools, 1)
            shown = list(picked)
        texts, gt = [], []
        for i, tool in enumerate(picked):
            args, mentions = tool.sample(rng, heldout)
            for _ in range(8):  # parallel calls of one tool need distinct arguments
                if not any(call == _ground_truth(tool, args) for call in gt):
                    break
                args, mentions = tool.sample(rng, heldout)
            text = tool.templates[template].format(**mentions)
            texts.append(text if i == 0 else text[0].lower() + text[1:])
            gt.append(_ground_truth(tool, args))
        if category == "irrelevance":
            shown = rng.sample([t for t in tools if t is not picked[0]], rng.randint(1, 2))
            gt = []
        rng.shuffle(shown)
        samples.append(
            Sample(
                id=f"toy-{split}-{seed}-{index}",
                source="toyworld",
                category=category,
                messages=[{"role": "user", "content": joiner.join(texts)}],
                tools=normalize_tools(t.spec() for t in shown),
                ground_truth=gt,
                meta={"split": split, "seed": seed, "template": template},
            )
        )
    return samples


_XLAM_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "List[str]"}


def to_xlam(sample: Sample) -> dict[str, Any]:
    """Render a toy sample as an xLAM-60k record (JSON-in-string `tools`/`answers`, python-style types,
    `, optional` suffix, string defaults) — the raw input of `funrl prepare --format xlam`."""
    tools = []
    for tool in sample.tools:
        params = {}
        required = set(tool["parameters"].get("required", []))
        for name, schema in tool["parameters"]["properties"].items():
            entry = {"description": schema.get("description", ""), "type": _XLAM_TYPES[schema["type"]]}
            if name not in required:
                entry["type"] += ", optional"
                if "default" in schema:
                    entry["default"] = str(schema["default"])
            params[name] = entry
        tools.append({"name": tool["name"], "description": tool["description"], "parameters": params})
    answers = [
        {"name": name, "arguments": {k: v[0] for k, v in args.items() if v[0] != ""}}
        for call in sample.ground_truth
        for name, args in call.items()
    ]
    return {
        "id": sample.id,
        "query": sample.messages[-1]["content"],
        "tools": json.dumps(tools),
        "answers": json.dumps(answers),
    }


def corpus_text(n: int = 2000, seed: int = 0) -> list[str]:
    """Texts a tokenizer for the toy world should compress well: queries, tool specs and calls."""
    from funrl.calls.render import ground_truth_to_calls, render_calls

    texts = []
    for sample in generate("train", n=n, seed=seed) + generate("heldout", n=n // 10, seed=seed):
        texts.append(sample.messages[-1]["content"])
        texts.append(json.dumps(sample.tools))
        texts.append(render_calls(ground_truth_to_calls(sample.ground_truth)))
    return texts


def plan_think(sample: Sample) -> str:
    """The toy's chain of thought: a plan that counts the calls and names their functions, `2 calls: f, g.`, or
    `0 calls: no function fits.`. Unlike the library's default (`funrl.template.render_think`, which restates every
    value the answer then copies), each of its tokens is a decision the answer depends on (which functions, how many
    calls), so a policy's uncertainty shows in the chain of thought, and it is about half as long."""
    names = [next(iter(call)) for call in sample.ground_truth]
    if not names:
        return "0 calls: no function fits."
    return f"{len(names)} call{'s' if len(names) > 1 else ''}: {', '.join(names)}."
