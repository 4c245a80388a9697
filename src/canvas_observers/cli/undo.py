"""`canvas-observers undo RUN`: put back exactly the links a run removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx
from rich.console import Console
from rich.table import Table

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import ConfigurationError
from canvas_observers.cli.common import canvas_url_or_exit, fail, read_token
from canvas_observers.cli.exits import EXIT_ATTENTION, EXIT_OK
from canvas_observers.cli.lock import run_lock
from canvas_observers.cli.sync import journal_or_exit
from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.store.journal import Journal, default_state_path
from canvas_observers.sync.stopping import RunAborted
from canvas_observers.sync.undo import NothingToUndo, undo_removals

REQUEST_TIMEOUT = 30.0


@click.command("undo")
@click.argument("run_id", metavar="RUN", type=int)
@click.option(
    "--canvas-url", envvar="CANVAS_URL", metavar="URL", help="Your Canvas (or CANVAS_URL)."
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="File holding the API token. Default: the CANVAS_TOKEN environment variable.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The SQLite journal. Default: the one of this Canvas.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow http:// to a Canvas that is not on this machine (test servers only).",
)
def undo(
    run_id: int,
    canvas_url: str | None,
    token_file: Path | None,
    state_path: Path | None,
    allow_insecure_http: bool,
) -> None:
    """Put back exactly the links run RUN removed (with the admin PUT), and report each.

    Refused for a run that removed nothing. The restored links count as this tool's again.
    Exit codes: 0 every link restored; 1 some could not be; 2 nothing was done.
    """
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    token = read_token(token_file)
    state = state_path or default_state_path(canvas_url)
    if not state.exists():
        fail(f"no journal at {state}: nothing to undo")

    async def main(journal: Journal) -> tuple[int, list[RowResult]]:
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            try:
                client = CanvasClient(
                    http, base_url=canvas_url, token=token, allow_insecure=allow_insecure_http
                )
            except ConfigurationError as error:
                fail(error.message)
                raise
            new_run, results = await undo_removals(client, journal, run_id, canvas_url=canvas_url)
            return new_run, results

    with run_lock(state), journal_or_exit(state) as journal:
        try:
            new_run, results = asyncio.run(main(journal))
        except NothingToUndo as error:
            fail(str(error))
            return
        except RunAborted as stop:
            fail(f"the undo stopped: {stop.reason}")
            return
    table = Table(title=f"Undo of run {run_id} (journal run {new_run})")
    for column in ("observer", "student", "outcome", "detail"):
        table.add_column(column)
    failed = 0
    for result in results:
        failed += result.outcome is Outcome.FAILED
        table.add_row(
            str(result.canvas_observer_id),
            str(result.canvas_student_id),
            result.outcome.value,
            result.detail,
        )
    Console().print(table)
    raise SystemExit(EXIT_ATTENTION if failed else EXIT_OK)
