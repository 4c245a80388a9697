"""One sync run from start to finish: token check, engine, journal bookkeeping, run summary.

The CLI builds the client, journal and options; this module ties them together and returns a
``SyncReport``. It never prints and never exits: a run that must stop comes back with
``aborted`` set, and the CLI turns that into a message and exit code 2.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError, ConfigurationError, TransportError
from canvas_observers.report.summary import RunInfo, totals
from canvas_observers.roster.model import Roster
from canvas_observers.store.journal import Journal
from canvas_observers.sync import preflight
from canvas_observers.sync.engine import Engine, RunAborted, SyncOptions, iso_timestamp, utc_now
from canvas_observers.sync.outcomes import Outcome, RowResult


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a run did: its summary, every row's result, and why it stopped early (if it did)."""

    info: RunInfo
    results: tuple[RowResult, ...]
    aborted: str | None = None

    @property
    def exit_code(self) -> int:
        """0: every row paired (or would be); 1: some rows need a human; 2: the run stopped."""
        if self.aborted is not None:
            return 2
        return 0 if all(r.outcome.is_success for r in self.results) else 1


def invalid_row_results(roster: Roster) -> list[RowResult]:
    """Rows the reader rejected, as report rows."""
    return [
        RowResult(
            line=p.line,
            student_id=p.student_id,
            observer_email=p.observer_email,
            outcome=Outcome.INVALID_ROW,
            detail=f"{p.source}:{p.line}: {p.reason}" if p.source else p.reason,
        )
        for p in roster.problems
    ]


async def run_sync(
    roster: Roster,
    *,
    client: CanvasClient,
    options: SyncOptions,
    canvas_url: str,
    journal: Journal | None = None,
    settings: Mapping[str, object] | None = None,
    now: Callable[[], datetime] = utc_now,
    on_result: Callable[[RowResult], None] | None = None,
    interrupt: asyncio.Event | None = None,
) -> SyncReport:
    """Run the sync for a roster that has been read and validated.

    Setting ``interrupt`` (the CLI does on Ctrl-C) stops the run as a rejected token would:
    rows in hand finish, the others are reported "not processed", and the run is ``stopped``.
    """
    started = now()
    clock = time.monotonic()
    run_id = 0
    if journal is not None:
        run_id = journal.start_run(
            canvas_url=canvas_url,
            settings=dict(settings or {}),
            roster=roster.source,
            dry_run=options.dry_run,
            started_at=iso_timestamp(started),
        )
    engine = Engine(
        client,
        options=options,
        recorder=journal,
        run_id=run_id,
        canvas_url=canvas_url,
        now=now,
        on_result=on_result,
    )
    for result in invalid_row_results(roster):
        engine.emit(result)
    aborted: str | None = None

    async def watch() -> None:
        if interrupt is not None:
            await interrupt.wait()
            engine.request_stop("interrupted (Ctrl-C); the rows in hand were finished")

    watcher = asyncio.create_task(watch())
    try:
        await _check_token(client)
        await _check_rights(client, sis_ids=any(not row.student_is_login for row in roster.rows))
        await engine.run(roster.rows)
    except RunAborted as stop:
        aborted = stop.reason
    finally:
        watcher.cancel()
    ended = now()
    counts = client.counts
    results = tuple(sorted(engine.results, key=lambda r: r.line))
    info = RunInfo(
        run_id=run_id or None,
        started_at=iso_timestamp(started),
        ended_at=iso_timestamp(ended),
        canvas_url=canvas_url,
        dry_run=options.dry_run,
        pairing=options.method,
        duration_s=round(time.monotonic() - clock, 3),
        api_calls=dict(counts.by_operation),
        throttled=counts.throttled,
        retries=counts.retries,
        stop_reason=aborted or "",
        roster=roster.source,
        rows_read=len(roster.rows) + len(roster.problems) + roster.duplicates,
        rows_rejected=len(roster.problems),
        duplicates=roster.duplicates,
        state="stopped" if aborted else "complete",
    )
    if journal is not None:
        journal.finish_run(
            run_id,
            ended_at=info.ended_at,
            state=info.state,
            totals=totals(results),
            api_calls={**info.api_calls, "throttled": info.throttled, "retries": info.retries},
        )
    return SyncReport(info=info, results=results, aborted=aborted)


async def _check_rights(client: CanvasClient, *, sis_ids: bool) -> None:
    """Stop before any row when the token's role cannot see the fields matching relies on."""
    wanted = preflight.needs(sis_ids=sis_ids)
    try:
        rights = await client.account_permissions(preflight.asked(wanted))
    except ConfigurationError as error:
        raise RunAborted(
            f"Canvas would not say what the token may see ({error}); the token must be an "
            "account admin's",
            error,
        ) from error
    except TransportError as error:
        raise RunAborted(f"Canvas is unreachable: {error}", error) from error
    except CanvasError as error:
        raise RunAborted(f"Canvas did not answer as expected: {error}", error) from error
    gaps = preflight.missing(rights, wanted)
    if gaps:
        raise RunAborted(preflight.explain(gaps))


async def _check_token(client: CanvasClient) -> None:
    """One cheap call first, so a wrong URL or token stops the run before any row."""
    try:
        await client.get_self()
    except ConfigurationError as error:
        raise RunAborted(f"Canvas refused the token: {error}", error) from error
    except TransportError as error:
        raise RunAborted(f"Canvas is unreachable: {error}", error) from error
    except CanvasError as error:
        raise RunAborted(f"Canvas did not answer as expected: {error}", error) from error
