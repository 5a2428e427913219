"""The shape of the engine package: its modules import one another without a circle (imports made
for type checking only count too: a circle there is two modules that cannot be read apart)."""

from __future__ import annotations

import ast
from pathlib import Path

import pylo.engine

ENGINE = Path(pylo.engine.__file__).parent


def engine_imports() -> dict[str, set[str]]:
    """``{module: the engine modules it imports}``, modules named by their path in the package
    (``_job``, ``job.extend.cron``)."""
    graph: dict[str, set[str]] = {}
    for path in ENGINE.rglob("*.py"):
        parts = path.relative_to(ENGINE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = parts[:-1]  # where its relative imports start
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else None
                if base is None:
                    continue  # above the engine package (pylo's own modules)
                if node.module is None:  # ``from . import _dask_client``: the modules named
                    graph[name].update(".".join((*base, alias.name)) for alias in node.names)
                else:
                    graph[name].add(".".join((*base, *node.module.split("."))))
    return {name: {t for t in targets if t in graph and t != name} for name, targets in graph.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each strongly connected set of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_the_engine_modules_import_one_another_without_a_circle() -> None:
    graph = engine_imports()
    assert {"_job", "_job_state", "_scheduler", "job.extend.cron"} <= graph.keys()
    assert "_job_state" in graph["_job"]  # the graph sees the imports
    assert circles(graph) == []
