"""``--update-guardians``: an account found by the guardian id takes the roster's email as its
login and as an email channel, and the roster's names.

Only accounts found by the guardian id's SIS id are changed (identity.py decides what they
lack). The new email being another account's login is a ``conflict`` and nothing is written.
Each write is journaled like the pairing writes (writes.py ``_action``), and a write that loses
its answer is looked up, never sent blindly again: the login in the account's logins, the
address in its channels, the names on the account. A write the look-up proves not done is sent
again, up to ``WRITE_ATTEMPTS`` times (docs/canvas-behaviour.md, "Changing a guardian's login,
email and name"). A login whose SIS id the template made from the old email takes the new
email's in the same PUT (identity.py ``sis_id_change``); when Canvas refuses only that, the
login is changed alone and the note says the SIS id was kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from canvas_observers.canvas.errors import (
    CanvasError,
    NotAllowed,
    OutcomeUnknown,
    RequestRejected,
)
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.identity import (
    IdentityChange,
    identity_change,
    login_taken,
    predict,
    sis_id_change,
    sis_id_changed,
    sis_id_kept,
    updated,
)
from canvas_observers.sync.rules import Found
from canvas_observers.sync.steps import WRITE_ATTEMPTS
from canvas_observers.sync.writes import GuardianAccount, StepExecutor


class GuardianSteps(StepExecutor):
    """The engine's guardian-identity steps (the engine supplies the fields)."""

    async def _settle_identity(self, row: RosterRow, guardian: GuardianAccount) -> None:
        """Decide, and with ``--update-guardians`` make, the guardian's identity changes; the
        outcome their rows report is left in ``guardian.note``."""
        change = identity_change(guardian.state, row)
        if change is None:
            return
        update = self.options.update_guardians
        owner = None
        if update and change.old_login is not None:
            owner = await self.lookups.login_owner(change.new_email)
        if not update or self.options.dry_run:
            guardian.note = predict(change, row, update=update, owner=owner)
            return
        if owner is not None and owner.id != change.user.id:
            guardian.note = login_taken(change, owner)
            return
        done: list[str] = []
        uid = change.user.id
        if change.old_login is not None and owner is None:
            try:
                done += await self._change_login(row, change)
            except RequestRejected as rejected:
                self._action("update_login", row, "failed", observer=uid, detail=str(rejected))
                if "taken" not in rejected.error_types():
                    raise
                # Someone gave the email to another account since we looked.
                taken = await self.lookups.login_owner(change.new_email)
                guardian.note = login_taken(change, taken or change.user)
                return
        if change.old_login is not None and await self._add_email(row, change):
            done.append(f"email {change.new_email} added")
        if change.rename and await self._rename(row, change):
            done.append(f"name {change.user.name!r} -> {row.observer_name!r}")
        user = replace(change.user, login_id=change.new_email)
        if change.rename:
            user = replace(user, name=row.observer_name, sortable_name=row.observer_sortable_name)
        guardian.state = replace(guardian.state, resolution=Found(user, by_sis_id=True))
        guardian.note = updated(done)

    async def _change_login(self, row: RosterRow, change: IdentityChange) -> list[str]:
        """Edit the login that has the old email to the new one (RequestRejected "taken"),
        and its SIS id with it when the template made that from the old email; what was done,
        in words for the guardian's note.

        The SIS id goes in the same PUT, so the login and its SIS id change together or not
        at all. Canvas refuses an SIS id another login holds (a deleted one too) or one sent
        without manage_sis, and then saves nothing: the login is sent again alone, because
        the guardian needs the new email as their login whatever becomes of the SIS id, and
        the note says the old SIS id was kept and why."""
        uid = change.user.id
        old = (change.old_login or "").lower()
        logins = await self.client.list_logins(uid)
        target = next((p for p in logins if p.unique_id.lower() == old), None)
        if target is None:
            raise CanvasError(
                f"Canvas user {uid} has no login {change.old_login} to change any more"
            )
        moved = f"login {change.old_login} -> {change.new_email}"
        sis = sis_id_change(
            self.options.observer_id_template,
            guardian_id=change.guardian_id,
            login=target.unique_id,
            login_sis_id=target.sis_user_id,
            new_email=change.new_email,
        )
        if sis is None:
            await self._put_login(row, uid, target.id, change.new_email)
            return [moved]
        try:
            await self._put_login(row, uid, target.id, change.new_email, sis_user_id=sis.new)
            return [moved, sis_id_changed(sis)]
        except (NotAllowed, RequestRejected) as refused:
            why = _sis_id_refusal(refused)
            if why is None:
                raise  # the login itself was refused: the caller's to judge
            self._action("update_login", row, "failed", observer=uid, detail=str(refused))
        await self._put_login(row, uid, target.id, change.new_email)
        return [moved, sis_id_kept(sis, why)]

    async def _put_login(
        self,
        row: RosterRow,
        uid: int,
        login_id: int,
        unique_id: str,
        *,
        sis_user_id: str | None = None,
    ) -> None:
        """One login edit, judged: done when the account has a login with the new unique id
        (and the new SIS id, when one was sent, since both are saved at once or neither)."""

        async def send() -> None:
            await self.client.update_login(login_id, unique_id, sis_user_id=sis_user_id)

        async def done() -> bool:
            return any(
                p.unique_id.lower() == unique_id.lower()
                and (sis_user_id is None or p.sis_user_id == sis_user_id)
                for p in await self.client.list_logins(uid)
            )

        await self._judged("update_login", row, uid, send, done)

    async def _add_email(self, row: RosterRow, change: IdentityChange) -> bool:
        """Add the new email as a confirmed channel; False when it is one already."""
        uid = change.user.id
        address = change.new_email.lower()

        async def send() -> None:
            await self.client.add_email_channel(uid, change.new_email)

        async def done() -> bool:
            return any(c.address.lower() == address for c in await self.client.list_channels(uid))

        try:
            return await self._judged("add_email", row, uid, send, done)
        except RequestRejected as rejected:
            self._action("add_email", row, "failed", observer=uid, detail=str(rejected))
            if "unique!" not in rejected.error_types():
                raise
            return False  # the account has this email already

    async def _rename(self, row: RosterRow, change: IdentityChange) -> bool:
        """Set the account's name and sortable name to the roster's."""
        uid = change.user.id

        async def send() -> None:
            await self.client.rename_user(
                uid, name=row.observer_name, sortable_name=row.observer_sortable_name
            )

        async def done() -> bool:
            return (await self.client.get_user(uid)).name == row.observer_name

        return await self._judged("rename_user", row, uid, send, done)

    async def _judged(
        self,
        kind: str,
        row: RosterRow,
        observer: int,
        send: Callable[[], Awaitable[None]],
        done: Callable[[], Awaitable[bool]],
    ) -> bool:
        """Send one write; a lost answer is looked up, and sent again only when the look-up
        proves it was not done. RequestRejected goes to the caller, which journals it."""
        for _ in range(WRITE_ATTEMPTS):
            try:
                await send()
            except OutcomeUnknown as lost:
                self._action(kind, row, "unknown", observer=observer, detail=str(lost))
                if await done():
                    self._action(kind, row, "recovered", observer=observer)
                    return True
                self._action(kind, row, "failed", observer=observer, detail="confirmed not done")
                continue
            self._action(kind, row, "ok", observer=observer)
            return True
        raise CanvasError(
            f"{kind.replace('_', ' ')} for Canvas user {observer} could not be confirmed in "
            f"{WRITE_ATTEMPTS} tries; the next run tries again"
        )


def _sis_id_refusal(error: CanvasError) -> str | None:
    """Why Canvas refused the SIS id of a login edit, or None when it refused the login id
    (``taken`` on ``unique_id``, which Canvas checks first) or something else. A 401/403 is
    taken for the SIS id's right (manage_sis): if the token may not edit the login either,
    sending the login alone is refused the same way and stops the run, as it did before."""
    if isinstance(error, NotAllowed):
        return "changing a login's SIS id needs the 'SIS Data - manage' right (manage_sis)"
    if not isinstance(error, RequestRejected) or error.error_types("unique_id"):
        return None
    refused = error.error_types("sis_user_id")
    if "taken" in refused:
        return "another login has that SIS id, perhaps a deleted one"
    if refused:
        return "; ".join(error.messages) or str(error)
    return None
