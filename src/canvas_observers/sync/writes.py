"""Executing one step of a row (steps.py) against Canvas, and turning Canvas's answer or error
into the event that ends the step: get a pairing code, find or create the guardian's account,
pair, and look a lost write up.

Writes that lose their answer are never blindly repeated: the step ends ``Lost``, and the next
step looks the account up by its login, or the pairing in the guardian's observees. Which step
follows, and how many tries a row makes, is the transition table's (steps.py), not this
module's. Every write and its answer is journaled here (``_action``).

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
from canvas_observers.canvas.models import CanvasUser, Login
from canvas_observers.core.clock import iso_timestamp
from canvas_observers.core.outcomes import ActionRecord
from canvas_observers.core.recorder import RunRecorder, UserKind
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.identity import IdentityNote
from canvas_observers.sync.lookup import CanvasView
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.preflight import PAIRING_RIGHT
from canvas_observers.sync.rules import (
    Found,
    ObserverState,
    can_get_pairing_code,
    only_suspended,
)
from canvas_observers.sync.steps import (
    AccountCreated,
    AccountFound,
    AlreadyLinked,
    CheckEnrolled,
    CheckLogins,
    CodeMade,
    Enrolled,
    EnsureAccount,
    Event,
    FetchAccount,
    FindAccount,
    FindLink,
    FindSisHolder,
    FindStudent,
    GetCode,
    Lost,
    NotEnrolled,
    NotThere,
    Paired,
    Read,
    Recorded,
    RecordPrediction,
    Refused,
    Rejected,
    SendPairing,
    SisIdTaken,
    Step,
    Suspended,
    Taken,
)
from canvas_observers.sync.stopping import RunAborted

log = logging.getLogger("canvas_observers.sync.engine")


@dataclass
class GuardianAccount:
    """What one worker knows of its guardian's Canvas account while it goes through their rows."""

    email: str
    state: ObserverState
    would_create: bool = False  # a dry run predicted this guardian's account (it is not there)
    sis_id: str | None = None  # the SIS id of the guardian id: a new login gets it
    note: IdentityNote | None = None  # how the rows report the account's identity


