"""Trainer smoke tests on a tiny random-weight model, CPU only, a few steps each (report_to none).

    .venv/bin/python -m pytest tests/test_trainer.py -q

A random model almost never writes `<think>...</think>` nor earns the binary `funrl` reward, so the tests that need
a learning signal use a reward that varies with the completion text (`_parity_reward`) and a think span that random
text does contain (`THINK`): the span runs from the start of the completion (empty opening tag, as when the prompt
opens the think block) to the first letter "e". Both only make the mechanics observable; the rewards and the
template are tested in their own files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

from datasets import Dataset  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from funrl.configs import FunRLConfig  # noqa: E402
from funrl.template import to_rl_row  # noqa: E402
from funrl.toy.tiny_model import build_tiny_model  # noqa: E402
from funrl.toy.world import generate  # noqa: E402
from funrl.trainer import FunRLTrainer  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
THINK = dict(entropy_adv_think_start="", entropy_adv_think_end="e")
THINK_ARGS = ("--entropy_adv_think_start", "", "--entropy_adv_think_end", "e")
# Shrunk settings, each commented as in TRL's tests.
SMALL = dict(
    per_device_train_batch_size=8,  # 2 prompts x 4 generations
    num_generations=4,  # smallest group that gives varied rewards
    max_completion_length=16,  # short completions keep a step well under a second
    max_steps=2,  # two optimizer steps
    learning_rate=1e-2,  # large, so that every parameter visibly moves in two steps
    lr_scheduler_type="constant",
    loss_type="grpo",  # the paper's objective
    beta=0.001,  # exercise the KL term and its metric
    logging_steps=1,  # a log entry per step
    save_strategy="no",
    report_to="none",
    bf16=False,  # CPU
    activation_checkpointing=False,  # tiny model: recomputation only costs time (TRL default: on)
    seed=0,
)


def _parity_reward(completions, **kwargs):
    """1.0 when the completion has an even number of characters: varies across a group of random completions."""
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [float(len(t) % 2 == 0) for t in texts]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0))


@pytest.fixture(scope="module")
def dataset():
    return Dataset.from_list([to_rl_row(s) for s in generate("train", n=16, seed=0)])


def _train(model_dir, dataset, tmp_path, trainer_cls=FunRLTrainer, **overrides):
    config_cls = FunRLConfig if trainer_cls is FunRLTrainer else GRPOConfig
    args = config_cls(output_dir=str(tmp_path / "out"), **{**SMALL, **overrides})
    trainer = trainer_cls(model=model_dir, reward_funcs=[_parity_reward], args=args, train_dataset=dataset)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    after = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    steps = [h for h in trainer.state.log_history if "loss" in h]
    return trainer, before, after, steps


def test_train_logs_and_updates(model_dir, dataset, tmp_path):
    trainer, before, after, steps = _train(model_dir, dataset, tmp_path, **THINK)
    assert len(steps) == 2
    for log in steps:
        assert not math.isnan(log["loss"])
        for key in ("reward", "reward_std", "kl", "entropy", "entropy_adv/bonus_mean", "entropy_adv/cap_frac"):
            assert key in log, key
        assert "entropy_adv/cot_entropy" in log and "entropy_adv/think_frac" in log
    # the bonus acted: some rollouts had a span, and a span's bonus is positive where A != 0
    assert any(log["entropy_adv/think_frac"] > 0 for log in steps)
    assert any(log["entropy_adv/bonus_mean"] > 0 for log in steps)
    for name, param in before.items():
        assert not torch.equal(param, after[name]), f"parameter {name} did not change"


def test_smoke_recipe_settings_on_the_funrl_reward(model_dir, dataset, tmp_path):
    """The binary funrl reward runs inside the trainer and reports why the random model's rollouts scored 0."""
    from funrl.rewards import load_reward_funcs

    args = FunRLConfig(output_dir=str(tmp_path / "out"), **{**SMALL, "max_steps": 1})
    trainer = FunRLTrainer(
        model=model_dir, reward_funcs=load_reward_funcs(["funrl"]), args=args, train_dataset=dataset
    )
    trainer.train()
    log = trainer.state.log_history[0]
    prefix = "rewards/funrl_reward/reason/"
    failures = {k: v for k, v in log.items() if k.startswith(prefix) and k != prefix + "ok"}
    # the one failure-reason metric (the reward's own): every rollout that scored 0 is counted under one reason
    assert failures and not any(k.startswith("failures/") for k in log)
    assert sum(failures.values()) == pytest.approx(1 - log["reward"])
    assert "entropy_adv/bonus_mean" in log


