"""Contract between FunRLTrainer and the pinned TRL: fails loudly when TRL changes what FunRLTrainer overrides.

FunRLTrainer hooks into private methods of TRL 1.16.0's GRPOTrainer (see src/funrl/trainer.py). When one of these
tests fails after a TRL upgrade, read the new `_compute_loss`, fix FunRLTrainer, then update the pins here.

    .venv/bin/python -m pytest tests/test_trainer_contract.py -q
"""

from __future__ import annotations

import inspect
import re

import pytest

trl = pytest.importorskip("trl")
from trl import GRPOTrainer  # noqa: E402

PINNED = "1.16.0"
RESYNC = f"re-sync FunRLTrainer (src/funrl/trainer.py) with TRL {trl.__version__}: it was written against TRL {PINNED}"

# The keys TRL 1.16.0's `_compute_loss` reads from `inputs`.
COMPUTE_LOSS_KEYS = {
    "prompt_ids",
    "prompt_mask",
    "completion_ids",
    "completion_mask",
    "tool_mask",
    "pixel_values",
    "image_grid_thw",
    "num_images",
    "pixel_attention_mask",
    "spatial_shapes",
    "num_tiles",
    "image_sizes",
    "token_type_ids",
    "mm_token_type_ids",
    "image_position_ids",
    "advantages",
    "old_per_token_logps",
    "sampling_per_token_logps",
    "ref_per_token_logps",
    "importance_sampling_ratio",
    "num_items_in_batch",
}


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def _source(name: str) -> str:
    return inspect.getsource(getattr(GRPOTrainer, name))


def test_trl_version_is_pinned():
    assert trl.__version__ == PINNED, RESYNC


def test_compute_loss_signature():
    assert _params(GRPOTrainer._compute_loss) == ["self", "model", "inputs"], RESYNC


def test_get_per_token_logps_and_entropies_signature():
    params = _params(GRPOTrainer._get_per_token_logps_and_entropies)
    # FunRLTrainer passes the first four positionally and the rest through; it reads the three returned values.
    assert params[:5] == ["self", "model", "input_ids", "attention_mask", "logits_to_keep"], RESYNC
    assert "compute_entropy" in params, RESYNC
    annotation = str(inspect.signature(GRPOTrainer._get_per_token_logps_and_entropies).return_annotation)
    assert annotation.count("torch.Tensor") == 3, RESYNC  # (logps, entropies, aux_loss)


def test_compute_loss_reads_the_same_input_keys():
    source = _source("_compute_loss")
    keys = set(re.findall(r'inputs\["(\w+)"\]', source)) | set(re.findall(r'inputs\.get\("(\w+)"', source))
    keys |= set(re.findall(r'"(\w+)" (?:not )?in inputs', source))
    assert keys == COMPUTE_LOSS_KEYS, (
        f"{RESYNC}; keys added: {keys - COMPUTE_LOSS_KEYS}, removed: {COMPUTE_LOSS_KEYS - keys}"
    )


def test_compute_loss_computes_entropies_before_reading_advantages():
    """The bonus is written into inputs["advantages"] from inside the entropy forward, so order matters."""
    source = _source("_compute_loss")
    forward = source.find("self._get_per_token_logps_and_entropies(")
    read = source.find('advantages = inputs["advantages"]')
    assert forward >= 0 and read >= 0 and forward < read, RESYNC
    assert source.count("self._get_per_token_logps_and_entropies(") == 1, RESYNC  # one forward: the policy's
    assert "compute_entropy=True" in source[forward:read], RESYNC
    # (B, T) advantages are accepted as they are; (B,) ones are unsqueezed
    assert "if advantages.dim() == 1:" in source, RESYNC


def test_compute_loss_is_reached_through_compute_loss():
    assert "self._compute_loss(model, inputs)" in _source("compute_loss"), RESYNC


def test_reward_logging_hooks():
    assert _params(GRPOTrainer._log_completion_extra) == ["self", "column", "values"], RESYNC
    assert _params(GRPOTrainer._log_metric) == ["self", "name", "value"], RESYNC
    source = _source("_calculate_rewards")
    assert 'reward_kwargs["log_extra"] = self._log_completion_extra' in source, RESYNC
    assert 'reward_kwargs["log_metric"] = self._log_metric' in source, RESYNC


def test_metrics_store_and_advantages_shape():
    source = _source("_generate_and_score_completions")
    assert '"advantages": advantages' in source, RESYNC
    assert "self._metrics[mode]" in source, RESYNC
    assert "_pending_metrics" in source, RESYNC  # log_metric values are flushed at every generation


def test_log_averages_the_metrics_lists():
    """FunRLTrainer.log puts one pooled value per entropy_adv/* key in self._metrics; TRL's log averages each list."""
    assert _params(GRPOTrainer.log) == ["self", "logs", "start_time"], RESYNC
    source = _source("log")
    assert "for key, val in self._metrics[mode].items():" in source, RESYNC
    assert "sum(valid) / len(valid)" in source, RESYNC
    assert "self._metrics[mode].clear()" in source, RESYNC


def test_generate_single_turn_contract():
    """`fast_generation` replaces TRL's transformers `generate` path and returns what it returns."""
    params = _params(GRPOTrainer._generate_single_turn)
    assert params == ["self", "prompt_ids", "images", "multimodal_fields", "num_generations", "has_tool_images"], (
        RESYNC
    )
    source = _source("_generate_single_turn")
    assert "completion_ids = [" in source and "logprobs = None" in source, RESYNC
    assert "return completion_ids, logprobs" in source, RESYNC
    assert 'padding_side="left"' in source, RESYNC  # prompts are left-padded, as fast_generate expects


def test_funrl_trainer_overrides_only_what_is_pinned():
    from funrl.trainer import FunRLTrainer

    overridden = {
        name
        for name, value in vars(FunRLTrainer).items()
        if callable(value) and not name.startswith("__") and hasattr(GRPOTrainer, name)
    }
    pinned = {
        "_compute_loss",
        "_get_per_token_logps_and_entropies",
        "_generate_single_turn",
        "log",
    }
    assert overridden == pinned, (
        "FunRLTrainer overrides a new TRL method: add it to tests/test_trainer_contract.py with its contract"
    )
