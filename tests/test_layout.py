"""The house rules, checked on the source tree (no imports of funrl itself: the files are read with `ast`).

1. Layers: every `funrl <command>` lives in a command module (`COMMANDS`); everything else is library. Library modules
   never import command modules, no command module imports another, and no import cycle exists (lazy imports inside
   functions count too: they are the same dependency, only deferred).
2. The README's file map names every module and package of `src/funrl`, and only those.
3. The repository is self-contained: no file cites a document outside it (the specs folder beside it, or a `*.md` that is
   not in the repository).

Known violations in files being moved by other work are listed in `KNOWN_VIOLATIONS` with the reason; the test fails
on any new violation and on a listed one that no longer occurs (remove it from the list then).
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "funrl"

# The commands: `funrl <name>` -> the module holding its `main` (the same map as `funrl.cli.COMMANDS`, checked below).
COMMANDS = {
    "score": "funrl.evaluate.score",
    "prepare": "funrl.data.prepare",
    "sft": "funrl.sft",
    "train": "funrl.train",
    "eval": "funrl.evaluate.run",
    "report": "funrl.evaluate.report",
    "plot": "funrl.plot",
    "tiny-model": "funrl.toy.tiny_model_cmd",
    "toy-base": "funrl.toy.base_cmd",
    "quickstart": "funrl.toy.quickstart",
    "ablate": "funrl.toy.ablate",
}
ENTRY_POINTS = {"funrl.cli", "funrl.__main__"}  # the dispatcher: imports commands by name, at run time only

# (importer, imported): why it is still there. Each entry names the owner of the file that has to change.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


# ---------------------------------------------------------------------------------------------------
# The import graph


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The funrl module an import names: the longest prefix of `name` that is a module or package."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the funrl modules it imports (anywhere in the file; `from pkg import sub` counts `pkg.sub`)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        resolved = {_resolve(t, modules) for t in targets if t.startswith("funrl")}
        graph[name] = {r for r in resolved if r and r != name and not name.startswith(r + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The edges that lie on a cycle (both ends in one strongly connected component), by Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    component: dict[str, int] = {}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component[w] = index[v]
                if w == v:
                    break

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return {(a, b) for a, targets in graph.items() for b in targets if component[a] == component[b]}


def _violations(graph: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    commands = set(COMMANDS.values())
    found = {}
    for importer, targets in graph.items():
        if importer in ENTRY_POINTS:
            continue
        for imported in targets & commands:
            kind = "command imports command" if importer in commands else "library imports a command module"
            found[(importer, imported)] = kind
    for edge in _cycles(graph):
        found.setdefault(edge, "import cycle")
    return found


def test_commands_are_the_cli_commands():
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "COMMANDS")
    cli = {k: v[0] for k, v in ast.literal_eval(node.value).items()}
    assert cli == COMMANDS, "funrl.cli.COMMANDS changed: update COMMANDS in tests/test_layout.py (and the README map)"


def test_graph_sees_lazy_and_package_imports():
    graph = import_graph()
    assert "funrl.calls.parse" in graph["funrl.calls.check"] and "funrl.calls.match" in graph["funrl.calls.check"]
    assert "funrl.loading" in graph["funrl.sft_trainer"]  # a module-level import
    assert "funrl.calls.check" in graph["funrl.calls"]  # a package __init__ re-exporting its modules
    assert "funrl.budget" in graph["funrl.sft_trainer"]  # an import inside a function
    assert _cycles({"a": {"b"}, "b": {"a", "c"}, "c": set()}) == {("a", "b"), ("b", "a")}


def test_layers():
    found = _violations(import_graph())
    new = {edge: kind for edge, kind in found.items() if edge not in KNOWN_VIOLATIONS}
    assert not new, "layer rules broken (library never imports a command, no command imports another, no cycle):\n" + (
        "\n".join(f"  {a} -> {b}: {kind}" for (a, b), kind in sorted(new.items()))
    )
    stale = sorted(set(KNOWN_VIOLATIONS) - set(found))
    assert not stale, f"fixed, remove from KNOWN_VIOLATIONS in tests/test_layout.py: {stale}"


def test_the_matcher_never_parses():
    assert "funrl.calls.parse" not in import_graph()["funrl.calls.match"]


# ---------------------------------------------------------------------------------------------------
# The README's file map


def _file_map() -> dict[str, str]:
    """Entry (`cli.py`, `calls/`) -> its description (continuation lines joined), from the README's file map."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## File map\n.*?```\n(.*?)```", text, re.S)
    assert block, "README.md has no '## File map' code block"
    entries: dict[str, str] = {}
    last = None
    for line in block.group(1).splitlines():
        match = re.match(r"^\s*(\S+/?|)\s*#\s?(.*)$", line)
        if line.startswith("src/funrl/") or not match:
            continue
        name, description = match.groups()
        if name:
            last = name
            entries[name] = description
        elif last:
            entries[last] += " " + description
    return entries


