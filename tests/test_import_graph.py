"""geometry/ imports only downwards: no module imports, even inside a function, one that imports it back.

A cycle (the run service once imported the geodesic runner, which imported the service back) means two modules
can only be understood, tested and changed together. Imports under ``if TYPE_CHECKING:`` do not run and are not
counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: str = "geometry") -> dict[str, set[str]]:
    """Each module of `package` -> the modules of `package` it imports (at import time or in a function)."""
    files = {module_name(path): path for path in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_checking = {id(node) for block in ast.walk(tree)
                         if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                         for node in ast.walk(block)}
        imported = set()
        for node in ast.walk(tree):
            if id(node) in type_checking:
                continue
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from geometry.service import runs` imports the module runs
                    submodule = f"{node.module}.{alias.name}"
                    imported.add(submodule if submodule in files else node.module)
        graph[name] = {module for module in imported if module in files and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_geometry_has_no_import_cycle():
    graph = import_graph()
    assert "geometry.service.runs" in graph and "geometry.service.geodesic_run" in graph["geometry.service.runs"]
    assert cycles(graph) == []
