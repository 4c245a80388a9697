"""`canvas-observers undo RUN`: put back exactly the links a run removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx

from canvas_observers.cli.common import (
    Command,
    canvas_url_or_exit,
    output_console,
    read_token,
    token_file_to_use,
)
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import Stopped, attention_exit_code
from canvas_observers.cli.lock import run_lock
from canvas_observers.cli.options import (
    LAST_RUN,
    canvas_options,
    run_argument,
    run_number,
    state_option,
)
from canvas_observers.cli.wiring import REQUEST_TIMEOUT, canvas_client, open_journal
from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report.render import shown
from canvas_observers.report.tables import Column, Listing, print_listing
from canvas_observers.store.journal import Journal, default_state_path
from canvas_observers.sync.stopping import RunAborted
from canvas_observers.sync.undo import undo_removals


@click.command("undo", cls=Command)
@run_argument
@config_option
@canvas_options
@state_option("The SQLite journal. Default: the one of this Canvas.")
def undo(
    run_id: int | str,
    canvas_url: str | None,
    token_file: Path | None,
    state_path: Path | None,
    allow_insecure_http: bool,
) -> int:
    """Put back the links run RUN removed for the SIS's sake (with the admin PUT), and report
    each, with whether a later sync would remove it again. RUN is its id from
    `canvas-observers runs`, or last for the latest run.

    Links removed for the do-not-pair list are never put back (listed as excluded). Refused
    for a run that removed nothing undo may restore, or that was undone already. The restored
    links count as this tool's again, for the roster source that removed them.
    Exit codes: 0 every link restored; 1 some could not be; 2 nothing was done.
    """
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    token = read_token(token_file_to_use(token_file))
    state = state_path or default_state_path(canvas_url)
    if not state.exists():
        raise Stopped(f"no journal at {state}: nothing to undo")

    async def main(journal: Journal, run_id: int) -> tuple[int, list[RowResult]]:
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            client = canvas_client(
                http, base_url=canvas_url, token=token, allow_insecure=allow_insecure_http
            )
            new_run, results = await undo_removals(client, journal, run_id, canvas_url=canvas_url)
            return new_run, results

    with run_lock(canvas_url, state, "undo"), open_journal(state) as journal:
        number = run_number(journal, run_id, state)
        if run_id == LAST_RUN:
            click.echo(f"The last run is run {number}.", err=True)
        try:
            new_run, results = asyncio.run(main(journal, number))
        except RunAborted as stop:
            raise Stopped(f"the undo stopped: {stop.reason}") from stop
    table = Listing(
        f"Undo of run {number} (journal run {new_run})",
        (
            Column("student"),
            Column("guardian"),
            Column("canvas ids\nstudent/\nobserver", label="canvas student/observer"),
            Column("outcome"),
            Column("detail"),
        ),
    )
    failed = 0
    for result in results:
        failed += result.outcome is Outcome.FAILED
        table.add_row(
            shown(result.student_label or "—"),
            shown(result.guardian_label if result.observer_email else result.guardian_name or "—"),
            f"{result.canvas_student_id}/{result.canvas_observer_id}",
            result.outcome.value,
            shown(result.detail),
        )
    print_listing(output_console(), table)
    return attention_exit_code(failed > 0)
