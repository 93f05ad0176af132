"""The README's main-job command on a fresh clone: a missing install step (a dependency absent from pyproject.toml,
a file not committed, a set-up script gap) fails here.

Slow (a fresh virtual environment is installed: several minutes, mostly pip) and so not in the default suite; CI runs
it explicitly:

    .venv/bin/python -m pytest tests/test_fresh_clone.py -m slow -q

The test clones the committed HEAD of this repository into a temporary folder (uncommitted changes are not part of
it, exactly as for a newcomer), reads the main-job command from the README's "Two commands" block, and runs it there
with `--smoke` appended (the same pipeline with a tiny model and seconds per stage). pip's cache and any
`PIP_FIND_LINKS` / `PIP_INDEX_URL` of the environment are used as they are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = "# 1. main job"


def readme_main_command(readme: str) -> str:
    """The first shell line (not a comment) after the `# 1. main job` comment in the README."""
    lines = readme.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(MARKER):
            following = (lines[j].strip() for j in range(i + 1, len(lines)))
            command = next((line for line in following if line and not line.startswith("#")), "")  # skip comments
            if "funrl quickstart" not in command:
                raise AssertionError(
                    f"README.md: the line after {MARKER!r} does not run `funrl quickstart`: {command!r}"
                )
            return command
    raise AssertionError(f"README.md has no {MARKER!r} line: the fresh-clone test cannot find the main-job command")


def test_readme_main_command_is_found():
    command = readme_main_command((REPO / "README.md").read_text())
    assert "setup.sh" in command and "--output" in command


@pytest.mark.slow
def test_fresh_clone_runs_the_readme_main_command(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "funrl"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    command = readme_main_command((clone / "README.md").read_text()) + " --smoke"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "FUNRL_VENV"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled")
    proc = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=1500)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"`{command}` failed in a fresh clone (exit {proc.returncode}):\n{tail}"
    out = clone / "runs" / "quickstart"
    for name in ("results.md", "results.json", "curves.png", "summary.txt"):
        assert (out / name).is_file(), f"{name} missing after `{command}`:\n{tail}"
    result = json.loads((out / "results.json").read_text())
    # {split: {model: {category: accuracy}}}: both evaluation splits, every model scored
    assert set(result["accuracy"]) == {"eval_id", "eval_ood"}
    assert all(0.0 <= acc["overall"] <= 1.0 for rows in result["accuracy"].values() for acc in rows.values())