@pytest.mark.parametrize(
    "overrides, same",
    [
        (dict(entropy_adv_alpha=0.0), True),  # alpha = 0: exactly GRPO
        (dict(use_entropy_adv=False), True),  # the switch off: exactly GRPO
        (dict(entropy_adv_alpha=0.4), False),  # the bonus on: differs (so this comparison can fail)
    ],
)
def test_alpha_zero_equals_plain_grpo(model_dir, dataset, tmp_path, overrides, same):
    _, _, grpo_after, grpo_steps = _train(model_dir, dataset, tmp_path / "grpo", trainer_cls=GRPOTrainer)
    # TRL's single pass, so that equal means bit-identical (prompt sharing differs by float rounding)
    overrides = {"share_prompt_forward": False, **overrides}
    _, _, funrl_after, funrl_steps = _train(model_dir, dataset, tmp_path / "funrl", **THINK, **overrides)
    assert grpo_steps[0]["reward"] == funrl_steps[0]["reward"]  # same first rollouts (later ones follow the weights)
    equal = all(torch.equal(grpo_after[n], funrl_after[n]) for n in grpo_after)
    assert equal is same
    if same:
        assert [s["reward"] for s in grpo_steps] == [s["reward"] for s in funrl_steps]
        assert [s["loss"] for s in grpo_steps] == [s["loss"] for s in funrl_steps]


class _StopAt(TrainerCallback):
    """Stops training after step `n` (after its checkpoint is written), as a killed run would leave it."""

    def __init__(self, n):
        self.n = n

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.n:
            control.should_training_stop = True


