"""The matching rules and the row decisions: what Canvas said + one roster row -> what to do.

Pure: no HTTP, no SQLite, no clock. The row's steps (steps.py) hand what was read to these
functions, and the writes (writes.py) perform whatever they decide; the plan of a whole run
(whole.py) asks the same functions.

Matching rules (the only way a row ever reaches a pairing):

* a student id without ``@`` is an SIS id and matches ``sis_user_id`` exactly, case-sensitively
  (Canvas's ``sis_user_id:`` lookup is case-sensitive, docs/canvas-behaviour.md);
* a student id with ``@`` is a login and matches ``login_id`` case-insensitively (Canvas's
  ``sis_login_id:`` lookup lowers both sides), or, when no login matches, the email;
* a guardian with an SIS guardian id is first looked up by the SIS id their login gets
  (``sis_user_id:``, exact): that account is identity, like a login, whatever its login is;
* a guardian email matches ``login_id``, or else the ``email``, case-insensitively; but a
  login is identity and a contact email alone is not: an account found only through its email
  is used when its name is the roster's guardian name (``names_match``), else the row is
  ``observer_mismatch`` (unless the district trusts contact emails);
* an observer is never the student (Canvas would refuse it anyway, with a 404 or a 401/403
  that looks like a permission problem);
* search results (a case-insensitive *substring* search, so ``100`` also finds ``1001``) are
  only ever candidates: they count when they match exactly by the rules above, and two
  different users that both match make the row ambiguous, never paired.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from canvas_observers.canvas.models import CanvasUser, Login
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow

PairingMethod = Literal["code", "direct"]


# --- what a look-up found -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """Exactly one account matches; ``by_contact_email`` when only its email did, not a login;
    ``by_sis_id`` when a guardian was found by the SIS id of their guardian id."""

    user: CanvasUser
    by_contact_email: bool = False
    by_sis_id: bool = False


@dataclass(frozen=True, slots=True)
class Missing:
    """No account matches."""


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """Several different accounts match exactly: never guess."""

    users: tuple[CanvasUser, ...]


Resolution = Found | Missing | Ambiguous


@dataclass(frozen=True, slots=True)
class ObserverState:
    """What the engine knows about one guardian's account.

    ``login_exists`` is true when Canvas resolved ``sis_login_id:<email>`` (the account exists,
    its id may not be fetched yet); ``user`` is set once the account itself is known.
    ``observees`` are the students currently linked (complete list). ``logins_known``: the
    states of the account's logins are known (a search matched an active login, a report
    listed them, or they were read); ``suspended`` is then the login id of an account whose
    every live login is suspended (it cannot sign in, but its login id stays taken).
    """

    resolution: Resolution
    observees: tuple[CanvasUser, ...] = ()
    login_exists: bool = False
    logins_known: bool = False
    suspended: str | None = None

    @property
    def exists(self) -> bool:
        return self.login_exists or isinstance(self.resolution, Found)

    @property
    def user(self) -> CanvasUser | None:
        return self.resolution.user if isinstance(self.resolution, Found) else None


# --- what to do with a row ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Skip:
    """The row ends here with this outcome (nothing to write)."""

    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AlreadyPaired:
    """The guardian already observes this student."""

    student: CanvasUser


@dataclass(frozen=True, slots=True)
class Pair:
    """Pair the guardian with the student, creating the guardian's account first if needed."""

    student: CanvasUser
    create_observer: bool
    method: PairingMethod


RowAction = Skip | AlreadyPaired | Pair


# --- exact matching -------------------------------------------------------------------------


def _fold(value: str | None) -> str | None:
    # LOWER(), as Canvas compares logins; casefold() would equate distinct logins (ß / ss).
    return None if value is None else value.strip().lower()


def matches_student_id(user: CanvasUser, student_id: str) -> bool:
    """True when ``user`` is exactly the student the roster names."""
    if "@" in student_id:
        key = student_id.strip().lower()
        return _fold(user.login_id) == key or _fold(user.email) == key
    return user.sis_user_id is not None and user.sis_user_id == student_id


def _distinct(users: Iterable[CanvasUser]) -> tuple[CanvasUser, ...]:
    seen: dict[int, CanvasUser] = {}
    for user in users:
        seen.setdefault(user.id, user)
    return tuple(seen.values())


def resolve_student(candidates: Sequence[CanvasUser], student_id: str) -> Resolution:
    """Pick the student among search results: exact matches only; two = ambiguous.

    For a login-style id, a login match wins over an email match (logins are unique in a root
    account, emails are not).
    """
    if "@" in student_id:
        key = student_id.strip().lower()
        by_login = _distinct(u for u in candidates if _fold(u.login_id) == key)
        if by_login:
            return _one(by_login)
        return _one(_distinct(u for u in candidates if _fold(u.email) == key))
    return _one(_distinct(u for u in candidates if matches_student_id(u, student_id)))


