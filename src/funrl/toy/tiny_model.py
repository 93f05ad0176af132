"""A tiny random-weight Qwen2-style causal LM with a locally trained tokenizer, for tests and the CPU quickstart.

Nothing is downloaded: the tokenizer is a byte-level BPE trained with the `tokenizers` package on synthetic
function-calling text (the toy world's corpus when `funrl.toy.world` can produce it, plus the prompt boilerplate
of `funrl.template`), digits are split one per token, and the model is a `Qwen2ForCausalLM` built from a config
with random weights. The result is a normal Hugging Face model folder (config, safetensors, tokenizer files with a
ChatML-like chat template, generation config) that `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained` load
offline.

    funrl tiny-model --output runs/tiny --size small        # the command: funrl.toy.tiny_model_cmd
    python -c "from funrl.toy.tiny_model import build_tiny_model; print(build_tiny_model('runs/tiny', size='tiny'))"

Recipes can name a tiny model instead of a path: `model_name_or_path: funrl-tiny` (size tiny, seed 0) or
`funrl-tiny:<size>[:<seed>]`, built once into a cache folder by `resolve_model_path`.

Tokens: `<think>`, `</think>`, `<answer>`, `</answer>`, `<tool_call>`, `</tool_call>` are single *normal* added
tokens (TRL decodes completions with `skip_special_tokens=True`, which would strip special ones and zero every
reward); `<|im_start|>` and `<|im_end|>` are special, `<|im_end|>` is the eos token and `<|endoftext|>` the pad.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

from funrl.template import CHAT_TEMPLATE, boilerplate_texts, prompt_messages, render_target

SIZES: dict[str, dict[str, int]] = {
    # TRL's tiny-model scale: enough to run a trainer step in well under a second on CPU.
    "tiny": {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "intermediate_size": 32},
    # ~2M parameters with vocab 1024 and tied embeddings: learns the toy world on CPU in minutes.
    "small": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4,
              "intermediate_size": 512},
}  # fmt: skip
VOCAB_SIZE = 1024
MAX_POSITIONS = 4096
TAG_TOKENS = ("<think>", "</think>", "<answer>", "</answer>", "<tool_call>", "</tool_call>")
IM_START, IM_END, PAD = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
SPEC_PREFIX = "funrl-tiny:"
# Qwen2's pre-tokenisation pattern: contractions, letter runs (one leading symbol allowed), single digits,
# punctuation runs, newlines, spaces.
PRETOKENIZE_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


# ---------------------------------------------------------------------------------------------------
# Corpus


_WORDS = {
    "city": ["Paris", "Lyon", "Quito", "Accra", "Hanoi", "Perth", "Austin", "Porto"],
    "name": ["Maria", "Kofi", "Yuki", "Omar", "Lena", "Ravi"],
    "item": ["report", "invoice", "slides", "ticket", "photo", "order"],
    "unit": ["celsius", "fahrenheit", "kelvin"],
}
_VERBS = ["get", "set", "find", "create", "send", "list", "delete", "update", "search", "book", "convert", "compute"]
_NOUNS = ["weather", "alarm", "email", "stock_price", "flight", "hotel", "timer", "reminder", "note", "rate", "route"]


def _synthetic_texts(n: int, seed: int) -> list[str]:
    """Queries, tool specs, calls and CoTs of made-up tools: a fallback corpus when the toy world is unavailable."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(n):
        name = f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}"
        kinds = rng.sample(sorted(_WORDS), k=2)
        params = {kind: {"type": "string", "description": f"The {kind} to use."} for kind in kinds}
        params["count"] = {"type": "integer", "description": "How many."}
        tool = {"name": name, "description": f"{name.replace('_', ' ').capitalize()}.",
                "parameters": {"type": "object", "properties": params, "required": kinds}}  # fmt: skip
        values = {kind: rng.choice(_WORDS[kind]) for kind in kinds}
        values["count"] = rng.randint(0, 9999)
        args = ", ".join(f"{k}={v!r}" for k, v in values.items())
        texts.append(json.dumps(tool))
        texts.append(f"Please {name.replace('_', ' ')} for {' and '.join(str(v) for v in values.values())}.")
        texts.append(f"<think>Function: {name}. Values: {args}.</think><answer>[{name}({args})]</answer>")
        texts.append(f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(values)}}}\n</tool_call>')
    return texts


