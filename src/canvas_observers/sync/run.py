"""One sync run from start to finish: token check, engine, journal bookkeeping, run summary.

The CLI builds the client, journal and options; this module ties them together and returns a
``RunResult``. It never prints and never exits: a run that must stop comes back with
``aborted`` set, and the CLI turns that into a message and exit code 2.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    NotAllowed,
    NotFound,
    TransportError,
)
from canvas_observers.canvas.models import AccountReport, CanvasUser
from canvas_observers.core.clock import iso_timestamp, utc_now
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult
from canvas_observers.core.recorder import NO_RECORDER, RunRecorder
from canvas_observers.report.render import printable
from canvas_observers.report.summary import RunInfo, totals
from canvas_observers.roster.model import Roster, roster_pair
from canvas_observers.store.history import Link, ListedRow, OwnedLink, SourceRun
from canvas_observers.store.journal import Journal
from canvas_observers.sync import preflight
from canvas_observers.sync.canvas_state import ReportUnavailable, WaitStopped, read_snapshot
from canvas_observers.sync.engine import Engine
from canvas_observers.sync.listing import RESOLVED, listing, resolved_links
from canvas_observers.sync.lookup import SnapshotView
from canvas_observers.sync.options import AUTO_REPORT_ROWS, SyncOptions
from canvas_observers.sync.removals import RemovalPlan, plan_removals
from canvas_observers.sync.snapshot import CanvasSnapshot
from canvas_observers.sync.stopping import RunAborted, abort_reason, stop_cause
from canvas_observers.sync.whole import plan_run

log = logging.getLogger(__name__)
HISTORY_RUNS = 60  # a source's earlier runs read for the grace count and the median
run_log = logging.getLogger("canvas_observers.run")  # the run log --log-file is for


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: its summary, every row's result, and why it stopped early (if it did)."""

    info: RunInfo
    results: tuple[RowResult, ...]
    aborted: str | None = None
    held: str | None = None  # why its removals were held (a truncated roster): needs a person

    def attention(self, fail_on: Collection[Outcome] = DEFAULT_FAIL_ON) -> list[RowResult]:
        """The rows whose outcome is in ``fail_on``: what a human should look at (the CLI
        turns "some" into exit 1, cli/exits.py)."""
        return [r for r in self.results if r.outcome in fail_on]


def invalid_row_results(roster: Roster) -> list[RowResult]:
    """Rows the reader rejected, as report rows (not the guardians with no email: see
    ``no_email_results``)."""
    return [
        RowResult(
            line=p.line,
            student_id=p.student_id,
            observer_email=p.observer_email,
            outcome=Outcome.INVALID_ROW,
            detail=f"{p.source}:{p.line}: {p.reason}" if p.source else p.reason,
            guardian_name=p.observer_name,
        )
        for p in roster.problems
        if not p.no_email
    ]


def not_eligible_results(roster: Roster) -> list[RowResult]:
    """Rows an eligibility rule left out (``Roster.ineligible``), as report rows: successes
    that write nothing and list no link."""
    return [
        RowResult(
            line=n.line,
            student_id=n.student_id,
            observer_email=n.observer_email,
            outcome=Outcome.NOT_ELIGIBLE,
            detail=f"{n.source}:{n.line}: {n.reason}" if n.source else n.reason,
            guardian_name=n.guardian_name,
        )
        for n in roster.ineligible
    ]


NO_EMAIL_DETAIL = (
    "the SIS has no email for this guardian, so there is no login to pair; nothing was written. "
    "Add the guardian's email in the SIS, or give the family the student's Canvas pairing code"
)


