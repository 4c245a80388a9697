"""Pairing codes for letters: who gets one, whether a printed code may be printed again, and
the Canvas calls that find each student and issue the codes.

A pairing code is single use, so every (student, guardian) gets a code and a letter of its
own: two guardians of one child get two letters, one guardian of two children one letter per
child. Only Canvas is written to (a new code is a ``POST``); nothing is paired here: the
parent pairs themself with the code.

Who gets a letter: the guardians with no email (the sync's ``no_email`` rows), every
(student, guardian) of the roster (``everyone``), or the guardians of the roster's students
nobody observes in Canvas, as a provisioning report shows it (``unobserved``); a student
whose every roster row is unusable for another reason than a missing email (no usable guardian)
then gets one letter addressed to "the parent or guardian".

A stored code is printed again only while it has ``REPRINT_DAYS`` left and no observer has been
linked to the student since it was issued (the student's observers then and now, by Canvas
id): a new observer may be this guardian, the code used. Otherwise, or with ``reissue``, a new
code is asked for; the old one stays valid until it expires (Canvas keeps every code it made).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import NotAllowed, NotFound
from canvas_observers.canvas.models import CanvasUser
from canvas_observers.roster.model import Roster
from canvas_observers.store.letters import StoredCode
from canvas_observers.sync.rules import Found, can_get_pairing_code
from canvas_observers.sync.snapshot import CanvasSnapshot

REPRINT_DAYS = 3

NOT_ENROLLED = "not_enrolled"
STUDENT_NOT_FOUND = "student_not_found"
CODE_REFUSED = "code_refused"
ANY_GUARDIAN = "any"  # the guardian key of a letter to "the parent or guardian"


@dataclass(frozen=True, slots=True)
class Wanted:
    """One letter asked for: a guardian of a roster student (``line`` of the roster), with the
    row's kept columns (``RosterRow.extra``). ``guardian_name`` is empty for a letter to the
    student's "parent or guardian" (``ANY_GUARDIAN``)."""

    line: int
    student_id: str
    guardian_name: str
    guardian: str  # guardian_key: who the code is remembered for
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Issued:
    """A code for one letter: ``student`` as Canvas has them; ``reprinted`` when stored."""

    wanted: Wanted
    student: CanvasUser
    code: str
    expires_at: datetime
    reprinted: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A letter not made, and why (``NOT_ENROLLED``, ``STUDENT_NOT_FOUND``, ``CODE_REFUSED``)."""

    wanted: Wanted
    outcome: str
    detail: str
    student_name: str = ""


@dataclass
class Codes:
    """What a run got: the letters' codes in roster order, what was skipped, what to keep."""

    issued: list[Issued] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    to_store: list[StoredCode] = field(default_factory=list)


def guardian_key(guardian_id: str | None, first: str, last: str) -> str:
    """A guardian with no Canvas account is known by the SIS's guardian id, else by names."""
    if guardian_id:
        return f"id:{guardian_id}"
    return "name:" + " ".join(f"{first} {last}".split()).casefold()


def wanted_letters(
    roster: Roster, *, everyone: bool = False, unobserved: CanvasSnapshot | None = None
) -> list[Wanted]:
    """The guardians with no email (a sync's ``no_email`` rows); with ``everyone`` every
    (student, guardian) of the roster too; with ``unobserved`` (a snapshot of Canvas) every
    guardian, with or without email, of the roster's students that nobody observes there, or
    one letter to the "parent or guardian" of such a student with no usable guardian row.
    In roster order, each pair once."""
    found: dict[tuple[str, str], Wanted] = {}
    people = [
        (p.line, p.student_id, p.observer_first_name, p.observer_last_name, p.guardian_id, p.extra)
        for p in roster.problems
        if p.no_email and p.student_id
    ]
    if everyone or unobserved is not None:
        people += [
            (
                r.line,
                r.student_id,
                r.observer_first_name,
                r.observer_last_name,
                r.guardian_id,
                r.extra,
            )
            for r in roster.rows
        ]
    if unobserved is not None:
        with_guardian = {p[1] for p in people}
        people += [
            (p.line, p.student_id, "", "", None, p.extra)
            for p in roster.problems
            if p.student_id and p.field != "student_id" and p.student_id not in with_guardian
        ]
        observed = {kid for kids in unobserved.observees.values() for kid in kids}
        people = [p for p in people if not _observed(unobserved, observed, p[1])]
    for line, student_id, first, last, guardian_id, extra in sorted(people, key=lambda p: p[0]):
        name = f"{first} {last}".strip()
        key = guardian_key(guardian_id, first, last) if name or guardian_id else ANY_GUARDIAN
        found.setdefault((student_id, key), Wanted(line, student_id, name, key, extra))
    return list(found.values())


