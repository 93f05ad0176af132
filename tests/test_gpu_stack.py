"""The pinned GPU stack resolves, and to exactly the versions README's "Tested GPU stack" table lists (slow: it asks
PyPI through `pip install --dry-run --report`, installing nothing).

    .venv/bin/python -m pytest -m slow tests/test_gpu_stack.py -q

A new vLLM, DeepSpeed or torch release, or a change of the pins in pyproject.toml, fails here, in CI, rather than on
a user's GPU machine. Also checked: the resolved vLLM is inside the range TRL itself supports (the bounds of TRL's
own `vllm` extra) and the resolved transformers inside funrl's pin.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
EXTRAS = "vllm,deepspeed,bfcl-java"
OFFLINE = ("Could not find a version", "NewConnectionError", "Failed to establish", "Temporary failure in name")


def readme_stack() -> dict[str, str]:
    """`{package: version}` from the README table under the "Tested GPU stack" heading."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Tested GPU stack", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([\w.-]+)` \| `([\w.+-]+)` \|", section, re.M)
    assert rows, "README.md: no `| `package` | `version` |` rows under '### Tested GPU stack'"
    return dict(rows)


def test_readme_stack_matches_the_pins():
    """The README table and pyproject's extras name the same pinned versions (no network needed)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    stack = readme_stack()
    pins = {}
    for req in [*project["dependencies"], *project["optional-dependencies"]["vllm"]]:
        r = Requirement(req)
        exact = [s.version for s in r.specifier if s.operator == "=="]
        if exact:
            pins[r.name] = exact[0]
    for req in project["optional-dependencies"]["deepspeed"]:
        r = Requirement(req)
        pins[r.name] = next(s.version for s in r.specifier if s.operator == "==")
    for name, version in pins.items():
        assert stack.get(name) == version, f"README 'Tested GPU stack' says {name} {stack.get(name)}, pin {version}"
    transformers_pin = Requirement(next(d for d in project["dependencies"] if d.startswith("transformers"))).specifier
    assert Version(stack["transformers"]) in transformers_pin


@pytest.mark.slow
def test_gpu_extras_resolve_to_the_tested_stack(tmp_path):
    report = tmp_path / "report.json"
    stack = readme_stack()
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report"]
    cmd += [str(report), f"torch=={stack['torch']}", "-e", f"{REPO}[{EXTRAS}]"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 and any(m in proc.stderr for m in OFFLINE[1:]):
        pytest.skip(f"PyPI not reachable: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, f"the GPU extras do not resolve:\n{proc.stderr[-3000:]}"
    resolved = {
        item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    for name, version in stack.items():
        got = resolved.get(name.lower().replace("_", "-"))
        assert got is not None, f"{name} is not in the resolved GPU stack"
        # a local build tag (torch 2.13.0+cpu / +cu128, from a local wheel index) is the same release
        assert Version(got.split("+")[0]) == Version(version), f"{name}: resolved {got}, README says {version}"
    trl_vllm = next(Requirement(r) for r in requires("trl") if r.startswith("vllm") and "extra ==" in r)
    assert Version(resolved["vllm"]) in trl_vllm.specifier, f"TRL supports vllm {trl_vllm.specifier} only"
