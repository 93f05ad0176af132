"""The toy function-calling world. Run: pytest tests/test_toyworld.py"""

import collections

import pytest

from funrl.toy.world import CATEGORIES, HELDOUT_TEMPLATE, JOINER_HELDOUT, generate, to_xlam


def test_deterministic():
    assert generate("train", n=50, seed=3) == generate("train", n=50, seed=3)
    assert generate("train", n=50, seed=3) != generate("train", n=50, seed=4)


def test_every_category_present():
    counts = collections.Counter(s.category for s in generate("train", n=400, seed=0))
    assert set(counts) == set(CATEGORIES)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_ground_truth_shapes(split):
    for s in generate(split, n=200, seed=0):
        names = [t["name"] for t in s.tools]
        called = [name for call in s.ground_truth for name in call]
        assert all(name in names for name in called), s  # every called tool is shown
        if s.category == "irrelevance":
            assert s.ground_truth == [] and s.tools  # tools shown, none fits
        elif s.category in ("parallel", "parallel_multiple"):
            assert len(called) == 2
            assert (len(set(called)) == 1) == (s.category == "parallel")
            assert s.ground_truth[0] != s.ground_truth[1]  # two distinct calls
        else:
            assert len(called) == 1 and (len(names) == 1) == (s.category == "simple")
        for call in s.ground_truth:
            for name, args in call.items():
                required = next(t for t in s.tools if t["name"] == name)["parameters"]["required"]
                assert all("" not in args[r] for r in required)  # required parameters can never be omitted


def test_heldout_is_unseen():
    train = generate("train", n=500, seed=0)
    heldout = generate("heldout", n=200, seed=0)
    assert all(s.meta["template"] != HELDOUT_TEMPLATE for s in train)
    assert all(s.meta["template"] == HELDOUT_TEMPLATE for s in heldout)
    assert not any(JOINER_HELDOUT in s.messages[0]["content"] for s in train)
    train_queries = {s.messages[0]["content"] for s in train}
    assert not any(s.messages[0]["content"] in train_queries for s in heldout)


def test_xlam_rendering():
    import json

    sample = next(s for s in generate("train", n=100, seed=0) if s.category == "parallel_multiple")
    raw = to_xlam(sample)
    assert isinstance(raw["tools"], str) and isinstance(raw["answers"], str)  # JSON-in-string, as xLAM ships
    answers = json.loads(raw["answers"])
    assert [a["name"] for a in answers] == [next(iter(c)) for c in sample.ground_truth]


def test_unknown_category_lists_valid():
    with pytest.raises(ValueError, match="valid: simple"):
        generate("train", n=1, mix={"simpel": 1.0})


def test_validation_split_is_heldout_like_and_disjoint():
    """The validation split is drawn like heldout (unseen template and joiner) but shares no query with it."""
    val = generate("validation", n=200, seed=0)
    heldout = generate("heldout", n=200, seed=0)
    assert all(s.meta["template"] == HELDOUT_TEMPLATE for s in val)
    assert all(s.id.startswith("toy-validation-0-") for s in val)
    two_calls = [s for s in val if len(s.ground_truth) == 2]
    assert two_calls and all(JOINER_HELDOUT in s.messages[0]["content"] for s in two_calls)
    heldout_queries = {s.messages[0]["content"] for s in heldout}
    shared = [s.messages[0]["content"] for s in val if s.messages[0]["content"] in heldout_queries]
    # independent streams: short queries ("Call Bob.") can coincide in this small world, most cannot
    assert len(shared) < 0.25 * len(val), shared


def test_unknown_split_lists_valid():
    with pytest.raises(ValueError, match="train, heldout, validation"):
        generate("test", n=1)