class StepExecutor:
    """Executes the steps of a row and journals the writes (the engine supplies the fields)."""

    client: CanvasClient
    options: SyncOptions
    recorder: RunRecorder
    now: Callable[[], datetime]
    lookups: CanvasView
    login_provider_id: int | None
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
        cause: str = "",
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
                    cause=cause,
                ),
            )

    def _remember(self, kind: UserKind, key: str, canvas_id: int) -> None:
        self.recorder.remember_user(
            kind=kind,
            key=key,
            canvas_id=canvas_id,
            at=iso_timestamp(self.now()),
        )

    async def _execute(self, step: Step, row: RosterRow, guardian: GuardianAccount) -> Event:
        """Do one step against Canvas; Canvas's answer as an event. Errors that are no answer
        about this step (a look-up's 404, the network) propagate: the row fails with them."""
        match step:
            case FindStudent():
                student = await self.lookups.student(row.student_id)
                if isinstance(student, Found):
                    self._remember("student", row.student_id, student.user.id)
                return Read(student, guardian.state, guardian.would_create)
            case FetchAccount(student):
                self._known(guardian, await self.client.get_user_by_login(guardian.email))
                return Read(student, guardian.state, guardian.would_create)
            case CheckLogins(student):
                user = guardian.state.user
                logins = await self._logins(user) if user is not None else None
                suspended = only_suspended(logins) if logins is not None else None
                guardian.state = replace(guardian.state, logins_known=True, suspended=suspended)
                return Read(student, guardian.state, guardian.would_create)
            case CheckEnrolled(pair):
                return Enrolled(await self._can_get_code(pair.student))
            case RecordPrediction(pair):
                if pair.create_observer:
                    # The siblings that follow would pair with the account this row would create.
                    guardian.state = replace(guardian.state, login_exists=True)
                    guardian.would_create = True
                guardian.state = replace(
                    guardian.state, observees=(*guardian.state.observees, pair.student)
                )
                return Recorded()
            case GetCode():
                return await self._get_code(step, row)
            case EnsureAccount() | FindAccount() | FindSisHolder():
                try:
                    return await self._account(step, row, guardian)
                except RequestRejected as rejected:  # e.g. the code expired between two calls
                    self._action("create_user", row, "failed", detail=str(rejected))
                    return Rejected(rejected)
            case SendPairing():
                return await self._send_pairing(step, row, guardian)
            case FindLink(student, code, observer):
                kind = "pair_code" if code is not None else "pair_direct"
                o, st = observer.id, student.id
                if not any(u.id == st for u in await self.client.list_observees(o)):
                    self._action(
                        kind, row, "failed", observer=o, student=st, detail="confirmed not linked"
                    )
                    return NotThere()
                self._action(kind, row, "recovered", observer=o, student=st)
                self._paired(guardian, observer, student)
                return Paired()

    async def _get_code(self, step: GetCode, row: RosterRow) -> Event:
        student = step.student
        if await self._still_unenrolled(row, student):
            return NotEnrolled()
        try:
            code = await self.client.create_pairing_code(student.id)
        except NotAllowed as refused:
            await self._check_code_refusal(row, student, refused)
            self._remember("unenrolled", row.student_id, student.id)
            return NotEnrolled()
        self._action("pairing_code", row, "ok", student=student.id)
        return CodeMade(code)

    async def _account(
        self,
        step: EnsureAccount | FindAccount | FindSisHolder,
        row: RosterRow,
        guardian: GuardianAccount,
    ) -> Event:
        """The guardian's account: known, fetched by login, created (once per guardian), or
        looked up after Canvas said "taken" or lost the create's answer.

        A new account is created with the pairing code when there is one, so Canvas links it
        to the student in the same request (one call fewer per new guardian); the link is then
        in ``guardian.state.observees``.
        """
        if isinstance(step, FindAccount):
            return await self._find_account(step, row, guardian)
        if isinstance(step, FindSisHolder):
            return await self._sis_id_holder(step.rejected, row, guardian)
        state = guardian.state
        if state.user is not None:
            return AccountFound(state.user)
        if state.login_exists:
            user = await self.client.get_user_by_login(guardian.email)
            return AccountFound(self._known(guardian, user))
        code, student = step.code, step.student
        provider = self.options.login_provider
        try:
            user = await self.client.create_user(
                name=row.observer_name,
                login_id=row.observer_email,
                sortable_name=row.observer_sortable_name,
                send_registration=self.options.send_registration,
                pairing_code=code.code if code is not None else None,
                sis_user_id=guardian.sis_id,
                authentication_provider=provider,
            )
        except NotFound as missing:
            if provider is None:
                raise
            # authentication_providers.active.find raised: no write can succeed this run.
            raise RunAborted(
                f"Canvas refused to create a guardian's account (line {row.line}): the account "
                f"has no authentication provider {provider!r} to bind the login to; give "
                "--login-provider the id of one it has, or none",
                missing,
            ) from missing
        except RequestRejected as rejected:
            if "taken" not in rejected.error_types():
                raise
            if _sis_id_taken(rejected):
                sis_id = guardian.sis_id or ""
                self._action("create_user", row, "failed", detail=f"SIS id {sis_id} already in use")
                return SisIdTaken(rejected)
            # Someone (another tool, a person) made this login since we looked: use it.
            self._action("create_user", row, "failed", detail="login already taken; using it")
            return Taken()
        except OutcomeUnknown as lost:
            self._action("create_user", row, "unknown", detail=str(lost))
            return Lost()
        detail = "with the pairing code: linked" if code is not None else ""
        linked = student.id if code is not None else None
        self._action("create_user", row, "ok", observer=user.id, student=linked, detail=detail)
        if code is not None:
            guardian.state = replace(guardian.state, observees=(*state.observees, student))
        guardian.state = replace(guardian.state, logins_known=True)  # its one login: active
        return AccountCreated(self._known(guardian, user))

    async def _find_account(
        self, step: FindAccount, row: RosterRow, guardian: GuardianAccount
    ) -> Event:
        try:
            user = await self.client.get_user_by_login(guardian.email)
        except NotFound:
            return NotThere()
        logins = await self._logins(user)
        suspended = only_suspended(logins) if logins is not None else None
        observees = await self.client.list_observees(user.id)
        guardian.state = ObserverState(
            Found(user), tuple(observees), logins_known=True, suspended=suspended
        )
        self._remember("observer", guardian.email.lower(), user.id)
        if suspended is not None:
            return Suspended(user, suspended)
        if step.lost and not self._made_by_us(logins, guardian.email):
            # The login is there, but not bound as this run binds it: someone else made it
            # between the check and the create (Canvas answered that create with an error).
            self._action("create_user", row, "failed", detail="login made meanwhile; using it")
            return AccountFound(user, meanwhile=True)
        if step.lost:
            # A create with a code that did happen made the link too: the journal owns it.
            made_link = step.code is not None and any(
                u.id == step.student.id for u in guardian.state.observees
            )
            self._action(
                "create_user",
                row,
                "recovered",
                observer=user.id,
                student=step.student.id if made_link else None,
            )
        return AccountFound(user)

    def _made_by_us(self, logins: list[Login] | None, email: str) -> bool:
        """Whether the login with this email is bound as this run binds new logins (to the
        chosen provider, or to any when its id is not known). Without a provider, or
        without the logins, it cannot be told apart and counts as ours, as before."""
        if self.options.login_provider is None or logins is None:
            return True
        key = email.strip().lower()
        for login in logins:
            if login.unique_id.strip().lower() != key:
                continue
            if self.login_provider_id is None:
                return login.authentication_provider_id is not None
            return login.authentication_provider_id == self.login_provider_id
        return False

    async def _logins(self, user: CanvasUser) -> list[Login] | None:
        """The account's live logins; None when the token may not list them (the states stay
        unknown, and Canvas judges the write)."""
        try:
            return await self.client.list_logins(user.id)
        except NotAllowed:
            return None

    async def _sis_id_holder(
        self, rejected: RequestRejected, row: RosterRow, guardian: GuardianAccount
    ) -> Event:
        """The SIS id a new login would get is in use: by a live login made since the look-up
        (that account is the guardian's: use it), or by a deleted one (Canvas keeps deleted
        logins' SIS ids taken): then the row fails, as no account can be made with it."""
        sis_id = guardian.sis_id or ""
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
        logins = await self._logins(user)
        suspended = only_suspended(logins) if logins is not None else None
        observees = await self.client.list_observees(user.id)
        guardian.state = ObserverState(
            Found(user, by_sis_id=True), tuple(observees), logins_known=True, suspended=suspended
        )
        self._remember("observer", guardian.email.lower(), user.id)
        if suspended is not None:
            return Suspended(user, suspended)
        return AccountFound(user)

    async def _send_pairing(
        self, step: SendPairing, row: RosterRow, guardian: GuardianAccount
    ) -> Event:
        """Pair the two (the engine holds the account's lock), unless they are linked already:
        by the account creation itself, found linked after a recovery, or linked meanwhile
        through another roster email of the same account."""
        observer, student, code = step.observer, step.student, step.code
        o, st = observer.id, student.id
        if any(u.id == st for u in guardian.state.observees) or (o, st) in self._links:
            self._links.add((o, st))
            return AlreadyLinked()
        kind = "pair_code" if code is not None else "pair_direct"
        try:
            if code is not None:
                await self.client.add_observee_with_code(o, code.code)
            else:
                await self.client.add_observee(o, st)
        except OutcomeUnknown as lost:
            self._action(kind, row, "unknown", observer=o, student=st, detail=str(lost))
            return Lost()
        except NotFound as missing:
            # Canvas's 404 to a pairing: one of the two is gone or hidden, or they share no
            # root account. About these two users, not the token: this row fails.
            self._action(kind, row, "failed", observer=o, student=st, detail=str(missing))
            return Refused(f"Canvas refused the pairing: {missing}")
        except NotAllowed as refused:
            self._action(kind, row, "failed", observer=o, student=st, detail=str(refused))
            await self._check_pairing_right(row, refused)
            return Refused(
                f"Canvas refused the pairing ({refused}), although the token may still pair; "
                "Canvas gives this answer when the two accounts share no root account"
            )
        except RequestRejected as rejected:
            self._action(kind, row, "failed", observer=o, student=st, detail=str(rejected))
            return Rejected(rejected)
        self._action(kind, row, "ok", observer=o, student=st)
        self._paired(guardian, observer, student)
        return Paired()

    def _paired(self, guardian: GuardianAccount, observer: CanvasUser, student: CanvasUser) -> None:
        self._links.add((observer.id, student.id))
        guardian.state = replace(guardian.state, observees=(*guardian.state.observees, student))

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

    def _known(self, guardian: GuardianAccount, user: CanvasUser) -> CanvasUser:
        guardian.state = replace(guardian.state, resolution=Found(user))
        self._remember("observer", guardian.email.lower(), user.id)
        return user


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
