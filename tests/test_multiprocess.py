"""Two CPU processes (accelerate, gloo) train the same weights with `funrl.train`.

    .venv/bin/python -m pytest tests/test_multiprocess.py -q -m slow      # 15-40 s on 2 shared cores

The launch is `accelerate launch --multi_gpu --num_processes 2 tests/test_multiprocess.py ... --use_cpu true`:
accelerate 1.15's `--cpu` flag starts a single process (its simple launcher; several only through mpirun), while
`--multi_gpu` is its torchrun launcher, which starts the two ranks; `use_cpu` (a `TrainingArguments` field) then makes
the trainer's accelerator a MULTI_CPU one with the gloo backend, which the test checks.

The test launches this file under accelerate; each rank runs the parser of `funrl train` and `funrl.train.train()` on the smoke
recipe (tiny model, toy world) for two steps, then writes a digest of its parameters. The test checks that:

1. both ranks ran in one gloo process group and each scored different prompts (data parallelism, not two copies
   of one single-process run, which would end with equal weights without any synchronisation);
2. both ranks end with bit-identical parameters, equal to the model rank 0 saved;
3. training changed the parameters (the initial tiny model has another digest).

A random tiny model never earns the binary `funrl` reward, which would leave every advantage at 0 and the weights
unchanged, so the run uses `parity_reward` (varies with the completion length) and a think span that random text
contains (from the start of the completion to the first letter "e"), as tests/test_trainer.py does.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOG_DIR_ENV = "FUNRL_TEST_MP_LOG_DIR"  # where each rank records what it scored


def parity_reward(completions, prompts=None, log_extra=None, **kwargs):
    """1.0 for an even number of characters; records this rank's prompts and process group backend."""
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    rewards = [float(len(t) % 2 == 0) for t in texts]
    if log_extra is not None:
        log_extra("parity_reward_reason", ["ok" if r else "length:odd" for r in rewards])
    log_dir = os.environ.get(LOG_DIR_ENV)
    if log_dir:
        import torch.distributed as dist

        rank = dist.get_rank() if dist.is_initialized() else 0
        backend = dist.get_backend() if dist.is_initialized() else None
        prompt_texts = [json.dumps(p, sort_keys=True) for p in (prompts or [])]
        with open(Path(log_dir) / f"scored_rank{rank}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"backend": backend, "prompts": prompt_texts}) + "\n")
    return rewards


def params_digest(model) -> str:
    """SHA-256 over every parameter's name and float32 bytes, in name order."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _worker(argv: list[str]) -> None:
    """One rank: `funrl.train` as `accelerate launch -m funrl.train` runs it, then this rank's parameter digest."""
    import torch

    torch.set_num_threads(1)
    from funrl.rl_trainer import make_parser
    from funrl.train import train

    script_args, training_args, model_args = make_parser().parse_args_and_config(argv)
    trainer = train(script_args, training_args, model_args)
    rank = int(os.environ.get("RANK", "0"))
    record = {
        "rank": rank,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "global_step": trainer.state.global_step,
        "digest": params_digest(trainer.accelerator.unwrap_model(trainer.model)),
    }
    Path(training_args.output_dir, f"rank{rank}.json").write_text(json.dumps(record), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _digest_of(path: Path) -> str:
    from transformers import AutoModelForCausalLM

    return params_digest(AutoModelForCausalLM.from_pretrained(path))


@pytest.mark.slow
def test_two_cpu_processes_train_the_same_weights(tmp_path):
    out, tiny, logs = tmp_path / "run", tmp_path / "tiny", tmp_path / "logs"
    logs.mkdir()
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    command += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["--num_cpu_threads_per_process", "1", "--main_process_port", str(_free_port()), __file__]
    command += ["--config", str(REPO / "recipes" / "smoke" / "funrl.yaml"), "--output_dir", str(out)]
    command += ["--tiny_model_dir", str(tiny), "--max_steps", "2", "--max_completion_length", "16"]
    command += ["--reward_funcs", "test_multiprocess.parity_reward", "--learning_rate", "1e-2"]
    command += ["--entropy_adv_think_start", "", "--entropy_adv_think_end", "e", "--use_cpu", "true"]
    # A process group or accelerate state set up earlier in this pytest process must not leak into the launch.
    leaked = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in leaked and not k.startswith("ACCELERATE_")}
    env.update({LOG_DIR_ENV: str(logs), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"), env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")
    try:
        proc = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as exc:  # a rank stuck in a collective: show where the ranks got to
        output = "".join(
            x.decode(errors="replace") if isinstance(x, bytes) else x or "" for x in (exc.stdout, exc.stderr)
        )
        pytest.fail(f"accelerate launch did not finish in {exc.timeout} s:\n{output[-4000:]}")
    assert proc.returncode == 0, (
        f"accelerate launch failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}"
    )

    records = [json.loads((out / f"rank{rank}.json").read_text(encoding="utf-8")) for rank in (0, 1)]
    assert [(r["rank"], r["world_size"], r["global_step"]) for r in records] == [(0, 2, 2), (1, 2, 2)]

    # 1. one gloo group, different prompts per rank and step
    scored = [[json.loads(line) for line in (logs / f"scored_rank{rank}.jsonl").open()] for rank in (0, 1)]
    assert {entry["backend"] for rank in scored for entry in rank} == {"gloo"}
    assert len(scored[0]) == len(scored[1]) == 2  # one reward call per rank per step
    for step, (mine, theirs) in enumerate(zip(*scored)):
        assert set(mine["prompts"]).isdisjoint(theirs["prompts"]), f"step {step}: both ranks scored the same prompts"

    # 2. identical weights on both ranks, and in the saved model
    assert records[0]["digest"] == records[1]["digest"], "the two ranks ended with different weights"
    assert _digest_of(out) == records[0]["digest"], "the saved model differs from the trained weights"

    # 3. training moved the weights away from the initial tiny model
    initial = next(p for p in tiny.iterdir() if (p / "config.json").is_file())
    assert _digest_of(initial) != records[0]["digest"], "two training steps left the weights unchanged"


if __name__ == "__main__":  # a rank started by `accelerate launch tests/test_multiprocess.py ...`
    _worker(sys.argv[1:])