def no_email_results(
    roster: Roster, known_student: Callable[[str], CanvasUser | None] = lambda _: None
) -> list[RowResult]:
    """The guardians the SIS gives no email, as report rows naming them and the student (by
    the name Canvas gives, when this run already knows the student: ``known_student``)."""
    results = []
    for p in roster.problems:
        if not p.no_email:
            continue
        student = known_student(p.student_id)
        where = f"{p.source}:{p.line}: " if p.source else ""
        results.append(
            RowResult(
                line=p.line,
                student_id=p.student_id,
                observer_email="",
                outcome=Outcome.NO_EMAIL,
                detail=f"{where}{NO_EMAIL_DETAIL}",
                student_name=student.name if student is not None else "",
                guardian_name=p.observer_name,
            )
        )
    return results


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
    on_report: Callable[[AccountReport], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    excluded: Mapping[tuple[str, str], str] | None = None,
    source: str | None = None,
    location: str = "",
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> RunResult:
    """Run the sync for a roster that has been read and validated.

    ``fail_on`` is the run's meaning of "needs attention" (``--fail-on``): it is kept with the
    run in the journal, so `runs` and `show` count what the run's exit code counted, and the
    run log warns about those rows only.

    ``source`` names the roster source the run belongs to (``--source``; by default the
    roster's own name); ``location`` is where the roster was read (its resolved path or the
    API's URL), by which runs recorded before sources existed are adopted (history.py).

    Setting ``interrupt`` (the CLI does on Ctrl-C and SIGTERM, with a StopRequest that says
    which) stops the run as a rejected token would: rows in hand finish, the others are
    reported "not processed", and the run is ``stopped``; a wait for Canvas's report ends at
    once, before any row. ``on_report`` sees a provisioning report's progress while the sync
    waits for it.
    """
    started = now()
    clock = time.monotonic()
    run_id = 0
    recorder: RunRecorder = NO_RECORDER
    source = source or roster.source
    guardians: dict[str, int] = {}
    if journal is not None:
        if not options.dry_run:
            for legacy in journal.adopt_legacy(
                canvas_url=canvas_url, source=source, location=location
            ):
                log.info(
                    "the runs recorded for roster %r before roster sources existed are now "
                    "runs of source %s: the links they made are this source's",
                    legacy,
                    source,
                )
        run_id = journal.start_run(
            canvas_url=canvas_url,
            settings=dict(settings or {}),
            roster=roster.source,
            dry_run=options.dry_run,
            started_at=iso_timestamp(started),
            source=source,
            valid_rows=_valid_rows(roster),
            fail_on=fail_on,
        )
        recorder = journal.for_run(run_id, canvas_url=canvas_url)
        guardians = journal.known_guardians(canvas_url=canvas_url, source=source)
    run_log.info(
        "run %s started: roster %s, Canvas %s, pairing %s%s",
        run_id or "-",
        roster.source,
        canvas_url,
        options.method,
        ", dry run" if options.dry_run else "",
    )
    engine = Engine(
        client,
        options=options,
        recorder=recorder,
        now=now,
        on_result=on_result,
        excluded=dict(excluded or {}),
        guardians=guardians,
    )
    for result in (*invalid_row_results(roster), *not_eligible_results(roster)):
        engine.emit(result)
    skip = _excluded_lines(roster, engine.excluded)  # rows on the do-not-pair list list nothing
    keeps_listing = journal is not None and not options.dry_run
    carried: list[ListedRow] = []  # per row text, the link its source last listed for it
    if journal is not None and (options.remove_ended or keeps_listing):
        carried = journal.carried_links(canvas_url=canvas_url, source=source)
    aborted: str | None = None
    canvas_state = "lookups"
    removal_plan = RemovalPlan()
    planned: dict[int, Link] = {}  # line -> the link the snapshot resolves the row to

    async def watch() -> None:
        if interrupt is not None:
            await interrupt.wait()
            engine.request_stop(
                f"interrupted ({stop_cause(interrupt)}); the rows in hand were finished"
            )

    watcher = asyncio.create_task(watch())
    try:
        await _check_token(client)
        await _check_rights(client, sis_ids=any(not row.student_is_login for row in roster.rows))
        engine.login_provider_id = await _check_provider(client, options.login_provider)
        snapshot = await _read_whole(
            client,
            options,
            rows=len(roster.rows),
            on_report=on_report,
            sleep=sleep,
            interrupt=interrupt,
        )
        if snapshot is not None:
            engine.use_view(SnapshotView(snapshot))
            canvas_state = "report"
            if options.remove_ended or keeps_listing:
                planned = _resolve(roster, snapshot, options, engine, skip=skip)
        if options.remove_ended:
            removal_plan = _plan_removals(
                roster,
                snapshot,
                options,
                journal=journal,
                run_id=run_id,
                canvas_url=canvas_url,
                source=source,
                excluded=engine.excluded,
                planned=planned,
                carried=carried,
                skip=skip,
            )
        await engine.run(roster.rows)
        await engine.remove(removal_plan.removals)
        _say_pending(engine, removal_plan, options, source)
    except RunAborted as stop:
        aborted = stop.reason
    finally:
        watcher.cancel()
    # After the rows, so a student another row (or the report) found is named; nothing is
    # looked up for these rows alone.
    for result in no_email_results(roster, engine.lookups.known_student):
        engine.emit(result)
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
        rows_read=_valid_rows(roster) + len(roster.problems) + roster.duplicates,
        rows_rejected=sum(not p.no_email for p in roster.problems),
        duplicates=roster.duplicates,
        state="stopped" if aborted else "complete",
        canvas_state=canvas_state,
        removals_forced=removal_plan.stop or "" if removal_plan.forced else "",
        removals_held=removal_plan.held or "",
        source=source,
    )
    if journal is not None and keeps_listing:
        if removal_plan.held or removal_plan.baseline:
            journal.mark_removals(
                run_id, held=removal_plan.held or "", baseline=removal_plan.baseline
            )
        if aborted is None:
            _record_listing(
                journal,
                roster,
                results,
                planned,
                run_id,
                canvas_url,
                removal_plan,
                carried=carried,
                skip=skip,
                whole=canvas_state == "report",
            )
    if journal is not None:
        journal.finish_run(
            run_id,
            ended_at=info.ended_at,
            state=info.state,
            totals=totals(results),
            api_calls={**info.api_calls, "throttled": info.throttled, "retries": info.retries},
            stop_reason=info.stop_reason,
        )
    _log_outcome(info, results, fail_on)
    return RunResult(info=info, results=results, aborted=aborted, held=removal_plan.held)


