"""Canvas seen whole: its users, observer links and student enrollments from one provisioning
report, and the same look-ups the engine makes of the API, answered from memory.

Parsing is pure (bytes in, a ``CanvasSnapshot`` out); the report's shape is written down in
docs/canvas-behaviour.md, "Account reports". The look-ups follow Canvas's own rules, so that a
snapshot and the API give the same answers:

* ``sis_user_id:`` matches a live login's SIS id exactly (deleted logins never match);
* ``sis_login_id:`` matches a live login case-insensitively (``LOWER()``);
* a guardian is found by the SIS id of their guardian id first, then by login, then by the
  account's email (a contact address, which the matching rules treat as weaker than a login);
* a student id with ``@`` is matched by login, then by email, as the search fallback does;
* a suspended login is a live one (it still finds its user, by SIS id and by login), and an
  account whose every live login is suspended is named in ``suspended`` (it cannot sign in).

The report lists a user once per login, so a user with two logins is one account with both.
Its users and user_observers rows come in no set order (Canvas writes them without ORDER BY),
so nothing here depends on the order: the account's shown SIS id and login are those of its
login with an SIS id (Canvas's choice, ``SisPseudonym.for``), and among several such logins
the one whose SIS id sorts first (the report does not say which Canvas would pick).
It gives the primary email only, where the API's search also matches other email channels:
an account found only by a secondary address is found by the look-ups and not here.
The enrollments also say who is staff (``staff``: a teacher, TA or designer enrollment in any
state but rejected or deleted), for the audit. A link's ``created_by_sis`` (true when an SIS
import made it) is kept in ``sis_links``; a report without that column simply has none.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Collection, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.sync.rules import (
    Ambiguous,
    Found,
    Missing,
    ObserverState,
    Resolution,
    resolve_observer,
    resolve_student,
)

# Enrollment states that let Canvas make a pairing code (User#has_student_enrollment?); the
# report says "concluded" for a completed enrollment and "invited" for creation_pending.
LIVE_ENROLLMENT = frozenset({"active", "invited", "creation_pending", "completed", "concluded"})
# "deleted" in the report is either an enrollment whose course or section is deleted (its own
# state may still be live, and Canvas then gives a code) or an SIS-made enrollment that is
# itself deleted: the report cannot tell which, so such a student is "not known".
SHOWN_DELETED = "deleted"
# The report's statuses of an enrollment Canvas's linked enrollments follow
# (Enrollment.all_active_or_pending): "invited" is also how it shows creation_pending.
FOLLOWED = frozenset({"active", "invited"})
STUDENT_ROLES = frozenset({"student", "StudentEnrollment", "StudentViewEnrollment"})
# Staff enrollments, by base role type (a custom role keeps its base type there) or, in a
# report without that column, by the built-in role's SIS name, as the audit words them.
STAFF_ROLES = {
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "TA",
    "DesignerEnrollment": "designer",
    "teacher": "teacher",
    "ta": "TA",
    "designer": "designer",
}
# A staff enrollment counts in any state but these: a rejected invitation is no one's job.
NOT_STAFF_STATUS = frozenset({"rejected", SHOWN_DELETED})
# The columns each table must have for its look-ups to mean what they say: a users table
# without `email` would find no guardian by their email, and say nothing of it.
REQUIRED_COLUMNS = {
    "users": ("canvas_user_id", "user_id", "login_id", "email", "status"),
    "user_observers": ("canvas_observer_id", "canvas_student_id", "status"),
    "enrollments": ("canvas_user_id", "role", "status"),
}
# What zipfile can inflate; Canvas's zips use deflate. Another method (or an encrypted
# member) is a file this tool cannot read, and is said so rather than raised from zipfile.
READABLE_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ENCRYPTED = 0x1  # general purpose flag bit 0


class IdIndex:
    """Key -> the user ids that have it, compact: most keys belong to one user, so a key maps
    to an int, and to a set only when several users share it (a set per key would cost some
    60 MB more on a 100,000-user account)."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: dict[str, int | set[int]] = {}

    def add(self, key: str, user_id: int) -> None:
        held = self._ids.get(key)
        if held is None:
            self._ids[key] = user_id
        elif isinstance(held, int):
            if held != user_id:
                self._ids[key] = {held, user_id}
        else:
            held.add(user_id)

    def get(self, key: str, default: AbstractSet[int] = frozenset()) -> AbstractSet[int]:
        held = self._ids.get(key)
        if held is None:
            return default
        return {held} if isinstance(held, int) else held

    def __setitem__(self, key: str, user_ids: AbstractSet[int]) -> None:
        for user_id in user_ids:
            self.add(key, user_id)

    def keys(self) -> Iterable[str]:
        return self._ids.keys()

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class SnapshotError(CanvasObserversError, ValueError):
    """The report's file is not what a provisioning report looks like."""


