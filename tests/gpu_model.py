"""A random-init Qwen2.5-0.5B-shaped model with the real Qwen2.5 chat template, built locally (no hub download).

The body is Qwen2.5-0.5B's published architecture (its config.json: 24 layers, hidden 896, 14 heads with 2 KV
heads, MLP 4864, rope theta 1e6, tied embeddings); the tokenizer is funrl's locally trained tiny tokenizer (so the
vocabulary is its 1k tokens, not Qwen's 151936: every id vLLM samples decodes to text) with Qwen2.5's original chat
template (tests/data/qwen2.5_chat_template.jinja, the template TRL 1.16 ships as `qwen2_5.jinja` to recognise
Qwen2.5 models). Used by the `gpu` tests (tests/test_gpu.py) and benchmarks/vllm_step_time.py.

    build_qwen25_shaped(Path("runs/qwen0.5b-shaped"))
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = Path(__file__).resolve().parent / "data" / "qwen2.5_chat_template.jinja"
QWEN25_0P5B = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)


def build_qwen25_shaped(out: Path, seed: int = 0) -> Path:
    """Save the model (bf16 weights) and tokenizer to `out` (skipped when `out/config.json` exists)."""
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from funrl.toy.tiny_model import default_corpus, train_tokenizer

    tokenizer = train_tokenizer(default_corpus())
    tokenizer.chat_template = CHAT_TEMPLATE.read_text()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **QWEN25_0P5B,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
