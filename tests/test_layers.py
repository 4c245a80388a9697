"""Import direction: every package imports only from itself and the packages below it, and no
module imports itself back through others (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "canvas_observers"

# Lowest first. A package may import from packages of a lower layer and from itself; two
# packages on one layer know nothing of each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"core"}),
    frozenset({"canvas", "roster", "fake_canvas"}),
    frozenset({"store", "report", "sis_export", "sis_api"}),
    frozenset({"sync", "fake_oneroster"}),
    frozenset({"audit"}),
    frozenset({"cli"}),
)
TOP_LEVEL = {"__init__", "__main__"}  # the package's own entry points: above everything


def _layer(package: str) -> int:
    for depth, members in enumerate(LAYERS):
        if package in members:
            return depth
    raise AssertionError(f"package {package!r} is in no layer: add it to LAYERS")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each canvas_observers import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("canvas_observers"):
                yield node.lineno, node.module
                # ``from canvas_observers.x import y`` may import the module x.y
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("canvas_observers"):
                    yield node.lineno, alias.name


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_package_imports_only_downward() -> None:
    """No module imports from a package on its own layer or above (besides its own)."""
    wrong: list[str] = []
    for name, path in _modules().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] in TOP_LEVEL:
            continue
        own = parts[1]
        for line, target in _imports(path):
            target_parts = target.split(".")
            if len(target_parts) < 2 or not (PACKAGE / target_parts[1]).is_dir():
                continue  # the package itself (its version, its entry points)
            other = target_parts[1]
            if other != own and _layer(other) >= _layer(own):
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not sorted(set(wrong)), "\n".join(sorted(set(wrong)))


def test_no_import_cycles_between_modules() -> None:
    """The module graph (run-time imports) has no cycle, function-level imports included."""
    modules = _modules()
    graph = {
        name: {t for _, t in _imports(path) if t in modules and t != name}
        for name, path in modules.items()
    }
    # A package's __init__ re-exports its modules: an edge into a package stands for the
    # package's own module, so only module -> module edges make a cycle.
    packages = {n for n, p in modules.items() if p.name == "__init__.py"}
    cycles: list[str] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node] - packages):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "\n".join(cycles)


def test_the_layers_name_every_package() -> None:
    """Each subpackage of canvas_observers has a layer, and each layer's package exists."""
    found = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    named = set().union(*LAYERS)
    assert found - named == set(), f"packages in no layer: {sorted(found - named)}"
    missing = named - found
    assert not missing, f"layers name packages that do not exist: {sorted(missing)}"
