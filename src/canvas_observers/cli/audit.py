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
from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import ConfigurationError
from canvas_observers.cli.common import fail, read_token, setup_logging
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import EXIT_OK
from canvas_observers.cli.export import source_options
from canvas_observers.cli.nightly import ReportSink, report_log_lines
from canvas_observers.cli.sync import REQUEST_TIMEOUT, check_report_path, read_roster_or_exit
from canvas_observers.core.clock import iso_timestamp, utc_now
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.history import CreatedAccount, OwnedLink
from canvas_observers.store.journal import Journal, JournalError, default_state_path
from canvas_observers.sync.run import read_canvas
from canvas_observers.sync.snapshot import CanvasSnapshot
from canvas_observers.sync.stopping import RunAborted


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
    except JournalError as error:
        fail(str(error))
    except sqlite3.DatabaseError as error:
        fail(f"cannot read the journal {state}: {error}")
    raise AssertionError("unreachable: fail() exits")


@click.command("audit")
@click.argument("roster", type=click.Path(path_type=Path))
@config_option
@click.option(
    "--canvas-url",
    envvar="CANVAS_URL",
    metavar="URL",
    help="Your Canvas, e.g. https://school.instructure.com (or set CANVAS_URL).",
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="File holding the API token (readable only by you). Default: the CANVAS_TOKEN "
    "environment variable.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The sync's SQLite journal, read to tell the links and accounts this tool made. "
    "Default: the one of this Canvas under ~/.local/state/canvas-observers/.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also write the full audit to PATH: .json (every section) or .csv (one row per "
    "finding), readable only by you.",
)
@click.option(
    "--report-timeout",
    default=1800.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long to wait for Canvas's provisioning report (a queued job) before giving up.",
)
@source_options
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow http:// to a Canvas that is not on this machine (sends the token in clear "
    "text; for test servers only).",
)
def audit(
    roster: Path,
    canvas_url: str | None,
    token_file: Path | None,
    state_path: Path | None,
    report_path: Path | None,
    report_timeout: float,
    source: SourceOptions,
    allow_insecure_http: bool,
) -> None:
    """Audit who observes whom in Canvas against ROSTER; writes nothing to Canvas.

    Lists the students nobody observes (with and without a guardian in the SIS), roster
    students not found, observers the SIS does not list (and who made each link), and
    accounts this tool created that observe nobody. ROSTER is read as by `sync`.

    Exit codes: 0 the audit ran (whatever it found); 2 bad usage, unreadable roster, token
    refused, Canvas unreachable or its report unavailable.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    canvas_url = canvas_url.rstrip("/")
    check_report_path(report_path)
    token = read_token(token_file)
    setup_logging("info", None, secrets=(token,))
    data = read_roster_or_exit(roster, source)
    state = state_path or default_state_path(canvas_url)
    known = _journal_knowledge(state, canvas_url)
    console = Console()

    async def main() -> CanvasSnapshot:
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            try:
                client = CanvasClient(
                    http,
                    base_url=canvas_url,
                    token=token,
                    allow_insecure=allow_insecure_http,
                    timeout=REQUEST_TIMEOUT,
                )
            except ConfigurationError as error:
                fail(error.message)
                raise
            bar, on_report = _report_progress(console)
            with bar:
                return await read_canvas(client, wait_at_most=report_timeout, on_report=on_report)

    try:
        snapshot = asyncio.run(main())
    except RunAborted as stop:
        fail(f"the audit stopped: {stop.reason}")
        return
    except KeyboardInterrupt:
        fail("interrupted (Ctrl-C); nothing was written")
        return
    owned, created = known if known is not None else ([], [])
    result = run_audit(data.rows, snapshot, owned=owned, created=created)
    about = {
        "canvas_url": canvas_url,
        "roster": data.source,
        "generated_at": iso_timestamp(utc_now()),
        "journal": str(state) if known is not None else "",
        "rows_rejected": len(data.problems),
    }
    if report_path is not None:
        try:
            write_audit(report_path, result, about)
        except OSError as error:
            fail(f"cannot write the report {report_path}: {error.strerror or error}")
    render_audit(console, result, {k: str(v) for k, v in about.items()})
    if known is None:
        console.print(
            f"No journal at {state}: links this tool made show as made by a person, and its "
            "accounts are not checked (pass --state)."
        )
    if report_path is not None:
        console.print(f"Report written to {report_path}")
    raise SystemExit(EXIT_OK)
