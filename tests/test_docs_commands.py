"""Every `funrl`, `trl`, `accelerate` and `hf` command shown in README.md, recipes/README.md and docs/*.md exists,
with every flag it passes: a renamed command or flag fails here, not in a user's terminal.

Commands are read from code blocks (fenced shell blocks and indented blocks) and from inline code spans; a
trailing backslash continues a line, `R=...` assignments of a block are substituted, placeholders (`<file>`) are
kept as words. Each command is checked against the `--help` of the program that runs it (`funrl <cmd>` in
process; `accelerate launch`, `trl <cmd>`, `hf <cmd>` as subprocesses of the venv's own executables), and the
recipe files it names must exist. `funrl train` / `funrl sft` commands whose recipe exists are also parsed by
their own parser (a dry run: values are checked too). Tools that replaced deprecated ones are enforced:
`hf download`, not `huggingface-cli`; vLLM's own `vllm serve`, not TRL 1.16's deprecated `trl vllm-serve`.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from funrl.cli import COMMANDS
from funrl.cli import main as funrl_main

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "recipes" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("funrl", "trl", "accelerate", "hf")
DEPRECATED = {
    "huggingface-cli": "use `hf` (huggingface_hub's CLI; `huggingface-cli` is gone from the pinned huggingface_hub)",
    "trl vllm-serve": "deprecated in TRL 1.16: run `VLLM_SERVER_DEV_MODE=1 vllm serve ...` (recipes/README.md)",
}
SHELL_LANGS = ("", "bash", "sh", "shell", "console")
OPERATORS = {"&&", "||", ";", "|", "&"}


def _code_lines(text: str) -> list[tuple[int, str, dict[str, str]]]:
    """`(line number, command line, variables)` of the shell code in a markdown text."""
    out: list[tuple[int, str, dict[str, str]]] = []
    lines = text.splitlines()
    fence: str | None = None
    variables: dict[str, str] = {}
    pending = ""
    start = 0
    for no, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip().lower()
            variables = {}
            continue
        in_code = (fence is not None and fence in SHELL_LANGS) or (fence is None and raw.startswith("    "))
        if not in_code:
            for span in re.findall(r"`([^`]+)`", raw):
                if span.split(" ", 1)[0] in PROGRAMS + ("huggingface-cli",) and " " in span:
                    out.append((no, span, {}))
            continue
        if not pending:
            start = no
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if stripped.endswith("\\"):
            continue
        line, pending = pending, ""
        match = re.fullmatch(r"([A-Za-z_]\w*)=(\S+)", line)
        if match:
            variables[match.group(1)] = match.group(2)
        out.append((start, line, dict(variables)))
    return out


def _commands(line: str, variables: dict[str, str]) -> list[list[str]]:
    """The simple commands of a shell line whose program is one of PROGRAMS (or a deprecated one)."""
    for name, value in variables.items():
        line = line.replace(f"${name}", value).replace(f"${{{name}}}", value)
    line = re.sub(r"<[^<>\s]+>", "PLACEHOLDER", line)
    if " [--" in line:  # a usage synopsis: `funrl score --outputs OUT [--format a|b]`
        line = re.sub(r"(\S+)\|\S+", r"\1", line.replace("[", " ").replace("]", " "))
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    commands, current = [], []
    for token in [*tokens, ";"]:
        if token in OPERATORS:
            while current and re.fullmatch(r"[A-Za-z_]\w*=\S*", current[0]):  # VAR=value command
                current = current[1:]
            if current:
                if "bin/" in current[0]:
                    current[0] = Path(current[0]).name  # .venv/bin/funrl
                if current[0] in PROGRAMS or current[0] == "huggingface-cli":
                    commands.append(current)
            current = []
        else:
            current.append(token)
    return commands


def collect() -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        for no, line, variables in _code_lines(path.read_text()):
            for cmd in _commands(line, variables):
                found.append((f"{path.relative_to(REPO)}:{no}", cmd))
    return found


ALL = collect()


def _run_help(argv: list[str]) -> str:
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    assert exe, f"{argv[0]} is not installed"
    proc = subprocess.run([exe, *argv[1:], "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"`{' '.join(argv)} --help` failed:\n{proc.stderr[-2000:]}"
    return proc.stdout


@cache
def help_text(program: str, sub: str) -> str:
    if program == "funrl":
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
            raise SystemExit(funrl_main([sub, "--help"]))
        return buffer.getvalue()
    return _run_help([program, *sub.split()])


def _flags(args: list[str]) -> list[str]:
    return [a.split("=", 1)[0] for a in args if a.startswith("--") and len(a) > 2]


def _has_flag(text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def _check_paths(args: list[str], where: str) -> None:
    for flag in ("--config", "--config_file"):
        if flag in args:
            path = args[args.index(flag) + 1]
            if path.startswith("recipes/"):
                assert (REPO / path).is_file(), f"{where}: {flag} {path} does not exist"


# commands whose options go through TRL's `TrlParser` (a `--config` YAML, then flags)
TRL_PARSED = ("train", "sft", "prepare", "score", "eval", "report")


def _check_funrl(sub: str, args: list[str], where: str) -> None:
    if sub == "--debug" and args:  # `funrl --debug <command> ...`: the global flag of funrl.cli
        sub, args = args[0], args[1:]
    if sub == "PLACEHOLDER":  # `funrl <command> ...`: prose about every command, not one command to check
        return
    assert sub in COMMANDS, f"{where}: `funrl {sub}` is not a funrl command ({', '.join(COMMANDS)})"
    text = help_text("funrl", sub)
    if sub in TRL_PARSED:
        text += " --config"  # TRL's parser reads the recipe (`parse_args_and_config`); its --help does not list it
    for flag in _flags(args):
        assert _has_flag(text, flag), f"{where}: `funrl {sub}` has no option {flag}"
    _check_paths(args, where)
    config = args[args.index("--config") + 1] if "--config" in args else None
    if sub in ("train", "sft") and config and (REPO / config).is_file():
        import importlib

        module = importlib.import_module(COMMANDS[sub][0])
        argv = [(str(REPO / a) if a == config else a) for a in args]
        module.make_parser().parse_args_and_config([*argv, "--use_cpu", "true"])  # a dry run of the parser


def check(cmd: list[str], where: str) -> None:
    program = cmd[0]
    for old, advice in DEPRECATED.items():
        assert " ".join(cmd).find(old) != 0, f"{where}: `{old}`: {advice}"
    if program == "funrl":
        assert len(cmd) > 1, where
        _check_funrl(cmd[1], cmd[2:], where)
    elif program == "accelerate":
        assert cmd[1] == "launch", f"{where}: only `accelerate launch` is shown in the docs"
        launch = cmd[2 : cmd.index("-m")] if "-m" in cmd else cmd[2:]
        text = help_text("accelerate", "launch")
        for flag in _flags(launch):
            assert _has_flag(text, flag), f"{where}: `accelerate launch` has no option {flag}"
        _check_paths(launch, where)
        if "-m" in cmd:
            module = cmd[cmd.index("-m") + 1]
            sub = {v[0]: k for k, v in COMMANDS.items()}.get(module)
            assert sub, f"{where}: -m {module} is not a funrl command module"
            _check_funrl(sub, cmd[cmd.index("-m") + 2 :], where)
    elif program in ("trl", "hf"):
        sub = cmd[1]
        text = help_text(program, sub)
        for flag in _flags(cmd[2:]):
            assert _has_flag(text, flag), f"{where}: `{program} {sub}` has no option {flag}"


def test_docs_show_commands():
    programs = {cmd[0] for _, cmd in ALL}
    assert {"funrl", "accelerate", "hf"} <= programs, programs  # the extraction itself works
    assert len(ALL) > 40


@pytest.mark.parametrize(("where", "cmd"), ALL, ids=[f"{w} {' '.join(c[:2])}" for w, c in ALL])
def test_documented_command_runs(where, cmd):
    check(cmd, where)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param("funrl trian --config recipes/smoke/funrl.yaml", "not a funrl command", id="renamed command"),
        pytest.param("funrl eval --model m --max-tokens 8 --output o", "no option --max-tokens", id="renamed flag"),
        pytest.param("funrl train --config recipes/smoke/funrl.yml", "does not exist", id="missing recipe"),
        pytest.param("funrl train --config recipes/smoke/funrl.yaml --loss_type nope", "loss_type", id="bad value"),
        pytest.param("huggingface-cli download x --local-dir d", "use `hf`", id="huggingface-cli"),
        pytest.param("CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model m", "deprecated", id="trl vllm-serve"),
        pytest.param("accelerate launch --num_proc 2 -m funrl.train", "no option --num_proc", id="accelerate flag"),
    ],
)
def test_a_broken_command_fails(line, problem):
    (cmd,) = _commands(line, {})
    with pytest.raises((AssertionError, ValueError, SystemExit)) as info:
        check(cmd, "example")
    if not isinstance(info.value, SystemExit):
        assert problem in str(info.value)
