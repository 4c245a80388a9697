"""What an unattended run shows and sends: progress (a bar, or log lines for cron) and the
summary posted to a webhook (--notify-url)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from http import HTTPStatus
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
from canvas_observers.cli.lock import LockHeld
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult
from canvas_observers.report.notify import not_started_payload
from canvas_observers.roster.model import RosterError
from canvas_observers.sis_api.errors import SisApiError
from canvas_observers.store.journal import JournalError

log = logging.getLogger("canvas_observers")

ReportSink = Callable[[AccountReport], None]


def progress_sink(
    total: int,
    console: Console,
    *,
    dry_run: bool = False,
    quiet: bool = False,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> tuple[AbstractContextManager[Any], Callable[[RowResult], None], ReportSink]:
    """Progress of the Canvas report and of the rows, with the rows needing attention so far
    (outcomes in ``fail_on``) and an ETA: bars on a terminal; plain log lines otherwise (cron,
    pipes): the report's status when it changes, the rows every ~10%. A dry run says
    "planning"; ``quiet`` shows nothing (``--quiet``: only what a person needs, at the end)."""
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
            attention += result.outcome in fail_on
            progress.update(task, advance=1, description=f"{verb} ({attention} need attention)")

        return progress, advance, on_report
    done = 0
    step = max(1, total // 10)
    first: list[float] = []
    doing = " (planning: a dry run, nothing is written)" if dry_run else ""

    def tick(result: RowResult) -> None:
        nonlocal done, attention
        done += 1
        attention += result.outcome in fail_on
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


@contextmanager
def not_started(notify_url: str | None, canvas_url: str) -> Iterator[None]:
    """Tell the webhook when what this block does stops the run before it starts (the lock
    held, no roster, the SIS's API down, the journal unusable), with what to do first; the
    error then goes on to the command (one line, exit 2)."""
    try:
        yield
    except (CanvasObserversError, click.ClickException) as error:
        if notify_url is not None:
            problem = error.message if isinstance(error, click.ClickException) else str(error)
            body = not_started_payload(
                canvas_url=canvas_url,
                problem=problem,
                to_do=not_started_advice(error),
                at=datetime.now(UTC),
            )
            notify(notify_url, body)
        raise


def not_started_advice(error: Exception) -> str:
    """What to do first about what kept a run from starting, in a sentence."""
    if isinstance(error, LockHeld):
        return (
            "check whether the run named above is still working (a large roster) or hangs; "
            "stop a hung one, then run again by hand to check."
        )
    if isinstance(error, SisApiError):
        return (
            "check that the SIS's OneRoster API answers and that its client id and secret "
            "still work, then run again by hand to check."
        )
    if isinstance(error, RosterError | click.ClickException):
        return (
            "check that tonight's SIS export ran and wrote the whole roster where the run "
            "reads it (the error names the file and line), then run again by hand to check."
        )
    if isinstance(error, JournalError):
        return (
            "check the journal file named above (the disk, its permissions), then run again "
            "by hand to check."
        )
    return "fix what the error says, then run the same command again by hand to check."


NOTIFY_DEADLINE = 15.0
"""Seconds the webhook's POST may take in all (connect, send, every read of the answer): a
receiver that answers a byte at a time must not hold the night's run. Tests shorten it."""


def notify(url: str, body: dict[str, object], *, deadline: float | None = None) -> bool:
    """POST the summary within one overall deadline; True when the receiver took it.

    A webhook that fails is logged, never fatal (the exit code stays). The warning names the
    webhook's host and what went wrong (the status code, no answer in time, no connection),
    never the rest of its URL: a Slack or Teams webhook's path is a credential, and the
    warning lands in cron mail and the log file.
    """
    limit = NOTIFY_DEADLINE if deadline is None else deadline
    host = httpx.URL(url).host
    try:
        status = asyncio.run(_post(url, body, limit))
    except TimeoutError:
        problem = f"timed out: no complete answer within {limit:g} s, so it was given up"
    except httpx.HTTPError as error:
        problem = f"could not be reached ({_transport_problem(error)})"
    else:
        if 200 <= status < 300:
            log.info("run summary sent to the --notify-url webhook at %s", host)
            return True
        problem = f"answered HTTP {status} {_reason(status)}".rstrip()
    log.warning(
        "the run summary was not delivered to the --notify-url webhook at %s: it %s. Check "
        "that the webhook still exists (in Slack or Teams) and that this machine can reach %s.",
        host,
        problem,
        host,
    )
    return False


async def _post(url: str, body: dict[str, object], deadline: float) -> int:
    """The status of the POST of ``body`` to ``url``, all of it within ``deadline`` seconds
    (TimeoutError otherwise); httpx's own timeouts are per read, which a slow receiver
    resets with every byte."""
    async with asyncio.timeout(deadline):
        async with httpx.AsyncClient(timeout=deadline, follow_redirects=False) as http:
            response = await http.post(url, json=body)
            return response.status_code


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _transport_problem(error: httpx.HTTPError) -> str:
    """What went wrong in words without the URL (httpx's messages may carry it)."""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "the connection was refused or the name did not resolve"
    return type(error).__name__
