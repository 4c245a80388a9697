"""No two places in src/ hold the same logic: no two functions (or methods) of some size have
the same body once names, strings and numbers are set aside."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "canvas_observers"
MIN_STATEMENTS = 5  # smaller bodies (a property, a two-line guard) repeat by nature


class _Shape(ast.NodeTransformer):
    """Replace every variable name, argument and constant by a placeholder (attribute names
    stay: two classes that store different fields are not the same logic)."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = "_"
        node.annotation = None
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant(value=None), node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        node.arg = "_" if node.arg is not None else None
        return node


def _statements(body: list[ast.stmt]) -> int:
    return sum(1 for stmt in body for node in ast.walk(stmt) if isinstance(node, ast.stmt))


def _bodies() -> dict[str, list[str]]:
    """Normalised body -> the places (file:line function) that have it."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]  # the docstring
            if _statements(body) < MIN_STATEMENTS:
                continue
            shape = ast.dump(_Shape().visit(ast.Module(body=body, type_ignores=[])))
            found[shape].append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    return found


def test_no_two_functions_have_the_same_body() -> None:
    """Each function body of five statements or more is written once in the package."""
    twins = [places for places in _bodies().values() if len(places) > 1]
    assert not twins, "the same logic in more than one place:\n" + "\n".join(
        " ~ ".join(places) for places in twins
    )


def test_the_check_finds_a_planted_twin(tmp_path: Path) -> None:
    """Two functions that differ only in names and values are found as twins."""
    source = (
        "def a(x):\n    y = x + 1\n    if y:\n        y = 2\n    z = [y]\n    return z\n\n"
        "def b(p):\n    q = p + 7\n    if q:\n        q = 3\n    r = [q]\n    return r\n"
    )
    tree = ast.parse(source)
    shapes = [
        ast.dump(_Shape().visit(ast.Module(body=f.body, type_ignores=[])))
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
    ]
    assert shapes[0] == shapes[1]
