"""`canvas-observers audit`: a read-only coverage audit of Canvas against the SIS roster.

Canvas is read whole from one provisioning report (the report's start is the one POST sent;
nothing is created, paired or removed); the journal, when there is one, says which links and
accounts this tool made. The audit itself is ``audit/findings.py``; its renderers are
``audit/render.py``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from canvas_observers.audit.findings import audit as run_audit
from canvas_observers.audit.render import render_audit, write_audit
from canvas_observers.cli.common import (
    Command,
    canvas_url_or_exit,
    output_console,
    read_token,
    setup_logging,
    token_file_to_use,
)
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import EXIT_OK, Stopped
from canvas_observers.cli.nightly import ReportSink, report_log_lines
from canvas_observers.cli.options import (
    CANVAS_GROUP,
    ROSTER_GROUPS,
    canvas_options,
    help_groups,
    report_option,
    report_timeout_option,
    source_options,
    state_option,
    time_zone_option,
)
from canvas_observers.cli.roster_input import (
    ApiSource,
    api_options,
    check_one_source,
    read_client_secret,
    read_roster,
    roster_argument,
    snapshot_folder,
)
from canvas_observers.cli.wiring import (
    REQUEST_TIMEOUT,
    canvas_client,
    check_report_path,
    install_stop_signals,
    time_zone_for,
)
from canvas_observers.core.clock import iso_timestamp, utc_now
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.history import CreatedAccount, OwnedLink
from canvas_observers.store.journal import Journal, default_state_path
from canvas_observers.sync.run import read_canvas
from canvas_observers.sync.snapshot import CanvasSnapshot
from canvas_observers.sync.stopping import RunAborted, StopRequest


def _report_progress(console: Console) -> tuple[AbstractContextManager[Any], ReportSink]:
    """The Canvas report's progress: a bar on a terminal, log lines otherwise."""
    if not console.is_terminal:
        return nullcontext(), report_log_lines()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("Canvas report", total=100)
    return progress, lambda report: progress.update(task, completed=report.progress)


def _journal_knowledge(
    state: Path, canvas_url: str
) -> tuple[list[OwnedLink], list[CreatedAccount]] | None:
    """The links and accounts the journal shows this tool made; None when there is no
    journal (it is not created: the audit records nothing)."""
    if not state.exists():
        return None
    try:
        with Journal.open(state) as journal:
            return (
                journal.owned_links(canvas_url=canvas_url),
                journal.created_accounts(canvas_url=canvas_url),
            )
    except sqlite3.DatabaseError as error:
        raise Stopped(f"cannot read the journal {state}: {error}") from error


@click.command("audit", cls=Command)
@help_groups(
    ("Canvas", (*CANVAS_GROUP, "--report-timeout")),
    *ROSTER_GROUPS,
    ("Report and journal", ("--report", "--time-zone", "--state")),
)
@roster_argument
@config_option
@canvas_options
@state_option(
    "The sync's SQLite journal, read to tell the links and accounts this tool made. "
    "Default: the one of this Canvas under ~/.local/state/canvas-observers/."
)
@report_option(
    "Also write the full audit to PATH: .json (every section), .csv (one row per "
    "finding) or .html (one page to share), readable only by you."
)
@time_zone_option(
    "The time zone of the HTML report's times, e.g. America/Chicago. Default: the Canvas "
    "account's time zone, else this computer's."
)
@report_timeout_option
@source_options
@api_options
def audit(
    roster: Path | None,
    canvas_url: str | None,
    token_file: Path | None,
    state_path: Path | None,
    report_path: Path | None,
    time_zone: str | None,
    report_timeout: float,
    source: SourceOptions,
    api: ApiSource | None,
    allow_insecure_http: bool,
) -> int:
    """Audit who observes whom in Canvas against ROSTER; writes nothing to Canvas.

    Lists the students nobody observes (with and without a guardian in the SIS), roster
    students not found, observers the SIS does not list (and who made each link), accounts
    this tool created that observe nobody, accounts that look like one parent (never merged:
    that is a person's decision in Canvas) and staff who observe students. ROSTER is read as
    by `sync`.

    Exit codes: 0 the audit ran (whatever it found); 2 bad usage, unreadable roster, token
    refused, Canvas unreachable or its report unavailable.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    check_one_source(roster, api)
    # Checked before the SIS is read: a wrong Canvas URL must not cost a whole roster fetch.
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    check_report_path(report_path)
    token = read_token(token_file_to_use(token_file))
    secret = read_client_secret(api)
    setup_logging("info", None, secrets=(token, secret.reveal()) if secret else (token,))
    state = state_path or default_state_path(canvas_url)
    data = read_roster(
        roster, source, api=api, secret=secret, snapshots=snapshot_folder(state)
    ).roster
    known = _journal_knowledge(state, canvas_url)
    console = output_console()

    async def main() -> tuple[CanvasSnapshot, TimeZoneChoice | None]:
        interrupt = StopRequest()
        install_stop_signals(interrupt, doing="writing nothing")
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            client = canvas_client(
                http, base_url=canvas_url, token=token, allow_insecure=allow_insecure_http
            )
            bar, on_report = _report_progress(console)
            with bar:
                snapshot = await read_canvas(
                    client,
                    wait_at_most=report_timeout,
                    on_report=on_report,
                    interrupt=interrupt,
                )
            zone = None
            if report_path is not None and report_path.suffix.lower() in (".html", ".htm"):
                zone = await time_zone_for(time_zone, client)
            return snapshot, zone

    try:
        snapshot, zone = asyncio.run(main())
    except RunAborted as stop:
        raise Stopped(f"the audit stopped: {stop.reason}") from stop
    except KeyboardInterrupt:
        raise Stopped("interrupted (Ctrl-C); nothing was written") from None
    owned, created = known if known is not None else ([], [])
    no_email = [p for p in data.problems if p.no_email]
    result = run_audit(data.rows, snapshot, owned=owned, created=created, no_email=no_email)
    about = {
        "canvas_url": canvas_url,
        "roster": data.source,
        "generated_at": iso_timestamp(utc_now()),
        "journal": str(state) if known is not None else "",
        # A guardian with no email is no rejected row: the audit lists them by name.
        "rows_rejected": len(data.problems) - len(no_email),
    }
    if report_path is not None:
        try:
            write_audit(report_path, result, about, time_zone=zone)
        except OSError as error:
            raise Stopped(
                f"cannot write the report {report_path}: {error.strerror or error}"
            ) from error
    render_audit(console, result, {k: str(v) for k, v in about.items()})
    if snapshot.providers is None:
        console.print(
            "The token may not list the account's authentication providers "
            "(manage_account_settings): observer logins with a managed password are not checked."
        )
    if known is None:
        console.print(
            f"No journal at {state}: links this tool made show as made by a person, and its "
            "accounts are not checked (pass --state)."
        )
    if report_path is not None:
        console.print(f"Report written to {report_path}")
    return EXIT_OK
