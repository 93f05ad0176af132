"""Tests of funrl.advantages: hand-computed tensors, properties, the CoT mask in token space.

.venv/bin/python -m pytest tests/test_advantages.py -q
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from funrl.advantages import STAT_NAMES, CotMasker, cot_mask_from_pieces, entropy_advantages, stats_to_metrics

# Four rollouts, T = 4. Rows 0/1 share entropies and a think span on tokens 1-2; row 2 has A = 0; row 3 has no
# think span and two padding tokens.
A = torch.tensor([1.0, -1.0, 0.0, 2.0])
H = torch.tensor([[0.5, 2.0, 1.0, 9.0], [0.5, 2.0, 1.0, 9.0], [0.5, 2.0, 1.0, 9.0], [0.5, 2.0, 7.0, 7.0]])
MASK = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
COT = torch.tensor([[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]])

CASES = [
    # cheng, token: bonus min(0.4*H_t, |A|/2) on span tokens only; token 1 is capped (0.8 > 0.5), token 2 is not.
    pytest.param(
        dict(form="cheng", alpha=0.4, kappa=2.0, level="token", span="think"),
        [[1.0, 1.5, 1.4, 1.0], [-1.0, -0.5, -0.6, -1.0], [0.0] * 4, [2.0] * 4],
        id="cheng-token-think",
    ),
    # cheng, sequence: H_i = mean(2, 1) = 1.5 -> min(0.6, 0.5) = 0.5 on every completion token of the rollout.
    pytest.param(
        dict(form="cheng", alpha=0.4, kappa=2.0, level="sequence", span="think"),
        [[1.5] * 4, [-0.5] * 4, [0.0] * 4, [2.0] * 4],
        id="cheng-sequence-think",
    ),
    # cheng, sequence, smaller alpha: 0.2 * 1.5 = 0.3 < 0.5, not capped.
    pytest.param(
        dict(form="cheng", alpha=0.2, kappa=2.0, level="sequence", span="think"),
        [[1.3] * 4, [-0.7] * 4, [0.0] * 4, [2.0] * 4],
        id="cheng-sequence-uncapped",
    ),
    # egpo, sequence: 0.4 * clip(1.5, -|A|/2, |A|/2) = 0.4 * 0.5 = 0.2.
    pytest.param(
        dict(form="egpo", alpha=2.0, lam=0.4, level="sequence", span="think"),
        [[1.2] * 4, [-0.8] * 4, [0.0] * 4, [2.0] * 4],
        id="egpo-sequence-think",
    ),
    # egpo, token: 0.4 * min(2, 0.5) = 0.2 and 0.4 * min(1, 0.5) = 0.2.
    pytest.param(
        dict(form="egpo", alpha=2.0, lam=0.4, level="token", span="think"),
        [[1.0, 1.2, 1.2, 1.0], [-1.0, -0.8, -0.8, -1.0], [0.0] * 4, [2.0] * 4],
        id="egpo-token-think",
    ),
    # egpo, large alpha: bound |A|/10 = 0.1 caps every token.
    pytest.param(
        dict(form="egpo", alpha=10.0, lam=0.4, level="token", span="think"),
        [[1.0, 1.04, 1.04, 1.0], [-1.0, -0.96, -0.96, -1.0], [0.0] * 4, [2.0] * 4],
        id="egpo-token-tight-clip",
    ),
    # cheng, token, completion span: every completion token uses its own entropy; row 3 has no think -> no bonus.
    pytest.param(
        dict(form="cheng", alpha=0.4, kappa=2.0, level="token", span="completion"),
        [[1.2, 1.5, 1.4, 1.5], [-0.8, -0.5, -0.6, -0.5], [0.0] * 4, [2.0] * 4],
        id="cheng-token-completion",
    ),
    # cheng, sequence, completion span, alpha 0.1: H_i = (0.5+2+1+9)/4 = 3.125 -> 0.3125.
    pytest.param(
        dict(form="cheng", alpha=0.1, kappa=2.0, level="sequence", span="completion"),
        [[1.3125] * 4, [-0.6875] * 4, [0.0] * 4, [2.0] * 4],
        id="cheng-sequence-completion",
    ),
    # alpha = 0: exactly plain GRPO.
    pytest.param(
        dict(form="cheng", alpha=0.0, kappa=2.0, level="token", span="think"),
        [[1.0] * 4, [-1.0] * 4, [0.0] * 4, [2.0] * 4],
        id="alpha-zero",
    ),
]


class TestHandComputed:
    @pytest.mark.parametrize("kwargs, expected", CASES)
    def test_values(self, kwargs, expected):
        out = entropy_advantages(A, H, MASK, COT, **kwargs)
        assert out.advantages.shape == (4, 4)
        torch.testing.assert_close(out.advantages, torch.tensor(expected), rtol=0, atol=1e-6)
        # the bonus is the difference, and zero on padding
        torch.testing.assert_close(out.bonus, out.advantages - A.unsqueeze(1))
        assert (out.bonus[MASK == 0] == 0).all()

    def test_stats(self):
        out = entropy_advantages(A, H, MASK, COT, form="cheng", alpha=0.4, kappa=2.0, level="token")
        stats = dict(zip(STAT_NAMES, out.stats.tolist()))
        # bonus 0.5 + 0.4 on rows 0 and 1; 14 completion tokens
        assert stats["bonus_sum"] == pytest.approx(1.8)
        assert stats["completion_tokens"] == 14
        # units: span tokens of rows 0, 1 (row 2 has A = 0); capped: token 1 of rows 0, 1
        assert (stats["units"], stats["capped_units"]) == (4, 2)
        # cot entropy over the think tokens of rows 0-2: (2 + 1) * 3 / 6
        assert stats["cot_entropy_sum"] / stats["cot_tokens"] == pytest.approx(1.5)
        assert (stats["rollouts_with_think"], stats["rollouts"]) == (3, 4)
        metrics = stats_to_metrics(out.stats)
        assert metrics["entropy_adv/cap_frac"] == pytest.approx(0.5)
        assert metrics["entropy_adv/bonus_mean"] == pytest.approx(1.8 / 14)
        assert metrics["entropy_adv/think_frac"] == pytest.approx(0.75)
        # rows 0 and 1 got a bonus; over rows 0, 1, 3 (A != 0): mean bonus per token / |A| = 0.9/4, 0.9/4, 0
        assert metrics["entropy_adv/bonus_rollout_frac"] == pytest.approx(0.5)
        assert (stats["rollouts_with_bonus"], stats["rollouts_nonzero_a"]) == (2, 3)
        assert metrics["entropy_adv/bonus_over_abs_adv"] == pytest.approx((0.225 + 0.225 + 0) / 3)

    def test_sequence_bonus_over_abs_adv(self):
        # level sequence: rows 0, 1 get the capped bonus 0.5 = |A|/2 on every token; row 3 (A = 2) none
        metrics = stats_to_metrics(entropy_advantages(A, H, MASK, COT, level="sequence").stats)
        assert metrics["entropy_adv/bonus_over_abs_adv"] == pytest.approx((0.5 + 0.5 + 0) / 3)
        assert metrics["entropy_adv/bonus_rollout_frac"] == pytest.approx(0.5)

    def test_metrics_pool_micro_batches(self):
        """Two micro-batches, the second with no bonus unit (A = 0 and no think span): sums first, then ratios."""
        kwargs = dict(form="cheng", alpha=0.4, kappa=2.0, level="sequence")
        first = entropy_advantages(A[:2], H[:2], MASK[:2], COT[:2], **kwargs).stats  # rows 0, 1: both capped
        second = entropy_advantages(A[2:], H[2:], MASK[2:], COT[2:], **kwargs).stats  # rows 2, 3: no unit
        assert stats_to_metrics(first)["entropy_adv/cap_frac"] == 1.0
        assert stats_to_metrics(second)["entropy_adv/cap_frac"] == 0.0  # empty denominator
        pooled = stats_to_metrics(first + second)
        assert pooled["entropy_adv/cap_frac"] == 1.0  # not the 0.5 that a mean of the two ratios gives
        # the pooled sums equal the stats of the whole batch at once, for every metric
        whole = stats_to_metrics(entropy_advantages(A, H, MASK, COT, **kwargs).stats)
        assert pooled == pytest.approx(whole)
        # cot entropy: think tokens of rows 0-2 hold H = 2 and 1 each: 9 over 6 tokens
        assert pooled["entropy_adv/cot_entropy"] == pytest.approx(9 / 6)
        assert pooled["entropy_adv/think_frac"] == pytest.approx(3 / 4)

    def test_sequence_cap_counts_rollouts(self):
        out = entropy_advantages(A, H, MASK, COT, form="cheng", alpha=0.4, kappa=2.0, level="sequence")
        stats = dict(zip(STAT_NAMES, out.stats.tolist()))
        assert (stats["units"], stats["capped_units"]) == (2, 2)  # rows 0 and 1, both capped (0.6 > 0.5)

    def test_entropy_is_detached(self):
        h = H.clone().requires_grad_(True)
        out = entropy_advantages(A, h, MASK, COT, form="cheng", alpha=0.4, level="token")
        assert not out.advantages.requires_grad

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (dict(form="ppo"), "form"),  # unknown form
            (dict(level="word"), "level"),  # unknown level
            (dict(span="answer"), "span"),  # unknown span
            (dict(form="egpo"), "lam"),  # egpo needs its weight
        ],
    )
    def test_bad_arguments(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            entropy_advantages(A, H, MASK, COT, **kwargs)

    def test_shape_mismatch(self):
        with pytest.raises(ValueError, match="shape"):
            entropy_advantages(A[:3], H, MASK, COT)


# ---------------------------------------------------------------------------------------------------
# Properties


@st.composite
def batches(draw):
    b, t = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    floats = st.floats(-3, 3, allow_nan=False, width=32)
    adv = torch.tensor(draw(st.lists(st.one_of(st.just(0.0), floats), min_size=b, max_size=b)))
    ent = torch.tensor(draw(st.lists(st.floats(0, 12, width=32), min_size=b * t, max_size=b * t))).view(b, t)
    lengths = draw(st.lists(st.integers(0, t), min_size=b, max_size=b))
    mask = torch.tensor([[1] * n + [0] * (t - n) for n in lengths])
    cot = torch.tensor(draw(st.lists(st.booleans(), min_size=b * t, max_size=b * t))).view(b, t) & mask.bool()
    return adv, ent, mask, cot


SETTINGS = [
    dict(form="cheng", alpha=0.4, kappa=2.0),
    dict(form="cheng", alpha=5.0, kappa=1.01),
    dict(form="egpo", alpha=2.0, lam=0.4),
    dict(form="egpo", alpha=0.5, lam=0.49),
]


class TestProperties:
    @settings(max_examples=60, deadline=None)
    @given(batch=batches(), setting=st.sampled_from(SETTINGS), level=st.sampled_from(["token", "sequence"]))
    def test_sign_zero_and_cap(self, batch, setting, level):
        adv, ent, mask, cot = batch
        span = "think"
        out = entropy_advantages(adv, ent, mask, cot, level=level, span=span, **setting)
        cap = 1 / setting["kappa"] if setting["form"] == "cheng" else setting["lam"] / setting["alpha"]
        a = adv.unsqueeze(1).expand_as(out.advantages)
        live = mask.bool()
        # the bonus is never negative and never above cap * |A|
        assert (out.bonus >= 0).all()
        assert (out.bonus <= cap * a.abs() + 1e-6).all()
        # the sign of A never flips (and a nonzero A never becomes 0)
        nonzero = live & (a != 0)
        assert (torch.sign(out.advantages[nonzero]) == torch.sign(a[nonzero])).all()
        # where A = 0 (a group with equal rewards), no bonus
        assert (out.bonus[a == 0] == 0).all()
        # rows without a think span get no bonus
        assert (out.bonus[~cot.any(-1)] == 0).all()

    @settings(max_examples=40, deadline=None)
    @given(
        batch=batches(),
        level=st.sampled_from(["token", "sequence"]),
        span=st.sampled_from(["think", "completion"]),
    )
    def test_alpha_zero_is_exactly_grpo(self, batch, level, span):
        adv, ent, mask, cot = batch
        out = entropy_advantages(adv, ent, mask, cot, form="cheng", alpha=0.0, level=level, span=span)
        assert torch.equal(out.advantages, adv.unsqueeze(1).expand_as(out.advantages))


def _clipped_loss(logps, old_logps, advantages, mask, eps=0.2):
    """The GRPO clipped surrogate with per-sequence mean, as TRL's loss_type 'grpo' computes it."""
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    ratio = torch.exp(logps - old_logps)
    per_token = -torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()


