"""The reward's batch shortcuts (one parse per row run, a memo of identical completions) never change a verdict.

`CallReward.score_batch` parses a row's JSON columns once while the row repeats (GRPO's layout) and checks identical
completions of that row once. Whatever the order of the rows in a batch (contiguous, interleaved, repeated later),
every verdict must equal the one `score_completion` gives that completion alone.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.rewards import CallReward, score_completion

TOOLS = [
    {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    }
]
ROWS = [
    ([{"get_weather": {"city": ["Paris"], "days": [3, ""]}}], "simple"),
    ([{"get_weather": {"city": ["Rome"], "days": [""]}}], "simple"),
    ([], "irrelevance"),
]
COMPLETIONS = [
    "<think>t</think><answer>[get_weather(city='Paris')]</answer>",
    "<think>t</think><answer>[get_weather(city='Paris', days=3)]</answer>",
    "<think>t</think><answer>[get_weather(city='Rome')]</answer>",
    "<think>t</think><answer>[]</answer>",
    "[get_weather(city='Paris')]",
    "<think>t</think><answer>[get_weather(city=Paris)]</answer>",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(ROWS) - 1), st.integers(0, len(COMPLETIONS) - 1)), max_size=24),
    st.sampled_from(["funrl", "format", "ast_match"]),
)
def test_batch_verdicts_equal_single_verdicts(pairs, kind):
    gts = [json.dumps(ROWS[r][0]) for r, _ in pairs]
    cats = [ROWS[r][1] for r, _ in pairs]
    texts = [COMPLETIONS[c] for _, c in pairs]
    batch = CallReward(kind).score_batch(texts, gts, [json.dumps(TOOLS)] * len(pairs), cats)
    for (r, c), verdict in zip(pairs, batch, strict=True):
        if kind == "funrl":
            assert verdict == score_completion(COMPLETIONS[c], ROWS[r][0], TOOLS, ROWS[r][1])
        else:
            assert verdict == CallReward(kind).score_batch([COMPLETIONS[c]], [ROWS[r][0]], [TOOLS], [ROWS[r][1]])[0]