def _observed(snapshot: CanvasSnapshot, observed: set[int], student_id: str) -> bool:
    """Whether Canvas shows someone observing the student; a student the snapshot cannot
    name is kept, for the look-up to say it is not found."""
    resolution = snapshot.student(student_id)
    return isinstance(resolution, Found) and resolution.user.id in observed


def may_reprint(stored: StoredCode, *, now: datetime, observers: Iterable[int]) -> bool:
    """Who gets a letter: the guardians with no email (the sync's ``no_email`` rows), every
    (student, guardian) of the roster (``everyone``), or the guardians of the roster's students
    nobody observes in Canvas, as a provisioning report shows it (``unobserved``); a student
    whose every roster row is unusable for another reason than a missing email (no usable guardian)
    then gets one letter addressed to "the parent or guardian".

    A stored code is printed again while it has ``REPRINT_DAYS`` left and nobody has been
        linked to the student since it was issued."""
    fresh = stored.expires_at - now >= timedelta(days=REPRINT_DAYS)
    return fresh and set(observers) <= stored.observers


async def _student(client: CanvasClient, student_id: str) -> CanvasUser | None:
    try:
        if "@" in student_id:
            return await client.get_user_by_login(student_id)
        return await client.get_user_by_sis_id(student_id)
    except NotFound:
        return None


async def issue_codes(
    client: CanvasClient,
    wanted: Sequence[Wanted],
    *,
    stored: dict[tuple[int, str], StoredCode],
    now: datetime,
    reissue: bool = False,
) -> Codes:
    """Find each student, check Canvas would give them a code, then reprint or issue one code
    per wanted letter. A student is looked up once however many guardians they have."""
    codes = Codes()
    students: dict[str, tuple[CanvasUser | None, str, frozenset[int]]] = {}
    for want in wanted:
        if want.student_id not in students:
            student = await _student(client, want.student_id)
            problem, observers = "", frozenset[int]()
            if student is None:
                problem = STUDENT_NOT_FOUND
            else:
                enrollments = await client.list_enrollments(student.id)
                if not can_get_pairing_code((e.type, e.enrollment_state) for e in enrollments):
                    problem = NOT_ENROLLED
                else:
                    observers = frozenset(u.id for u in await client.list_observers(student.id))
            students[want.student_id] = (student, problem, observers)
        student, problem, observers = students[want.student_id]
        if student is None or problem:
            codes.skipped.append(_skipped(want, problem, student))
            continue
        old = stored.get((student.id, want.guardian))
        if old is not None and not reissue and may_reprint(old, now=now, observers=observers):
            codes.issued.append(Issued(want, student, old.code, old.expires_at, reprinted=True))
            continue
        try:
            made = await client.create_pairing_code(student.id)
        except NotAllowed as error:
            codes.skipped.append(Skipped(want, CODE_REFUSED, str(error), student_name=student.name))
            continue
        expires_at = datetime.fromisoformat(made.expires_at.replace("Z", "+00:00"))
        codes.issued.append(Issued(want, student, made.code, expires_at, reprinted=False))
        codes.to_store.append(
            StoredCode(student.id, want.guardian, made.code, now, expires_at, observers)
        )
    return codes


def _skipped(want: Wanted, problem: str, student: CanvasUser | None) -> Skipped:
    name = student.name if student is not None else ""
    if problem == STUDENT_NOT_FOUND:
        detail = f"Canvas has no student with the id {want.student_id}"
    else:
        detail = (
            f"{name} has no current student enrollment in Canvas, and Canvas gives pairing "
            "codes only to enrolled students"
        )
    return Skipped(want, problem, detail, student_name=name)
