"""The engine: asks Canvas, lets the planner decide, performs the writes, records everything.

Concurrency model: rows are grouped by guardian (case-folded email). One worker handles all rows
of a guardian, in roster order, so siblings never create two accounts; different guardians run
concurrently (``concurrency`` workers), and the client paces the requests to Canvas's throttle.
Student look-ups are shared between workers (two guardians of one child look the child up once).

Calls per guardian on a re-run with nothing to do: one. ``GET
/users/sis_login_id:<email>/observees`` both proves the guardian's login and lists who they
observe, with the SIS ids and logins to match rows against.

Writes that lose their answer are never blindly repeated: an account creation is resolved by
looking the login up, a pairing by listing the guardian's observees.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    InvalidToken,
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
    TransportError,
)
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.lookup import Lookups, Recorder
from canvas_observers.sync.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.sync.plan import (
    AlreadyPaired,
    Found,
    ObserverState,
    Pair,
    PairingMethod,
    Skip,
    can_get_pairing_code,
    dry_run_outcome,
    linked_student,
    plan_row,
    roster_conflicts,
)

log = logging.getLogger(__name__)

PAIRING_ATTEMPTS = 2  # a pairing code that Canvas refuses is replaced once, then the row fails


class RunAborted(Exception):
    """The run cannot go on (token rejected, permission missing, Canvas unreachable)."""

    def __init__(self, reason: str, cause: CanvasError) -> None:
        self.reason = reason
        self.cause = cause
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How the sync behaves (built by the CLI from flags)."""

    method: PairingMethod = "code"
    dry_run: bool = False
    concurrency: int = 16
    send_registration: bool = True


