"""Reading Canvas whole: run a provisioning report, wait for it, fetch and parse its file.

A report is a queued job on Canvas that takes minutes on a large account; it is polled with a
growing pause (1 s, then a quarter longer each time, at most 15 s): a long wait costs few calls
(about 50 for ten minutes), and a short report is seen done within a fifth of its runtime. It
is given up after ``wait_at_most`` seconds. The file is fetched through the client's
redirect-safe download (the token never follows the redirect to the file store).

A stop signal (``interrupt``) ends the wait at once, a poll or a download in flight included:
a report takes minutes, and a service manager gives a stopping process seconds. The report
goes on in Canvas; the next run's start meets it there (a 409) and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.models import AccountReport
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.sync.snapshot import CanvasSnapshot, parse_snapshot

log = logging.getLogger(__name__)

FIRST_POLL = 1.0
POLL_GROWTH = 1.25
LONGEST_POLL = 15.0


T = TypeVar("T")


class ReportUnavailable(CanvasObserversError):
    """The report failed on Canvas, took too long, or its file was not a report."""


class WaitStopped(CanvasObserversError):
    """A stop signal came while the report was being waited for or fetched."""


async def read_snapshot(
    client: CanvasClient,
    *,
    kinds: Sequence[str],
    wait_at_most: float,
    on_progress: Callable[[AccountReport], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    interrupt: asyncio.Event | None = None,
) -> CanvasSnapshot:
    """Run the report and return the snapshot; ReportUnavailable when that cannot be done,
    WaitStopped as soon as ``interrupt`` is set, the client's errors (a refused token, an
    unreachable Canvas) as they are."""
    reading = _read(
        client,
        kinds=kinds,
        wait_at_most=wait_at_most,
        on_progress=on_progress,
        sleep=sleep,
        clock=clock,
    )
    if interrupt is None:
        return await reading
    return await _unless_stopped(reading, interrupt)


async def _unless_stopped(work: Coroutine[Any, Any, T], interrupt: asyncio.Event) -> T:
    """The work's result, or WaitStopped once ``interrupt`` is set (the work is cancelled)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(interrupt.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()
        stop.cancel()
        await asyncio.gather(task, stop, return_exceptions=True)
    if task.cancelled():
        raise WaitStopped("stopped while waiting for Canvas's provisioning report")
    return task.result()


async def _read(
    client: CanvasClient,
    *,
    kinds: Sequence[str],
    wait_at_most: float,
    on_progress: Callable[[AccountReport], None] | None,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
) -> CanvasSnapshot:
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
