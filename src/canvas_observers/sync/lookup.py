"""Finding students and guardians in Canvas: exact look-ups first, search only as a fallback.

What is found is judged by the pure matching rules of rules.py; this module only decides which
calls to make, and shares one student look-up between every row and worker that asks.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import NotFound, RequestRejected
from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.recorder import NO_RECORDER, RunRecorder
from canvas_observers.sync.rules import (
    Found,
    Missing,
    ObserverState,
    Resolution,
    resolve_observer,
    resolve_student,
)
from canvas_observers.sync.snapshot import CanvasSnapshot

MIN_SEARCH_LENGTH = 2  # lib/search_term_helper.rb MIN_SEARCH_TERM_LENGTH (3 on older Canvas)


class CanvasView(Protocol):
    """Where the engine learns Canvas: targeted API look-ups, or a whole-account snapshot."""

    async def observer(
        self, email: str, sis_id: str | None = None, *, need_id: bool = False
    ) -> ObserverState: ...
    async def account(self, user_id: int) -> ObserverState | None: ...
    async def login_owner(self, login: str) -> CanvasUser | None: ...
    async def student(self, student_id: str) -> Resolution: ...
    def enrolled(self, user_id: int) -> bool | None: ...
    def known_student(self, student_id: str) -> CanvasUser | None: ...
    def close(self) -> None: ...


class SnapshotView:
    """The engine's look-ups answered from a provisioning report: no API call at all."""

    def __init__(self, snapshot: CanvasSnapshot) -> None:
        self.snapshot = snapshot

    async def observer(
        self, email: str, sis_id: str | None = None, *, need_id: bool = False
    ) -> ObserverState:
        return self.snapshot.observer(email, sis_id)

    async def account(self, user_id: int) -> ObserverState | None:
        return self.snapshot.account(user_id)

    async def login_owner(self, login: str) -> CanvasUser | None:
        return self.snapshot.login_owner(login)

    async def student(self, student_id: str) -> Resolution:
        return self.snapshot.student(student_id)

    def enrolled(self, user_id: int) -> bool | None:
        """Whether the student has a live student enrollment (None: the report had none)."""
        return self.snapshot.has_live_enrollment(user_id)

    def known_student(self, student_id: str) -> CanvasUser | None:
        """The one student the id names in the report, without a call (None if not one)."""
        found = self.snapshot.student(student_id)
        return found.user if isinstance(found, Found) else None

    def close(self) -> None:
        return None


