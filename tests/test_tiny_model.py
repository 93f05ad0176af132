"""Tests of `funrl.toy.tiny_model`: the saved folder loads offline, tags survive decoding, sizes are as documented.

.venv/bin/python -m pytest tests/test_tiny_model.py -q
"""

from __future__ import annotations

import json

import pytest

from funrl.toy.tiny_model import (
    IM_END,
    IM_START,
    PAD,
    SIZES,
    SPEC_PREFIX,
    TAG_TOKENS,
    VOCAB_SIZE,
    resolve_model_path,
)
from funrl.toy.tiny_model_cmd import main

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return transformers.AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)


class TestSavedFolder:
    def test_is_a_normal_hf_model_dir(self, tiny_model_dir):
        names = {p.name for p in tiny_model_dir.iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
        config = json.loads((tiny_model_dir / "config.json").read_text())
        assert config["model_type"] == "qwen2"
        assert config["tie_word_embeddings"] is True

    def test_tiny_size(self, model):
        assert model.config.hidden_size == SIZES["tiny"]["hidden_size"]
        assert model.config.num_hidden_layers == 2

    def test_vocab_and_ids_agree(self, model, tokenizer):
        assert len(tokenizer) == VOCAB_SIZE == model.config.vocab_size
        assert tokenizer.eos_token == IM_END
        assert tokenizer.pad_token == PAD
        assert model.config.eos_token_id == tokenizer.eos_token_id == model.generation_config.eos_token_id
        assert model.generation_config.pad_token_id == tokenizer.pad_token_id

    def test_chat_template_saved(self, tokenizer):
        assert tokenizer.chat_template and "generation" in tokenizer.chat_template


class TestTokens:
    @pytest.mark.parametrize("tag", TAG_TOKENS)
    def test_tag_is_one_normal_token(self, tokenizer, tag):
        ids = tokenizer(tag, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, f"{tag} split into {ids}"
        assert ids[0] not in tokenizer.all_special_ids  # special tokens are stripped by skip_special_tokens

    @pytest.mark.parametrize("tok", [IM_START, IM_END])
    def test_chat_markers_are_special_single_tokens(self, tokenizer, tok):
        ids = tokenizer(tok, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and ids[0] in tokenizer.all_special_ids

    def test_digits_split_one_per_token(self, tokenizer):
        ids = tokenizer("amount=20000", add_special_tokens=False)["input_ids"]
        pieces = [tokenizer.decode([i]) for i in ids]
        assert pieces[-5:] == ["2", "0", "0", "0", "0"]

    def test_round_trip_keeps_tags(self, tokenizer):
        # TRL decodes completions with skip_special_tokens=True: the tags must survive, the eos must not.
        text = "<think>Use f. Values: a=12</think><answer>[f(a=12, b='x')]</answer>"
        ids = tokenizer(text + IM_END, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
        assert tokenizer.decode(ids) == text + IM_END

    def test_reload_encodes_as_trained(self, tiny_model_dir, tokenizer):
        # AutoTokenizer rebuilds the files as Qwen2Tokenizer; its pipeline must be the one we trained with.
        tokenizers = pytest.importorskip("tokenizers")
        trained = tokenizers.Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
        for text in ["amount=20000, rate=3.5", "  Hello   world\n\n<think>x</think>", "(city='Tokyo's')", "Ünïcode ñ"]:
            assert tokenizer(text, add_special_tokens=False)["input_ids"] == trained.encode(text).ids, text

    def test_round_trip_tool_call_block(self, tokenizer):
        text = '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == text


class TestModel:
    def test_forward_and_generate(self, model, tokenizer):
        torch = pytest.importorskip("torch")
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
        inputs = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits
        assert logits.shape == (1, inputs["input_ids"].shape[1], VOCAB_SIZE)
        out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
        assert out.shape[1] <= inputs["input_ids"].shape[1] + 4

    def test_seed_changes_weights_not_tokenizer(self, tmp_path, tiny_model_dir):
        from funrl.toy.tiny_model import build_tiny_model

        other = build_tiny_model(tmp_path / "seed1", size="tiny", seed=1)
        assert (other / "tokenizer.json").read_text() == (tiny_model_dir / "tokenizer.json").read_text()
        assert (other / "model.safetensors").read_bytes() != (tiny_model_dir / "model.safetensors").read_bytes()

    def test_custom_corpus(self, tmp_path):
        from funrl.toy.tiny_model import build_tiny_model

        path = build_tiny_model(tmp_path / "c", corpus=["get_weather(city='Paris')"] * 20)
        tok = transformers.AutoTokenizer.from_pretrained(path)
        assert len(tok("get_weather", add_special_tokens=False)["input_ids"]) <= 2


class TestCorpus:
    def test_default_corpus_has_whole_funrl_turns(self):
        from funrl.template import FUNRL_SYSTEM_PROMPT
        from funrl.toy.tiny_model import default_corpus

        texts = default_corpus()
        assert sum(t.startswith(FUNRL_SYSTEM_PROMPT) and "</answer>" in t for t in texts) >= 100

    def test_fallback_without_toy_world(self, monkeypatch):
        import sys

        from funrl.toy.tiny_model import default_corpus

        monkeypatch.setitem(sys.modules, "funrl.toy.world", None)  # makes `from funrl.toy.world import …` fail
        texts = default_corpus()
        assert any("<answer>[" in t for t in texts) and any("<tool_call>" in t for t in texts)
        assert not any("toy" in t for t in texts[:50])


class TestResolveAndCli:
    def test_plain_path_unchanged(self, tmp_path):
        assert resolve_model_path("Qwen/Qwen2.5-0.5B", tmp_path) == "Qwen/Qwen2.5-0.5B"

    def test_spec_builds_once(self, tmp_path):
        path = resolve_model_path(f"{SPEC_PREFIX}tiny:3", tmp_path)
        assert path.endswith("tiny-tiny-seed3")
        stamp = (tmp_path / "tiny-tiny-seed3" / "model.safetensors").stat().st_mtime_ns
        assert resolve_model_path(f"{SPEC_PREFIX}tiny:3", tmp_path) == path
        assert (tmp_path / "tiny-tiny-seed3" / "model.safetensors").stat().st_mtime_ns == stamp

    def test_bare_name_is_tiny_seed0(self, tmp_path, monkeypatch):
        built = []
        monkeypatch.setattr(
            "funrl.toy.tiny_model.build_tiny_model", lambda path, size, seed: built.append((size, seed))
        )
        assert resolve_model_path("funrl-tiny", tmp_path).endswith("tiny-tiny-seed0")
        assert built == [("tiny", 0)]

    @pytest.mark.parametrize("spec", [f"{SPEC_PREFIX}huge", f"{SPEC_PREFIX}tiny:x"])
    def test_bad_spec(self, tmp_path, spec):
        with pytest.raises(ValueError, match="tiny"):
            resolve_model_path(spec, tmp_path)

    def test_cli(self, tmp_path, capsys):
        assert main(["--output", str(tmp_path / "m"), "--size", "tiny"]) == 0
        assert "tiny model" in capsys.readouterr().out
        assert (tmp_path / "m" / "config.json").is_file()