def test_alpha_zero_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    logits = torch.randn(4, 4, requires_grad=True)
    old = logits.detach() + 0.1 * torch.randn(4, 4)
    grads, losses = [], []
    for adv in (A, entropy_advantages(A, H, MASK, COT, form="cheng", alpha=0.0, level="token").advantages):
        loss = _clipped_loss(torch.log_softmax(logits, -1), torch.log_softmax(old, -1), adv, MASK)
        (grad,) = torch.autograd.grad(loss, logits)
        losses.append(loss)
        grads.append(grad)
    assert torch.equal(losses[0], losses[1])
    assert torch.equal(grads[0], grads[1])
    # and a nonzero alpha does change the gradient (the comparison above can fail)
    shaped = entropy_advantages(A, H, MASK, COT, form="cheng", alpha=0.4, level="token").advantages
    loss = _clipped_loss(torch.log_softmax(logits, -1), torch.log_softmax(old, -1), shaped, MASK)
    assert not torch.equal(torch.autograd.grad(loss, logits)[0], grads[0])


# ---------------------------------------------------------------------------------------------------
# The CoT mask in token space

PIECE_CASES = [
    # the tag as one token: only the thought tokens are inside
    pytest.param(["<think>", "use", " f", "</think>", "<answer>"], [0, 1, 1, 0, 0], id="single-token-tags"),
    # the tag split in three tokens, as byte-level BPEs without a dedicated token do
    pytest.param(["<", "think", ">", "a", "b", "</", "think", ">"], [0, 0, 0, 1, 1, 0, 0, 0], id="split-tags"),
    # the tag's last character merged with the first word: a tag token, outside
    pytest.param(["<th", "ink", ">Let", " me", "</th", "ink>"], [0, 0, 0, 1, 0, 0], id="merged-open"),
    # a newline merged into both tags, as one token each (`<think>\n`, `\n</think>`): tag tokens, outside
    pytest.param(["<think>\n", "x", " y", "\n</think>", "\n"], [0, 1, 1, 0, 0], id="merged-newlines"),
    # punctuation merged into the closing tag (`.</think>`): outside, the word before it inside
    pytest.param(["<think>", "done", ".</think>", "<answer>"], [0, 1, 0, 0], id="merged-close"),
    # a newline before the opening tag and after it, merged differently
    pytest.param(["\n<", "think", ">\n", "x", "\n</", "think", ">"], [0, 0, 0, 1, 0, 0, 0], id="newlines"),
    # the whole span in one token: no token strictly inside, no span
    pytest.param(["<think>x</think>", "[]"], [0, 0], id="one-token-span"),
    # no closing tag (truncated rollout): no span
    pytest.param(["<think>", "a", "b"], [0, 0, 0], id="unclosed"),
    # no opening tag: no span
    pytest.param(["a", "</think>", "b"], [0, 0, 0], id="no-open"),
    # an empty think block: no span
    pytest.param(["<think>", "</think>", "[f()]"], [0, 0, 0], id="empty"),
    # a think block of whitespace only: no span, whether the newline is its own token or not
    pytest.param(["<think>", "\n", "</think>", "[f()]"], [0, 0, 0, 0], id="whitespace-only"),
    pytest.param(["<think>\n", "</think>", "[f()]"], [0, 0, 0], id="whitespace-only-merged"),
    # only the first span counts
    pytest.param(["<think>", "a", "</think>", "<think>", "b", "</think>"], [0, 1, 0, 0, 0, 0], id="first-span-only"),
]