def resolve_observer(candidates: Sequence[CanvasUser], email: str) -> Resolution:
    """Pick the guardian among search results: login match first, then email; exact only.

    An account found through its email alone comes back ``Found(..., by_contact_email=True)``:
    ``plan_row`` then checks the name before using it.
    """
    key = email.strip().lower()
    by_login = _distinct(u for u in candidates if _fold(u.login_id) == key)
    if by_login:
        return _one(by_login)
    found = _one(_distinct(u for u in candidates if _fold(u.email) == key))
    return Found(found.user, by_contact_email=True) if isinstance(found, Found) else found


def _name_tokens(*parts: str | None) -> frozenset[str]:
    """Words of a name, compared without case, accents or order ("Pérez, Ana" = "ana perez")."""
    text = unicodedata.normalize("NFKD", " ".join(p for p in parts if p))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return frozenset(word for word in re.split(r"[\s,.\-'’]+", text) if word)


def names_match(user: CanvasUser, row: RosterRow) -> bool:
    """Whether the account's name is the roster's guardian: the same words as first + last
    name, in any order, case and accents aside (its display or its sortable name)."""
    wanted = _name_tokens(row.observer_first_name, row.observer_last_name)
    if not wanted:
        return False
    return wanted in {_name_tokens(user.name), _name_tokens(user.sortable_name)}


def same_name(one: CanvasUser, other: CanvasUser) -> bool:
    """Whether two accounts carry one person's name, by the words ``names_match`` compares
    (case, accents and order aside; the display or the sortable name of either). Two empty
    names are not the same name."""
    words = {_name_tokens(one.name), _name_tokens(one.sortable_name)} - {frozenset()}
    return bool(words & {_name_tokens(other.name), _name_tokens(other.sortable_name)})


def contact_email_mismatch(user: CanvasUser, row: RosterRow) -> str:
    """The detail of an ``observer_mismatch`` row: whose contact email it is, and why not used."""
    login = f", login {user.login_id}" if user.login_id else ""
    return (
        f"{row.observer_email} is the contact email of Canvas user {user.id} {user.name!r}"
        f"{login}; the roster names {row.observer_name}. Nothing was written: fix the email in "
        "the SIS, or the name in Canvas if it is the same person (--trust-contact-email pairs "
        "by contact email whatever the name)"
    )


def only_suspended(logins: Iterable[Login]) -> str | None:
    """The login id of an account whose every live login is suspended (the logins list
    leaves deleted ones out); None when one is active, or there is none."""
    live = list(logins)
    if not live or any(p.workflow_state != "suspended" for p in live):
        return None
    return live[0].unique_id


def suspended_account(user: CanvasUser, login: str) -> Skip:
    """The ``conflict`` of a row whose guardian account has only a suspended login."""
    return Skip(
        Outcome.CONFLICT,
        f"the guardian's Canvas account {user.id} {user.name!r} has only a suspended login "
        f"({login}): it cannot sign in, and Canvas keeps its login id taken, so no second "
        "account is made; reactivate the login in Canvas (or give the guardian another email "
        "in the SIS) and the next run pairs them",
    )


def self_pairing(student: CanvasUser, row: RosterRow) -> Skip:
    """The ``conflict`` of a row whose guardian account is the student's own account."""
    return Skip(
        Outcome.CONFLICT,
        f"the guardian email {row.observer_email!r} leads to the student's own Canvas account "
        f"({student.id}); a student cannot observe themself",
    )


def _one(users: tuple[CanvasUser, ...]) -> Resolution:
    if not users:
        return Missing()
    if len(users) == 1:
        return Found(users[0])
    return Ambiguous(users)


def linked_student(observees: Sequence[CanvasUser], row: RosterRow) -> CanvasUser | None:
    """The already-linked student this row names, judged from the observee list alone.

    Only an unambiguous identifier counts here: the SIS id (exact) or, for a login-style id,
    the login (case-insensitive). Anything less certain goes through the full student look-up.
    """
    if row.student_is_login:
        key = row.student_id.lower()
        hits = _distinct(u for u in observees if _fold(u.login_id) == key)
    else:
        hits = _distinct(u for u in observees if u.sis_user_id == row.student_id)
    return hits[0] if len(hits) == 1 else None


# --- the decision ---------------------------------------------------------------------------


