"""Generation backends for evaluation: `hf` (transformers), `vllm` (offline engine) and `openai` (any server).

All three take `Sample`s and return raw completion texts in input order, rendering prompts with the same
`funrl.template` code the trainer uses, so a model is evaluated in the format it was trained on. Decoding is
greedy. `make_backend(name, ...)` builds one; `backend.generate(samples, fmt, on_result)` calls
`on_result(index, text)` as soon as each completion is ready, so callers can persist results incrementally
(that is what makes `funrl eval` resumable).

    backend = make_backend("hf", model="runs/sft", batch_size=8, max_new_tokens=256)
    texts = backend.generate(samples, fmt="funrl")
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from funrl.schema import Sample

BACKENDS = ("hf", "vllm", "openai")
ResultCallback = Callable[[int, str], None]


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="entry", dynamic_ncols=True)


def resolve_model_dir(model: str, lora: str | None) -> tuple[str, str | None]:
    """Return `(base_model, adapter)`: a PEFT adapter dir given as `model` is split into its base and itself."""
    path = Path(model)
    if lora is None and (path / "adapter_config.json").is_file():
        config = json.loads((path / "adapter_config.json").read_text())
        return config["base_model_name_or_path"], str(path)
    return model, lora


class HFBackend:
    """transformers `generate`, batched (left padding, prompts sorted by length), greedy; CPU or GPU."""

    def __init__(
        self,
        model: str,
        lora: str | None = None,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        device: str | None = None,
        dtype: str = "auto",
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        base, adapter = resolve_model_dir(model, lora)
        self.tokenizer = AutoTokenizer.from_pretrained(adapter or base)
        if self.tokenizer.chat_template is None:
            raise ValueError(
                f"{base} has no chat template (tokenizer_config.json 'chat_template'); funrl renders prompts with it. "
                "Use an instruct/chat checkpoint, or add a template to the tokenizer and save it."
            )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        model_obj = AutoModelForCausalLM.from_pretrained(base, dtype=torch_dtype)
        if adapter:
            from peft import PeftModel

            model_obj = PeftModel.from_pretrained(model_obj, adapter).merge_and_unload()
        self.model = model_obj.to(self.device).eval()
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def generate_texts(
        self, prompts: Sequence[str], on_result: ResultCallback | None = None, desc: str = "hf"
    ) -> list[str]:
        """Greedy completions of already-rendered prompt strings."""
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        out: list[str] = [""] * len(prompts)
        with _progress(len(prompts), desc) as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
                ).to(self.device)
                with torch.no_grad():
                    gen = self.model.generate(
                        **enc,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=self.tokenizer.pad_token_id,
                    )
                new = gen[:, enc["input_ids"].shape[1] :]
                for i, row in zip(idx, new):
                    out[i] = self.tokenizer.decode(row, skip_special_tokens=True)
                    if on_result:
                        on_result(i, out[i])
                bar.update(len(idx))
        return out

    def generate(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None = None) -> list[str]:
        from funrl.template import render_prompt

        prompts = [render_prompt(self.tokenizer, s, fmt) for s in samples]
        return self.generate_texts(prompts, on_result)


class VLLMBackend:
    """vLLM's offline `LLM` engine (optional extra `funrl[vllm]`), tensor parallel, LoRA applied per request."""

    def __init__(
        self,
        model: str,
        lora: str | None = None,
        max_new_tokens: int = 256,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
    ):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ImportError("the vllm backend needs vLLM: pip install 'funrl[vllm]' (GPU machines)") from exc
        base, adapter = resolve_model_dir(model, lora)
        self.llm = LLM(
            model=base,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_lora=adapter is not None,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        self.lora_request = None
        if adapter:
            from vllm.lora.request import LoRARequest

            self.lora_request = LoRARequest("funrl-adapter", 1, adapter)

    def generate(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None = None) -> list[str]:
        from funrl.template import render_prompt

        prompts = [render_prompt(self.tokenizer, s, fmt) for s in samples]
        outputs = self.llm.generate(prompts, self.params, lora_request=self.lora_request, use_tqdm=True)
        texts = [o.outputs[0].text for o in outputs]
        if on_result:
            for i, text in enumerate(texts):
                on_result(i, text)
        return texts


def tool_calls_to_text(message: Any) -> str:
    """An OpenAI chat message with `tool_calls` -> Qwen/Hermes `<tool_call>` text (what `qwen-fc` parses)."""
    parts = [message.content or ""] if getattr(message, "content", None) else []
    for call in getattr(message, "tool_calls", None) or []:
        arguments = call.function.arguments
        try:
            arguments = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError:
            pass  # kept as the raw string: the parser reports it as undecodable
        body = json.dumps({"name": call.function.name, "arguments": arguments}, ensure_ascii=False)
        parts.append(f"<tool_call>\n{body}\n</tool_call>")
    return "\n".join(parts)


class OpenAIBackend:
    """Any OpenAI-compatible chat-completions server (vLLM serve, SGLang, hosted APIs): async, bounded
    concurrency, retries with exponential backoff on 429/5xx/timeouts. The key comes from `api_key_env`."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_new_tokens: int = 256,
        timeout_s: float = 120.0,
        max_retries: int = 5,
    ):
        self.model = model
        self.base_url = base_url
        self.api_key = os.environ.get(api_key_env) or "EMPTY"  # local servers accept any key
        self.concurrency = concurrency
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries

    async def _one(self, client, semaphore, sample: Sample, fmt: str) -> str:
        import openai
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

        from funrl.template import build_messages

        messages, tools = build_messages(sample, fmt)
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0.0}
        kwargs["max_tokens"] = self.max_new_tokens
        if tools:
            kwargs["tools"] = [{"type": "function", "function": t} for t in tools]
        retryable = (
            openai.RateLimitError,
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.InternalServerError,
        )
        async with semaphore:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(retryable),
                stop=stop_after_attempt(self.max_retries),
                wait=wait_exponential_jitter(initial=0.2, max=10.0),
                reraise=True,
            ):
                with attempt:
                    response = await client.chat.completions.create(**kwargs)
        return tool_calls_to_text(response.choices[0].message)

    async def _run(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None) -> list[str]:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0)
        semaphore = asyncio.Semaphore(self.concurrency)
        out: list[str] = [""] * len(samples)

        async def task(i: int) -> None:
            out[i] = await self._one(client, semaphore, samples[i], fmt)
            if on_result:
                on_result(i, out[i])
            bar.update(1)

        with _progress(len(samples), "openai") as bar:
            try:
                await asyncio.gather(*(task(i) for i in range(len(samples))))
            finally:
                await client.close()
        return out

    def generate(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None = None) -> list[str]:
        return asyncio.run(self._run(samples, fmt, on_result))


def make_backend(name: str, **kwargs: Any):
    """Build a backend by name; unknown names list the valid ones; kwargs not used by that backend are ignored."""
    import inspect

    classes = {"hf": HFBackend, "vllm": VLLMBackend, "openai": OpenAIBackend}
    if name not in classes:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKENDS)}")
    cls = classes[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    return cls(**{k: v for k, v in kwargs.items() if k in accepted and v is not None})