@pytest.mark.parametrize("pieces, expected", PIECE_CASES)
def test_cot_mask_from_pieces(pieces, expected):
    assert cot_mask_from_pieces(pieces) == [bool(x) for x in expected]


def test_cot_mask_open_tag_in_prompt():
    # the prompt ended with "<think>": the span starts at the first completion token
    assert cot_mask_from_pieces(["a", "b", "</think>", "c"], think_start="") == [True, True, False, False]


@settings(max_examples=80, deadline=None)
@given(
    before=st.text("ab <>/\n", max_size=6),
    thought=st.text("abc <>/\n", max_size=10),
    after=st.text("ab <>/\n", max_size=6),
    cuts=st.lists(st.integers(1, 40), max_size=12),
)
def test_cot_mask_any_split(before, thought, after, cuts):
    """However the text is cut into tokens, a token is inside iff all its characters are inside a non-blank span."""
    text = f"{before}<think>{thought}</think>{after}"
    bounds = sorted({c for c in cuts if c < len(text)} | {0, len(text)})
    pieces = [text[i:j] for i, j in zip(bounds, bounds[1:])]
    open_at = text.find("<think>")
    lo = open_at + len("<think>")
    hi = text.find("</think>", lo)
    inside = [lo <= k < hi for k in range(len(text))]
    expected = [all(inside[i:j]) for i, j in zip(bounds, bounds[1:])]
    if not text[lo:hi].strip():
        expected = [False] * len(pieces)
    assert cot_mask_from_pieces(pieces) == expected