def plan_row(
    row: RosterRow,
    student: Resolution,
    observer: ObserverState,
    *,
    method: PairingMethod,
    trust_contact_email: bool = False,
) -> RowAction:
    """Decide what to do with one row from the student and guardian look-ups."""
    match student:
        case Missing():
            kind = "login or email" if row.student_is_login else "SIS id"
            return Skip(
                Outcome.STUDENT_NOT_FOUND, f"no Canvas user has the {kind} {row.student_id!r}"
            )
        case Ambiguous(users):
            ids = ", ".join(str(u.id) for u in users)
            return Skip(
                Outcome.STUDENT_AMBIGUOUS,
                f"{len(users)} Canvas users match {row.student_id!r} exactly (ids {ids})",
            )
        case Found(student_user):
            pass
    if isinstance(observer.resolution, Ambiguous):
        users = observer.resolution.users
        ids = ", ".join(str(u.id) for u in users)
        return Skip(
            Outcome.OBSERVER_AMBIGUOUS,
            f"{len(users)} Canvas users match {row.observer_email!r} (ids {ids})",
        )
    key = row.email_key
    if observer.user is not None and observer.user.id == student_user.id:
        return self_pairing(student_user, row)
    if key in {_fold(student_user.login_id), _fold(student_user.email)}:
        return Skip(
            Outcome.CONFLICT,
            f"the guardian email {row.observer_email!r} is the student's own login or email",
        )
    resolution = observer.resolution
    if (
        isinstance(resolution, Found)
        and resolution.by_contact_email
        and not trust_contact_email
        and not names_match(resolution.user, row)
    ):
        return Skip(Outcome.OBSERVER_MISMATCH, contact_email_mismatch(resolution.user, row))
    if any(u.id == student_user.id for u in observer.observees):
        return AlreadyPaired(student_user)
    if observer.user is not None and observer.suspended is not None:
        return suspended_account(observer.user, observer.suspended)
    return Pair(student_user, create_observer=not observer.exists, method=method)


def roster_conflicts(rows: Iterable[RosterRow]) -> dict[int, str]:
    """Rows whose guardian email the roster also uses as a student's login (line -> detail),
    and rows of a guardian id the roster gives with two emails.

    Such an email names a student *and* a guardian: whichever account it ends up on, one of the
    two rows would pair the wrong person, so neither is paired. A guardian id with two emails
    leads both to one account, whose login each would claim.
    """
    rows = list(rows)
    students = {r.student_id.lower() for r in rows if r.student_is_login}
    guardians = {r.email_key for r in rows}
    both = students & guardians
    conflicts = {
        r.line: f"{r.observer_email if r.email_key in both else r.student_id!r} is used in the "
        "roster both as a student's login and as a guardian's email"
        for r in rows
        if r.email_key in both or (r.student_is_login and r.student_id.lower() in both)
    }
    emails: dict[str, set[str]] = {}
    for r in rows:
        if r.guardian_id is not None:
            emails.setdefault(r.guardian_id, set()).add(r.email_key)
    for r in rows:
        given = emails.get(r.guardian_id or "", set())
        if len(given) > 1 and r.line not in conflicts:
            conflicts[r.line] = (
                f"the guardian id {r.guardian_id!r} is given with several emails "
                f"({', '.join(sorted(given))}); fix it in the SIS"
            )
    return conflicts


def excluded_detail(reason: str) -> str:
    """The detail of a row the do-not-pair list names."""
    said = f": {reason}" if reason else ""
    return f"on the do-not-pair list{said}; never linked"


def not_enrolled() -> Skip:
    """A row whose student Canvas would give no pairing code (no live student enrollment)."""
    return Skip(
        Outcome.NOT_ENROLLED,
        "no live student enrollment, so Canvas gives no pairing code; the next run tries "
        "again (--pairing direct needs no enrollment)",
    )


def dry_run_outcome(action: Pair) -> Outcome:
    """What a dry run reports for a pairing it would make."""
    return Outcome.WOULD_CREATE if action.create_observer else Outcome.WOULD_PAIR


LIVE_STUDENT_ENROLLMENT_STATES = frozenset({"active", "invited", "completed", "creation_pending"})
"""Enrollment states that let Canvas make a pairing code (``User#has_student_enrollment?``:
any StudentEnrollment/StudentViewEnrollment not rejected, inactive or deleted)."""


SHOWN_DELETED = "deleted"
"""What Canvas shows as ``enrollment_state`` for an enrollment whose course or section is
deleted, whatever the enrollment's own state; ``has_student_enrollment?`` looks at the
enrollment's own state only (docs/canvas-behaviour.md)."""


def can_get_pairing_code(enrollments: Iterable[tuple[str, str]]) -> bool:
    """Whether Canvas would give a pairing code, from (type, shown state) pairs of the student
    enrollments listed with ``state[]`` of the live states (protocol.list_enrollments).

    That filter is on the enrollment's own state, so a listed enrollment shown as ``deleted``
    is one in a deleted course or section: still live for Canvas's pairing-code check.
    """
    return any(
        kind in {"StudentEnrollment", "StudentViewEnrollment"}
        and (state in LIVE_STUDENT_ENROLLMENT_STATES or state == SHOWN_DELETED)
        for kind, state in enrollments
    )