@dataclass
class CanvasSnapshot:
    """What one provisioning report said about the account (mutable only while it is built)."""

    users: dict[int, CanvasUser] = field(default_factory=dict)
    by_sis: IdIndex = field(default_factory=IdIndex)
    by_login: IdIndex = field(default_factory=IdIndex)  # lower-cased
    by_email: IdIndex = field(default_factory=IdIndex)  # lower-cased
    observees: dict[int, set[int]] = field(default_factory=dict)
    sis_links: set[tuple[int, int]] = field(default_factory=set)  # (observer, student) by SIS
    enrolled: set[int] | None = None  # users with a live student enrollment; None: not read
    maybe_enrolled: set[int] = field(default_factory=set)  # only enrollments shown "deleted"
    rows_read: int = 0
    # user -> a login of an account whose every live login is suspended (rare, so a dict)
    suspended: dict[int, str] = field(default_factory=dict)
    # user -> the authentication provider of the login shown for them, when it has one
    login_providers: dict[int, int] = field(default_factory=dict)
    # user -> their staff roles ("teacher", "TA", "designer") from the enrollments read
    staff: dict[int, set[str]] = field(default_factory=dict)
    # provider id -> type, when the caller could read them (the report does not say)
    providers: dict[int, str] | None = None
    # Observer enrollments, for the audit: student -> the courses they are enrolled in as
    # active or pending (the ones Canvas enrolls a linked observer in); the (observer,
    # student, course) of every observer enrollment that is active or pending; and each
    # course's SIS id ('' without one).
    student_courses: dict[int, set[int]] = field(default_factory=dict)
    observing_in: set[tuple[int, int, int]] = field(default_factory=set)
    course_sis_ids: dict[int, str] = field(default_factory=dict)

    # -- look-ups, with Canvas's rules ------------------------------------------------------
    def _users(self, ids: Iterable[int]) -> list[CanvasUser]:
        return [self.users[i] for i in sorted(ids) if i in self.users]

    def student(self, student_id: str) -> Resolution:
        """The student a roster id names, exactly (see the module docstring)."""
        key = student_id.strip()
        if "@" not in key:
            return _one(self._users(self.by_sis.get(key)))
        by_login = self._users(self.by_login.get(key.lower()))
        if by_login:
            return _one(by_login)
        return resolve_student(self._users(self.by_email.get(key.lower())), key)

    def observer(self, email: str, sis_id: str | None = None) -> ObserverState:
        """The guardian's account and the students it observes: by the SIS id of their
        guardian id first (an account found so is theirs whatever its login), then by login,
        then by email."""
        key = email.strip().lower()
        by_sis = self._users(self.by_sis.get(sis_id)) if sis_id is not None else []
        by_login = self._users(self.by_login.get(key))
        if len(by_sis) == 1:
            resolution: Resolution = Found(by_sis[0], by_sis_id=True)
        elif by_login:
            resolution = _one(by_login)
        else:
            resolution = resolve_observer(self._users(self.by_email.get(key)), email)
        if isinstance(resolution, Found):
            return self._state(resolution)
        return ObserverState(resolution)

    def _state(self, found: Found) -> ObserverState:
        """An account's state: whom it observes, and whether its logins are all suspended."""
        uid = found.user.id
        linked = tuple(self._users(self.observees.get(uid, ())))
        return ObserverState(found, linked, logins_known=True, suspended=self.suspended.get(uid))

    def account(self, user_id: int) -> ObserverState | None:
        """A remembered guardian's account and the students it observes; None when the report
        no longer has it (deleted, or every login of it deleted)."""
        user = self.users.get(user_id)
        if user is None:
            return None
        return self._state(Found(user, by_sis_id=True))

    def login_owner(self, login: str) -> CanvasUser | None:
        """The account whose live login this is (``sis_login_id:``'s rule), or None."""
        owners = self._users(self.by_login.get(login.strip().lower()))
        return owners[0] if owners else None

    def accounts_with(self, email: str) -> set[int]:
        """Every account with this (lower-cased) email as a login or as its email."""
        return set(self.by_login.get(email)) | set(self.by_email.get(email))

    def has_live_enrollment(self, user_id: int) -> bool | None:
        """True or False from the report's enrollments; None when it cannot tell (none read,
        or the student's only enrollments are shown "deleted")."""
        if self.enrolled is None:
            return None
        if user_id in self.enrolled:
            return True
        return None if user_id in self.maybe_enrolled else False


