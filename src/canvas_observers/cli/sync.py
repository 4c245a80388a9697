"""`canvas-observers sync`: the main job, and the pieces the demo shares with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import cast

import click
import httpx
from rich.console import Console

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import ConfigurationError
from canvas_observers.cli.common import (
    LOG_LEVELS,
    PipeConsole,
    canvas_url_or_exit,
    echo_error,
    ensure_folder,
    fail,
    read_token,
    setup_logging,
    silence_broken_pipe,
)
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import run_exit_code
from canvas_observers.cli.export import source_options
from canvas_observers.cli.journal import outcome_list
from canvas_observers.cli.lock import run_lock
from canvas_observers.cli.nightly import check_notify_url, notify, progress_sink
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome
from canvas_observers.report.notify import payload
from canvas_observers.report.render import REPORT_SUFFIXES, render_summary, write_report
from canvas_observers.roster.exclude import read_exclusions
from canvas_observers.roster.export import ExportError, check_template
from canvas_observers.roster.model import RemovalCandidate, Roster, RosterError
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.journal import Journal, JournalError, default_state_path
from canvas_observers.sync.options import AUTO_REPORT_ROWS, CanvasStateMode, SyncOptions
from canvas_observers.sync.run import RunResult, run_sync

log = logging.getLogger("canvas_observers")

REQUEST_TIMEOUT = 30.0  # seconds for one request; retries have their own total bound


def read_exclusions_or_exit(path: Path | None) -> dict[tuple[str, str], str]:
    """The do-not-pair list; one that cannot be read stops here, before any write."""
    if path is None:
        return {}
    try:
        return read_exclusions(path)
    except RosterError as error:
        fail(str(error))
        raise  # unreachable: fail() exits


def journal_or_exit(state: Path) -> Journal:
    """Open (creating if needed) the journal; one that cannot be used stops here."""
    try:
        return Journal.open(state)
    except JournalError as error:
        fail(f"cannot open the journal {state}: {error}")
        raise  # unreachable: fail() exits


def read_roster_or_exit(path: Path, source: SourceOptions) -> Roster:
    """Read the roster; a file that cannot be read as one stops here, before any write."""
    try:
        return source.read(path)
    except RosterError as error:
        fail(str(error))
        raise  # unreachable: fail() exits


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
) -> RunResult:
    """Build the client on ``http`` and run the sync with a progress display (none if quiet)."""
    try:
        client = CanvasClient(
            http,
            base_url=base_url,
            token=token,
            allow_insecure=allow_insecure,
            timeout=REQUEST_TIMEOUT,
        )
    except ConfigurationError as error:
        fail(error.message)
        raise
    bar, tick, on_report = progress_sink(
        len(roster.rows) + len(roster.problems), console, dry_run=options.dry_run, quiet=quiet
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
) -> int:
    """Write the report, print the summary and where the journal is; return the exit code.

    The report comes first, so a closed terminal or pipe cannot lose it. A run that stopped
    before reaching any row (token refused, Canvas unreachable) prints only its one error line.
    """
    if report_path is not None:
        write_report(
            report_path, report.info, report.results, removal_candidates=removal_candidates
        )
    reached = any(r.outcome is not Outcome.INVALID_ROW for r in report.results)
    try:
        if report.aborted is None or reached:
            render_summary(
                console, report.info, report.results, max_attention_rows=max_attention_rows
            )
            if removal_candidates:
                console.print(
                    f"{len(removal_candidates)} links are marked as ending in the SIS "
                    "(tobedeleted, inactive or disabled): listed in the report as removal "
                    "candidates; nothing was removed."
                )
            if report_path is not None and not quiet:
                console.print(f"Report written to {report_path}")
            if state_path is not None and not quiet:
                console.print(f"Journal: {state_path} (run {report.info.run_id})")
    except BrokenPipeError:  # `sync ... | head`: the summary is optional, the exit code is not
        silence_broken_pipe(sys.stdout)
    if report.aborted is not None:
        echo_error(f"the run stopped: {report.aborted}")
    code = run_exit_code(report, fail_on)
    if notify_url is not None and code != 0:
        notify(notify_url, payload(report.info, report.results, exit_code=code))
    return code


def check_report_path(report_path: Path | None) -> None:
    """Refuse, before any write to Canvas, a report that could not be written afterwards."""
    if report_path is None:
        return
    if report_path.suffix.lower() not in REPORT_SUFFIXES:
        raise click.UsageError(f"--report {report_path}: the name must end in .json, .csv or .html")
    ensure_folder("--report", report_path)


def observer_id_template(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """--observer-id-template: {email} and/or {sourcedId}, as export-sis checks it."""
    try:
        check_template(value)
    except ExportError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def install_stop_signals(interrupt: asyncio.Event) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: stop gracefully; a second Ctrl-C quits at once."""
    loop = asyncio.get_running_loop()

    def stop(signum: int) -> None:
        if not interrupt.is_set():
            click.echo(
                "\nStopping: finishing the rows in hand, then reporting "
                "(Ctrl-C again to quit at once).",
                err=True,
            )
            interrupt.set()
        if signum == signal.SIGINT:
            loop.remove_signal_handler(signal.SIGINT)  # the next one raises KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)


