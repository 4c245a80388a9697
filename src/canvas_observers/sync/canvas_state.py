"""Reading Canvas whole: run a provisioning report, wait for it, fetch and parse its file.

A report is a queued job on Canvas that takes minutes on a large account; it is polled with a
growing pause (1 s, then a quarter longer each time, at most 15 s): a long wait costs few calls
(about 50 for ten minutes), and a short report is seen done within a fifth of its runtime. It
is given up after ``wait_at_most`` seconds. The file is fetched through the client's
redirect-safe download (the token never follows the redirect to the file store).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.models import AccountReport
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.sync.snapshot import CanvasSnapshot, parse_snapshot

log = logging.getLogger(__name__)

FIRST_POLL = 1.0
POLL_GROWTH = 1.25
LONGEST_POLL = 15.0


class ReportUnavailable(CanvasObserversError):
    """The report failed on Canvas, took too long, or its file was not a report."""


async def read_snapshot(
    client: CanvasClient,
    *,
    kinds: Sequence[str],
    wait_at_most: float,
    on_progress: Callable[[AccountReport], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CanvasSnapshot:
    """Run the report and return the snapshot; ReportUnavailable when that cannot be done,
    the client's errors (a refused token, an unreachable Canvas) as they are."""
    started = clock()
    report = await client.start_report(kinds)
    if report.adopted:
        log.info(
            "reading Canvas whole: Canvas is already running the same provisioning report "
            "(%d, %s); waiting for it instead of starting another",
            report.id,
            ", ".join(kinds),
        )
    else:
        log.info(
            "reading Canvas whole: provisioning report %d started (%s)",
            report.id,
            ", ".join(kinds),
        )
    pause = FIRST_POLL
    while not report.done:
        if report.failed:
            detail = f": {report.message}" if report.message else ""
            raise ReportUnavailable(f"Canvas's report {report.id} ended {report.status}{detail}")
        if on_progress is not None:
            on_progress(report)
        if clock() - started + pause > wait_at_most:
            raise ReportUnavailable(
                f"Canvas's report {report.id} did not finish within {wait_at_most:.0f} s "
                f"({report.status}, {report.progress}%)"
            )
        await sleep(pause)
        pause = min(pause * POLL_GROWTH, LONGEST_POLL)
        report = await client.get_report(report.id)
    if on_progress is not None:
        on_progress(report)
    if not report.file_url:
        raise ReportUnavailable(f"Canvas's report {report.id} is complete but has no file")
    data = await client.download(report.file_url)
    try:
        snapshot = parse_snapshot(data, kinds=kinds)
    except ValueError as exc:
        raise ReportUnavailable(str(exc)) from exc
    log.info(
        "provisioning report %d read in %.1f s: %d users, %d observers with links",
        report.id,
        clock() - started,
        len(snapshot.users),
        len(snapshot.observees),
    )
    return snapshot
