"""The engine: asks Canvas, lets the planner decide, performs the writes, records everything.

Concurrency model: rows are grouped by guardian (lower-cased email). One worker handles all rows
of a guardian, in roster order, so siblings never create two accounts; different guardians run
concurrently (``concurrency`` workers), and the client paces the requests to Canvas's throttle.
Student look-ups are shared between workers (two guardians of one child look the child up once).

Calls per guardian on a re-run with nothing to do: one. ``GET
/users/sis_login_id:<email>/observees`` both proves the guardian's login and lists who they
observe, with the SIS ids and logins to match rows against.

Writes that lose their answer are never blindly repeated: an account creation is resolved by
looking the login up, a pairing by listing the guardian's observees. A write that the look-up
proves was never done is sent again, with the same checks, up to ``WRITE_ATTEMPTS`` times in the
same run (so one run cures what a 5xx or a lost answer left undone).

The guardian's account is known before any write for the row: it may turn out to be the
student's own account, which Canvas cannot pair (docs/canvas-behaviour.md): such a row is a
``conflict`` and nothing is sent.
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
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
    TransportError,
)
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.lookup import Lookups, Recorder
from canvas_observers.sync.options import (  # re-exported: the sync's public names
    RunAborted,
    SyncOptions,
    abort_reason,
    iso_timestamp,
    utc_now,
)
from canvas_observers.sync.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.sync.plan import (
    AlreadyPaired,
    Found,
    ObserverState,
    Pair,
    Resolution,
    RowAction,
    Skip,
    can_get_pairing_code,
    dry_run_outcome,
    linked_student,
    plan_row,
    roster_conflicts,
    self_pairing,
)
from canvas_observers.sync.preflight import PAIRING_RIGHT

__all__ = ["Engine", "RunAborted", "SyncOptions", "iso_timestamp", "utc_now"]

log = logging.getLogger(__name__)

WRITE_ATTEMPTS = 4
"""Tries per row at the create-and-pair steps. Another try follows only a write Canvas confirmed
not done: a lost create whose login does not exist, a pairing absent from the observee list, a
code Canvas refused as invalid (it expired between the two calls). With one write in ten lost
or refused, four tries leave about one row in ten thousand undone for the next run."""


@dataclass
class _Guardian:
    """What one worker knows about its guardian while it goes through their rows."""

    email: str
    state: ObserverState
    created_now: bool = False
    would_create: bool = False  # a dry run predicted this guardian's account (it is not there)


@dataclass
class Engine:
    """Runs the sync for a set of valid roster rows against one Canvas."""

    client: CanvasClient
    options: SyncOptions = field(default_factory=SyncOptions)
    recorder: Recorder | None = None
    run_id: int = 0
    canvas_url: str = ""
    now: Callable[[], datetime] = utc_now
    on_result: Callable[[RowResult], None] | None = None
    results: list[RowResult] = field(default_factory=list)
    lookups: Lookups = field(init=False)
    stopped: RunAborted | None = field(default=None, init=False)
    # Links known or made in this run, and a lock per guardian account: two roster emails
    # that lead to one account (a login and an email of the same person) pair a student once.
    _links: set[tuple[int, int]] = field(default_factory=set, init=False)
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.lookups = Lookups(self.client, recorder=self.recorder, canvas_url=self.canvas_url)

    # --- the run ----------------------------------------------------------------------------

    async def run(self, rows: Sequence[RosterRow]) -> list[RowResult]:
        """Process every row; raise RunAborted (with ``results`` so far) if the run must stop."""
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

    def emit(self, result: RowResult) -> None:
        self.results.append(result)
        if self.recorder is not None:
            self.recorder.record_row(self.run_id, result, at=iso_timestamp(self.now()))
        if self.on_result is not None:
            self.on_result(result)

    def _action(
        self,
        kind: str,
        row: RosterRow,
        result: str,
        *,
        observer: int | None = None,
        student: int | None = None,
        detail: str = "",
    ) -> None:
        log.debug("%s line %d: %s%s", kind, row.line, result, f" ({detail})" if detail else "")
        if self.recorder is not None and not self.options.dry_run:
            self.recorder.record_action(
                self.run_id,
                ActionRecord(
                    kind=kind,
                    line=row.line,
                    at=iso_timestamp(self.now()),
                    result=result,
                    canvas_observer_id=observer,
                    canvas_student_id=student,
                    detail=detail,
                ),
            )

    def _remember(self, kind: str, key: str, canvas_id: int) -> None:
        if self.recorder is not None:
            self.recorder.remember_user(
                canvas_url=self.canvas_url,
                kind=kind,
                key=key,
                canvas_id=canvas_id,
                at=iso_timestamp(self.now()),
            )

    # --- one guardian -----------------------------------------------------------------------

    async def _guardian(self, rows: list[RosterRow]) -> None:
        """All rows of one guardian, in roster order; every row gets exactly one result."""
        if self._is_stopped():
            self._not_processed(rows)
            return
        email = rows[0].observer_email
        try:
            guardian = _Guardian(email=email, state=await self.lookups.observer(email))
        except Exception as error:  # each row must end with an outcome
            detail = self._failure(error)
            for row in rows:
                self.emit(self._result(row, Outcome.FAILED, f"guardian look-up failed: {detail}"))
            return
        user = guardian.state.user
        if user is not None:
            self._remember("observer", rows[0].email_key, user.id)
            self._links.update((user.id, s.id) for s in guardian.state.observees)
        for index, row in enumerate(rows):
            if self._is_stopped():  # another worker may have stopped the run meanwhile
                self._not_processed(rows[index:])
                return
            try:
                result = await self._row(row, guardian)
            except Exception as error:  # each row must end with an outcome
                result = self._result(row, Outcome.FAILED, self._failure(error), guardian=guardian)
            self.emit(result)

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
        reason = self.stopped.reason if self.stopped is not None else "unknown reason"
        for row in rows:
            self.emit(
                self._result(row, Outcome.FAILED, f"not processed, the run stopped: {reason}")
            )

    # --- one row ----------------------------------------------------------------------------

    async def _row(self, row: RosterRow, guardian: _Guardian) -> RowResult:
        linked = linked_student(guardian.state.observees, row)
        if linked is not None:
            return self._result(row, Outcome.ALREADY_PAIRED, student=linked, guardian=guardian)
        student = await self.lookups.student(row.student_id)
        if isinstance(student, Found):
            self._remember("student", row.student_id, student.user.id)
        action = self._plan(row, student, guardian)
        if (
            isinstance(action, Pair)
            and guardian.state.user is None
            and guardian.state.login_exists
            and not guardian.would_create
        ):
            # The login exists but its account is not fetched yet: fetch it before any write
            # (or a dry run's prediction), since it may be the student's own account.
            self._known(guardian, await self.client.get_user_by_login(guardian.email))
            action = self._plan(row, student, guardian)
        match action:
            case Skip(outcome, detail):
                user = student.user if isinstance(student, Found) else None
                return self._result(row, outcome, detail, student=user, guardian=guardian)
            case AlreadyPaired(user):
                return self._result(row, Outcome.ALREADY_PAIRED, student=user, guardian=guardian)
            case Pair():
                if self.options.dry_run:
                    return await self._dry_run(row, action, guardian)
                return await self._pair(row, action, guardian)

    def _plan(self, row: RosterRow, student: Resolution, guardian: _Guardian) -> RowAction:
        return plan_row(
            row,
            student,
            guardian.state,
            method=self.options.method,
            trust_contact_email=self.options.trust_contact_email,
        )

    async def _dry_run(self, row: RosterRow, action: Pair, guardian: _Guardian) -> RowResult:
        if action.method == "code":
            enrollments = await self.client.list_enrollments(action.student.id)
            if not can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
                return self._not_enrolled(row, action.student, guardian)
        outcome = dry_run_outcome(action)
        if action.create_observer:
            # The siblings that follow would pair with the account this row would create.
            guardian.state = replace(guardian.state, login_exists=True)
            guardian.would_create = True
        guardian.state = replace(
            guardian.state, observees=(*guardian.state.observees, action.student)
        )
        return self._result(row, outcome, student=action.student, guardian=guardian)

    async def _pair(self, row: RosterRow, action: Pair, guardian: _Guardian) -> RowResult:
        student = action.student
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            last = attempt == WRITE_ATTEMPTS
            code = None
            if action.method == "code":
                if await self._still_unenrolled(row, student):
                    return self._not_enrolled(row, student, guardian)
                try:
                    code = await self.client.create_pairing_code(student.id)
                except NotAllowed as refused:
                    await self._check_code_refusal(row, student, refused)
                    self._remember("unenrolled", row.student_id, student.id)
                    return self._not_enrolled(row, student, guardian)
                self._action("pairing_code", row, "ok", student=student.id)
            try:
                observer = await self._ensure_observer(row, guardian, code=code, student=student)
            except RequestRejected as rejected:  # e.g. the code expired between the two calls
                self._action("create_user", row, "failed", detail=str(rejected))
                if last:
                    raise
                continue
            if observer is None:  # the create was lost, and Canvas has no such login: not done
                if last:
                    return self._result(
                        row,
                        Outcome.FAILED,
                        f"the guardian's account could not be created in {WRITE_ATTEMPTS} "
                        "tries (each answer was lost and the account was not there); the next "
                        "run tries again",
                        student=student,
                        guardian=guardian,
                    )
                continue
            if observer.id == student.id:  # found after "taken" or a lost create
                skip = self_pairing(student, row)
                return self._result(row, skip.outcome, skip.detail, student=student)
            async with self._lock(observer.id):
                if any(u.id == student.id for u in guardian.state.observees) or (
                    (observer.id, student.id) in self._links
                ):
                    # Linked by the account creation itself, found linked after a recovery,
                    # or linked meanwhile through another roster email of the same account.
                    outcome = Outcome.CREATED if guardian.created_now else Outcome.ALREADY_PAIRED
                    guardian.created_now = False
                    self._links.add((observer.id, student.id))
                    return self._result(row, outcome, student=student, guardian=guardian)
                result = await self._send_pairing(row, guardian, observer, student, code, last=last)
            if result is not None:
                return result
        return self._unconfirmed(row, student, guardian)

    def _unconfirmed(self, row: RosterRow, student: CanvasUser, guardian: _Guardian) -> RowResult:
        return self._result(
            row,
            Outcome.FAILED,
            "the pairing could not be confirmed after "
            f"{WRITE_ATTEMPTS} tries; the next run tries again",
            student=student,
            guardian=guardian,
        )

    def _lock(self, observer_id: int) -> asyncio.Lock:
        return self._locks.setdefault(observer_id, asyncio.Lock())

    async def _send_pairing(
        self,
        row: RosterRow,
        guardian: _Guardian,
        observer: CanvasUser,
        student: CanvasUser,
        code: PairingCode | None,
        *,
        last: bool,
    ) -> RowResult | None:
        """Send the pairing; the row's result, or None to try again with a fresh code."""
        kind = "pair_code" if code is not None else "pair_direct"
        o, st = observer.id, student.id
        try:
            if code is not None:
                await self.client.add_observee_with_code(observer.id, code.code)
            else:
                await self.client.add_observee(observer.id, student.id)
        except OutcomeUnknown as lost:
            self._action(kind, row, "unknown", observer=o, student=st, detail=str(lost))
            if not await self._is_linked(observer.id, student.id):
                self._action(
                    kind, row, "failed", observer=o, student=st, detail="confirmed not linked"
                )
                return None
            self._action(kind, row, "recovered", observer=o, student=st)
        except NotFound as missing:
            # Canvas's 404 to a pairing: one of the two is gone or hidden, or they share no
            # root account. About these two users, not the token: this row fails.
            self._action(kind, row, "failed", observer=o, student=st, detail=str(missing))
            return self._result(
                row,
                Outcome.FAILED,
                f"Canvas refused the pairing: {missing}",
                student=student,
                guardian=guardian,
            )
        except NotAllowed as refused:
            self._action(kind, row, "failed", observer=o, student=st, detail=str(refused))
            await self._check_pairing_right(row, refused)
            return self._result(
                row,
                Outcome.FAILED,
                f"Canvas refused the pairing ({refused}), although the token may still pair; "
                "Canvas gives this answer when the two accounts share no root account",
                student=student,
                guardian=guardian,
            )
        except RequestRejected as rejected:
            self._action(kind, row, "failed", observer=o, student=st, detail=str(rejected))
            if last:
                raise
            return None
        else:
            self._action(kind, row, "ok", observer=o, student=st)
        self._links.add((observer.id, student.id))
        guardian.state = replace(guardian.state, observees=(*guardian.state.observees, student))
        created = guardian.created_now
        guardian.created_now = False  # the siblings that follow are "paired"
        outcome = Outcome.CREATED if created else Outcome.PAIRED
        return self._result(row, outcome, student=student, guardian=guardian)

    async def _check_pairing_right(self, row: RosterRow, refused: NotAllowed) -> None:
        """A 401/403 to one pairing stops the run only when the token lost the right itself.

        Canvas answers a pairing it cannot make for these two users (no shared root account)
        with the same 401/403 as a token that may not pair at all; asking Canvas for the
        token's ``manage_user_observers`` right tells the two apart.
        """
        rights = await self.client.account_permissions([PAIRING_RIGHT])
        if not rights.get(PAIRING_RIGHT, False):
            raise RunAborted(
                f"Canvas refused a pairing (line {row.line}) and the token no longer has the "
                f"'{PAIRING_RIGHT}' permission; an admin must give it back",
                refused,
            )

    async def _check_code_refusal(
        self, row: RosterRow, student: CanvasUser, refused: NotAllowed
    ) -> None:
        """A code refused for an *enrolled* student is not about the student: stop the run.

        Canvas refuses pairing codes (401/403) for students without a live enrollment, and
        also when self-registration is off for the account or the token lacks the permission
        (docs/canvas-behaviour.md). Only the enrollments tell which; reporting the second case
        as "not enrolled" would promise a later run that never comes.
        """
        enrollments = await self.client.list_enrollments(student.id)
        if can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
            raise RunAborted(
                f"Canvas refused a pairing code for an enrolled student (line {row.line}): "
                "self-registration may be off for the account, or the token may lack the "
                "'generate observer pairing codes' permission; --pairing direct needs neither",
                refused,
            )

    async def _still_unenrolled(self, row: RosterRow, student: CanvasUser) -> bool:
        """For a student Canvas refused a code for last time, read before writing again.

        Only a hint from the journal decides whether to *look*; what Canvas says now decides.
        A nightly run thus sends no refused POSTs for students who are still not enrolled.
        """
        if self.recorder is None:
            return False
        known = self.recorder.recall_user(
            canvas_url=self.canvas_url, kind="unenrolled", key=row.student_id
        )
        if known != student.id:
            return False
        enrollments = await self.client.list_enrollments(student.id)
        if can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
            self.recorder.forget_user(
                canvas_url=self.canvas_url, kind="unenrolled", key=row.student_id
            )
            return False
        return True

    async def _is_linked(self, observer_id: int, student_id: int) -> bool:
        observees = await self.client.list_observees(observer_id)
        return any(u.id == student_id for u in observees)

    async def _ensure_observer(
        self,
        row: RosterRow,
        guardian: _Guardian,
        *,
        code: PairingCode | None = None,
        student: CanvasUser | None = None,
    ) -> CanvasUser | None:
        """The guardian's account: known, fetched by login, or created (once per guardian).

        A new account is created with the pairing code when there is one, so Canvas links it
        to the student in the same request (one call fewer per new guardian); the caller sees
        the link in ``guardian.state.observees``.
        """
        state = guardian.state
        if state.user is not None:
            return state.user
        if state.login_exists:
            return self._known(guardian, await self.client.get_user_by_login(guardian.email))
        try:
            user = await self.client.create_user(
                name=row.observer_name,
                login_id=row.observer_email,
                sortable_name=row.observer_sortable_name,
                send_registration=self.options.send_registration,
                pairing_code=code.code if code is not None else None,
            )
        except RequestRejected as rejected:
            if "taken" not in rejected.error_types():
                raise
            # Someone (another tool, a person) made this login since we looked: use it.
            self._action("create_user", row, "failed", detail="login already taken; using it")
            return await self._refetch(guardian)
        except OutcomeUnknown as lost:
            self._action("create_user", row, "unknown", detail=str(lost))
            found = await self._refetch(guardian, created=True)
            if found is not None:
                self._action("create_user", row, "recovered", observer=found.id)
            return found
        detail = "with the pairing code: linked" if code is not None else ""
        self._action("create_user", row, "ok", observer=user.id, student=None, detail=detail)
        guardian.created_now = True
        if code is not None and student is not None:
            guardian.state = replace(guardian.state, observees=(*state.observees, student))
        return self._known(guardian, user)

    async def _refetch(self, guardian: _Guardian, *, created: bool = False) -> CanvasUser | None:
        try:
            user = await self.client.get_user_by_login(guardian.email)
        except NotFound:
            return None
        guardian.created_now = created
        observees = await self.client.list_observees(user.id)
        guardian.state = ObserverState(Found(user), tuple(observees))
        self._remember("observer", guardian.email.lower(), user.id)
        return user

    def _known(self, guardian: _Guardian, user: CanvasUser) -> CanvasUser:
        guardian.state = replace(guardian.state, resolution=Found(user))
        self._remember("observer", guardian.email.lower(), user.id)
        return user

    # --- results ----------------------------------------------------------------------------

    def _not_enrolled(self, row: RosterRow, student: CanvasUser, guardian: _Guardian) -> RowResult:
        return self._result(
            row,
            Outcome.NOT_ENROLLED,
            "no live student enrollment, so Canvas gives no pairing code; the next run tries "
            "again (--pairing direct needs no enrollment)",
            student=student,
            guardian=guardian,
        )

    def _result(
        self,
        row: RosterRow,
        outcome: Outcome,
        detail: str = "",
        *,
        student: CanvasUser | None = None,
        guardian: _Guardian | None = None,
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
        )
