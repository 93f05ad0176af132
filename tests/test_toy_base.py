"""The toy base model that ships with funrl (`funrl.toy.base`): the shipped folder loads offline like any checkpoint,
its card matches its config and weights, it answers in plain call syntax, and its data never holds an evaluation
query. The slow test rebuilds a base for a few steps and runs the quickstart from it.

    .venv/bin/python -m pytest tests/test_toy_base.py -q
"""

from __future__ import annotations

import json

import pytest

from funrl.toy.base import BASE_DIR, EVAL_SEEDS, base_data, compact, excluded_queries, load_card
from funrl.toy.world import generate

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def card():
    return load_card(BASE_DIR)


def test_shipped_folder_is_a_small_hf_model(card):
    names = {p.name for p in BASE_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
            "toy_base.json", "generation_config.json"} <= names  # fmt: skip
    assert sum(p.stat().st_size for p in BASE_DIR.iterdir()) <= 8 * 1024 * 1024  # the package's size limit


def test_card_matches_config_and_weights(card):
    import torch

    config = json.loads((BASE_DIR / "config.json").read_text())
    for key, value in card["architecture"].items():
        assert config[key] == value, key
    model = transformers.AutoModelForCausalLM.from_pretrained(BASE_DIR, dtype=torch.float32)
    assert model.num_parameters() == card["parameters"]
    with open(BASE_DIR / "model.safetensors", "rb") as handle:  # stored in bfloat16, as the card says
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    text = (BASE_DIR / "README.md").read_text()
    for fact in (card["command"], card["commit"], f"optimizer steps: {card['steps']}"):
        assert str(fact) in text
    assert card["command"].startswith("funrl toy-base ") and card["steps"] >= 1000
    assert set(card["scores"]) == {"heldout_id", "heldout"}


def test_card_scores_show_room_for_rl(card):
    """What the design asks of the base: it copies values on single calls, and is weaker on multi-call prompts."""
    scores = card["scores"]["heldout_id"]
    assert scores["simple"] >= 0.6 and scores["multiple"] >= 0.6
    assert min(scores["parallel"], scores["parallel_multiple"]) < min(scores["simple"], scores["multiple"])


def test_shipped_base_answers_in_plain_call_syntax():
    """Greedy answers of the shipped weights on in-distribution prompts: plain `[...]` calls, no think span, and
    mostly right on simple prompts (the checker of `funrl score`)."""
    import torch

    from funrl.calls.parse import parse_calls
    from funrl.template import render_prompt

    tok = transformers.AutoTokenizer.from_pretrained(BASE_DIR)
    model = transformers.AutoModelForCausalLM.from_pretrained(BASE_DIR, dtype=torch.float32).eval()
    samples = compact(generate("heldout_id", n=40, seed=0, mix={"simple": 1.0}))[:8]
    tok.padding_side = "left"
    enc = tok([render_prompt(tok, s, "bfcl-prompt") for s in samples], return_tensors="pt", padding=True,
              add_special_tokens=False)  # fmt: skip
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=48, do_sample=False, pad_token_id=tok.pad_token_id)
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(t.startswith("[") and "<think>" not in t for t in texts), texts
    assert all(parse_calls(t, "bfcl-prompt").format_ok for t in texts), texts


def test_base_data_never_holds_an_evaluation_query():
    samples, removed = base_data(3000)
    assert len(samples) == 3000 and removed > 0
    banned = excluded_queries()
    assert not any(s.messages[-1]["content"] in banned for s in samples)
    # the excluded set is every in-distribution evaluation query of the quickstart's seeds
    for seed in EVAL_SEEDS:
        assert {s.messages[-1]["content"] for s in generate("heldout_id", n=200, seed=seed)} <= banned
    assert all(s.meta["prompt_style"] == "compact" for s in samples)


@pytest.mark.slow
def test_rebuilt_base_runs_the_pipeline(tmp_path):
    """`funrl toy-base` for a few steps, then the quickstart's smoke run from the rebuilt base."""
    from funrl.toy.base_cmd import main as base_main
    from funrl.toy.quickstart import main as quickstart_main

    out = tmp_path / "base"
    assert base_main(["--output", str(out), "--steps", "3", "--eval_n", "5"]) == 0
    card = load_card(out)
    assert card["steps"] == 3 and set(card["scores"]) == {"heldout_id", "heldout"}
    assert quickstart_main(["--output", str(tmp_path / "qs"), "--smoke", "--base", str(out)]) == 0
    assert (tmp_path / "qs" / "results.md").is_file()