def _log_outcome(
    info: RunInfo, results: tuple[RowResult, ...], fail_on: Collection[Outcome]
) -> None:
    """The run log's end: a warning for each row a person must act on (``fail_on``), an info
    line for the others that are not done yet, one line for the rows a stop kept the run from
    reaching (however many), the totals, and why it stopped."""
    not_reached = 0
    for r in results:
        if r.outcome is Outcome.NOT_PROCESSED:
            not_reached += 1
        elif r.outcome in (Outcome.REMOVED, Outcome.WOULD_REMOVE, Outcome.REMOVAL_PENDING):
            run_log.info(
                "%s: guardian %s and student %s (Canvas ids %s/%s): %s",
                r.outcome.value,
                printable(r.guardian_label),
                printable(r.student_label),
                r.canvas_student_id,
                r.canvas_observer_id,
                printable(r.detail),
            )
        elif r.outcome in (Outcome.CREATED, Outcome.PAIRED):
            run_log.info(
                "line %d: %s paired with %s%s",
                r.line,
                printable(r.guardian_label),
                printable(r.student_label),
                " (account created)" if r.outcome is Outcome.CREATED else "",
            )
        elif not r.outcome.is_success:
            run_log.log(
                logging.WARNING if r.outcome in fail_on else logging.INFO,
                "line %d: guardian %s, student %s: %s: %s",
                r.line,
                printable(r.guardian_label),
                printable(r.student_label),
                r.outcome.value,
                printable(r.detail),
            )
    if not_reached:
        run_log.warning(
            "%d roster rows were not processed: the run stopped before reaching them "
            "(outcome not_processed); the next run takes them once the stop is fixed",
            not_reached,
        )
    counts = ", ".join(f"{k} {v}" for k, v in totals(results).items() if v)
    run_log.info("totals: %s", counts or "no rows")
    if info.removals_held:
        run_log.warning("removals held: %s", info.removals_held)
    if info.stop_reason:
        run_log.error("run %s stopped: %s", info.run_id or "-", info.stop_reason)
    run_log.info(
        "run %s ended: %s in %.1f s, %d API calls",
        info.run_id or "-",
        info.state,
        info.duration_s,
        sum(info.api_calls.values()),
    )


def _resolve(
    roster: Roster,
    snapshot: CanvasSnapshot,
    options: SyncOptions,
    engine: Engine,
    *,
    skip: Collection[int],
) -> dict[int, Link]:
    """Line -> the Canvas link each row resolves to in the snapshot (the same rules the engine
    follows, guardians remembered by id included), decided before any write; lines in ``skip``
    (the do-not-pair list's) are left out."""
    rows = [r for r in roster.rows if r.line not in skip]
    plan = plan_run(
        rows,
        snapshot,
        method=options.method,
        trust_contact_email=options.trust_contact_email,
        observer_id_template=options.observer_id_template,
        update_guardians=options.update_guardians,
        guardians=engine.guardians,
    )
    return {
        p.row.line: (p.observer.id, p.student.id)
        for p in plan
        if p.outcome in RESOLVED and p.observer is not None and p.student is not None
    }