@click.command()
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
    "environment variable. There is no flag for the token itself: it would show in "
    "process lists and shell history.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Look everything up and report what would be done; write nothing to Canvas.",
)
@click.option(
    "--pairing",
    type=click.Choice(["code", "direct"]),
    default="code",
    show_default=True,
    help="code: pairing codes, Canvas's own process (students need a live enrollment); "
    "direct: admin link with PUT, no code and no enrollment needed.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="Guardians handled at once. Requests are paced to Canvas's rate limit either way.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also write the full report to PATH (.json, .csv, or .html: one page to share), "
    "readable only by you.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The SQLite journal of runs. Default: one per Canvas under "
    "~/.local/state/canvas-observers/.",
)
@click.option(
    "--no-registration-email",
    is_flag=True,
    help="Create accounts without Canvas's 'finish registering' email to the guardian.",
)
@click.option(
    "--remove-ended",
    is_flag=True,
    help="Also remove links the SIS has ended: only links this tool made (the journal says "
    "so), when the SIS marks them tobedeleted or their pair has been absent from the roster "
    "for --grace-runs runs; and pairs on the --exclude list, whoever made them. Safety stops "
    "apply (see docs/cli.md).",
)
@click.option(
    "--grace-runs",
    default=2,
    show_default=True,
    type=click.IntRange(1, 100),
    metavar="N",
    help="Consecutive complete runs of the same roster a pair must be absent from before its "
    "link is removed.",
)
@click.option(
    "--max-removals",
    default=None,
    type=click.IntRange(min=0),
    metavar="N",
    help="Stop, removing nothing, when more links than this would go (default: the larger of "
    "10 and 5%% of the links this tool made).",
)
@click.option(
    "--force-removals",
    is_flag=True,
    help="Let this one run through the removal safety stops (said in the report).",
)
@click.option(
    "--exclude",
    "exclude_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A do-not-pair list, CSV student_id,observer_email[,reason]: those pairs are never "
    "linked (outcome excluded); with --remove-ended a listed pair linked in Canvas is removed "
    "whoever made the link.",
)
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    metavar="OUTCOME[,OUTCOME...]",
    callback=lambda _ctx, _param, values: outcome_list(values, param_hint="--fail-on"),
    help="Outcomes that make a finished run exit 1 (default: every outcome that needs a "
    "human except not_enrolled, which a later run cures by itself).",
)
@click.option(
    "--notify-url",
    default=None,
    metavar="URL",
    callback=lambda _ctx, _param, value: check_notify_url(value),
    help="POST the run summary as JSON (with a 'text' Slack and Teams show) to this https "
    "URL when the run ends with exit 1 or 2; no personal data, never the token.",
)
@click.option(
    "--canvas-state",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "report", "lookups"]),
    help="How to read Canvas: one provisioning report of every user and link (a few calls "
    "whatever the size), row-by-row look-ups, or auto: a report for rosters of "
    f"{AUTO_REPORT_ROWS} rows or more, look-ups when the report is refused or late.",
)
@click.option(
    "--report-timeout",
    default=1800.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long to wait for Canvas's report (a queued job) before giving up on it.",
)
@click.option(
    "--trust-contact-email",
    is_flag=True,
    help="Pair a guardian with an account found only through its contact email even when the "
    "account's name is not the roster's guardian name. By default such a row is "
    "observer_mismatch: a shared family address or a typo must not give a child's grades to "
    "another adult.",
)
@click.option(
    "--observer-id-template",
    default="{email}",
    show_default=True,
    callback=observer_id_template,
    help="The SIS id a new guardian login gets, and the one a guardian with a guardian id "
    "(the roster's guardian_id, the OneRoster/SDS sourcedId) is looked up by first: {email} "
    "and/or {sourcedId} (the guardian id), as for export-sis, e.g. G-{sourcedId}.",
)
@click.option(
    "--update-guardians",
    is_flag=True,
    help="An account found by the guardian id whose login is not the roster's email takes "
    "that email as its login and as an email address, and the roster's names. By default "
    "such a row is guardian_email_changed (paired with the account, nothing else changed).",
)
@source_options
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow http:// to a Canvas that is not on this machine (sends the token in clear "
    "text; for test servers only).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="How much to log to stderr and the log file.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only problems (warnings, errors) and the summary: no progress, no info lines "
    "on stderr. The log file keeps its --log-level.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also log to this file, e.g. for cron (created readable only by you).",
)
def sync(
    roster: Path,
    canvas_url: str | None,
    token_file: Path | None,
    dry_run: bool,
    pairing: str,
    concurrency: int,
    report_path: Path | None,
    state_path: Path | None,
    no_registration_email: bool,
    trust_contact_email: bool,
    canvas_state: str,
    report_timeout: float,
    remove_ended: bool,
    grace_runs: int,
    max_removals: int | None,
    force_removals: bool,
    exclude_path: Path | None,
    fail_on: tuple[str, ...],
    notify_url: str | None,
    observer_id_template: str,
    update_guardians: bool,
    source: SourceOptions,
    allow_insecure_http: bool,
    log_level: str,
    quiet: bool,
    log_file: Path | None,
) -> None:
    """Create and pair observer accounts for every row of ROSTER.

    ROSTER is a CSV with the columns student_id, observer_email, observer_first_name,
    observer_last_name, or a OneRoster / School Data Sync export (see --format).

    Exit codes: 0 every row is paired (or would be); 1 the run finished but some rows need
    attention (see the summary or --report); 2 nothing was done: bad usage, unreadable roster,
    Canvas unreachable or the token rejected.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    token = read_token(token_file)
    setup_logging(log_level, log_file, secrets=(token,), quiet=quiet)
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    check_report_path(report_path)
    if state_path is not None:
        ensure_folder("--state", state_path)
    data = read_roster_or_exit(roster, source)
    options = SyncOptions(
        method="direct" if pairing == "direct" else "code",
        dry_run=dry_run,
        concurrency=concurrency,
        send_registration=not no_registration_email,
        trust_contact_email=trust_contact_email,
        canvas_state=cast(CanvasStateMode, canvas_state),
        report_timeout=report_timeout,
        remove_ended=remove_ended,
        grace_runs=grace_runs,
        max_removals=max_removals,
        force_removals=force_removals,
        observer_id_template=observer_id_template,
        update_guardians=update_guardians,
    )
    excluded = read_exclusions_or_exit(exclude_path)
    if "{sourcedId}" not in observer_id_template and any(r.guardian_id for r in data.rows):
        log.info(
            "the roster has guardian ids, but --observer-id-template %s does not use "
            "{sourcedId}: a guardian whose email changed is not followed by their id",
            observer_id_template,
        )
    settings: dict[str, object] = {
        "pairing": options.method,
        "dry_run": dry_run,
        "concurrency": concurrency,
        "send_registration": options.send_registration,
        "trust_contact_email": trust_contact_email,
        "canvas_state": canvas_state,
        "remove_ended": remove_ended,
        "grace_runs": grace_runs,
        "force_removals": force_removals,
        "exclude": str(exclude_path) if exclude_path else None,
        "observer_id_template": observer_id_template,
        "update_guardians": update_guardians,
        "format": source.format or "detected",
        "roster": str(roster),
    }
    state = state_path or default_state_path(canvas_url)
    console = PipeConsole()

    async def main(journal: Journal) -> RunResult:
        interrupt = asyncio.Event()
        install_stop_signals(interrupt)
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
            return await run_with_progress(
                data,
                http=http,
                base_url=canvas_url,
                token=token,
                options=options,
                journal=journal,
                allow_insecure=allow_insecure_http,
                settings=settings,
                console=console,
                interrupt=interrupt,
                excluded=excluded,
                quiet=quiet,
            )

    with run_lock(state), journal_or_exit(state) as journal:
        try:
            report = asyncio.run(main(journal))
        except KeyboardInterrupt:
            fail(
                "quit at once (second Ctrl-C); `canvas-observers runs` shows this run as "
                "interrupted, and the next run picks up where it left off"
            )
            return
    code = finish(
        report,
        console=console,
        report_path=report_path,
        state_path=state,
        removal_candidates=data.removal_candidates,
        fail_on={Outcome(name) for name in fail_on} if fail_on else DEFAULT_FAIL_ON,
        notify_url=notify_url,
        quiet=quiet,
    )
    sys.exit(code)
