"""Every command and option has help text and is documented in docs/cli.md."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import canvas_observers
from canvas_observers.cli import main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help(name: str) -> None:
    """`canvas-observers NAME --help` works and every option explains itself."""
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = main.commands[name]
    assert command.help
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{name} {param.opts} has no help text"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_documented(name: str) -> None:
    """docs/cli.md has a section for every command and names every one of its options."""
    assert f"## `canvas-observers {name}" in DOC
    for param in main.commands[name].params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt.split("=")[0] in DOC, f"{name} {opt} missing from docs/cli.md"


def test_version() -> None:
    """`canvas-observers --version` prints the version."""
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert "canvas-observers" in result.output
    # the one version number is pyproject's, read back from the installed package's metadata
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
    assert importlib.metadata.version("canvas-observers") == declared
    assert canvas_observers.__version__ == declared
    assert declared in result.output


def test_version_from_a_source_tree_never_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without package metadata the version says it is unknown instead of guessing one."""

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    spec = importlib.util.spec_from_file_location("fresh_copy", canvas_observers.__file__)
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)  # a fresh copy: the imported package is left as it is
    assert fresh.__version__ == "0+unknown"
