"""The run's wiring, shared by `sync`, `demo`, `audit` and `undo`: the Canvas client on an
HTTP client, the journal, the roster, the progress display, the stop signals, and the end of
a run (report, summary, webhook, exit code). A failure here raises; ``common.Command`` turns
it into one error line and exit 2 (exits.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path

import click
import httpx
from rich.console import Console
from rich.text import Text

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError, ConfigurationError
from canvas_observers.cli.common import (
    SETTINGS_VALUES,
    echo_error,
    ensure_folder,
    settle_held_lines,
    silence_broken_pipe,
)
from canvas_observers.cli.exits import Stopped, run_exit_code
from canvas_observers.cli.nightly import notify, progress_sink
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome
from canvas_observers.core.timezone import (
    FROM_CANVAS,
    FROM_COMPUTER,
    FROM_SETTING,
    TimeZoneChoice,
    chosen,
)
from canvas_observers.report.notify import payload
from canvas_observers.report.render import (
    REPORT_SUFFIXES,
    render_attention,
    render_summary,
    write_report,
)
from canvas_observers.roster.model import RemovalCandidate, Roster
from canvas_observers.store.journal import Journal, JournalError
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync
from canvas_observers.sync.stopping import StopRequest

log = logging.getLogger("canvas_observers")

REQUEST_TIMEOUT = 30.0  # seconds for one request; retries have their own total bound


def open_journal(state: Path) -> Journal:
    """Open (creating if needed) the journal; one that cannot be used stops here."""
    try:
        return Journal.open(state)
    except JournalError as error:
        raise Stopped(f"cannot open the journal {state}: {error}") from error


def canvas_client(
    http: httpx.AsyncClient, *, base_url: str, token: str, allow_insecure: bool
) -> CanvasClient:
    """The Canvas client every command uses: one request timeout, the URL checked."""
    try:
        return CanvasClient(
            http,
            base_url=base_url,
            token=token,
            allow_insecure=allow_insecure,
            timeout=REQUEST_TIMEOUT,
        )
    except ConfigurationError as error:
        raise Stopped(error.message) from error


def computer_time_zone() -> TimeZoneChoice:
    """This computer's zone: ``TZ``, else the zone ``/etc/localtime`` links to, else the
    local offset as the system gives it (a name-less zone, on Windows)."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        names.append(os.readlink("/etc/localtime").partition("zoneinfo/")[2])
    for name in names:
        if name:
            with contextlib.suppress(ValueError):
                return chosen(name, FROM_COMPUTER)
    local = datetime.now().astimezone().tzinfo
    assert local is not None  # astimezone() always gives an aware time
    return TimeZoneChoice(local, local.tzname(None) or "local time", FROM_COMPUTER)


async def time_zone_for(given: str | None, client: CanvasClient) -> TimeZoneChoice:
    """The zone a run's pages give times in: ``--time-zone`` (or the settings file's
    ``time_zone``), else the Canvas account's ``default_time_zone``, else this computer's.

    Canvas is asked on the run's own client, so the call is counted with the run's others;
    any failure (no right to read the account, Canvas unreachable) only means the next rule
    is used: the run itself says what is wrong with Canvas.
    """
    if given:
        return chosen(given, FROM_SETTING)
    try:
        name = await client.account_time_zone()
        if name:
            return chosen(name, FROM_CANVAS)
    except (CanvasError, ValueError) as error:
        log.debug("the account's time zone could not be read: %s", error)
    return computer_time_zone()


async def run_with_progress(
    roster: Roster,
    *,
    http: httpx.AsyncClient,
    base_url: str,
    token: str,
    options: SyncOptions,
    journal: Journal | None,
    allow_insecure: bool,
    settings: dict[str, object],
    console: Console,
    interrupt: asyncio.Event | None = None,
    excluded: dict[tuple[str, str], str] | None = None,
    quiet: bool = False,
    source: str | None = None,
    location: str = "",
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
    client: CanvasClient | None = None,
) -> RunResult:
    """Run the sync with a progress display (none if quiet), on ``client`` (built on ``http``
    when not given); ``fail_on`` is what the run counts as needing attention (kept with it in
    the journal)."""
    if client is None:
        client = canvas_client(http, base_url=base_url, token=token, allow_insecure=allow_insecure)
    bar, tick, on_report = progress_sink(
        len(roster.rows) + len(roster.problems),
        console,
        dry_run=options.dry_run,
        quiet=quiet,
        fail_on=fail_on,
    )
    with bar:
        return await run_sync(
            roster,
            client=client,
            options=options,
            canvas_url=base_url,
            journal=journal,
            settings=settings,
            on_result=tick,
            interrupt=interrupt,
            on_report=on_report,
            excluded=excluded,
            source=source,
            location=location,
            fail_on=fail_on,
        )


