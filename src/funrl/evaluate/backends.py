"""Generation backends for evaluation: `hf` (transformers), `vllm` (offline engine) and `openai` (any server).

All three take `Sample`s and return raw completion texts in input order, rendering prompts with the same
`funrl.template` code the trainer uses, so a model is evaluated in the format it was trained on. Decoding is
greedy. `make_backend(name, ...)` builds one; `backend.generate(samples, fmt, on_result)` calls
`on_result(index, text, truncated)` as soon as each completion is ready, so callers can persist results
incrementally (that is what makes `funrl eval` resumable). `truncated` is True when the generation stopped at
`max_new_tokens` instead of finishing (hf: no eos generated; vllm and openai: `finish_reason == "length"`).

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
ResultCallback = Callable[[int, str, bool], None]  # (index, text, stopped at max_new_tokens)
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


class GenerationError(RuntimeError):
    """Generation stopped (e.g. a server error that retries did not fix); the message names the entry."""


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="entry", dynamic_ncols=True)


def resolve_model_dir(model: str, lora: str | None) -> tuple[str, str | None]:
    """Return `(base_model, adapter)`: a PEFT adapter dir given as `model` is split into its base and itself."""
    path = Path(model)
    if not path.exists() and (path.is_absolute() or model.startswith(".") or model.count("/") > 1):
        # a hub id is `org/name`; anything else that looks like a path must exist
        raise ValueError(f"model folder {model} does not exist (pass a local model folder or a hub id org/name)")
    if lora is None and (path / "adapter_config.json").is_file():
        config_path = path / "adapter_config.json"
        base = json.loads(config_path.read_text()).get("base_model_name_or_path")
        if not base:
            raise ValueError(
                f"{config_path}: no 'base_model_name_or_path'; pass the base as --model and this as --lora"
            )
        return base, str(path)
    return model, lora


def tokenizer_source(base: str, adapter: str | None) -> str:
    """The adapter dir when it holds tokenizer files (trainers save the tokenizer beside the adapter), else the base."""
    if adapter and any((Path(adapter) / name).is_file() for name in TOKENIZER_FILES):
        return adapter
    return base


def lora_rank(adapter: str) -> int:
    """The rank `r` of a PEFT LoRA adapter (vLLM must be told the largest rank it will see)."""
    return int(json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r") or 16)


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
        source = tokenizer_source(base, adapter)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        if self.tokenizer.chat_template is None:
            raise ValueError(
                f"{source} has no chat template (tokenizer_config.json 'chat_template' or chat_template.jinja); "
                "funrl renders prompts with it. Use an instruct/chat checkpoint, or set one and save the tokenizer: "
                "`tok.chat_template = funrl.template.CHAT_TEMPLATE; tok.save_pretrained(dir)`."
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
        # stop at the model's eos ids and at the tokenizer's (a checkpoint whose generation config lacks
        # `<|im_end|>` would otherwise run to max_new_tokens)
        eos = self.model.generation_config.eos_token_id
        eos = list(eos) if isinstance(eos, (list, tuple)) else [] if eos is None else [eos]
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(self.tokenizer.eos_token_id)
        self.eos_token_id = eos or None

    def generate_ids(self, prompts: Sequence[str], on_result: ResultCallback | None = None, desc: str = "hf"):
        """Greedy completions of already-rendered prompt strings, as token ids (cut at the first eos).

        Prompts are tokenized without adding special tokens (the chat template already wrote them), sorted by
        token length (longest first, so a batch holds similar lengths and the first batch shows an OOM early) and
        left padded. `on_result(i, text, truncated)` is called per prompt as soon as its batch is done; `truncated`
        means no eos was generated within `max_new_tokens`.

        Returns:
            `list[list[int]]`: the generated ids of each prompt, in input order.
        """
        import torch

        lengths = [len(self.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: lengths[i], reverse=True)
        out: list[list[int]] = [[] for _ in prompts]
        stop = set(self.eos_token_id or [])  # after an eos a finished row only holds padding
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
                        eos_token_id=self.eos_token_id,
                    )
                new = gen[:, enc["input_ids"].shape[1] :].tolist()
                for i, row in zip(idx, new):
                    cut = next((k for k, t in enumerate(row) if t in stop), len(row))
                    out[i] = row[:cut]
                    if on_result:
                        on_result(i, self.tokenizer.decode(out[i], skip_special_tokens=True), cut == len(row))
                bar.update(len(idx))
        return out

    def generate_texts(
        self, prompts: Sequence[str], on_result: ResultCallback | None = None, desc: str = "hf"
    ) -> list[str]:
        """Greedy completions of already-rendered prompt strings (see `generate_ids`)."""
        ids = self.generate_ids(prompts, on_result, desc)
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in ids]

    def generate(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None = None) -> list[str]:
        from funrl.template import render_prompt

        prompts = [render_prompt(self.tokenizer, s, fmt) for s in samples]
        return self.generate_texts(prompts, on_result)


class VLLMBackend:
    """vLLM's offline `LLM` engine (optional extra `funrl[vllm]`), tensor parallel, LoRA applied per request.

    Prompts are rendered by `funrl.template` and sent as token ids tokenized without special tokens, exactly as
    the `hf` backend does (a text prompt would get a second BOS on tokenizers that add one). They are generated
    in chunks of `chunk_size`, and each chunk is reported through `on_result` before the next starts, so an
    interrupted run loses at most one chunk.
    """

    def __init__(
        self,
        model: str,
        lora: str | None = None,
        max_new_tokens: int = 256,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        chunk_size: int = 512,
    ):
        from funrl.optional import require

        require("vllm", "the vllm backend (funrl eval --backend vllm)")
        from vllm import LLM, SamplingParams

        base, adapter = resolve_model_dir(model, lora)
        extra: dict[str, Any] = {}
        if adapter:
            extra = {"enable_lora": True, "max_lora_rank": max(16, lora_rank(adapter))}
        self.llm = LLM(
            model=base,
            tokenizer=tokenizer_source(base, adapter),
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            **extra,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)
        self.chunk_size = chunk_size
        self.lora_request = None
        if adapter:
            from vllm.lora.request import LoRARequest

            self.lora_request = LoRARequest("funrl-adapter", 1, adapter)

    def generate(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None = None) -> list[str]:
        from funrl.template import render_prompt

        texts: list[str] = []
        with _progress(len(samples), "vllm") as bar:
            for start in range(0, len(samples), self.chunk_size):
                chunk = samples[start : start + self.chunk_size]
                prompts = [
                    {
                        "prompt_token_ids": self.tokenizer(
                            render_prompt(self.tokenizer, s, fmt), add_special_tokens=False
                        )["input_ids"]
                    }
                    for s in chunk
                ]
                outputs = self.llm.generate(prompts, self.params, lora_request=self.lora_request, use_tqdm=False)
                for k, output in enumerate(outputs):
                    texts.append(output.outputs[0].text)
                    if on_result:
                        on_result(start + k, texts[-1], output.outputs[0].finish_reason == "length")
                bar.update(len(chunk))
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
    concurrency, retries as the data judge does (`funrl.llm_client`: the openai client's own retries on
    408/409/429/5xx/timeouts/dropped connections, and malformed 200 replies retried as often). The key comes from
    `api_key_env`.

    Messages are `funrl.template.build_messages`; for `qwen-fc` the tools go in the request's `tools` field (BFCL
    types such as `dict` and `float`, as the trainer's prompt has them: a server that validates JSON Schema
    strictly may refuse them). An answer with `tool_calls` is turned back into `<tool_call>` text
    (`tool_calls_to_text`), so the same parser scores it. An entry that retries do not fix does not stop the
    others: every answer received goes to `on_result`, and then `GenerationError` says how many entries failed,
    names the first and the server.
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        max_new_tokens: int = 256,
        timeout_s: float = 120.0,
        max_retries: int = 5,
    ):
        if not base_url:
            raise ValueError("the openai backend needs --base-url, e.g. http://localhost:8000/v1")
        self.model = model
        self.base_url = base_url
        self.api_key = os.environ.get(api_key_env) or "EMPTY"  # local servers accept any key
        self.concurrency = concurrency
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries

    async def _one(self, client, semaphore, sample: Sample, fmt: str) -> tuple[str, bool]:
        from funrl.llm_client import complete
        from funrl.template import build_messages

        messages, tools = build_messages(sample, fmt)
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0.0}
        body["max_tokens"] = self.max_new_tokens
        if tools:
            body["tools"] = [{"type": "function", "function": t} for t in tools]
        async with semaphore:
            reply = await complete(client, body, self.max_retries)
        choice = reply.response.choices[0]
        return tool_calls_to_text(choice.message), choice.finish_reason == "length"

    async def _run(self, samples: Sequence[Sample], fmt: str, on_result: ResultCallback | None) -> list[str]:
        import openai

        from funrl.llm_client import MalformedReply, make_client

        client = make_client(self.base_url, self.api_key, self.timeout_s, self.max_retries)
        semaphore = asyncio.Semaphore(self.concurrency)
        out: list[str] = [""] * len(samples)
        failures: list[str] = []

        async def task(i: int) -> None:
            try:
                out[i], truncated = await self._one(client, semaphore, samples[i], fmt)
            except (openai.APIError, MalformedReply) as exc:  # the others go on; every answer received is kept
                failures.append(f"entry {samples[i].id!r}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
                return
            if on_result:
                on_result(i, out[i], truncated)
            bar.update(1)

        with _progress(len(samples), "openai") as bar:
            try:
                await asyncio.gather(*(task(i) for i in range(len(samples))))
            finally:
                await client.close()
        if failures:
            raise GenerationError(
                f"{len(failures)} of {len(samples)} entries failed after {self.max_retries} retries on server "
                f"{self.base_url} (model {self.model!r}); first: {failures[0]}"
            )
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
