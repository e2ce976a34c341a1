"""The house rules a reader relies on, checked from the source: no import cycle (at module level,
under ``TYPE_CHECKING`` or inside a function), the agent's names only in :mod:`belay.agent`,
modules of a readable size, and the rooms where the layout says they are."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

BELAY = Path(__file__).resolve().parent.parent / "belay"
LONGEST_MODULE = 450
AGENT_NAME = re.compile(r"(?<![\w])_ba(?![a-zA-Z0-9])|\bbelay_agent\w*")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(BELAY.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(BELAY.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The belay module ``name`` is, or is in (``belay.x.y.Name`` -> ``belay.x.y``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """Every belay module ``module`` imports, wherever the import statement stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(filter(None, (_resolve(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in MODULES else _resolve(base) or "")
    found.discard("")
    found.discard(module)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph`` (as the path that closes it), or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    tree = ast.parse("def f():\n    from belay.session.manager import DeviceSessionManager\n")
    assert any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))


def test_no_module_of_belay_is_in_an_import_cycle() -> None:
    graph = {module: imports_of(module) for module in MODULES}
    assert graph["belay.session.session"], "the walk saw no imports"
    assert find_cycle(graph) is None


def _code_strings(tree: ast.AST) -> Iterator[ast.Constant]:
    """The string constants of ``tree`` that are code or data, not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docstrings.add(id(node.value))  # an attribute's docstring
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def agent_names_outside_the_agent() -> list[str]:
    found = []
    for module, path in MODULES.items():
        if module == "belay.agent" or module.startswith("belay.agent."):
            continue
        for constant in _code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if AGENT_NAME.search(constant.value):
                found.append(f"{module}:{constant.lineno}: {constant.value!r:.60}")
    return found


def test_the_agent_name_check_sees_names_in_code_strings_not_in_docstrings() -> None:
    tree = ast.parse('"""Uses ``_ba``."""\nX = "_ba.v(1)"\nY = f"{1}belay_agent.py"\nZ = "_bad"\n')
    assert [c.value for c in _code_strings(tree) if AGENT_NAME.search(c.value)] == [
        "_ba.v(1)",
        "belay_agent.py",
    ]


def test_the_agents_names_live_in_belay_agent_only() -> None:
    assert agent_names_outside_the_agent() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_past_the_readable_size(module: str) -> None:
    assert len(MODULES[module].read_text(encoding="utf-8").splitlines()) <= LONGEST_MODULE


def test_the_rooms_are_where_the_layout_says() -> None:
    assert not list(BELAY.glob("cli_*.py")), "the CLI lives in belay/cli/"
    session = {path.name for path in (BELAY / "session").iterdir() if path.name != "__pycache__"}
    assert {"functions", "files", "manager.py", "session.py", "tracker.py"} <= session
    moved = {"files.py", "file_tree.py", "sync.py", "transfer.py", "proxies.py", "generators.py"}
    assert not session & moved
    for room in ("cli", "literals", "agent/calls", "session/functions", "session/files", "testing"):
        assert (BELAY / room / "__init__.py").is_file(), room