@dataclass
class _Guardian:
    """What one worker knows about its guardian while it goes through their rows."""

    email: str
    state: ObserverState
    created_now: bool = False
    journal_id: int | None = None


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
            async with asyncio.TaskGroup() as tasks:
                for _ in range(workers):
                    tasks.create_task(worker())
        except* RunAborted as aborted:
            raise aborted.exceptions[0] from None
        finally:
            self.lookups.close()
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
        log.info("%s line %d: %s%s", kind, row.line, result, f" ({detail})" if detail else "")
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
        email = rows[0].observer_email
        try:
            guardian = _Guardian(email=email, state=await self.lookups.observer(email))
        except CanvasError as error:
            self._check_abort(error)
            for row in rows:
                self.emit(self._result(row, Outcome.FAILED, f"guardian look-up failed: {error}"))
            return
        if guardian.state.user is not None:
            self._remember("observer", rows[0].email_key, guardian.state.user.id)
        elif guardian.state.login_exists and self.recorder is not None:
            # Only for the report: which account this was last time. Never used to write.
            guardian.journal_id = self.recorder.recall_user(
                canvas_url=self.canvas_url, kind="observer", key=rows[0].email_key
            )
        for row in rows:
            try:
                result = await self._row(row, guardian)
            except CanvasError as error:
                self._check_abort(error)
                result = self._result(row, Outcome.FAILED, str(error), guardian=guardian)
            self.emit(result)

    # --- one row ----------------------------------------------------------------------------

    async def _row(self, row: RosterRow, guardian: _Guardian) -> RowResult:
        linked = linked_student(guardian.state.observees, row)
        if linked is not None:
            return self._result(row, Outcome.ALREADY_PAIRED, student=linked, guardian=guardian)
        student = await self.lookups.student(row.student_id)
        if isinstance(student, Found):
            self._remember("student", row.student_id, student.user.id)
        action = plan_row(row, student, guardian.state, method=self.options.method)
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

    async def _dry_run(self, row: RosterRow, action: Pair, guardian: _Guardian) -> RowResult:
        if action.method == "code":
            enrollments = await self.client.list_enrollments(action.student.id)
            if not can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
                return self._not_enrolled(row, action.student, guardian)
        outcome = dry_run_outcome(action)
        if action.create_observer:
            # The siblings that follow would pair with the account this row would create.
            guardian.state = replace(guardian.state, login_exists=True)
        guardian.state = replace(
            guardian.state, observees=(*guardian.state.observees, action.student)
        )
        return self._result(row, outcome, student=action.student, guardian=guardian)

    async def _pair(self, row: RosterRow, action: Pair, guardian: _Guardian) -> RowResult:
        student = action.student
        for attempt in range(1, PAIRING_ATTEMPTS + 1):
            code = None
            if action.method == "code":
                if await self._still_unenrolled(row, student):
                    return self._not_enrolled(row, student, guardian)
                try:
                    code = await self.client.create_pairing_code(student.id)
                except NotAllowed:
                    self._remember("unenrolled", row.student_id, student.id)
                    return self._not_enrolled(row, student, guardian)
                self._action("pairing_code", row, "ok", student=student.id)
            try:
                observer = await self._ensure_observer(row, guardian, code=code, student=student)
            except RequestRejected as rejected:  # e.g. the code expired between the two calls
                self._action("create_user", row, "failed", detail=str(rejected))
                if attempt == PAIRING_ATTEMPTS:
                    raise
                continue
            if observer is None:
                return self._result(
                    row,
                    Outcome.FAILED,
                    "the guardian's account could not be "
                    "created or found; the next run tries again",
                    student=student,
                    guardian=guardian,
                )
            if any(u.id == student.id for u in guardian.state.observees):
                # Linked by the account creation itself, or found linked after a recovery.
                outcome = Outcome.CREATED if guardian.created_now else Outcome.ALREADY_PAIRED
                guardian.created_now = False
                return self._result(row, outcome, student=student, guardian=guardian)
            kind = "pair_code" if code is not None else "pair_direct"
            try:
                if code is not None:
                    await self.client.add_observee_with_code(observer.id, code.code)
                else:
                    await self.client.add_observee(observer.id, student.id)
            except OutcomeUnknown as lost:
                self._action(
                    kind, row, "unknown", observer=observer.id, student=student.id, detail=str(lost)
                )
                if not await self._is_linked(observer.id, student.id):
                    continue
                self._action(kind, row, "recovered", observer=observer.id, student=student.id)
            except RequestRejected as rejected:
                self._action(
                    kind,
                    row,
                    "failed",
                    observer=observer.id,
                    student=student.id,
                    detail=str(rejected),
                )
                if attempt == PAIRING_ATTEMPTS:
                    raise
                continue
            else:
                self._action(kind, row, "ok", observer=observer.id, student=student.id)
            guardian.state = replace(guardian.state, observees=(*guardian.state.observees, student))
            created = guardian.created_now
            guardian.created_now = False  # the siblings that follow are "paired"
            outcome = Outcome.CREATED if created else Outcome.PAIRED
            return self._result(row, outcome, student=student, guardian=guardian)
        return self._result(
            row,
            Outcome.FAILED,
            "the pairing could not be confirmed after "
            f"{PAIRING_ATTEMPTS} attempts; the next run tries again",
            student=student,
            guardian=guardian,
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
        self._remember("observer", guardian.email.casefold(), user.id)
        return user

    def _known(self, guardian: _Guardian, user: CanvasUser) -> CanvasUser:
        guardian.state = replace(guardian.state, resolution=Found(user))
        self._remember("observer", guardian.email.casefold(), user.id)
        return user

    # --- results ----------------------------------------------------------------------------

    def _not_enrolled(self, row: RosterRow, student: CanvasUser, guardian: _Guardian) -> RowResult:
        return self._result(
            row,
            Outcome.NOT_ENROLLED,
            "Canvas gives pairing codes only for students with a live enrollment; a later run "
            "pairs them (or use --pairing direct)",
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
        observer_id = None
        if guardian is not None:
            user = guardian.state.user
            observer_id = user.id if user is not None else guardian.journal_id
        return RowResult(
            line=row.line,
            student_id=row.student_id,
            observer_email=row.observer_email,
            outcome=outcome,
            detail="; ".join(part for part in (detail, notes) if part),
            canvas_student_id=student.id if student is not None else None,
            canvas_observer_id=observer_id,
        )

    def _check_abort(self, error: CanvasError) -> None:
        """Errors that no row can get past stop the whole run."""
        if isinstance(error, ConfigurationError):
            raise RunAborted(_abort_reason(error), error) from error
        if isinstance(error, TransportError):
            raise RunAborted(f"Canvas is unreachable: {error}", error) from error


def _abort_reason(error: ConfigurationError) -> str:
    if isinstance(error, InvalidToken):
        # Revoked or expired mid-run: say so in the same words as the check at the start
        # (run._check_token), not just Canvas's bare "Invalid access token." (issue 6).
        return f"Canvas refused the token: {error}"
    if isinstance(error, NotAllowed):
        return (
            f"the token is not allowed to do this ({error}); it needs an account admin's "
            "rights: manage users, logins and observers"
        )
    return str(error)