def test_resume_from_checkpoint(tmp_path):
    """The smoke recipe, stopped at its step-2 checkpoint, continues from step 2 with --resume_from_checkpoint."""
    from funrl.rl_trainer import build_trainer, make_parser
    from funrl.train import main

    argv = [
        "--config", str(RECIPES / "smoke" / "funrl.yaml"),
        "--output_dir", str(tmp_path / "run"),
        "--tiny_model_dir", str(tmp_path / "models"),
        "--max_steps", "4",
        "--save_strategy", "steps",
        "--save_steps", "2",
        "--max_completion_length", "16",
    ]  # fmt: skip
    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    first = build_trainer(script_args, training_args, model_args)
    first.add_callback(_StopAt(2))
    first.train()
    assert first.state.global_step == 2
    assert (tmp_path / "run" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "checkpoint-4").exists()

    assert main(argv + ["--resume_from_checkpoint", "last"]) == 0
    state = json.loads((tmp_path / "run" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # the log history restored from checkpoint-2 continues with steps 3 and 4
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2, 3, 4]


def _smoke_argv(tmp_path, *extra):
    return [
        "--config", str(RECIPES / "smoke" / "funrl.yaml"),
        "--output_dir", str(tmp_path / "run"),
        "--tiny_model_dir", str(tmp_path / "models"),
        "--max_completion_length", "16",
        *extra,
    ]  # fmt: skip


def test_lora_trains_only_the_adapters(tmp_path):
    """`use_peft` wraps the policy in LoRA adapters: they move, the base weights do not."""
    from funrl.rl_trainer import build_trainer, make_parser

    argv = _smoke_argv(
        tmp_path,
        *("--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", "q_proj", "v_proj"),
        *("--reward_funcs", "test_trainer._parity_reward", "--learning_rate", "1e-2", "--max_steps", "2"),
        *THINK_ARGS,
    )
    trainer = build_trainer(*make_parser().parse_args_and_config(argv))
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    trainer.train()
    for name, param in trainer.model.named_parameters():
        changed = not torch.equal(before[name], param.detach())
        assert changed is (name in trainable), name


def test_tensorboard_gets_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from funrl.train import main

    assert main(_smoke_argv(tmp_path, "--max_steps", "1", "--report_to", "tensorboard")) == 0
    events = EventAccumulator(str(next((tmp_path / "run").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for tag in (
        "train/reward",
        "train/kl",
        "train/entropy",
        "train/entropy_adv/bonus_mean",
        "train/entropy_adv/cap_frac",
    ):
        assert tag in tags, (tag, sorted(tags))


def test_wandb_offline_gets_the_metrics(tmp_path, monkeypatch):
    """`report_to: wandb` works (offline here): the run's history holds the FunRL metrics."""
    wandb = pytest.importorskip("wandb")
    from funrl.train import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert main(_smoke_argv(tmp_path, "--max_steps", "1", "--report_to", "wandb")) == 0
    wandb.teardown()  # wait for wandb's service process to write the run log out
    # the offline run log (protobuf records); `train/` keys occur only in its history records, not in the config
    records = next(tmp_path.rglob("run-*.wandb")).read_bytes()
    for key in ("train/reward", "train/kl", "train/entropy_adv/bonus_mean", "train/entropy_adv/cap_frac"):
        assert key.encode() in records, key


def test_loss_uses_the_shaped_advantages(model_dir, dataset, tmp_path):
    """On one batch, FunRL's loss equals TRL's GRPO loss fed the advantages of funrl.advantages by hand."""
    from funrl.advantages import CotMasker, entropy_advantages

    level = dict(entropy_adv_level="token", entropy_adv_alpha=0.4, share_prompt_forward=False)
    funrl = FunRLTrainer(
        model=model_dir,
        reward_funcs=[_parity_reward],
        args=FunRLConfig(output_dir=str(tmp_path / "f"), **SMALL, **THINK, **level),
        train_dataset=dataset,
    )
    grpo = GRPOTrainer(
        model=model_dir,
        reward_funcs=[_parity_reward],
        args=GRPOConfig(output_dir=str(tmp_path / "g"), **SMALL),
        train_dataset=dataset,
    )
    for trainer in (funrl, grpo):
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which is not run here
    inputs = funrl._generate_and_score_completions(next(iter(funrl.get_train_dataloader())))
    loss = funrl._compute_loss(funrl.model, inputs)
    assert inputs["advantages"].dim() == 1  # the batch itself is left as it was (it is reused across iterations)

    completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
    with torch.no_grad():
        _, entropies, _ = grpo._get_per_token_logps_and_entropies(
            grpo.model,
            torch.cat([inputs["prompt_ids"], completion_ids], dim=1),
            torch.cat([inputs["prompt_mask"], completion_mask], dim=1),
            completion_ids.size(1),
            compute_entropy=True,
        )
    cot = CotMasker(funrl.processing_class, "", "e")(completion_ids, completion_mask)
    assert cot.any()
    shaped = entropy_advantages(
        inputs["advantages"], entropies, completion_mask, cot, form="cheng", alpha=0.4, kappa=2.0, level="token"
    ).advantages
    torch.testing.assert_close(loss, grpo._compute_loss(grpo.model, {**inputs, "advantages": shaped}))
    assert not torch.allclose(loss, grpo._compute_loss(grpo.model, inputs))  # and the bonus does change the loss


class _RecordingTrainer(FunRLTrainer):
    """Records the stats of every micro-batch, to check what `log` makes of them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded: list[tuple[int, torch.Tensor]] = []

    def _shape_advantages(self, inputs, entropies):
        out = super()._shape_advantages(inputs, entropies)
        self.recorded.append((self.state.global_step + 1, self._shaping_stats.clone()))
        return out


def test_entropy_adv_metrics_are_pooled_over_micro_batches(model_dir, dataset, tmp_path):
    """With two micro-batches per step, each logged entropy_adv/* value is the ratio of the step's summed stats."""
    from funrl.advantages import stats_to_metrics

    args = FunRLConfig(
        output_dir=str(tmp_path / "out"),
        **{**SMALL, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2},  # 2 micro-batches of 4
        **THINK,
    )
    trainer = _RecordingTrainer(model=model_dir, reward_funcs=[_parity_reward], args=args, train_dataset=dataset)
    trainer.train()
    steps = [h for h in trainer.state.log_history if "loss" in h]
    assert len(steps) == 2
    for log in steps:
        micro = [stats for step, stats in trainer.recorded if step == log["step"]]
        assert len(micro) == 2
        expected = stats_to_metrics(micro[0] + micro[1])
        assert expected["entropy_adv/think_frac"] > 0  # the THINK span occurs, so the check below is not 0 == 0
        for key, value in expected.items():
            assert log[key] == pytest.approx(value), key


def test_stops_when_no_rollout_closes_a_think_span(model_dir, dataset, tmp_path):
    """A random model never writes `</think>`: the run stops after `entropy_adv_think_patience` steps."""
    from funrl.trainer import ThinkSpanError

    overrides = dict(max_steps=4, entropy_adv_think_patience=2, entropy_adv_min_think_frac=0.05)
    with pytest.raises(ThinkSpanError, match="for 2 steps in a row") as error:
        _train(model_dir, dataset, tmp_path / "stop", **overrides)
    assert "entropy_adv_think_patience=0" in str(error.value)  # the message says what to set


@pytest.mark.parametrize(
    "overrides",
    [
        dict(entropy_adv_think_patience=0),  # 0: never stop
        dict(use_entropy_adv=False),  # plain GRPO has no think span to check
        dict(**THINK, entropy_adv_think_patience=1),  # the THINK span occurs in random text: no stop
    ],
)
def test_think_span_guard_does_not_stop(model_dir, dataset, tmp_path, overrides):
    trainer, *_ = _train(model_dir, dataset, tmp_path, **{"max_steps": 3, **overrides})
    assert trainer.state.global_step == 3


@pytest.mark.parametrize("fmt", ["bfcl-prompt", "qwen-fc"])
def test_entropy_adv_needs_a_think_format(tmp_path, fmt, capsys):
    """A prompt format without a think span is a config error, caught before any model loads."""
    from funrl.train import main

    with pytest.raises(SystemExit) as exit_:
        main(_smoke_argv(tmp_path, "--prompt_format", fmt))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"prompt_format={fmt!r} has none" in err and "use_entropy_adv: false" in err
    assert not (tmp_path / "models").exists()  # failed before building the model


def test_entropy_is_taken_at_the_sampling_temperature(model_dir, dataset, tmp_path):
    """H (the bonus's entropy) comes from the logits divided by `temperature`, as the rollouts were sampled."""
    temperature = 2.0
    args = FunRLConfig(output_dir=str(tmp_path / "out"), **{**SMALL, "temperature": temperature})
    trainer = FunRLTrainer(model=model_dir, reward_funcs=[_parity_reward], args=args, train_dataset=dataset)
    torch.manual_seed(0)
    input_ids = torch.randint(0, 200, (2, 12))
    attention_mask = torch.ones_like(input_ids)
    with torch.no_grad():
        _, entropies, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, input_ids, attention_mask, 5, compute_entropy=True
        )
        logits = trainer.model(input_ids=input_ids, attention_mask=attention_mask).logits[:, -6:-1]  # predict last 5

    def entropy(z):
        logp = torch.log_softmax(z.float(), dim=-1)
        return -(logp.exp() * logp).sum(-1)

    torch.testing.assert_close(entropies, entropy(logits / temperature), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(entropies, entropy(logits), atol=1e-3)  # T = 1 would differ: the check can fail


def test_fast_generation_trains(model_dir, dataset, tmp_path, monkeypatch):
    """`fast_generation` samples with funrl.fast_generate inside the trainer; completions end at eos as TRL's do."""
    from funrl import fast_generate

    calls = []
    sample = fast_generate.sample
    monkeypatch.setattr(fast_generate, "sample", lambda *a, **k: calls.append(1) or sample(*a, **k))
    trainer, before, after, steps = _train(model_dir, dataset, tmp_path, fast_generation=True, **THINK)
    assert len(calls) == 2 and len(steps) == 2  # one generation per step, through the fast path
    assert all(0 < log["completions/mean_length"] <= SMALL["max_completion_length"] for log in steps)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    # the completions of a generation: lists of ids, each cut after its first eos
    prompts = [to_rl_row(s)["prompt"] for s in generate("train", n=2, seed=0)]
    tok = trainer.processing_class
    texts = [tok.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    prompt_ids = [tok.encode(text, add_special_tokens=False) for text in texts]
    completions, logprobs = trainer._generate_single_turn(prompt_ids, None, {}, 4)
    eos = set(trainer.eos_token_ids)
    assert logprobs is None and len(completions) == 2
    for ids in completions:
        assert 0 < len(ids) <= SMALL["max_completion_length"]
        assert not eos & set(ids[:-1])  # nothing after an eos
