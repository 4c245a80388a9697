"""The exit codes, chosen here and nowhere else (docs/cli.md, "Exit codes").

* 0: nothing to act on: every row paired, already paired, or would be.
* 1: the run finished, but some rows need a human (outcomes in ``--fail-on``).
* 2: nothing was done, or the run stopped: usage, roster, Canvas, token, journal.

A known failure is an exception under ``core.errors.CanvasObserversError`` (``Stopped``
when a command itself decides it cannot go on); every command is a ``cli.common.Command``,
whose ``invoke`` turns any that reaches it into one ``error:`` line and exit 2 with
``EXIT_STOPPED``. A command that finishes returns its code (``run_exit_code``,
``attention_exit_code``), and ``Command`` exits with it. No command calls ``sys.exit``.
"""

from __future__ import annotations

from collections.abc import Collection

from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.outcomes import Outcome
from canvas_observers.sync.run import RunResult

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_STOPPED = 2


class Stopped(CanvasObserversError):
    """A command cannot go on (no journal to read, a second Ctrl-C, a report it cannot
    write); the message says why and what to do."""


def run_exit_code(result: RunResult, fail_on: Collection[Outcome]) -> int:
    """2 when the run stopped, 1 when rows with these outcomes need a human or its removals
    were held (a truncated roster), else 0."""
    if result.aborted is not None:
        return EXIT_STOPPED
    return EXIT_ATTENTION if result.attention(fail_on) or result.held else EXIT_OK


def attention_exit_code(needs_attention: bool) -> int:
    """1 when something a command made needs a human (a row left out, a link not restored)."""
    return EXIT_ATTENTION if needs_attention else EXIT_OK
