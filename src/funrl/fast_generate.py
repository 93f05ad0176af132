"""Sampling for small Llama/Qwen2-style models on CPU, without `transformers.generate`'s per-token costs.

For the toy quickstart's ~2M-parameter model, `generate` spends most of a decode step outside the model's few
FLOPs: it grows the key/value cache by concatenation (copying the whole cache every token), builds a 4-D attention
mask for `scaled_dot_product_attention`, and calls 29 small linear layers. `sample` runs the same model with:
the prompt encoded by the model's own forward (one pass per distinct prompt, each row gets a copy of its cache), a
preallocated cache written in place, fused q/k/v and gate/up projections (concatenated once per call), batched
matrix products for the attention, and inverse-CDF sampling (one uniform draw per row against the cumulative
probabilities, which draws from `p` exactly, like `torch.multinomial`, at a fraction of its cost). Rows that have finished stop costing
compute once at most half the rows are still running (the batch is compacted).

It samples from the same distribution as `generate` with `do_sample=True`, `temperature=T` and no other logits
processor (top_p 1, top_k 0 or None, min_p None, repetition_penalty 1): `tests/test_fast_generate.py` checks that
the logits of every decode step equal those of the model's forward on the generated sequence. `supports` says when
it applies; otherwise callers use `generate`.

    completion_ids = sample(model, prompt_ids, prompt_mask, max_new_tokens=128, temperature=1.0,
                            eos_token_ids=[2], pad_token_id=0)    # (B, <= 128), pad after each row's eos
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

SUPPORTED_MODEL_TYPES = ("qwen2", "llama")


def supports(model: Any) -> bool:
    """Whether `sample` can run `model`: a plain Llama/Qwen2 causal LM with default RoPE and no sliding window."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    rope = getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    if rope_type != "default" or getattr(config, "use_sliding_window", False):
        return False
    if getattr(config, "hidden_act", "silu") != "silu" or getattr(config, "mlp_bias", False):
        return False
    base = getattr(model, "model", None)
    return base is not None and hasattr(base, "layers") and hasattr(base, "rotary_emb")


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _layer_weights(layer: Any) -> tuple:
    attn, mlp = layer.self_attn, layer.mlp
    qkv_w = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).t().contiguous()
    biases = [attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]
    qkv_b = torch.cat(biases) if all(b is not None for b in biases) else None
    gate_up_w = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).t().contiguous()
    o_b = attn.o_proj.bias
    return (qkv_w, qkv_b, attn.o_proj.weight.t().contiguous(), o_b, gate_up_w, mlp.down_proj.weight.t().contiguous(),
            layer.input_layernorm.weight, layer.post_attention_layernorm.weight)  # fmt: skip