class Lookups:
    """The look-ups of one run, against one Canvas.

    ``confirm_logins``: new logins are bound to an authentication provider, so Canvas's
    "taken" cannot be relied on to reveal a login of another provider (its model checks one
    provider at a time): a guardian the search does not find is confirmed absent with
    ``sis_login_id:``, which matches a live login of any provider, suspended ones too."""

    def __init__(
        self,
        client: CanvasClient,
        *,
        recorder: RunRecorder = NO_RECORDER,
        confirm_logins: bool = False,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.confirm_logins = confirm_logins
        self._students: dict[str, asyncio.Task[Resolution]] = {}

    async def account(self, user_id: int) -> ObserverState | None:
        """A remembered guardian's account (``GET /users/:id``) and whom it observes; None when
        Canvas no longer has it (a deleted user is a 404, docs/canvas-behaviour.md)."""
        try:
            user = await self.client.get_user(user_id)
        except NotFound:
            return None
        observees = await self.client.list_observees(user.id)
        return ObserverState(Found(user, by_sis_id=True), tuple(observees))

    async def observer(
        self, email: str, sis_id: str | None = None, *, need_id: bool = False
    ) -> ObserverState:
        """Find the guardian's account and whom they observe.

        With ``sis_id`` (from the guardian id) ``GET /users/sis_user_id:<id>`` comes first:
        that account is the guardian's whatever its login, so its observees are listed by its
        id. Otherwise (or on a 404) the login and the email, by one of two routes that give
        the same answer; the journal only picks the cheaper one. A guardian
        seen in an earlier run most likely has a login equal to their email, and one call to
        ``/users/sis_login_id:<email>/observees`` proves it and lists their students. A guardian
        never seen is most likely new, and one search shows that no account has that login or
        email (a 404 on the login route alone would not: the email may be on another login).
        ``need_id``: the account's id is wanted (a guardian id to remember), so the login route,
        which does not give it, is skipped. Whichever way the account is found, the states of
        its logins are not known (the ``login_id`` Canvas shows may be a suspended login, and
        the search may have matched the email): they are read before a write to it (steps.py,
        CheckLogins).
        """
        if sis_id is not None:
            try:
                user = await self.client.get_user_by_sis_id(sis_id)
            except NotFound:
                pass
            else:
                observees = await self.client.list_observees(user.id)
                return ObserverState(Found(user, by_sis_id=True), tuple(observees))
        login_absent = False  # sis_login_id: said no live login has the email
        if not need_id and self._seen_before(email):
            try:
                observees = await self.client.list_observees(f"sis_login_id:{email}")
            except NotFound:
                login_absent = True
            else:
                return ObserverState(Missing(), tuple(observees), login_exists=True)
        resolution = resolve_observer(await self.client.search_users(email), email)
        if isinstance(resolution, Found):
            observees = await self.client.list_observees(resolution.user.id)
            return ObserverState(resolution, tuple(observees))
        if isinstance(resolution, Missing) and self.confirm_logins and not login_absent:
            # The search skips suspended logins: the login may still be there.
            owner = await self.login_owner(email)
            if owner is not None:
                observees = await self.client.list_observees(owner.id)
                return ObserverState(Found(owner), tuple(observees))
        return ObserverState(resolution)

    async def login_owner(self, login: str) -> CanvasUser | None:
        """The account whose login this is (``sis_login_id:``), or None."""
        try:
            return await self.client.get_user_by_login(login)
        except NotFound:
            return None

    def _seen_before(self, email: str) -> bool:
        return self.recorder.recall_user(kind="observer", key=email.lower()) is not None

    async def student(self, student_id: str) -> Resolution:
        """Look a student up once per run, however many rows and workers ask."""
        task = self._students.get(student_id)
        if task is None:
            task = asyncio.ensure_future(self._lookup_student(student_id))
            self._students[student_id] = task
        return await asyncio.shield(task)

    async def _lookup_student(self, student_id: str) -> Resolution:
        """``sis_user_id:`` or ``sis_login_id:`` first; a search only where it can add a match.

        For an SIS id it cannot: the search matches the same active logins of the same root
        account, and an exact hit there is exactly what ``sis_user_id:`` finds, while a short
        numeric id would page through thousands of substring hits (docs/canvas-behaviour.md).
        For a login-style id it can: the roster may give the student's email, which is on an
        email channel and not a login, and only the search matches emails.
        """
        try:
            if "@" in student_id:
                user = await self.client.get_user_by_login(student_id)
            else:
                user = await self.client.get_user_by_sis_id(student_id)
        except NotFound:
            pass
        else:
            return Found(user)
        if "@" not in student_id or len(student_id.strip()) < MIN_SEARCH_LENGTH:
            return Missing()
        try:
            candidates = await self.client.search_users(student_id)
        except RequestRejected:
            return Missing()  # shorter than this Canvas's minimum search length
        return resolve_student(candidates, student_id)

    def enrolled(self, user_id: int) -> bool | None:
        """Not known without a call: the engine asks Canvas when it needs to."""
        return None

    def known_student(self, student_id: str) -> CanvasUser | None:
        """The student this run's look-ups already found for the id, without a call (None
        when no row looked them up, or they were not found as one student)."""
        task = self._students.get(student_id)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        found = task.result()
        return found.user if isinstance(found, Found) else None

    def close(self) -> None:
        """Cancel look-ups still running (the run is over or stopping)."""
        for task in self._students.values():
            task.cancel()
