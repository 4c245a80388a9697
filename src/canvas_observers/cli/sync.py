"""`canvas-observers sync` and `canvas-observers demo`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import UnsafeRequest
from canvas_observers.cli.common import (
    EXIT_STOPPED,
    LOG_LEVELS,
    fail,
    read_token,
    setup_logging,
)
from canvas_observers.report.render import render_summary, write_report
from canvas_observers.roster.model import Roster, RosterError
from canvas_observers.roster.sources import read_source
from canvas_observers.store.journal import Journal, JournalError, default_state_path
from canvas_observers.sync.engine import SyncOptions
from canvas_observers.sync.outcomes import RowResult
from canvas_observers.sync.run import SyncReport, run_sync

log = logging.getLogger("canvas_observers")

FORMATS = ("csv", "oneroster", "sds")


def _progress_sink(
    total: int, console: Console
) -> tuple[AbstractContextManager[Any], Callable[[RowResult], None]]:
    """A progress bar on a terminal; plain log lines (every ~10%) otherwise."""
    if console.is_terminal:
        progress = Progress(
            TextColumn("[bold]pairing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = progress.add_task("rows", total=total)
        return progress, lambda _result: progress.advance(task)
    done = 0
    step = max(1, total // 10)

    def tick(_result: RowResult) -> None:
        nonlocal done
        done += 1
        if done % step == 0 or done == total:
            log.info("progress: %d of %d rows done", done, total)

    return nullcontext(), tick


def _read_roster(path: Path, **kwargs: Any) -> Roster:
    try:
        return read_source(path, **kwargs)
    except RosterError as error:
        fail(str(error))
        raise  # unreachable: fail() exits


async def _run(
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
) -> SyncReport:
    try:
        client = CanvasClient(http, base_url=base_url, token=token, allow_insecure=allow_insecure)
    except UnsafeRequest as error:
        fail(str(error))
        raise
    total = len(roster.rows) + len(roster.problems)
    bar, tick = _progress_sink(total, console)
    with bar:
        return await run_sync(
            roster,
            client=client,
            options=options,
            canvas_url=base_url,
            journal=journal,
            settings=settings,
            on_result=tick,
        )


def _finish(
    report: SyncReport, *, console: Console, report_path: Path | None, state_path: Path | None
) -> int:
    render_summary(console, report.info, report.results)
    if report_path is not None:
        write_report(report_path, report.info, report.results)
        console.print(f"Report written to {report_path}")
    if state_path is not None:
        console.print(f"Journal: {state_path} (run {report.info.run_id})")
    if report.aborted is not None:
        click.echo(f"error: the run stopped: {report.aborted}", err=True)
    return report.exit_code


@click.command()
@click.argument("roster", type=click.Path(path_type=Path))
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
    help="File holding the API token (readable only by you). Default: CANVAS_TOKEN.",
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
    help="code: pairing codes (needs an enrolled student, as Canvas's own process); "
    "direct: admin link with PUT, no code needed.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="Guardians handled at once (requests are paced to Canvas's rate limit).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Write the full report to PATH (.json or .csv).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="The SQLite journal. Default: one per Canvas under ~/.local/state/canvas-observers/.",
)
@click.option(
    "--no-registration-email",
    is_flag=True,
    help="Create accounts without Canvas's 'finish registering' email.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Roster format (default: detected). See docs/oneroster.md.",
)
@click.option(
    "--guardian-roles",
    default="parent,guardian",
    show_default=True,
    help="OneRoster/SDS roles that count as guardians (comma-separated).",
)
@click.option(
    "--student-id-field",
    default="identifier",
    show_default=True,
    help="OneRoster field sent to Canvas as the student's SIS id "
    "(identifier, username, sourcedId, email, or a userIds type like {SIS}).",
)
@click.option(
    "--legal-names",
    is_flag=True,
    help="OneRoster 1.2: use givenName/familyName even when preferred names exist.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of the roster file (e.g. latin-1, utf-16).",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow http:// to a non-loopback Canvas (sends the token in clear text).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="How much to log to stderr and the log file.",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Also log to this file (for cron).",
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
    fmt: str | None,
    guardian_roles: str,
    student_id_field: str,
    legal_names: bool,
    encoding: str,
    allow_insecure_http: bool,
    log_level: str,
    log_file: Path | None,
) -> None:
    """Create and pair observer accounts for every row of ROSTER.

    ROSTER is a CSV with student_id, observer_email, observer_first_name, observer_last_name
    (or a OneRoster / SDS export). Exit codes: 0 all paired, 1 some rows need attention,
    2 nothing done (bad usage, unreadable roster, Canvas unreachable or token rejected).
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    canvas_url = canvas_url.rstrip("/")
    token = read_token(token_file)
    setup_logging(log_level, log_file, secrets=(token,))
    if report_path is not None and report_path.suffix.lower() not in {".json", ".csv"}:
        raise click.UsageError("--report must end in .json or .csv")
    data = _read_roster(
        roster,
        format=fmt,
        guardian_roles=_roles(guardian_roles),
        student_id_field=student_id_field,
        prefer_preferred_names=not legal_names,
        encoding=encoding,
    )
    options = SyncOptions(
        method="direct" if pairing == "direct" else "code",
        dry_run=dry_run,
        concurrency=concurrency,
        send_registration=not no_registration_email,
    )
    settings: dict[str, object] = {
        "pairing": options.method,
        "dry_run": dry_run,
        "concurrency": concurrency,
        "send_registration": options.send_registration,
        "format": fmt or "detected",
    }
    state = state_path or default_state_path(canvas_url)
    console = Console()
    try:
        journal = Journal.open(state)
    except JournalError as error:
        fail(f"cannot open the journal {state}: {error}")
        return

    async def main() -> SyncReport:
        async with httpx.AsyncClient(timeout=30.0) as http:
            return await _run(
                data,
                http=http,
                base_url=canvas_url,
                token=token,
                options=options,
                journal=journal,
                allow_insecure=allow_insecure_http,
                settings=settings,
                console=console,
            )

    with journal:
        report = asyncio.run(main())
    sys.exit(_finish(report, console=console, report_path=report_path, state_path=state))