@torch.no_grad()
def sample(
    model: Any,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    max_new_tokens: int,
    temperature: float,
    eos_token_ids: list[int],
    pad_token_id: int,
    return_logits: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """
    Sample completions from left-padded prompts.

    Args:
        model: a causal LM for which [`supports`] is true.
        prompt_ids (`torch.Tensor` of shape `(B, P)`): left-padded prompt token ids.
        prompt_mask (`torch.Tensor` of shape `(B, P)`): 1 on real prompt tokens.
        max_new_tokens (`int`): most tokens to sample per row.
        temperature (`float`): sampling temperature (> 0).
        eos_token_ids (`list[int]`): tokens that end a row (kept; later positions get `pad_token_id`).
        pad_token_id (`int`): filler after a row's end.
        return_logits (`bool`): also return the logits of every step `(B, N, V)` (tests).

    Returns:
        `torch.Tensor` of shape `(B, N)`, `N <= max_new_tokens` (the loop stops when every row has ended).
    """
    config, base = model.config, model.model
    batch, prompt_len = prompt_ids.shape
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    eps, total = config.rms_norm_eps, prompt_len + max_new_tokens
    device, dtype = prompt_ids.device, model.get_input_embeddings().weight.dtype
    # The prompt: the model's own forward, once per distinct prompt, with HF's left-padding positions.
    stacked = torch.cat([prompt_ids, prompt_mask], dim=1)
    unique, inverse = torch.unique(stacked, dim=0, return_inverse=True)
    u_ids, u_mask = unique[:, :prompt_len], unique[:, prompt_len:]
    u_pos = (u_mask.long().cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=u_ids, attention_mask=u_mask, position_ids=u_pos, use_cache=True, logits_to_keep=1)
    layers = len(base.layers)
    # keys stored transposed (D, S), so that q @ k^T and w @ v read slices of the buffers without copies
    keys = torch.zeros(layers, batch, kv_heads, head_dim, total, dtype=dtype, device=device)
    values = torch.zeros(layers, batch, kv_heads, total, head_dim, dtype=dtype, device=device)
    for i, layer_cache in enumerate(out.past_key_values.layers):
        keys[i, :, :, :, :prompt_len] = layer_cache.keys[inverse].transpose(-1, -2)
        values[i, :, :, :prompt_len] = layer_cache.values[inverse]
    bias = torch.zeros(batch, 1, 1, total, dtype=dtype, device=device)  # additive attention mask
    bias[:, 0, 0, :prompt_len].masked_fill_(prompt_mask == 0, float("-inf"))
    logits = out.logits[inverse, -1].float()
    position = u_pos[inverse, -1] + 1  # (B,) next position of every row
    weights = [_layer_weights(layer) for layer in base.layers]
    embed, final_norm = base.embed_tokens.weight, base.norm.weight
    lm_head = model.get_output_embeddings()
    head_w, head_b = lm_head.weight.t(), lm_head.bias
    inv_freq = base.rotary_emb.inv_freq.to(torch.float32)
    attention_scaling = getattr(base.rotary_emb, "attention_scaling", 1.0)
    scale, group = head_dim**-0.5, heads // kv_heads
    q_size, kv_size, inter = heads * head_dim, kv_heads * head_dim, config.intermediate_size
    eos = torch.tensor(list(eos_token_ids), device=device, dtype=torch.long)

    tokens = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    all_logits = [] if return_logits else None
    rows = torch.arange(batch, device=device)  # the rows still computed, as indices into the output
    finished = torch.zeros(batch, dtype=torch.bool, device=device)  # per computed row: has sampled an eos
    steps = 0
    for step in range(max_new_tokens):
        if return_logits:
            full = torch.full((batch, logits.size(-1)), float("nan"), device=device)
            full[rows] = logits
            all_logits.append(full)
        cdf = torch.softmax(logits / temperature, dim=-1).cumsum_(dim=-1)  # inverse-CDF draw: exact
        draw = torch.rand(cdf.size(0), 1, device=device, dtype=cdf.dtype) * cdf[:, -1:]
        token = torch.searchsorted(cdf, draw, right=True).squeeze(1).clamp_(max=cdf.size(-1) - 1)
        tokens[rows, step] = torch.where(finished, pad_token_id, token)
        steps = step + 1
        finished = finished | torch.isin(token, eos)
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        if 2 * int((~finished).sum()) <= rows.numel():  # compact: finished rows stop costing compute
            keep = (~finished).nonzero().squeeze(1)
            rows, token, position, finished = rows[keep], token[keep], position[keep], finished[keep]
            keys, values, bias = keys[:, keep], values[:, keep], bias[keep]
        n, slot = rows.numel(), prompt_len + step
        freqs = position[:, None].to(torch.float32) * inv_freq[None]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = (emb.cos() * attention_scaling).to(dtype)[:, None, :]
        sin = (emb.sin() * attention_scaling).to(dtype)[:, None, :]
        hidden = embed[token]  # (n, C)
        for i, (qkv_w, qkv_b, o_w, o_b, gate_up_w, down_w, norm1, norm2) in enumerate(weights):
            x = _rms(hidden, norm1, eps)
            qkv = torch.addmm(qkv_b, x, qkv_w) if qkv_b is not None else x @ qkv_w
            q = qkv[:, :q_size].view(n, heads, head_dim)
            k = qkv[:, q_size : q_size + kv_size].view(n, kv_heads, head_dim)
            v = qkv[:, q_size + kv_size :].view(n, kv_heads, head_dim)
            half = head_dim // 2
            q = q * cos + torch.cat([-q[..., half:], q[..., :half]], dim=-1) * sin
            k = k * cos + torch.cat([-k[..., half:], k[..., :half]], dim=-1) * sin
            keys[i, :, :, :, slot] = k
            values[i, :, :, slot] = v
            k_t, v_all = keys[i, :, :, :, : slot + 1], values[i, :, :, : slot + 1]  # (n, kv, D, S), (n, kv, S, D)
            q = q.view(n, kv_heads, group, head_dim)
            scores = torch.matmul(q, k_t) * scale + bias[:, :, :, : slot + 1]
            attn = torch.matmul(torch.softmax(scores, dim=-1), v_all).reshape(n, q_size)
            hidden = hidden + (torch.addmm(o_b, attn, o_w) if o_b is not None else attn @ o_w)
            gate_up = _rms(hidden, norm2, eps) @ gate_up_w
            hidden = hidden + (F.silu(gate_up[:, :inter]) * gate_up[:, inter:]) @ down_w
        hidden = _rms(hidden, final_norm, eps)
        logits = (hidden @ head_w if head_b is None else torch.addmm(head_b, hidden, head_w)).float()
        position = position + 1
    tokens = tokens[:, :steps]  # after a row's first eos: pad_token_id
    if return_logits:
        return tokens, torch.stack(all_logits, dim=1)
    return tokens
