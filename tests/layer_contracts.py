"""An import-linter contract for "not at import time": imports inside functions don't count.

The TUI must paint before torch is loaded, so ``tui`` may reach torch only from inside a
function that runs later (the CLI's ``generate`` command, say). import-linter's own
``forbidden`` contract counts every import statement, wherever it stands; this one first drops
the imports that run only when a function is called, or only under ``if TYPE_CHECKING:``, and
then checks what is left exactly as ``forbidden`` does, indirect chains included.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache

from grimp import ImportGraph
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain.contract import ContractCheck


class ModuleLevelForbiddenContract(ForbiddenContract):
    """``forbidden``, counting only the imports that run when a module is first imported."""

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        for importer in list(graph.modules):
            for imported in list(graph.find_modules_directly_imported_by(importer)):
                lines = {d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)}
                if lines and not lines & _import_time_lines(importer):
                    graph.remove_import(importer=importer, imported=imported)
        return super().check(graph, verbose)


@cache
def _import_time_lines(module: str) -> frozenset[int]:
    """Line numbers of the import statements that run when ``module`` is imported."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return frozenset()
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    lines: set[int] = set()
    _collect(tree.body, lines)
    return frozenset(lines)


def _collect(body: list[ast.stmt], lines: set[int]) -> None:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # runs when called, not when imported
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            _collect(node.orelse, lines)
        else:
            for field in ("body", "orelse", "finalbody"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    _collect(children, lines)
            for handler in getattr(node, "handlers", []):
                _collect(handler.body, lines)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
