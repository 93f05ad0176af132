"""The options of an evaluation run (`EvalArguments`): the model, the backend and its settings, what to evaluate and
where to write it. `funrl eval` fills them with TRL's `TrlParser` (flags, or keys of a `--config` YAML, like train and
sft); library callers (`funrl.evaluate.runner.evaluate`, the CPU demo) construct them directly.

    from funrl.evaluate.arguments import EvalArguments
    args = EvalArguments(model="runs/sft", samples="data/heldout.jsonl", output="runs/eval-heldout", device="cpu")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from funrl.calls.parse import TEMPLATE_FORMATS as FORMATS
from funrl.evaluate.backends import BACKENDS
from funrl.evaluate.truncation import DEFAULT_MAX_NEW_TOKENS
from funrl.fields import option_help


@dataclass
class EvalArguments:
    """Options of `funrl eval` (flags, or keys of a `--config` YAML; TRL's `TrlParser`, like train and sft)."""

    model: str = field(
        default="", metadata=option_help("local HF model dir, hub id, PEFT adapter dir, or served model name")
    )
    output: str = field(default="", metadata=option_help("run directory (created; a re-run resumes)"))
    backend: str = field(default="hf", metadata=option_help("generation backend", choices=list(BACKENDS)))
    format: str = field(default="funrl", metadata=option_help("prompt/output format", choices=list(FORMATS)))
    categories: str | None = field(
        default=None,
        metadata=option_help("BFCL categories or groups, comma-separated (default: single_turn; multi_turn or its 4 "
                       "categories run the multi-turn conversations); with --samples, the file's own categories"),
    )  # fmt: skip
    data_dir: str | None = field(
        default=None, metadata=option_help("BFCL data folder (default: $BFCL_DATA_DIR or bfcl-eval's)")
    )
    samples: str | None = field(
        default=None, metadata=option_help("evaluate canonical samples from this JSONL instead of BFCL")
    )
    limit: int | None = field(default=None, metadata=option_help("first N entries of each category (quick runs)"))
    max_new_tokens: int | None = field(
        default=None,
        metadata=option_help("generation budget per entry (default: the model's max_completion_length when funrl trained "
                       f"it, else {DEFAULT_MAX_NEW_TOKENS}, the recipes' max_completion_length; FunRL CoTs average "
                       "~350 tokens)"),
    )  # fmt: skip
    batch_size: int = field(default=8, metadata=option_help("hf backend: prompts per generate() call"))
    lora: str | None = field(
        default=None, metadata=option_help("PEFT adapter to apply (hf: merged; vllm: LoRARequest)")
    )
    dtype: str = field(default="auto", metadata=option_help("hf backend: torch dtype (auto, float32, bfloat16, ...)"))
    tensor_parallel_size: int = field(default=1, metadata=option_help("vllm backend"))
    gpu_memory_utilization: float = field(default=0.9, metadata=option_help("vllm backend"))
    base_url: str | None = field(
        default=None, metadata=option_help("openai backend: server URL, e.g. http://localhost:8000/v1")
    )
    api_key_env: str = field(default="OPENAI_API_KEY", metadata=option_help("openai backend: env var holding the key"))
    concurrency: int = field(default=16, metadata=option_help("openai backend: requests in flight"))
    timeout: float = field(default=120.0, metadata=option_help("openai backend: seconds per request"))
    max_retries: int = field(
        default=5, metadata=option_help("openai backend: retries per request (transport faults, malformed replies)")
    )
    device: str | None = field(
        default=None, metadata=option_help("hf backend: cpu, cuda, cuda:1 (default: cuda if any)")
    )
    name: str | None = field(
        default=None, metadata=option_help("run name in tables (default: the output folder name)")
    )
    update_card: bool = field(
        default=False,
        metadata=option_help("put the BFCL results into the model folder's card (README.md, funrl.model_card); local "
                       "models only"),
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("no model: pass --model (a model folder, hub id, adapter folder or served name)")
        if not self.output:
            raise ValueError("no run folder: pass --output DIR")
        for name in ("limit", "max_new_tokens", "batch_size", "concurrency", "tensor_parallel_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
        if self.max_retries < 0:
            raise ValueError(f"--max-retries must be >= 0, got {self.max_retries}")
