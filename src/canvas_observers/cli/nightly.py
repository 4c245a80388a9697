"""What an unattended run shows and sends: progress (a bar, or log lines for cron) and the
summary posted to a webhook (--notify-url)."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from canvas_observers.canvas.models import AccountReport
from canvas_observers.canvas.net import is_loopback
from canvas_observers.core.outcomes import RowResult

log = logging.getLogger("canvas_observers")

ReportSink = Callable[[AccountReport], None]


def progress_sink(
    total: int, console: Console, *, dry_run: bool = False, quiet: bool = False
) -> tuple[AbstractContextManager[Any], Callable[[RowResult], None], ReportSink]:
    """Progress of the Canvas report and of the rows, with the rows needing attention so far
    and an ETA: bars on a terminal; plain log lines otherwise (cron, pipes): the report's
    status when it changes, the rows every ~10%. A dry run says "planning"; ``quiet`` shows
    nothing (``--quiet``: problems and the summary only)."""
    if quiet:
        return nullcontext(), lambda _result: None, lambda _report: None
    attention = 0
    if console.is_terminal:
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        verb = "planning" if dry_run else "pairing"
        task = progress.add_task(f"{verb} (0 need attention)", total=total)
        report_task: list[Any] = []

        def on_report(report: AccountReport) -> None:
            if not report_task:
                report_task.append(progress.add_task("Canvas report", total=100))
            progress.update(report_task[0], completed=report.progress)

        def advance(result: RowResult) -> None:
            nonlocal attention
            attention += not result.outcome.is_success
            progress.update(task, advance=1, description=f"{verb} ({attention} need attention)")

        return progress, advance, on_report
    done = 0
    step = max(1, total // 10)
    first: list[float] = []
    doing = " (planning: a dry run, nothing is written)" if dry_run else ""

    def tick(result: RowResult) -> None:
        nonlocal done, attention
        done += 1
        attention += not result.outcome.is_success
        if not first:
            first.append(time.monotonic())
        if done % step == 0 or done == total:
            left = _eta(first[0], done, total)
            log.info(
                "progress: %d of %d rows done%s, %d need attention%s",
                done,
                total,
                doing,
                attention,
                f", about {left} left" if left and done < total else "",
            )

    return nullcontext(), tick, report_log_lines()


def report_log_lines() -> ReportSink:
    """The Canvas report's progress as log lines: one when its status or quarter changes."""
    said: list[tuple[str, int]] = []

    def report_lines(report: AccountReport) -> None:
        quarter = report.progress // 25
        if not said or said[-1] != (report.status, quarter):
            said.append((report.status, quarter))
            log.info("Canvas report %d: %s, %d%%", report.id, report.status, report.progress)

    return report_lines


def _eta(started: float, done: int, total: int) -> str:
    """``2 min`` or ``40 s``: the rows left at the pace since the first row; "" too early."""
    if done < 2:
        return ""
    seconds = (time.monotonic() - started) / (done - 1) * (total - done)
    return f"{round(seconds / 60)} min" if seconds >= 90 else f"{max(1, round(seconds))} s"


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def check_notify_url(value: str | None) -> str | None:
    """An https URL, or http to this machine (tests); anything else is a usage error.

    The message never repeats the URL: a Slack or Teams webhook URL is itself a secret
    (whoever has it can post to the channel), and the error line lands in cron mail and logs.
    """
    if value is None:
        return None
    problem = _notify_url_problem(value)
    if problem:
        raise click.BadParameter(problem, param_hint="--notify-url")
    return value


def _notify_url_problem(value: str) -> str:
    """Why ``value`` cannot be the webhook's URL, or "" when it can."""
    if any(char.isspace() or not char.isprintable() for char in value):
        return "has a space or a control character; give the URL exactly as the webhook shows it"
    try:
        url = httpx.URL(value)
        port = url.port
    except httpx.InvalidURL:
        return "is not a URL; give it as https://host/path"
    if url.scheme not in ("https", "http"):
        return "must be an https:// URL (http only to this machine)"
    host = url.raw_host.decode("ascii", errors="replace")
    if not host:
        return "has no host name; give it as https://host/path"
    if not _valid_host(host):
        return "has a host name that is not valid; give it as https://host/path"
    if port is not None and not 1 <= port <= 65535:
        return "has a port that is not a number from 1 to 65535"
    if url.scheme == "http" and not is_loopback(url.host):
        return "must be an https:// URL (http only to this machine)"
    return ""


def _valid_host(host: str) -> bool:
    """An IP address, or a DNS name (as IDNA, which httpx gives for a Unicode name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.removesuffix(".").split(".")
        return all(_LABEL.fullmatch(label) for label in labels)
    return True


def notify(url: str, body: dict[str, object]) -> None:
    """POST the summary; a webhook that fails is logged, never fatal (the exit code stays)."""
    try:
        response = httpx.post(url, json=body, timeout=10.0, follow_redirects=False)
        response.raise_for_status()
    except httpx.HTTPError as error:
        log.warning("the --notify-url webhook failed: %s", type(error).__name__)
    else:
        log.info("run summary sent to the --notify-url webhook")
