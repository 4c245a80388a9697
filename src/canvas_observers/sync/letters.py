"""Pairing codes for letters: who gets one, whether a printed code may be printed again, and
the Canvas calls that find each student and issue the codes.

A pairing code is single use, so every (student, guardian) gets a code and a letter of its
own: two guardians of one child get two letters, one guardian of two children one letter per
child. Only Canvas is written to (a new code is a ``POST``); nothing is paired here: the
parent pairs themself with the code.

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
from canvas_observers.sync.rules import can_get_pairing_code

REPRINT_DAYS = 3

NOT_ENROLLED = "not_enrolled"
STUDENT_NOT_FOUND = "student_not_found"
CODE_REFUSED = "code_refused"


@dataclass(frozen=True, slots=True)
class Wanted:
    """One letter asked for: a guardian of a roster student (``line`` of the roster)."""

    line: int
    student_id: str
    guardian_name: str
    guardian: str  # guardian_key: who the code is remembered for


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


def wanted_letters(roster: Roster, *, everyone: bool) -> list[Wanted]:
    """The guardians with no email (a sync's ``no_email`` rows), or with ``everyone`` every
    (student, guardian) of the roster too; in roster order, each pair once."""
    found: dict[tuple[str, str], Wanted] = {}
    people = [
        (p.line, p.student_id, p.observer_first_name, p.observer_last_name, p.guardian_id)
        for p in roster.problems
        if p.no_email and p.student_id
    ]
    if everyone:
        people += [
            (r.line, r.student_id, r.observer_first_name, r.observer_last_name, r.guardian_id)
            for r in roster.rows
        ]
    for line, student_id, first, last, guardian_id in sorted(people, key=lambda p: p[0]):
        key = guardian_key(guardian_id, first, last)
        name = f"{first} {last}".strip()
        found.setdefault((student_id, key), Wanted(line, student_id, name, key))
    return list(found.values())


def may_reprint(stored: StoredCode, *, now: datetime, observers: Iterable[int]) -> bool:
    """A stored code is printed again while it has ``REPRINT_DAYS`` left and nobody has been
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
