"""`canvas-observers demo`: the whole job on a built-in fake Canvas, twice."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from pathlib import Path

import click
import httpx

from canvas_observers.canvas.protocol import WRITE_OPERATIONS
from canvas_observers.cli.common import Command, output_console, setup_logging
from canvas_observers.cli.exits import EXIT_OK, EXIT_STOPPED
from canvas_observers.cli.wiring import canvas_client, finish, run_with_progress, time_zone_for
from canvas_observers.report.render import write_report
from canvas_observers.report.tables import print_heading
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult

DEMO_TIME_ZONE = "America/Chicago"  # the sample district's Canvas account zone
PAST_RUNS = "Past runs: "
LAST_RUN = "The last run in detail: "


@click.command(cls=Command)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
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
    type=click.FloatRange(0, 2000),
    default=0.0,
    show_default=True,
    help="Simulated Canvas latency per request, to see the pacing at work.",
)
def demo(out_dir: Path, pairing: str, latency_ms: float) -> int:
    """Run the whole job on a built-in fake Canvas with a sample district (no Canvas needed).

    It syncs the demo roster (progress, summary, report, journal), then syncs again to show
    that a second run writes nothing.
    """
    from canvas_observers.fake_canvas import FakeConfig, create_app

    setup_logging("warning", None)
    console = output_console()
    out_dir.mkdir(parents=True, exist_ok=True)
    config = FakeConfig(latency_ms=latency_ms, time_zone=DEMO_TIME_ZONE)
    app = create_app(config, scenario="demo")
    fake = app.fake
    roster_path = out_dir / "demo-roster.csv"
    roster_path.write_text(fake.demo_roster or "", encoding="utf-8")
    state = out_dir / "journal.sqlite3"
    state.unlink(missing_ok=True)  # a fresh district each time: start the journal afresh too
    base_url = "http://127.0.0.1"  # in-process: the ASGI transport never opens a socket
    options = SyncOptions(method="direct" if pairing == "direct" else "code")
    roster = SourceOptions().read(roster_path)
    print_heading(console, "canvas-observers demo")
    console.print(
        f"A fake Canvas with a sample district ({len(fake.state.users)} users); "
        f"roster {roster_path}: {len(roster.rows) + len(roster.problems)} rows, "
        f"pairing method: {options.method}."
    )

    async def once(report_name: str, page: str = "") -> tuple[RunResult, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            client = canvas_client(
                http, base_url=base_url, token=config.admin_token, allow_insecure=False
            )
            zone = await time_zone_for(None, client)
            with Journal.open(state) as journal:
                report = await run_with_progress(
                    roster,
                    client=client,
                    http=http,
                    base_url=base_url,
                    token=config.admin_token,
                    options=options,
                    journal=journal,
                    allow_insecure=False,
                    settings={
                        "pairing": options.method,
                        "demo": True,
                        "time_zone": zone.key,
                        "time_zone_from": zone.source,
                    },
                    console=console,
                )
        finish(
            report,
            console=console,
            report_path=out_dir / report_name,
            state_path=state,
            max_attention_rows=8,
            time_zone=zone,
        )
        if page:  # the page to share: what `sync --report run.html` writes
            write_report(out_dir / page, report.info, report.results, time_zone=zone)
        calls = report.info.api_calls
        return report, sum(n for op, n in calls.items() if op in WRITE_OPERATIONS)

    print_heading(console, "First run")
    first, writes1 = asyncio.run(once("report-first-run.json", "report-first-run.html"))
    console.print(
        f"Write requests sent to Canvas: {writes1} (Canvas read by {first.info.canvas_state})"
    )
    print_heading(console, "Second run: the same roster again")
    second, writes2 = asyncio.run(once("report-second-run.json"))
    console.print(
        f"Write requests sent to Canvas: {writes2} (Canvas read by {second.info.canvas_state})"
    )
    if first.aborted or second.aborted:
        return EXIT_STOPPED
    rows = max(1, len(roster.rows))
    print_heading(console, "What happened")
    console.print(
        f"API calls per valid roster row: first run "
        f"{sum(first.info.api_calls.values()) / rows:.2f}, second run "
        f"{sum(second.info.api_calls.values()) / rows:.2f}. The second run sent {writes2} "
        "writes: everything that was right stayed as it was.\n"
        f"Reports: {out_dir / 'report-first-run.json'}, {out_dir / 'report-second-run.json'}; "
        f"the first run's page to share: {out_dir / 'report-first-run.html'}"
    )
    # Printed plainly (no rich markup or wrapping), so they can be copied and run as they are.
    command, journal = this_command(), shlex.quote(str(state))
    click.echo(f"{PAST_RUNS}{command} runs --state {journal}")
    click.echo(f"{LAST_RUN}{command} show last --state {journal}")
    return EXIT_OK


def this_command() -> str:
    """How to run this very command from the current folder, as the shell should be given it:
    ``canvas-observers`` when that is on PATH (and is this one), else the script's path
    (``.venv/bin/canvas-observers`` after ``make demo``), else ``python -m canvas_observers``."""
    script = Path(sys.executable).with_name("canvas-observers")
    on_path = shutil.which("canvas-observers")
    if on_path is not None and (not script.exists() or Path(on_path).samefile(script)):
        return "canvas-observers"
    if script.exists():
        try:
            shown = os.path.relpath(script)
        except ValueError:  # another drive, on Windows
            shown = str(script)
        if not shown.startswith(".."):
            return shlex.quote(shown if os.sep in shown else f".{os.sep}{shown}")
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m canvas_observers"
