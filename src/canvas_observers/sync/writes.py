"""The write steps of one row: get a pairing code, find or create the guardian's account,
pair, and judge each of Canvas's answers (a "taken" login, a lost answer, a refusal).

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import (
    CanvasError,
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
)
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.core.clock import iso_timestamp
from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.core.recorder import RunRecorder, UserKind
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.identity import IdentityNote
from canvas_observers.sync.lookup import CanvasView
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.preflight import PAIRING_RIGHT
from canvas_observers.sync.rules import (
    Found,
    ObserverState,
    Pair,
    can_get_pairing_code,
    not_enrolled,
    self_pairing,
)
from canvas_observers.sync.stopping import RunAborted

log = logging.getLogger("canvas_observers.sync.engine")

WRITE_ATTEMPTS = 4
"""Tries per row at the create-and-pair steps. Another try follows only a write Canvas confirmed
not done: a lost create whose login does not exist, a pairing absent from the observee list, a
code Canvas refused as invalid (it expired between the two calls). With one write in ten lost
or refused, four tries leave about one row in ten thousand undone for the next run."""


@dataclass
class Guardian:
    """What one worker knows about its guardian while it goes through their rows."""

    email: str
    state: ObserverState
    created_now: bool = False
    would_create: bool = False  # a dry run predicted this guardian's account (it is not there)
    sis_id: str | None = None  # the SIS id of the guardian id: a new login gets it
    note: IdentityNote | None = None  # how the rows report the account's identity


class PairingSteps:
    """The engine's write steps and its records of them (the engine supplies the fields)."""

    client: CanvasClient
    options: SyncOptions
    recorder: RunRecorder
    now: Callable[[], datetime]
    lookups: CanvasView
    _links: set[tuple[int, int]]
    _locks: dict[int, asyncio.Lock]

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
        if not self.options.dry_run:
            self.recorder.record_action(
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

    def _remember(self, kind: UserKind, key: str, canvas_id: int) -> None:
        self.recorder.remember_user(
            kind=kind,
            key=key,
            canvas_id=canvas_id,
            at=iso_timestamp(self.now()),
        )

    async def _pair(self, row: RosterRow, action: Pair, guardian: Guardian) -> RowResult:
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

    def _unconfirmed(self, row: RosterRow, student: CanvasUser, guardian: Guardian) -> RowResult:
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
        guardian: Guardian,
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
        A snapshot that read the enrollments answers without any call.
        """
        enrolled = self.lookups.enrolled(student.id)
        if enrolled is not None:
            return not enrolled
        known = self.recorder.recall_user(kind="unenrolled", key=row.student_id)
        if known != student.id:
            return False
        enrollments = await self.client.list_enrollments(student.id)
        if can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
            self.recorder.forget_user(kind="unenrolled", key=row.student_id)
            return False
        return True

    async def _can_get_code(self, student: CanvasUser) -> bool:
        """Whether Canvas would give a pairing code: the snapshot's enrollments, or a read."""
        known = self.lookups.enrolled(student.id)
        if known is not None:
            return known
        enrollments = await self.client.list_enrollments(student.id)
        return can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments)

    async def _is_linked(self, observer_id: int, student_id: int) -> bool:
        observees = await self.client.list_observees(observer_id)
        return any(u.id == student_id for u in observees)

    async def _ensure_observer(
        self,
        row: RosterRow,
        guardian: Guardian,
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
                sis_user_id=guardian.sis_id,
            )
        except RequestRejected as rejected:
            if "taken" not in rejected.error_types():
                raise
            if _sis_id_taken(rejected):
                return await self._sis_id_holder(row, guardian, rejected)
            # Someone (another tool, a person) made this login since we looked: use it.
            self._action("create_user", row, "failed", detail="login already taken; using it")
            return await self._refetch(guardian)
        except OutcomeUnknown as lost:
            self._action("create_user", row, "unknown", detail=str(lost))
            found = await self._refetch(guardian, created=True)
            if found is not None:
                # A create with a code that did happen made the link too: the journal owns it.
                made_link = code is not None and any(
                    student is not None and u.id == student.id for u in guardian.state.observees
                )
                self._action(
                    "create_user",
                    row,
                    "recovered",
                    observer=found.id,
                    student=student.id if made_link and student is not None else None,
                )
            return found
        detail = "with the pairing code: linked" if code is not None else ""
        linked = student.id if code is not None and student is not None else None
        self._action("create_user", row, "ok", observer=user.id, student=linked, detail=detail)
        guardian.created_now = True
        if code is not None and student is not None:
            guardian.state = replace(guardian.state, observees=(*state.observees, student))
        return self._known(guardian, user)

    async def _sis_id_holder(
        self, row: RosterRow, guardian: Guardian, rejected: RequestRejected
    ) -> CanvasUser:
        """The SIS id a new login would get is in use: by a live login made since the look-up
        (that account is the guardian's: use it), or by a deleted one (Canvas keeps deleted
        logins' SIS ids taken): then the row fails, as no account can be made with it."""
        sis_id = guardian.sis_id or ""
        self._action("create_user", row, "failed", detail=f"SIS id {sis_id} already in use")
        try:
            user = await self.client.get_user_by_sis_id(sis_id)
        except NotFound:
            raise CanvasError(
                f"no account can be made for this guardian: the SIS id {sis_id!r} belongs to a "
                "deleted login; restore that login in Canvas or change --observer-id-template",
                method=rejected.method,
                path=rejected.path,
                status=rejected.status,
            ) from rejected
        observees = await self.client.list_observees(user.id)
        guardian.state = ObserverState(Found(user, by_sis_id=True), tuple(observees))
        self._remember("observer", guardian.email.lower(), user.id)
        return user

    async def _refetch(self, guardian: Guardian, *, created: bool = False) -> CanvasUser | None:
        try:
            user = await self.client.get_user_by_login(guardian.email)
        except NotFound:
            return None
        guardian.created_now = created
        observees = await self.client.list_observees(user.id)
        guardian.state = ObserverState(Found(user), tuple(observees))
        self._remember("observer", guardian.email.lower(), user.id)
        return user

    def _known(self, guardian: Guardian, user: CanvasUser) -> CanvasUser:
        guardian.state = replace(guardian.state, resolution=Found(user))
        self._remember("observer", guardian.email.lower(), user.id)
        return user

    def _not_enrolled(self, row: RosterRow, student: CanvasUser, guardian: Guardian) -> RowResult:
        skip = not_enrolled()
        return self._result(row, skip.outcome, skip.detail, student=student, guardian=guardian)

    def _result(
        self,
        row: RosterRow,
        outcome: Outcome,
        detail: str = "",
        *,
        student: CanvasUser | None = None,
        guardian: Guardian | None = None,
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


def _sis_id_taken(rejected: RequestRejected) -> bool:
    """A create refused for the login's SIS id alone (``errors.pseudonym.sis_user_id``); with
    the login taken too, the login's account is used as before."""
    errors = rejected.errors
    pseudonym = errors.get("pseudonym") if isinstance(errors, dict) else None
    return (
        isinstance(pseudonym, dict)
        and bool(pseudonym.get("sis_user_id"))
        and not pseudonym.get("unique_id")
    )
