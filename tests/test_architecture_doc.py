"""docs/architecture.md says what the code is today: it names every module of the package,
and every module it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "canvas_observers"
DOC = ROOT / "docs" / "architecture.md"
MODULE = re.compile(r"\b([a-z_]+/[a-z_]+\.py)\b")


def _modules() -> set[str]:
    return {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.glob("*/*.py")
        if p.name not in {"__init__.py", "__main__.py"}
    }


def test_every_module_is_named() -> None:
    """Each package module (pkg/module.py) appears in docs/architecture.md."""
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(m for m in _modules() if m not in text)
    assert not missing, f"docs/architecture.md does not name: {', '.join(missing)}"


def test_every_named_module_exists() -> None:
    """Each pkg/module.py docs/architecture.md names is a module of the package."""
    named = set(MODULE.findall(DOC.read_text(encoding="utf-8")))
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    stale = sorted(m for m in named if m.split("/")[0] in packages and not (PACKAGE / m).is_file())
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"