def _mentioned(description: str) -> list[str]:
    return re.findall(r"[\w*]+\.py\b", description)


def test_readme_file_map_matches_the_tree():
    entries = _file_map()
    top = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir() if not p.name.startswith("__")}
    top = {n for n in top if n.endswith(".py") or (PACKAGE / n / "__init__.py").is_file()}
    missing = sorted(top - set(entries))
    assert not missing, f"README file map lacks {missing}"
    repo_dirs = {n for n in entries if n.endswith("/") and n not in top}
    for name in repo_dirs:
        assert (ROOT / name).is_dir(), f"README file map lists {name}, which is neither in src/funrl nor the repo root"
    for name in sorted(n for n in entries if n not in repo_dirs):
        assert name in top, f"README file map lists {name}, which is not in src/funrl"
    for package in sorted(n for n in top if n.endswith("/")):
        folder = PACKAGE / package
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if p.name != "__init__.py"}
        in_map = set()
        for pattern in _mentioned(entries[package]):
            hits = {f for f in files if fnmatch.fnmatch(Path(f).name, pattern) and f.count("/") == 0}
            assert hits, f"README file map: {package} mentions {pattern}, which matches no module there"
            in_map |= hits
        subpackages = {p.name + "/" for p in folder.iterdir() if (p / "__init__.py").is_file()}
        for sub in subpackages:
            assert sub in entries[package], f"README file map: {package} does not mention its subpackage {sub}"
        top_files = {f for f in files if "/" not in f}
        assert top_files <= in_map, f"README file map: {package} does not mention {sorted(top_files - in_map)}"
    for command, module in COMMANDS.items():
        path = module.removeprefix("funrl.").replace(".", "/") + ".py"
        entry = path if "/" not in path else path.split("/")[0] + "/"
        assert f"`funrl {command}`" in entries[entry], f"README file map: {entry} does not name `funrl {command}`"


# ---------------------------------------------------------------------------------------------------
# Self-contained documentation


def _tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = out.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): every file under the root
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if ".git" not in p.parts and ".venv" not in p.parts]
    suffixes = (".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".txt", ".jinja")
    return [ROOT / n for n in names if n.endswith(suffixes) or Path(n).name in ("Makefile",)]


URL = re.compile(r"https?://\S+")
SPECS = "shared/specs"  # the background notes' folder beside the repository
MD = r"((?:\.{1,2}/|[\w.-]+/)*[\w.-]+\.md)"
CITATIONS = (
    re.compile(r"(?<![\w/.-])" + MD + r"\s*(?:§|, section|#)"),  # a section of a document: method.md §2
    re.compile(r"(?<![\w/.-])((?:\.{1,2}/|[\w.-]+/)+[\w.-]+\.md)\b"),  # a path to a document: docs/data.md
    re.compile(r"\]\(" + MD + r"[)#]"),  # a markdown link
    # the background notes this project started from: their contents now live in docs/ (bare names only match there)
    re.compile(r"(?<![\w/.-])((?:method|data-validation|bfcl-scoring|architecture|quickstart-notes)\.md)\b"),
)


def citations(text: str) -> list[tuple[int, str]]:
    """(line, cited document) for every citation of a `.md` document in `text` (URLs left out: they are public)."""
    out = []
    for lineno, line in enumerate(URL.sub("", text).splitlines(), start=1):
        refs = [m.group(1) for pattern in CITATIONS for m in pattern.finditer(line)]
        out += [(lineno, ref) for ref in dict.fromkeys(refs)]
    return out


def test_citation_finder():
    assert citations("see method.md §2 and docs/data.md; results.md is written by the run\n[x](../shared/a.md)") == [
        (1, "method.md"),
        (1, "docs/data.md"),
        (2, "../shared/a.md"),
    ]
    assert citations("writes results.md and summary.md; https://github.com/o/r/blob/main/README.md") == []


@pytest.mark.parametrize("path", _tracked_text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_citation_outside_the_repository(path):
    if not path.is_file():
        pytest.skip("listed by git but not on disk")
    if path == Path(__file__).resolve():
        pytest.skip("this file's examples of bad citations (test_citation_finder) are not citations")
    text = path.read_text(encoding="utf-8", errors="replace")
    assert SPECS not in text, f"{path.relative_to(ROOT)} cites the specs folder outside the repository"
    for lineno, ref in citations(text):
        candidates = [path.parent / ref, ROOT / ref, ROOT / "docs" / ref]
        assert any(c.resolve().is_file() and ROOT in c.resolve().parents for c in candidates), (
            f"{path.relative_to(ROOT)}:{lineno} cites {ref}, which is not a file of the repository"
        )