@pytest.fixture(scope="module")
def bpe_tokenizer():
    """A byte-level BPE trained here on text where `<think>` is no special token, so it splits by context."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "<think>use get_weather; city Paris</think><answer>[get_weather(city='Paris')]</answer>",
        "Reply: <think>\nthe user wants euros</think>\n<answer>[]</answer>",
        "think about it > then <thinking> is not a tag",
    ] * 20
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok)


@pytest.mark.parametrize(
    "text",
    [
        "<think>use get_weather; city Paris</think><answer>[get_weather(city='Paris')]</answer>",
        "Reply: <think>\nthe user wants euros \u00e9\u00e8</think>\n<answer>[]</answer>",  # multi-byte characters
        "x<think>a</think>",
    ],
)
def test_cot_masker_with_a_real_tokenizer(bpe_tokenizer, text):
    enc = bpe_tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    ids = enc["input_ids"]
    assert len(bpe_tokenizer.encode("<think>", add_special_tokens=False)) > 1  # the tag is several tokens here
    lo = text.find("<think>") + len("<think>")
    hi = text.find("</think>")
    expected = [lo <= s and e <= hi for s, e in enc["offset_mapping"]]
    pad = 3
    completion_ids = torch.tensor([ids + [0] * pad, ids[:2] + [0] * (len(ids) + pad - 2)])
    mask = torch.tensor([[1] * len(ids) + [0] * pad, [1, 1] + [0] * (len(ids) + pad - 2)])
    cot = CotMasker(bpe_tokenizer)(completion_ids, mask)
    assert cot.shape == completion_ids.shape and cot.dtype == torch.bool
    assert cot[0].tolist() == expected + [False] * pad
    assert not cot[1].any()  # the second row is cut before its span closes


# Real tokenizers, as tables: (text, the concatenated text of the tokens inside the span).
# `funrl.toy.tiny_model.train_tokenizer`: the tags are single added tokens, never merged with a neighbour.
TINY_CASES = [
    pytest.param("<think>\nuse get_weather for Lyon.\n</think>\n<answer>[]</answer>", "\nuse get_weather for Lyon.\n",
                 id="tags-as-tokens"),
    pytest.param("<think></think><answer>[]</answer>", "", id="empty"),
    pytest.param("<think>\n</think><answer>[]</answer>", "", id="whitespace-only"),
    pytest.param("<think>use f", "", id="unclosed"),
]  # fmt: skip
# A byte-level BPE without pre-tokenisation, trained where tags sit next to newlines and full stops, so that it
# merges them into one token: `.\n</think>\n<answer>[`, `.</think><answer>[]</answer>`, `<think>\n`, ...
MERGING_CASES = [
    # `<think>\nuse get_weath` and `.\n</think>\n<answer>[` are tag tokens: only the words between are inside
    pytest.param("<think>\nuse get_weather for Lyon.\n</think>\n<answer>[]</answer>", "er for Lyon", id="merged-both"),
    # `.</think><answer>[]</answer>` is one token: "euros" is inside, the full stop is not
    pytest.param("<think>euros.</think><answer>[]</answer>", "euros", id="merged-close"),
    pytest.param("<think></think><answer>[]</answer>", "", id="empty"),
    # `<think>\n` is one token and the interior is a newline: no span
    pytest.param("<think>\n</think>\n<answer>[]</answer>", "", id="whitespace-only"),
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from funrl.toy.tiny_model import train_tokenizer

    return train_tokenizer(["<think>\nuse get_weather for Lyon.\n</think>\n<answer>[f(a=1)]</answer>"] * 20, 300)


@pytest.fixture(scope="module")
def merging_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "<think>\nuse get_weather for Paris.\n</think>\n<answer>[get_weather(city='Paris')]</answer>",
        "<think>the user wants euros.</think><answer>[]</answer>",
        "<think>\nlook up Lyon\n</think>\n<answer>[f(a=1)]</answer>",
    ] * 30
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=400, show_progress=False, initial_alphabet=alphabet)
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def _inside_text(tokenizer, text):
    ids = tokenizer.encode(text, add_special_tokens=False)
    completion_ids = torch.tensor([ids + [ids[0]] * 2])  # two padding positions holding a real token
    mask = torch.tensor([[1] * len(ids) + [0, 0]])
    cot = CotMasker(tokenizer)(completion_ids, mask)[0]
    assert not cot[-2:].any()
    return "".join(tokenizer.decode([t]) for t, inside in zip(ids, cot.tolist()) if inside)


@pytest.mark.parametrize("text, inside", TINY_CASES)
def test_cot_masker_tiny_model_tokenizer(tiny_tokenizer, text, inside):
    assert len(tiny_tokenizer.encode("<think>", add_special_tokens=False)) == 1
    assert _inside_text(tiny_tokenizer, text) == inside


@pytest.mark.parametrize("text, inside", MERGING_CASES)
def test_cot_masker_merged_tags(merging_tokenizer, text, inside):
    pieces = [merging_tokenizer.decode([t]) for t in merging_tokenizer.encode(text, add_special_tokens=False)]
    # the tokenizer does merge a tag with its neighbours here (else this table tests nothing new)
    assert any("think" in p and p not in ("<think>", "</think>") for p in pieces), pieces
    assert _inside_text(merging_tokenizer, text) == inside
