"""The package's modules import in layers: no circle, counting imports made inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import dwcp_data

PACKAGE = Path(dwcp_data.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, anywhere in it."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    compiled = {_module_name(p) for p in PACKAGE.rglob("*.pyi")}  # the Rust core: imports nothing back
    graph: dict[str, set[str]] = {name: set() for name in compiled}
    for name, path in modules.items():
        edges: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base])
                for (
                    alias
                ) in node.names:  # `from pkg import module` names a module; else the name is in `base`
                    target = f"{base}.{alias.name}"
                    edges.add(target if target in modules or target in compiled else base)
        graph[name] = {e for e in edges if (e in modules or e in compiled) and e != name}
    return graph


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports, if there is one."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_back_even_from_inside_a_function():
    graph = _imports()
    assert "dwcp_data.datasets.shards" in graph["dwcp_data.datasets.engine"]  # the graph sees imports
    assert "dwcp_data.datasets.ray" in graph["dwcp_data.datasets.runners"]  # ... inside functions too
    assert _circle(graph) is None, " -> ".join(_circle(graph) or [])


def test_a_circle_is_seen():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _circle({"a": {"b"}, "b": set()}) is None


def test_ray_is_imported_in_one_named_place():
    """The optional Ray backend, as pandera registers its polars backend: only
    ``dwcp_data.datasets.ray`` imports ``ray``; the others reach it through it."""
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            if any(n == "ray" or n.startswith("ray.") for n in names):
                importers.add(_module_name(path))
    assert importers <= {"dwcp_data.datasets.ray", "dwcp_data.airflow"}, importers
