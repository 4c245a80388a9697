"""A guardian followed by their SIS guardian id: what their account lacks, and how the rows
say so. Pure: no I/O.

A guardian whose roster row has a guardian id is looked up first by the SIS id their login gets
from it (``--observer-id-template``). That account is theirs whatever its login, so a login that
is not the roster's email means the SIS changed the email: the rows are still paired with that
account (never a second one) and end ``guardian_email_changed``, unless ``--update-guardians``
changes the login, adds the email and sets the names (``guardian_updated``), or finds the new
email already another account's login (``conflict``, the login left alone). A login whose SIS
id the template made from the old email gets the new email's with it (``sis_id_change``).
Writes are in guardians.py; this module decides and words the outcomes, for the engine and for
the plan of a whole run (whole.py) alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sis_export import observer_sis_id
from canvas_observers.sync.rules import Found, ObserverState, names_match

REPLACED = {
    Outcome.CREATED: "paired",
    Outcome.PAIRED: "paired",
    Outcome.ALREADY_PAIRED: "already paired",
    Outcome.WOULD_CREATE: "would pair",
    Outcome.WOULD_PAIR: "would pair",
}
"""The row outcomes a guardian's note replaces (kept in words in the detail)."""


@dataclass(frozen=True, slots=True)
class IdentityChange:
    """What an account found by the guardian id lacks: the roster's email as its login
    (``old_login`` is its login now; None when it is the email already) or its names."""

    user: CanvasUser
    guardian_id: str
    new_email: str
    old_login: str | None
    rename: bool


@dataclass(frozen=True, slots=True)
class IdentityNote:
    """How a guardian's rows report their identity: ``outcome`` replaces a paired or already
    paired outcome (None: only ``detail`` is added); ``once`` for the first row only."""

    outcome: Outcome | None
    detail: str
    once: bool = False


def identity_change(state: ObserverState, row: RosterRow) -> IdentityChange | None:
    """The change an account found by the guardian id needs, or None (not found that way, or
    nothing to change). A login Canvas does not show is taken as unchanged."""
    found = state.resolution
    if not (isinstance(found, Found) and found.by_sis_id) or row.guardian_id is None:
        return None
    login = found.user.login_id
    old = login if login is not None and login.strip().lower() != row.email_key else None
    rename = not names_match(found.user, row)
    if old is None and not rename:
        return None
    return IdentityChange(found.user, row.guardian_id, row.observer_email, old, rename)


@dataclass(frozen=True, slots=True)
class SisIdChange:
    """A login's SIS id as the template made it from the old email, and as it makes it from the
    new one."""

    old: str
    new: str


def sis_id_change(
    template: str, *, guardian_id: str, login: str, login_sis_id: str | None, new_email: str
) -> SisIdChange | None:
    """The SIS id a login moving from ``login`` to ``new_email`` takes with it, or None (kept).

    With ``{email}`` in the template every email makes another SIS id. A login whose SIS id is
    the template's for its old email would keep, once it is the new email, an SIS id naming the
    old one, and guardians are looked up by that SIS id first (``sis_user_id:``): with the
    default ``{email}`` the next guardian given the old email would be matched to this account,
    and a new account for them could not get the SIS id. So it is rewritten with the login. An
    SIS id the template did not make from this email (another template's, an SIS import's, one
    the token cannot see) is not the tool's to change, nor is one that does not depend on the
    email."""
    if "{email}" not in template or login_sis_id is None:
        return None
    old = observer_sis_id(template, email=login, guardian_id=guardian_id)
    if old != login_sis_id:
        return None
    new = observer_sis_id(template, email=new_email, guardian_id=guardian_id)
    if new is None or new == old:
        return None
    return SisIdChange(old, new)


def sis_id_changed(change: SisIdChange) -> str:
    """For the guardian's note: the login's SIS id was rewritten with it."""
    return f"SIS id {change.old} -> {change.new}"


