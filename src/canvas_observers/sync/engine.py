"""The engine: the worker pool that takes each row through its steps, and stopping.

Concurrency model: rows are grouped by guardian (lower-cased email). One worker handles all rows
of a guardian, in roster order, so siblings never create two accounts; different guardians run
concurrently (``concurrency`` workers), and the client paces the requests to Canvas's throttle.
Student look-ups are shared between workers (two guardians of one child look the child up once).

Calls per guardian on a re-run with nothing to do: one. ``GET
/users/sis_login_id:<email>/observees`` both proves the guardian's login and lists who they
observe, with the SIS ids and logins to match rows against. A guardian with a guardian id
takes two: ``GET /users/sis_user_id:<id>`` (their account whatever its login, identity.py)
and their observees.

With a snapshot of Canvas (a provisioning report), the look-ups are answered from memory and
a dry run is the whole plan decided at once (whole.py). A row's life is a table of steps and
the events that end them (steps.py); executing a step against Canvas is writes.py's. The
engine keeps the worker pool, each guardian's order and each account's lock, stopping, the
results, and the loop ``step -> execute -> event -> next step``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    NotFound,
    TransportError,
)
from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.clock import iso_timestamp, utc_now
from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.core.recorder import NO_RECORDER, RunRecorder
from canvas_observers.roster.model import RosterRow, roster_pair
from canvas_observers.sis_export import observer_sis_id
from canvas_observers.sync.guardians import GuardianSteps
from canvas_observers.sync.identity import account_deleted, with_note
from canvas_observers.sync.lookup import CanvasView, Lookups, SnapshotView
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.removals import Removal
from canvas_observers.sync.rules import excluded_detail, roster_conflicts
from canvas_observers.sync.snapshot import CanvasSnapshot
from canvas_observers.sync.steps import (
    End,
    FindLink,
    Raise,
    RowContext,
    SendPairing,
    Step,
    start,
    transition,
)
from canvas_observers.sync.stopping import RunAborted, abort_reason
from canvas_observers.sync.whole import plan_run
from canvas_observers.sync.writes import GuardianAccount

log = logging.getLogger(__name__)

REMEMBERED = frozenset(
    {
        Outcome.CREATED,
        Outcome.PAIRED,
        Outcome.ALREADY_PAIRED,
        Outcome.GUARDIAN_EMAIL_CHANGED,
        Outcome.GUARDIAN_UPDATED,
    }
)
"""Outcomes whose guardian account is remembered for the row's guardian id."""