def _one(users: list[CanvasUser]) -> Resolution:
    if not users:
        return Missing()
    return Found(users[0]) if len(users) == 1 else Ambiguous(tuple(users))


# -- parsing -----------------------------------------------------------------------------


def _tables(data: bytes) -> Iterator[tuple[str, csv.DictReader[str]]]:
    """(name, rows) of each CSV in the report's file: a zip of CSVs, or one CSV."""
    if data[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise SnapshotError(f"the report's zip cannot be read: {exc}") from exc
        with archive:
            for info in archive.infolist():
                if info.filename.lower().endswith(".csv"):
                    _check_member(info)
                    with archive.open(info) as raw:
                        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                        yield info.filename, csv.DictReader(text)
        return
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    yield "report.csv", csv.DictReader(text)


def _check_member(info: zipfile.ZipInfo) -> None:
    """A zip member this tool can read: not encrypted, compressed by a method zipfile knows."""
    if info.flag_bits & _ENCRYPTED:
        raise SnapshotError(f"the report's zip holds {info.filename} encrypted: it cannot be read")
    if info.compress_type not in READABLE_METHODS:
        raise SnapshotError(
            f"the report's zip holds {info.filename} compressed by method "
            f"{info.compress_type}, which cannot be read"
        )


def _kind(columns: Iterable[str]) -> str | None:
    names = set(columns)
    if {"canvas_observer_id", "canvas_student_id"} <= names:
        return "user_observers"
    if {"canvas_course_id", "canvas_user_id", "role"} <= names:
        return "enrollments"
    if {"canvas_user_id", "login_id"} <= names:
        return "users"
    return None


def parse_snapshot(data: bytes, *, kinds: Collection[str] = ("users",)) -> CanvasSnapshot:
    """Build the snapshot from a provisioning report's file (CSV or zip) that was asked for
    these ``kinds``; SnapshotError when a table asked for (or a column it needs) is missing,
    when it holds a table the report never has, or when the file is damaged. A table asked
    for and missing is never read as "none": no links is not the same as no table of them."""
    snapshot = CanvasSnapshot()
    seen: set[str] = set()
    try:
        for name, rows in _tables(data):
            kind = _kind(rows.fieldnames or ())
            if kind is None:
                raise SnapshotError(f"{name}: not a provisioning report table")
            missing = [c for c in REQUIRED_COLUMNS[kind] if c not in (rows.fieldnames or ())]
            if missing:
                raise SnapshotError(
                    f"{name}: the report's {kind} table has no {', '.join(missing)} column"
                )
            seen.add(kind)
            if kind == "users":
                _read_users(snapshot, rows)
            elif kind == "user_observers":
                _read_links(snapshot, rows)
            else:
                _read_enrollments(snapshot, rows)
    except SnapshotError:
        raise  # already says what is wrong (it is a ValueError too)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise SnapshotError(f"the report's zip is damaged: {exc}") from exc
    except (csv.Error, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise SnapshotError(f"the report cannot be read: {type(exc).__name__}: {exc}") from exc
    for kind in ("users", *(k for k in kinds if k != "users")):
        if kind not in seen:
            raise SnapshotError(f"the report has no {kind} table, though it was asked for")
    return snapshot


def _read_users(snapshot: CanvasSnapshot, rows: Iterable[dict[str, str]]) -> None:
    for row in rows:
        snapshot.rows_read += 1
        status = (row.get("status") or "").strip()
        if status == "deleted":
            continue  # deleted logins never match a look-up
        user_id = int(row["canvas_user_id"])
        login = (row.get("login_id") or "").strip() or None
        sis = (row.get("user_id") or "").strip() or None
        email = (row.get("email") or "").strip() or None
        known = snapshot.users.get(user_id)
        # Rows come by login, not by user: an account is suspended while every live row of
        # it read so far is.
        if status == "suspended":
            if known is None:
                snapshot.suspended[user_id] = login or ""
        else:
            snapshot.suspended.pop(user_id, None)
        if known is None or _shown_first(sis, login) < _shown_first(
            known.sis_user_id, known.login_id
        ):
            provider = (row.get("authentication_provider_id") or "").strip()
            if provider.isdigit():
                snapshot.login_providers[user_id] = int(provider)
            else:
                snapshot.login_providers.pop(user_id, None)
            snapshot.users[user_id] = CanvasUser(
                id=user_id,
                name=(row.get("full_name") or "").strip()
                or f"{row.get('first_name', '')} {row.get('last_name', '')}".strip(),
                sortable_name=(row.get("sortable_name") or "").strip() or None,
                sis_user_id=sis,
                login_id=login,
                email=email,
            )
        if sis is not None:
            snapshot.by_sis.add(sis, user_id)
        if login is not None:
            snapshot.by_login.add(login.lower(), user_id)
        if email is not None:
            snapshot.by_email.add(email.lower(), user_id)


def _shown_first(sis: str | None, login: str | None) -> tuple[bool, str, str, str]:
    """Which of a user's live logins the account is shown by, whatever the rows' order: one
    with an SIS id (as Canvas shows), then the smallest SIS id, then the smallest login."""
    return (sis is None, sis or "", (login or "").lower(), login or "")


def _read_links(snapshot: CanvasSnapshot, rows: Iterable[dict[str, str]]) -> None:
    for row in rows:
        snapshot.rows_read += 1
        if (row.get("status") or "").strip() == "deleted":
            continue
        observer, student = int(row["canvas_observer_id"]), int(row["canvas_student_id"])
        snapshot.observees.setdefault(observer, set()).add(student)
        if (row.get("created_by_sis") or "").strip().lower() == "true":
            snapshot.sis_links.add((observer, student))


def _read_enrollments(snapshot: CanvasSnapshot, rows: Iterable[dict[str, str]]) -> None:
    enrolled = snapshot.enrolled if snapshot.enrolled is not None else set()
    snapshot.enrolled = enrolled
    for row in rows:
        snapshot.rows_read += 1
        role = (row.get("base_role_type") or row.get("role") or "").strip()
        status = (row.get("status") or "").strip()
        if role in STUDENT_ROLES and status in LIVE_ENROLLMENT:
            enrolled.add(int(row["canvas_user_id"]))
        elif role in STUDENT_ROLES and status == SHOWN_DELETED:
            snapshot.maybe_enrolled.add(int(row["canvas_user_id"]))
        elif role in STAFF_ROLES and status not in NOT_STAFF_STATUS:
            snapshot.staff.setdefault(int(row["canvas_user_id"]), set()).add(STAFF_ROLES[role])
        if status in FOLLOWED:
            _read_followed(snapshot, row, role)


def _read_followed(snapshot: CanvasSnapshot, row: dict[str, str], role: str) -> None:
    """Note a live student enrollment's course, or a live observer enrollment's student."""
    raw_course = (row.get("canvas_course_id") or "").strip()
    if not raw_course:
        return
    course = int(raw_course)
    if role in ("student", "StudentEnrollment"):
        snapshot.student_courses.setdefault(int(row["canvas_user_id"]), set()).add(course)
    elif role in ("observer", "ObserverEnrollment"):
        associated = (row.get("canvas_associated_user_id") or "").strip()
        if not associated:
            return  # an observer enrolled by hand, observing no one in particular
        snapshot.observing_in.add((int(row["canvas_user_id"]), int(associated), course))
    else:
        return
    snapshot.course_sis_ids.setdefault(course, (row.get("course_id") or "").strip())