def sis_id_kept(change: SisIdChange, why: str) -> str:
    """For the guardian's note: the login changed without its SIS id, which Canvas refused."""
    return (
        f"SIS id {change.old} kept: Canvas refused {change.new} ({why}); a look-up by "
        f"{change.old} still finds this account, so change the login's SIS id in Canvas if the "
        "old email may be given to someone else"
    )


def _changed(change: IdentityChange) -> str:
    return (
        f"the SIS's guardian {change.guardian_id} has the Canvas account {change.user.id}, whose "
        f"login is {change.old_login}, not {change.new_email}; that account is used (no second "
        "account is made)"
    )


def email_changed(change: IdentityChange) -> IdentityNote | None:
    """Without ``--update-guardians``: the email change is reported on every row."""
    if change.old_login is None:
        return None
    return IdentityNote(
        Outcome.GUARDIAN_EMAIL_CHANGED,
        f"{_changed(change)}; sync --update-guardians changes its login to {change.new_email}",
    )


def login_taken(change: IdentityChange, owner: CanvasUser) -> IdentityNote:
    """``--update-guardians`` refused: the new email is another account's login."""
    return IdentityNote(
        Outcome.CONFLICT,
        f"{_changed(change)}; its login was not changed: {change.new_email} is already the login "
        f"of Canvas user {owner.id} {owner.name!r}. Nothing about the guardian was changed; "
        "merge or fix the two accounts in Canvas",
    )


def would_update(change: IdentityChange, row: RosterRow) -> IdentityNote:
    """A dry run with ``--update-guardians``: what the real run would change."""
    steps = []
    if change.old_login is not None:
        steps.append(f"change the login to {change.new_email} and add it as an email")
    if change.rename:
        steps.append(f"set the name to {row.observer_name!r}")
    plan = f"--update-guardians would {' and '.join(steps)}"
    if change.old_login is None:
        return IdentityNote(None, plan)
    return IdentityNote(Outcome.GUARDIAN_EMAIL_CHANGED, f"{_changed(change)}; {plan}")


def predict(
    change: IdentityChange | None, row: RosterRow, *, update: bool, owner: CanvasUser | None
) -> IdentityNote | None:
    """The note of a guardian when nothing is written (a dry run, or no ``--update-guardians``);
    ``owner`` is the account whose login the new email is, if any."""
    if change is None:
        return None
    if not update:
        return email_changed(change)
    if change.old_login is not None and owner is not None and owner.id != change.user.id:
        return login_taken(change, owner)
    return would_update(change, row)


def updated(done: list[str]) -> IdentityNote | None:
    """After ``--update-guardians`` wrote: ``guardian_updated`` on the guardian's first row."""
    if not done:
        return None
    return IdentityNote(Outcome.GUARDIAN_UPDATED, "guardian updated: " + "; ".join(done), once=True)


def account_deleted(row: RosterRow, user_id: int) -> tuple[Outcome, str]:
    """The rows of a guardian whose remembered account is gone from Canvas: nothing is created,
    since a second account for a known guardian is never made; a person decides."""
    gid = row.guardian_id
    return (
        Outcome.GUARDIAN_ACCOUNT_DELETED,
        f"the SIS's guardian {gid} had the Canvas account {user_id}, which Canvas no longer has "
        "(deleted or merged away); no new account was made. Restore the account in Canvas, or "
        "give the guardian the account they should have (a merge, or one made by hand), then "
        f"run `canvas-observers forget-guardian {gid}`: the next sync finds the guardian again "
        "by SIS id, login and email, and makes an account only when it finds none",
    )


def with_note(outcome: Outcome, detail: str, note: IdentityNote | None) -> tuple[Outcome, str]:
    """A row's outcome and detail once the guardian's note is applied: a paired or already
    paired row takes the note's outcome (its own said in words); any other keeps its own."""
    if note is None:
        return outcome, detail
    if note.outcome is not None and outcome in REPLACED:
        return note.outcome, "; ".join(p for p in (note.detail, REPLACED[outcome], detail) if p)
    return outcome, "; ".join(p for p in (detail, note.detail) if p)
