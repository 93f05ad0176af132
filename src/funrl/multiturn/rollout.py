"""Multi-turn FunRL rollouts: the policy calls the tools and reads their results, through TRL's `rollout_func`.

    rollout_func, reward = make_rollout(entries, fmt="funrl", max_steps=3)
    trainer = FunRLTrainer(model, reward_funcs=[reward], train_dataset=rows_for(entries, "funrl"),
                           rollout_func=rollout_func, args=config)

Each dataset row's prompt (the first turn, rendered by `funrl.template` as for single-turn) names its entry through
its last user message. For every row the rollout runs one conversation with `funrl.multiturn.loop` (the same loop
and stateful environments as evaluation): each step is sampled from the current policy with the trainer's generation
settings, its calls run on the entry's environment, and results and later user turns come back as text. The
completion returned to TRL is the whole conversation after the prompt, with `env_mask` (TRL's `tool_mask`) 0 on
everything the model did not write (tool results, next user turns, chat-template headers), so the loss, the KL and
the entropy bonus see only the policy's tokens; `FunRLTrainer` marks the think span of every assistant step. The
reward is the strict binary multi-turn verdict (`funrl.multiturn.checker`), passed to the reward function as the
`multi_turn_valid` column. Generation is transformers' `generate` (CPU or GPU); a vLLM path is not implemented.
The chat template must be prefix-stable (a conversation's rendering extends its earlier renderings, as ChatML does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from funrl.multiturn.checker import check_trajectory
from funrl.multiturn.data import MultiTurnEntry
from funrl.multiturn.loop import MAX_STEPS, Conversation


def rows_for(entries: Sequence[MultiTurnEntry], fmt: str = "funrl") -> list[dict[str, Any]]:
    """GRPO dataset rows: the first-turn prompt of each entry (its messages as the loop builds them) and its id."""
    from funrl.template import prompt_messages

    return [{"prompt": prompt_messages(Conversation(e, fmt).sample(), fmt), "id": e.id} for e in entries]


def multi_turn_reward(completions: list, multi_turn_valid: list[float] | None = None, **kwargs: Any) -> list[float]:
    """The strict binary multi-turn verdict of each rollout (1.0 when BFCL's checks pass in every turn)."""
    if multi_turn_valid is None:
        raise ValueError("multi_turn reward: no `multi_turn_valid` column; train with the multi-turn rollout_func")
    return [float(v) for v in multi_turn_valid]


multi_turn_reward.__name__ = "multi_turn"


def _render(tokenizer: Any, conv: Conversation, upto: int | None = None, generation: bool = True) -> str:
    """The chat-template text of the conversation's messages (the first `upto` of them), as `funrl.template` renders."""
    from funrl.template import prompt_messages

    sample = conv.sample()
    if upto is not None:
        sample.messages = sample.messages[:upto]
    messages = prompt_messages(sample, conv.fmt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)


def make_rollout(entries: Sequence[MultiTurnEntry], fmt: str = "funrl", max_steps: int = MAX_STEPS):
    """`(rollout_func, reward_func)` for `GRPOTrainer(rollout_func=..., reward_funcs=[reward_func])`."""
    by_prompt = {e.turns[0][-1]["content"]: e for e in entries}
    if len(by_prompt) != len(entries):
        raise ValueError("multi-turn rollouts need entries whose first user messages differ (they identify the entry)")

    def rollout_func(prompts: list, trainer: Any) -> dict[str, list]:
        import torch
        from trl.models.utils import unwrap_model_for_generation

        tokenizer = trainer.processing_class
        convs = []
        for prompt in prompts:
            entry = by_prompt.get(prompt[-1]["content"])
            if entry is None:
                raise ValueError(f"multi-turn rollout: no entry for the prompt {prompt[-1]['content'][:80]!r}")
            convs.append(Conversation(entry, fmt, max_steps))
        eos_ids = set(getattr(trainer, "eos_token_ids", None) or [tokenizer.eos_token_id])
        prompt_ids, completion_ids, env_mask = [], [], []
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model, torch.no_grad():
            for conv in convs:  # one conversation at a time: the policy conditions on exactly the trained tokens
                text = _render(tokenizer, conv)
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                prompt_ids.append(list(ids))
                completion, mask = [], []
                while not conv.done:
                    out = model.generate(
                        input_ids=torch.tensor([ids], device=model.device),
                        attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=model.device),
                        generation_config=trainer.generation_config,
                    )
                    new = out[0, len(ids) :].tolist()
                    completion += new
                    mask += [1] * len(new)
                    ids += new
                    content = tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                    n_before = len(conv.messages)
                    conv.feed(content)
                    if conv.done:
                        break
                    # the text the template adds after the model's tokens: end of the assistant message, tool
                    # results, the next user turn, the next assistant header (all masked out of the loss)
                    closed = _render(tokenizer, conv, upto=n_before + 1, generation=False)
                    following = _render(tokenizer, conv)
                    if not (closed.startswith(text + content) and following.startswith(closed)):
                        raise ValueError(
                            "multi-turn rollouts need a prefix-stable chat template (each rendering of the "
                            "conversation extends the previous one, as ChatML does)"
                        )
                    tail = closed[len(text) + len(content) :]
                    if new and new[-1] in eos_ids:  # the end-of-message token the model already wrote
                        eos_text = tokenizer.decode(new[-1:], skip_special_tokens=False)
                        tail = tail[len(eos_text) :] if tail.startswith(eos_text) else tail
                    inserted = tokenizer(tail + following[len(closed) :], add_special_tokens=False)["input_ids"]
                    completion += inserted
                    mask += [0] * len(inserted)
                    ids += inserted
                    text = following
                completion_ids.append(completion)
                env_mask.append(mask)
        valid = [float(check_trajectory(c.entry, c.result, fmt).valid) for c in convs]
        return {
            "prompt_ids": prompt_ids,
            "completion_ids": completion_ids,
            "logprobs": None,
            "env_mask": env_mask,
            "multi_turn_valid": valid,
        }

    return rollout_func, multi_turn_reward