def default_corpus(seed: int = 0) -> list[str]:
    """The tokenizer corpus: the toy world's texts when importable, else a synthetic fallback, plus the prompt
    boilerplate of every `funrl.template` format (so system prompts compress to few tokens). Never BFCL data."""
    try:
        from funrl.toy.world import corpus_text, generate
    except ImportError:
        return _synthetic_texts(2000, seed) + boilerplate_texts() * 200
    texts = list(corpus_text(seed=seed))
    # Whole funrl-format turns (system prompt, tools, query, CoT, answer) so the template's own words merge too.
    for sample in generate("train", n=500, seed=seed):
        system = prompt_messages(sample, "funrl")[0]["content"]
        texts.append(system + "\n" + sample.messages[-1]["content"] + "\n" + render_target(sample, "funrl"))
    return texts + boilerplate_texts() * 20


# ---------------------------------------------------------------------------------------------------
# Tokenizer and model


def train_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE):
    """Train a byte-level BPE (digits split one per token) and wrap it as a `transformers` fast tokenizer.

    Returns:
        `PreTrainedTokenizerFast` with the chat template, eos `<|im_end|>`, pad `<|endoftext|>` and the think /
        answer / tool-call tags as single normal added tokens.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # The saved config says `qwen2`, so `AutoTokenizer` reloads the files as `Qwen2Tokenizer`, which installs
    # Qwen2's normaliser and pre-tokeniser; training with the same pipeline makes the reloaded tokenizer encode
    # exactly as trained. Its pattern isolates every digit (`\p{N}`): numbers are split one digit per token.
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specials = [PAD, IM_START, IM_END]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(TAG_TOKENS),
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD,
        extra_special_tokens=[IM_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
    )


def build_tiny_model(
    output_dir: str | Path, *, size: str = "tiny", corpus: Iterable[str] | None = None, seed: int = 0
) -> Path:
    """Build a random-weight Qwen2-style model and its tokenizer, and save both to `output_dir`.

    Args:
        output_dir (`str` or `Path`):
            Folder to write (created if needed); loadable with `from_pretrained(output_dir)`.
        size (`str`, *optional*, defaults to `"tiny"`):
            `"tiny"` (hidden 16, 2 layers: unit tests) or `"small"` (hidden 192, 4 layers, ~2M parameters).
        corpus (`Iterable[str]` or `None`, *optional*):
            Texts to train the tokenizer on; `None` uses `default_corpus()`.
        seed (`int`, *optional*, defaults to `0`):
            Seed of the weight initialisation (the tokenizer does not depend on it).

    Returns:
        `Path`: `output_dir`.
    """
    if size not in SIZES:
        raise ValueError(f"unknown tiny-model size {size!r}; valid sizes: {', '.join(SIZES)}")
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    output_dir = Path(output_dir)
    tokenizer = train_tokenizer(default_corpus() if corpus is None else corpus)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **SIZES[size],
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None
    )
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


def resolve_model_path(name_or_path: str, cache_dir: str | Path) -> str:
    """Turn `funrl-tiny` or `funrl-tiny:<size>[:<seed>]` into a built tiny model under `cache_dir`; any other value is
    returned as is.

    The model is built once per (size, seed): a folder that already holds a `config.json` is reused.
    """
    if name_or_path == SPEC_PREFIX[:-1]:
        name_or_path = SPEC_PREFIX + "tiny"
    if not name_or_path.startswith(SPEC_PREFIX):
        return name_or_path
    parts = name_or_path[len(SPEC_PREFIX) :].split(":")
    size = parts[0] or "tiny"
    try:
        seed = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise ValueError(f"{name_or_path!r}: expected {SPEC_PREFIX}<size>[:<seed>] with an integer seed") from None
    target = Path(cache_dir) / f"tiny-{size}-seed{seed}"
    if not (target / "config.json").is_file():
        build_tiny_model(target, size=size, seed=seed)
    return str(target)