def _plan_removals(
    roster: Roster,
    snapshot: CanvasSnapshot | None,
    options: SyncOptions,
    *,
    journal: Journal | None,
    run_id: int,
    canvas_url: str,
    source: str,
    excluded: Mapping[tuple[str, str], str],
    planned: Mapping[int, Link],
    carried: Sequence[ListedRow],
    skip: Collection[int],
) -> RemovalPlan:
    """Which links this ``--remove-ended`` run removes, decided on Canvas accounts before any
    write. The removal limit ends the run here, with nothing written; a truncated roster holds
    the removals and lets the pairings go on. (Without ``--remove-ended`` nothing is removed:
    the do-not-pair list then only keeps its pairs from being linked.)"""
    if snapshot is None:
        raise RunAborted(
            "--remove-ended needs Canvas read whole (its links, not only the roster's): use "
            "--canvas-state report or auto"
        )
    owned: list[OwnedLink] = []
    history: list[SourceRun] = []
    others: dict[str, frozenset[Link]] = {}
    if journal is not None:
        owned = journal.owned_links(canvas_url=canvas_url)
        history = journal.source_runs(
            canvas_url=canvas_url, source=source, before_run=run_id, limit=HISTORY_RUNS
        )
        others = journal.other_listings(canvas_url=canvas_url, source=source, before_run=run_id)
    listed = listing(roster.rows, [planned], carried, skip=skip)
    plan = plan_removals(
        snapshot=snapshot,
        source=source,
        owned=owned,
        listed={row.link for row in listed},
        valid_rows=_valid_rows(roster),
        ended={
            roster_pair(c.student_id, c.observer_email): c.reason for c in roster.removal_candidates
        },
        excluded=excluded,
        history=history,
        others=others,
        grace_runs=options.grace_runs,
        max_removals=options.max_removals,
        force=options.force_removals,
    )
    if plan.stop is not None and not plan.forced:
        raise RunAborted(f"nothing was written or removed: {plan.stop}")
    if plan.first_run:
        log.info(
            "removal counting starts now for roster source %s: a link this tool made for it is "
            "removed once %s without it; if the SIS writes a new file name every night, give "
            "every run the same --source NAME",
            source,
            "one run is" if options.grace_runs == 1 else f"{options.grace_runs} runs in a row are",
        )
    return plan


def _valid_rows(roster: Roster) -> int:
    """The roster's valid rows, those an eligibility rule left out included: the removal
    safety stops compare this with earlier runs to catch a truncated export, and a rule is no
    truncation (a rule that would remove many links meets the removal limit instead)."""
    return len(roster.rows) + len(roster.ineligible)


def _excluded_lines(roster: Roster, excluded: Mapping[tuple[str, str], str]) -> set[int]:
    return {r.line for r in roster.rows if roster_pair(r.student_id, r.observer_email) in excluded}


def _say_pending(engine: Engine, plan: RemovalPlan, options: SyncOptions, source: str) -> None:
    """One report row (line 0) for each link whose removal is pending, naming both people."""
    for item in plan.pending:
        engine.emit(
            RowResult(
                line=0,
                student_id=item.roster_student_id,
                observer_email=item.roster_email,
                outcome=Outcome.REMOVAL_PENDING,
                detail=f"absent from roster source {source}: {item.sentence()}",
                canvas_student_id=item.student_id,
                canvas_observer_id=item.observer_id,
                student_name=item.student_name,
                guardian_name=item.guardian_name,
            )
        )


def _record_listing(
    journal: Journal,
    roster: Roster,
    results: Sequence[RowResult],
    planned: Mapping[int, Link],
    run_id: int,
    canvas_url: str,
    plan: RemovalPlan,
    *,
    carried: Sequence[ListedRow],
    skip: Collection[int],
    whole: bool,
) -> None:
    """Keep what this complete run's roster listed (for the next runs' absence counts and
    other sources' protection), and the links whose ownership moved to another source.
    ``whole``: Canvas was read whole, so every row that resolves was resolved."""
    listed = listing(roster.rows, [planned, resolved_links(results)], carried, skip=skip)
    journal.record_listed(run_id, listed, whole=whole)
    for link, other in plan.moves:
        journal.move_owner(canvas_url=canvas_url, link=link, source=other, run_id=run_id)
        log.info(
            "the link of student %s and guardian %s now belongs to roster source %s, which "
            "lists it (this roster no longer does)",
            link[1],
            link[0],
            other,
        )


def report_kinds(options: SyncOptions) -> tuple[str, ...]:
    """What the snapshot needs: users and links; enrollments too when pairing by code (they
    say which students Canvas would give a code for, without a call per student)."""
    base = ("users", "user_observers")
    return (*base, "enrollments") if options.method == "code" else base


