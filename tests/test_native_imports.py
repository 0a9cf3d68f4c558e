"""The native engine's modules import each other without a loop.

The imports are read from the source (``ast``), not by importing: every ``from . import x`` and
``from ._x import y`` of a module counts, at module level or inside a function (a deferred import hides a
loop from the interpreter, not from a reader). Imports under ``if TYPE_CHECKING:`` are for type checkers only
and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tlsapi_native

PACKAGE = Path(tlsapi_native.__file__).parent
NAME = "tlsapi_native"


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_modules(tree: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules that ``tree`` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            assert isinstance(node, ast.If)
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1 or base == NAME or base.startswith(NAME + "."):
                base = base.removeprefix(NAME).lstrip(".")
                if base:
                    found.add(base.split(".")[0])
                else:  # ``from . import _x``
                    found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(NAME + "."):
                    found.add(alias.name.split(".")[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & modules


def import_graph() -> dict[str, set[str]]:
    """Each module of the package (``__init__`` included) and the package modules it imports."""
    files = {path.stem: path for path in PACKAGE.glob("*.py")}
    modules = set(files)
    return {name: _imported_modules(ast.parse(path.read_text(), str(path)), modules) - {name}
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "_connection" in graph and "_record" in graph["_connection"]
    assert "_codec" in graph["_messages"]


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_do_not_count() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._b import B\n"
                     "def f():\n    from ._c import C\n")
    assert _imported_modules(tree, {"_b", "_c"}) == {"_c"}


def test_no_import_loop_in_the_native_engine() -> None:
    assert cycles(import_graph()) == []