def finish(
    report: RunResult,
    *,
    console: Console,
    report_path: Path | None,
    state_path: Path | None,
    removal_candidates: Sequence[RemovalCandidate] = (),
    max_attention_rows: int = 20,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
    notify_url: str | None = None,
    quiet: bool = False,
    time_zone: TimeZoneChoice | None = None,
) -> int:
    """Write the report, print the summary and where the journal is; return the exit code.

    The report comes first, so a closed terminal or pipe cannot lose it. A run that stopped
    before reaching any row (token refused, Canvas unreachable) prints only its one error line.
    ``quiet`` (cron): a run that exits 0 prints nothing at all; one that does not prints only
    what a person needs: the summary's attention part, the command to see the run, the held
    warnings (common.HeldLines) and the error.
    """
    if report_path is not None:
        write_report(
            report_path,
            report.info,
            report.results,
            removal_candidates=removal_candidates,
            time_zone=time_zone,
            fail_on=fail_on,
        )
    code = run_exit_code(report, fail_on)
    # The reader's rows (invalid, no email) are reported whether or not Canvas was reached.
    roster_only = (Outcome.INVALID_ROW, Outcome.NO_EMAIL)
    reached = any(r.outcome not in roster_only for r in report.results)
    show = show_command(report.info.run_id, state_path)
    try:
        if quiet:
            if code != 0 and (report.aborted is None or reached):
                render_attention(
                    console,
                    report.info,
                    report.results,
                    max_attention_rows=max_attention_rows,
                    fail_on=fail_on,
                )
                if show:
                    console.print(Text.assemble(("See the run: ", "dim"), show))
        elif report.aborted is None or reached:
            render_summary(
                console,
                report.info,
                report.results,
                max_attention_rows=max_attention_rows,
                fail_on=fail_on,
            )
            if removal_candidates:
                console.print(
                    f"{len(removal_candidates)} links are marked as ending in the SIS "
                    "(tobedeleted, inactive or disabled): listed in the report as removal "
                    "candidates; nothing was removed."
                )
            if report_path is not None:
                console.print(f"Report written to {report_path}")
            if state_path is not None:
                console.print(f"Journal: {state_path} (run {report.info.run_id})")
    except BrokenPipeError:  # `sync ... | head`: the summary is optional, the exit code is not
        silence_broken_pipe(sys.stdout)
    settle_held_lines(code)
    if report.aborted is not None:
        echo_error(f"the run stopped: {report.aborted}")
    if notify_url is not None and code != 0:
        body = payload(report.info, report.results, exit_code=code, fail_on=fail_on, show=show)
        notify(notify_url, body)
    return code


def show_command(run_id: int | None, state_path: Path | None) -> str:
    """``canvas-observers show RUN --state PATH [--config FILE]``, quoted for a shell: the
    command that shows this run as printed, from cron mail or a webhook message (whose reader
    is not in the run's folder, nor has its settings file's defaults). "" without a run."""
    if run_id is None or state_path is None:
        return ""
    words = ["canvas-observers", "show", str(run_id), "--state", str(state_path.absolute())]
    settings = settings_file()
    if settings is not None:
        words += ["--config", str(settings.absolute())]
    return shlex.join(words)


def settings_file() -> Path | None:
    """The ``--config`` file the running command read its settings from, if any."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(SETTINGS_VALUES) if ctx is not None else None
    return Path(found[0]) if found is not None else None


def check_report_path(report_path: Path | None) -> None:
    """Refuse, before any write to Canvas, a report that could not be written afterwards."""
    if report_path is None:
        return
    if report_path.suffix.lower() not in REPORT_SUFFIXES:
        raise click.UsageError(f"--report {report_path}: the name must end in .json, .csv or .html")
    ensure_folder("--report", report_path)


SIGNAL_NAMES: dict[int, str] = {int(signal.SIGINT): "Ctrl-C", int(signal.SIGTERM): "SIGTERM"}
ROWS_IN_HAND = "finishing the rows in hand, then reporting"


def install_stop_signals(interrupt: StopRequest, *, doing: str = ROWS_IN_HAND) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: stop gracefully (``doing`` says how), the stop reason
    naming the signal; a second Ctrl-C quits at once."""
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        if not interrupt.is_set():
            name = SIGNAL_NAMES.get(signum, signal.Signals(signum).name)
            click.echo(f"\nStopping ({name}): {doing} (Ctrl-C again to quit at once).", err=True)
            interrupt.stop(name)
        if signum == signal.SIGINT:
            loop.remove_signal_handler(signal.SIGINT)  # the next one raises KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)