def _roles(value: str) -> tuple[str, ...]:
    return tuple(r.strip().lower() for r in value.split(",") if r.strip())


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where the demo writes its roster, reports and journal.",
)
@click.option(
    "--pairing",
    type=click.Choice(["code", "direct"]),
    default="code",
    show_default=True,
    help="Pairing method to demonstrate.",
)
@click.option(
    "--latency-ms",
    type=float,
    default=0.0,
    show_default=True,
    help="Simulated Canvas latency per request.",
)
def demo(out_dir: Path, pairing: str, latency_ms: float) -> None:
    """Run the whole job on a built-in fake Canvas with a sample district (no Canvas needed).

    It syncs the demo roster (progress, summary, report, journal), then syncs again to show
    that a second run writes nothing.
    """
    from canvas_observers.fake_canvas import FakeConfig, create_app

    setup_logging("warning", None)
    console = Console()
    out_dir.mkdir(parents=True, exist_ok=True)
    config = FakeConfig(latency_ms=latency_ms)
    app = create_app(config, scenario="demo")
    fake = app.fake
    roster_path = out_dir / "demo-roster.csv"
    roster_path.write_text(fake.demo_roster or "", encoding="utf-8")
    state = out_dir / "journal.sqlite3"
    base_url = "http://127.0.0.1"
    options = SyncOptions(method="direct" if pairing == "direct" else "code")
    roster = _read_roster(roster_path)
    console.rule("[bold]canvas-observers demo")
    console.print(
        f"Fake Canvas with a sample district; roster: {roster_path} "
        f"({len(roster.rows) + len(roster.problems)} rows)"
    )

    async def once(report_name: str) -> tuple[SyncReport, dict[str, int]]:
        before = dict(fake.stats.by_method)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            with Journal.open(state) as journal:
                report = await _run(
                    roster,
                    http=http,
                    base_url=base_url,
                    token=config.admin_token,
                    options=options,
                    journal=journal,
                    allow_insecure=False,
                    settings={"pairing": options.method},
                    console=console,
                )
        _finish(report, console=console, report_path=out_dir / report_name, state_path=state)
        after = fake.stats.by_method
        writes = {m: after.get(m, 0) - before.get(m, 0) for m in ("POST", "PUT", "DELETE")}
        return report, writes

    console.rule("First run")
    first, writes1 = asyncio.run(once("report-first-run.json"))
    console.print(f"Writes sent to Canvas: {writes1}")
    console.rule("Second run (nothing should change)")
    second, writes2 = asyncio.run(once("report-second-run.json"))
    console.print(f"Writes sent to Canvas: {writes2}")
    if first.aborted or second.aborted:
        sys.exit(EXIT_STOPPED)
    rows = max(1, len(roster.rows))
    console.print(
        f"API calls per valid row: first run {sum(first.info.api_calls.values()) / rows:.2f}, "
        f"second run {sum(second.info.api_calls.values()) / rows:.2f}. "
        f"The second run wrote {sum(writes2.values())} times. "
        f"See past runs with: canvas-observers runs --state {state}"
    )