async def _read_whole(
    client: CanvasClient,
    options: SyncOptions,
    *,
    rows: int,
    on_report: Callable[[AccountReport], None] | None,
    sleep: Callable[[float], Awaitable[None]],
    interrupt: asyncio.Event | None = None,
) -> CanvasSnapshot | None:
    """The snapshot when the options (or, with ``auto``, the roster's size) call for one.

    ``auto`` falls back to look-ups, with one log line saying why, when the report is refused
    or not ready in time; an explicit ``report`` stops the run instead. A stop signal while
    waiting for the report stops the run there, with nothing written.
    """
    mode = options.canvas_state
    small = rows < AUTO_REPORT_ROWS and not options.remove_ended  # removals need the links
    if mode == "lookups" or (mode == "auto" and small):
        return None
    try:
        return await read_snapshot(
            client,
            kinds=report_kinds(options),
            wait_at_most=options.report_timeout,
            on_progress=on_report,
            sleep=sleep,
            interrupt=interrupt,
        )
    except WaitStopped as stop:
        raise RunAborted(_stopped_waiting(interrupt)) from stop
    except (NotAllowed, NotFound, ReportUnavailable) as error:
        _without_report(mode, error)
    except ConfigurationError as error:
        raise RunAborted(abort_reason(error), error) from error
    except TransportError as error:
        raise RunAborted(f"Canvas is unreachable: {error}", error) from error
    except CanvasError as error:
        _without_report(mode, error)
    return None


def _stopped_waiting(interrupt: asyncio.Event | None) -> str:
    cause = stop_cause(interrupt) if interrupt is not None else "Ctrl-C"
    return (
        f"interrupted ({cause}) while waiting for Canvas's provisioning report; nothing was "
        "written (the report goes on in Canvas, and the next run waits for it)"
    )


def _without_report(mode: str, error: Exception) -> None:
    """The report could not be read: an explicit ``report`` stops the run, ``auto`` goes on
    with look-ups and says why."""
    if mode == "report":
        raise RunAborted(f"Canvas's provisioning report could not be read: {error}") from error
    log.info("reading Canvas by look-ups instead of a report: %s", error)


AUDIT_KINDS = ("users", "user_observers", "enrollments")


async def read_canvas(
    client: CanvasClient,
    *,
    wait_at_most: float,
    on_report: Callable[[AccountReport], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    interrupt: asyncio.Event | None = None,
) -> CanvasSnapshot:
    """Check the token, then read Canvas whole (users, links, enrollments) from one
    provisioning report, and its authentication providers when the token may list them, for
    the audit; it writes nothing (starting the report is the one POST). RunAborted, with the
    reason, when the token or the report cannot be had, or ``interrupt`` is set."""
    await _check_token(client)
    try:
        snapshot = await read_snapshot(
            client,
            kinds=AUDIT_KINDS,
            wait_at_most=wait_at_most,
            on_progress=on_report,
            sleep=sleep,
            interrupt=interrupt,
        )
        snapshot.providers = await read_providers(client)
        return snapshot
    except WaitStopped as stop:
        raise RunAborted(_stopped_waiting(interrupt)) from stop
    except NotAllowed as error:
        raise RunAborted(
            f"the token may not run Canvas's provisioning report ({error}); its role needs the "
            "account's reports right (read_reports)",
            error,
        ) from error
    except ConfigurationError as error:
        raise RunAborted(abort_reason(error), error) from error
    except TransportError as error:
        raise RunAborted(f"Canvas is unreachable: {error}", error) from error
    except (ReportUnavailable, CanvasError) as error:
        raise RunAborted(f"Canvas's provisioning report could not be read: {error}") from error


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


async def _check_provider(client: CanvasClient, choice: str | None) -> int | None:
    """The id of the provider new logins are bound to, from the account's providers; the run
    stops here when they show it missing. A token that may not list them (they need
    manage_account_settings) gets one warning and the run goes on: a create Canvas then
    refuses for the provider stops it (writes.py)."""
    if choice is None:
        return None
    try:
        providers = await client.list_authentication_providers()
    except NotAllowed:
        log.warning(preflight.providers_unreadable(choice))
        return None
    except ConfigurationError as error:
        raise RunAborted(abort_reason(error), error) from error
    except TransportError as error:
        raise RunAborted(f"Canvas is unreachable: {error}", error) from error
    except CanvasError as error:
        raise RunAborted(f"Canvas did not answer as expected: {error}", error) from error
    chosen = preflight.chosen_provider(choice, providers)
    if chosen is None:
        raise RunAborted(preflight.no_such_provider(choice, providers))
    return chosen.id


async def read_providers(client: CanvasClient) -> dict[int, str] | None:
    """The account's authentication providers (id -> type) for the audit, or None when the
    token may not list them."""
    try:
        return {p.id: p.auth_type for p in await client.list_authentication_providers()}
    except NotAllowed:
        return None


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