@dataclass
class Engine(GuardianSteps):
    """Runs the sync for a set of valid roster rows against one Canvas."""

    client: CanvasClient
    options: SyncOptions = field(default_factory=SyncOptions)
    recorder: RunRecorder = NO_RECORDER
    now: Callable[[], datetime] = utc_now
    on_result: Callable[[RowResult], None] | None = None
    view: CanvasView | None = None  # a snapshot's answers; None: look Canvas up row by row
    excluded: dict[tuple[str, str], str] = field(default_factory=dict)  # the do-not-pair list
    # Guardian id -> the account this roster source's rows with that id resolved to before:
    # looked up first, whatever the template or the email (a known guardian never gets a
    # second account).
    guardians: dict[str, int] = field(default_factory=dict)
    # The id of the provider new logins are bound to, when the preflight could read it: a
    # login found after a lost create is this run's only if it is bound to it.
    login_provider_id: int | None = None
    results: list[RowResult] = field(default_factory=list)
    lookups: CanvasView = field(init=False)
    stopped: RunAborted | None = field(default=None, init=False)
    # Links known or made in this run, and a lock per guardian account: two roster emails
    # that lead to one account (a login and an email of the same person) pair a student once.
    _links: set[tuple[int, int]] = field(default_factory=set, init=False)
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.lookups = self.view or Lookups(
            self.client,
            recorder=self.recorder,
            confirm_logins=self.options.login_provider is not None,
        )

    # --- the run ----------------------------------------------------------------------------

    async def run(self, rows: Sequence[RosterRow]) -> list[RowResult]:
        """Process every row; raise RunAborted (with ``results`` so far) if the run must stop."""
        kept = []
        for row in rows:
            reason = self.excluded.get(roster_pair(row.student_id, row.observer_email))
            if reason is None:
                kept.append(row)
            else:
                self.emit(self._result(row, Outcome.EXCLUDED, excluded_detail(reason)))
        rows = kept
        if self.options.dry_run and isinstance(self.view, SnapshotView):
            self._emit_plan(rows, self.view.snapshot)  # the whole plan, decided at once
            return self.results
        conflicts = roster_conflicts(rows)
        groups: dict[str, list[RosterRow]] = {}
        for row in sorted(rows, key=lambda r: r.line):
            if row.line in conflicts:
                self.emit(self._result(row, Outcome.CONFLICT, conflicts[row.line]))
            else:
                groups.setdefault(row.email_key, []).append(row)
        pending = iter(list(groups.values()))

        async def worker() -> None:
            for group in pending:
                await self._guardian(group)

        workers = max(1, min(self.options.concurrency, len(groups)))
        try:
            # A stop does not cancel the other workers: they finish the row in hand (so every
            # write that was sent is recorded) and mark the rest "not processed".
            async with asyncio.TaskGroup() as tasks:
                for _ in range(workers):
                    tasks.create_task(worker())
        finally:
            self.lookups.close()
        if self.stopped is not None:
            raise self.stopped
        return self.results

    def _emit_plan(self, rows: Sequence[RosterRow], snapshot: CanvasSnapshot) -> None:
        for planned in plan_run(
            rows,
            snapshot,
            method=self.options.method,
            trust_contact_email=self.options.trust_contact_email,
            observer_id_template=self.options.observer_id_template,
            update_guardians=self.options.update_guardians,
            guardians=self.guardians,
        ):
            row = planned.row
            self.emit(
                RowResult(
                    line=row.line,
                    student_id=row.student_id,
                    observer_email=row.observer_email,
                    outcome=planned.outcome,
                    detail="; ".join(p for p in (planned.detail, *row.notes) if p),
                    canvas_student_id=planned.student.id if planned.student else None,
                    canvas_observer_id=planned.observer.id if planned.observer else None,
                    student_name=planned.student.name if planned.student else "",
                    guardian_name=row.observer_name,
                )
            )

    async def remove(self, removals: Sequence[Removal]) -> None:
        """Remove links (``DELETE /users/:observer/observees/:student``); a 404 means the link
        is already gone, which counts as done. Each gets a report row (line 0) and an action."""
        for removal in removals:
            if self._is_stopped():
                return
            row = RosterRow(0, removal.roster_student_id, removal.roster_email, "", "")
            ids = {"observer": removal.observer_id, "student": removal.student_id}
            cause = removal.cause
            outcome = Outcome.WOULD_REMOVE
            detail = removal.reason
            if not self.options.dry_run:
                result: str | None
                try:
                    await self.client.remove_observee(removal.observer_id, removal.student_id)
                    result = "ok"
                except NotFound:
                    result = "gone"  # already gone: done
                except CanvasError as error:
                    result = None
                    self._action(
                        "remove_link", row, "failed", **ids, detail=str(error), cause=cause
                    )
                    detail = f"{removal.reason}; the removal failed: {self._failure(error)}"
                    outcome = Outcome.FAILED
                if result is not None:
                    outcome = Outcome.REMOVED
                    self._action(
                        "remove_link", row, result, **ids, detail=removal.reason, cause=cause
                    )
            self.emit(
                RowResult(
                    line=0,
                    student_id=removal.roster_student_id,
                    observer_email=removal.roster_email,
                    outcome=outcome,
                    detail=detail,
                    canvas_student_id=removal.student_id,
                    canvas_observer_id=removal.observer_id,
                    student_name=removal.student_name,
                    guardian_name=removal.guardian_name,
                )
            )

    def use_view(self, view: CanvasView) -> None:
        """Learn Canvas from this view (a snapshot) instead of row-by-row look-ups."""
        self.lookups.close()
        self.view = self.lookups = view

    def emit(self, result: RowResult) -> None:
        self.results.append(result)
        self.recorder.record_row(result, at=iso_timestamp(self.now()))
        if self.on_result is not None and result.line > 0:  # progress counts roster rows
            self.on_result(result)

    # --- one guardian -----------------------------------------------------------------------

    async def _guardian(self, rows: list[RosterRow]) -> None:
        """All rows of one guardian, in roster order; every row gets exactly one result."""
        if self._is_stopped():
            self._not_processed(rows)
            return
        email = rows[0].observer_email
        sis_id = observer_sis_id(
            self.options.observer_id_template, email=email, guardian_id=rows[0].guardian_id
        )
        step = "look-up"
        guardian_id = rows[0].guardian_id
        remembered = self.guardians.get(guardian_id) if guardian_id is not None else None
        try:
            if remembered is not None:
                known = await self.lookups.account(remembered)
                if known is None:
                    for row in rows:
                        self.emit(self._result(row, *account_deleted(row, remembered)))
                    return
                state = known
            else:
                need_id = guardian_id is not None and not self.options.dry_run
                state = await self.lookups.observer(email, sis_id, need_id=need_id)
            guardian = GuardianAccount(email=email, state=state, sis_id=sis_id)
            step = "update"  # --update-guardians (guardians.py), or only its decision
            await self._settle_identity(rows[0], guardian)
        except Exception as error:  # each row must end with an outcome
            detail = self._failure(error)
            for row in rows:
                self.emit(self._result(row, Outcome.FAILED, f"guardian {step} failed: {detail}"))
            return
        user = guardian.state.user
        if user is not None:
            self._remember("observer", rows[0].email_key, user.id)
            self._links.update((user.id, s.id) for s in guardian.state.observees)
        created = False  # an account this run created, not yet reported by a row
        for index, row in enumerate(rows):
            if self._is_stopped():  # another worker may have stopped the run meanwhile
                self._not_processed(rows[index:])
                return
            result, created = await self._row(row, guardian, created)
            self._remember_guardian(row, result)
            self.emit(result)

    def _remember_guardian(self, row: RosterRow, result: RowResult) -> None:
        """A row with a guardian id that resolved to an account: the next runs of this source
        look that account up first (real runs only; a dry run writes no memory)."""
        if (
            self.options.dry_run
            or row.guardian_id is None
            or result.canvas_observer_id is None
            or result.outcome not in REMEMBERED
        ):
            return
        self.recorder.remember_guardian(
            guardian_id=row.guardian_id,
            canvas_id=result.canvas_observer_id,
            at=iso_timestamp(self.now()),
        )

    @staticmethod
    def _noted(result: RowResult, guardian: GuardianAccount) -> RowResult:
        """The row's result with the guardian's identity note (identity.py) applied."""
        note = guardian.note
        if note is None:
            return result
        if note.once:
            guardian.note = None
        outcome, detail = with_note(result.outcome, result.detail, note)
        return replace(result, outcome=outcome, detail=detail)

    def request_stop(self, reason: str) -> None:
        """Stop taking rows (e.g. on Ctrl-C): rows in hand finish, the rest are reported."""
        if self.stopped is None:
            self.stopped = RunAborted(reason)

    def _is_stopped(self) -> bool:
        return self.stopped is not None

    def _failure(self, error: Exception) -> str:
        """The detail of a failed row; errors that no row can get past stop the run."""
        if isinstance(error, RunAborted):
            stop = error
        elif isinstance(error, ConfigurationError):
            stop = RunAborted(abort_reason(error), error)
        elif isinstance(error, TransportError):
            stop = RunAborted(f"Canvas is unreachable: {error}", error)
        elif isinstance(error, CanvasError):
            return str(error)
        else:  # a bug or an answer we cannot read: keep it to this row, keep going
            log.debug("unexpected error", exc_info=error)
            return f"unexpected error: {type(error).__name__}: {error}"
        if self.stopped is None:
            self.stopped = stop
        return f"the run stopped: {stop.reason}"

    def _not_processed(self, rows: Sequence[RosterRow]) -> None:
        """Rows the stopped run never reached: nothing was tried for them (not ``failed``)."""
        reason = self.stopped.reason if self.stopped is not None else "unknown reason"
        for row in rows:
            self.emit(self._result(row, Outcome.NOT_PROCESSED, f"the run stopped: {reason}"))

    # --- one row ---------------------------------------------------------------------------

    async def _row(
        self, row: RosterRow, guardian: GuardianAccount, created: bool
    ) -> tuple[RowResult, bool]:
        """Take the row through its steps (steps.py) to its result; with it, whether an account
        this run created is still unreported (``created``, passed from row to row)."""
        ctx = RowContext(
            row,
            method=self.options.method,
            trust_contact_email=self.options.trust_contact_email,
            dry_run=self.options.dry_run,
        )
        step: Step | End | Raise = start(ctx, guardian.state, created=created)
        held: asyncio.Lock | None = None  # the account's lock, while pairing and looking up
        try:
            while not isinstance(step, End):
                if isinstance(step, Raise):
                    raise step.error
                if isinstance(step, SendPairing | FindLink):
                    # One account's pairing and its look-up never interleave with another
                    # roster email's pairing of the same account.
                    if held is None:
                        held = self._lock(step.observer.id)
                        await held.acquire()
                elif held is not None:
                    held.release()
                    held = None
                event = await self._execute(step, row, guardian)
                step = transition(step, event, ctx)
            return self._noted(self._ended(row, step, guardian), guardian), step.created
        except Exception as error:  # each row must end with an outcome
            result = self._result(row, Outcome.FAILED, self._failure(error), guardian=guardian)
            return result, step.created
        finally:
            if held is not None:
                held.release()

    def _lock(self, observer_id: int) -> asyncio.Lock:
        return self._locks.setdefault(observer_id, asyncio.Lock())

    def _ended(self, row: RosterRow, end: End, guardian: GuardianAccount) -> RowResult:
        return self._result(
            row,
            end.outcome,
            end.detail,
            student=end.student,
            guardian=guardian if end.observer else None,
        )

    def _result(
        self,
        row: RosterRow,
        outcome: Outcome,
        detail: str = "",
        *,
        student: CanvasUser | None = None,
        guardian: GuardianAccount | None = None,
    ) -> RowResult:
        notes = "; ".join(row.notes)
        observer = guardian.state.user if guardian is not None else None
        return RowResult(
            line=row.line,
            student_id=row.student_id,
            observer_email=row.observer_email,
            outcome=outcome,
            detail="; ".join(part for part in (detail, notes) if part),
            canvas_student_id=student.id if student is not None else None,
            canvas_observer_id=observer.id if observer is not None else None,
            student_name=student.name if student is not None else "",
            guardian_name=row.observer_name,
        )
