"""The `canvas-observers` command: the only place that reads flags and the environment,
prints, and picks exit codes. Each subcommand lives in its own module of this package; the
flags several share are in ``options.py``, the run's wiring in ``wiring.py``, the exit codes
in ``exits.py``."""

from __future__ import annotations

import click
import cloup

import canvas_observers
from canvas_observers.cli.audit import audit
from canvas_observers.cli.config import config
from canvas_observers.cli.demo import demo
from canvas_observers.cli.export import export_sis
from canvas_observers.cli.fake import fake_canvas
from canvas_observers.cli.fake_oneroster import fake_oneroster
from canvas_observers.cli.forget import forget_guardian
from canvas_observers.cli.letters import letters
from canvas_observers.cli.runs import runs, show
from canvas_observers.cli.sync import sync
from canvas_observers.cli.undo import undo


def _print_version(ctx: click.Context) -> None:
    """``--version``: the package metadata's version, read only when asked for."""
    if ctx.resilient_parsing:  # shell completion: print nothing
        return
    click.echo(f"canvas-observers, version {canvas_observers.__version__}")
    ctx.exit()


@cloup.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, _param, value: _print_version(ctx) if value else None,
    help="Show the version and exit.",
)
def main() -> None:
    """Create Canvas observer (parent) accounts from an SIS roster and pair them with students.

    Start with `canvas-observers demo` (no Canvas needed), then
    `canvas-observers sync ROSTER.csv --canvas-url https://school.instructure.com --dry-run`.
    """


# `--help` lists the commands in the order an admin meets them: the nightly sync, then reading
# its runs, checking coverage, undoing, the SIS export, forgetting a guardian, the settings
# file; then what runs without a Canvas.
main.section(
    "Commands", sync, runs, show, audit, letters, undo, export_sis, forget_guardian, config
)
main.section("Try it", demo, fake_canvas, fake_oneroster)
