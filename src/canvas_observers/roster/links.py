"""Assembling guardian links: OneRoster and SDS people and their links -> roster rows.

Both bundle readers index ``users.csv`` into ``Person``s (``load_people``), find (student,
guardian) ``Link``s their own way, and hand them to ``assemble``, which checks each guardian
and student (``validate.py``), picks the student's Canvas SIS id (``student_id_picker``, per
``--student-id-field``), collapses duplicates and turns links touching an ending user into
removal candidates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from canvas_observers.roster.bundle import Record, Table
from canvas_observers.roster.model import (
    RemovalCandidate,
    Roster,
    RosterError,
    RosterRow,
    RowProblem,
)
from canvas_observers.roster.validate import (
    check_id,
    check_student_id,
    guardian_names_problem,
    guardian_problem,
    normalise_email,
    normalise_name,
)

# "inactive" is not in the 1.1 vocabulary but some generators use it (docs/oneroster.md).
ENDING_STATUSES = frozenset({"tobedeleted", "inactive"})
NAMED_ID_FIELDS = ("identifier", "username", "sourcedId", "email")

_USERIDS = re.compile(r"\{\s*([^:{}]+?)\s*:\s*([^{}]*?)\s*\}")


@dataclass(slots=True)
class Person:
    """A user of the bundle as the link builder sees it."""

    line: int
    sourced_id: str
    record: Record
    roles: set[str] = field(default_factory=set)
    ending_roles: set[str] = field(default_factory=set)
    ending: str = ""  # why the user is not provisioned, "" when active

    def has_role(self, roles: Iterable[str]) -> bool:
        return any(r in self.roles or r in self.ending_roles for r in roles)


@dataclass(frozen=True, slots=True)
class Link:
    """A (student, guardian) pair, found at ``line`` of ``source``."""

    line: int
    source: str
    student: Person
    guardian: Person


@dataclass(frozen=True, slots=True)
class BundleRead:
    """A roster plus what only a bundle knows: each guardian email's sourcedId."""

    roster: Roster
    guardian_ids: Mapping[str, str]


def user_ending(record: Record) -> str:
    status = record.get("status").lower()
    if status in ENDING_STATUSES:
        return f"status {status}"
    if record.get("enabledUser").lower() == "false":
        return "enabledUser false"
    return ""


def parse_user_ids(cell: str) -> list[tuple[str, str]]:
    """``{SIS:123},{FED:9}`` -> [("sis", "123"), ("fed", "9")] (types lower-cased; a type
    may repeat, so this is a list, not a dict that would keep only the last)."""
    return [(t.lower(), v) for t, v in _USERIDS.findall(cell)]


def userids_type(student_id_field: str) -> str | None:
    """The userIds type named by ``{SIS}``, ``{SIS:...}`` or ``SIS``; None for a named field."""
    if student_id_field.lower() in {f.lower() for f in NAMED_ID_FIELDS}:
        return None
    kind = student_id_field.strip()
    if kind.startswith("{") and kind.endswith("}"):
        kind = kind[1:-1]
    kind = kind.removesuffix("...").removesuffix(":").strip()
    if not kind or any(c in kind for c in "{}:,"):
        raise RosterError(
            f"--student-id-field {student_id_field!r} is neither one of "
            f"{', '.join(NAMED_ID_FIELDS)} nor a userIds type like {{SIS}}"
        )
    return kind.lower()


def student_id_picker(
    table: Table, student_id_field: str, people: Iterable[Person]
) -> Callable[[Person], str]:
    """Return a function giving a student's Canvas SIS id per ``--student-id-field``."""
    kind = userids_type(student_id_field)
    if kind is None:
        name = student_id_field.lower()
        if name == "identifier":
            if not (table.has("identifier") or table.has("username")):
                raise RosterError(
                    "no identifier or username column",
                    source=table.source,
                    line=1,
                    field="identifier",
                )
            # Fallback to username: how Canvas SIS ids are often loaded.
            return lambda p: p.record.get("identifier") or p.record.get("username")
        if name == "sourcedid":
            return lambda p: p.sourced_id
        if not table.has(name):
            raise RosterError(
                f"no {student_id_field} column (--student-id-field)",
                source=table.source,
                line=1,
                field=student_id_field,
            )
        return lambda p: p.record.get(name)
    if not table.has("userIds"):
        raise RosterError(
            f"no userIds column, needed by --student-id-field {student_id_field}",
            source=table.source,
            line=1,
            field="userIds",
        )
    seen: set[str] = set()
    for person in people:
        seen.update(t for t, _ in parse_user_ids(person.record.get("userIds")))
    if kind not in seen:
        # A typo here would otherwise skip every student one by one.
        known = ", ".join(sorted(seen)) or "none in {type:id} form"
        raise RosterError(
            f"no user has a userIds entry of type {kind!r} (types found: {known})",
            source=table.source,
            field="userIds",
        )

    def pick(person: Person) -> str:
        values = sorted({v for t, v in parse_user_ids(person.record.get("userIds")) if t == kind})
        # Two different ids of the one type: never guess which is the Canvas SIS id. The
        # joined text contains spaces, so the student is reported as having an unusable id.
        return " or ".join(values)

    return pick


def guardian_names(person: Person, *, prefer_preferred_names: bool) -> tuple[str, str]:
    """The guardian's (given, family) names, normalised; preferred names first if asked."""
    rec = person.record
    first, last = rec.get("givenName"), rec.get("familyName")
    if prefer_preferred_names:
        first = rec.get("preferredGivenName") or first
        last = rec.get("preferredFamilyName") or last
    return normalise_name(first), normalise_name(last)


class _Assembler:
    """Turns links into RosterRows; shared by the OneRoster and SDS readers."""

    def __init__(
        self,
        pick_student_id: Callable[[Person], str],
        prefer_preferred_names: bool,
        users_source: str,
    ) -> None:
        self.pick = pick_student_id
        self.prefer = prefer_preferred_names
        self.users_source = users_source
        self.rows: dict[tuple[str, str], RosterRow] = {}
        self.removals: dict[tuple[str, str], RemovalCandidate] = {}
        self.first_names: dict[str, tuple[str, str]] = {}
        self.guardian_ids: dict[str, str] = {}
        self.ending_ids: dict[str, str] = {}  # guardians known only through ending links
        self.problems: list[RowProblem] = []
        self.reported: set[tuple[str, str]] = set()
        self.no_email: set[tuple[str, str]] = set()  # (student id, guardian sourcedId)
        self.duplicates = 0

    def _report_once(self, kind: str, person: Person, problem: RowProblem) -> None:
        if (kind, person.sourced_id) not in self.reported:
            self.reported.add((kind, person.sourced_id))
            self.problems.append(problem)

    def add_student_problem(self, s: Person, student_id: str) -> None:
        """A student whose id is missing or unusable, reported once (their links skipped)."""
        why = "has no student id" if not student_id else f"has an unusable id {student_id!r}"
        self._report_once(
            "s",
            s,
            RowProblem(
                s.line,
                f"student {s.sourced_id} {why} (see --student-id-field); skipped",
                student_id=student_id,
                source=self.users_source,
                field="student_id",
            ),
        )

    def add(self, link: Link) -> None:
        g, s = link.guardian, link.student
        email = normalise_email(g.record.get("email"))
        names = guardian_names(g, prefer_preferred_names=self.prefer)
        usable = not check_id(g.sourced_id, "sourcedId") and not guardian_names_problem(names)
        if not email and usable:
            self._no_email(link, names)
            return
        if trouble := guardian_problem(email, names, g.sourced_id):
            column, why = trouble
            self._report_once(
                "g",
                g,
                RowProblem(
                    g.line,
                    f"guardian {g.sourced_id} {why}; their links are skipped",
                    observer_email=email,
                    source=self.users_source,
                    field=column,
                ),
            )
            return
        student_id = self.pick(s).strip()
        if check_student_id(student_id):
            self.add_student_problem(s, student_id)
            return
        # Logins compare case-insensitively in Canvas; SIS ids exactly (as csv_reader does).
        key = (student_id.lower() if "@" in student_id else student_id, email)
        ending = f"guardian {g.ending}" if g.ending else (f"student {s.ending}" if s.ending else "")
        if ending:
            self.removals.setdefault(
                key, RemovalCandidate(student_id, email, ending, source=link.source, line=link.line)
            )
            self.ending_ids.setdefault(email, g.sourced_id)
            return
        # The guardian's id for export-sis templates: an active record's, never an ending one's.
        self.guardian_ids.setdefault(email, g.sourced_id)
        if key in self.rows:
            self.duplicates += 1
            return
        first = self.first_names.setdefault(email, names)
        notes: tuple[str, ...] = ()
        if first != names:
            notes = (f"email also given as {' '.join(first)!r}; the account uses that name",)
        self.rows[key] = RosterRow(
            link.line,
            student_id,
            email,
            *first,
            source=link.source,
            notes=notes,
            guardian_id=g.sourced_id,
        )

    def _no_email(self, link: Link, names: tuple[str, str]) -> None:
        """A usable guardian the SIS gives no email: one ``no_email`` row per student they
        are linked to (the report names both), none for a link that is ending anyway."""
        g, s = link.guardian, link.student
        student_id = self.pick(s).strip()
        if g.ending or s.ending or (student_id, g.sourced_id) in self.no_email:
            return
        if check_student_id(student_id):
            self.add_student_problem(s, student_id)
            return
        self.no_email.add((student_id, g.sourced_id))
        self.problems.append(
            RowProblem(
                link.line,
                f"guardian {g.sourced_id} has no email in the SIS; nothing is written for them",
                student_id=student_id,
                source=link.source,
                field="email",
                observer_first_name=names[0],
                observer_last_name=names[1],
                guardian_id=g.sourced_id,
                no_email=True,
            )
        )

    def finish(self, problems: Sequence[RowProblem], label: str) -> BundleRead:
        # A link still active through another record (a shared email) is not ending.
        kept = tuple(c for k, c in self.removals.items() if k not in self.rows)
        roster = Roster(
            rows=tuple(self.rows.values()),
            problems=(*problems, *self.problems),
            duplicates=self.duplicates,
            source=label,
            removal_candidates=kept,
        )
        # A guardian known only through ending links keeps their id for the deleted rows.
        return BundleRead(roster, {**self.ending_ids, **self.guardian_ids})


def assemble(
    links: Iterable[Link],
    *,
    pick_student_id: Callable[[Person], str],
    prefer_preferred_names: bool,
    problems: Sequence[RowProblem],
    users_source: str,
    label: str,
) -> BundleRead:
    """Turn links into a Roster, in the order of the guardian (or relationship) lines.

    A guardian without a usable email or name, or a student without a usable id, is reported
    once and their links skipped, except a usable guardian with no email at all: each of their
    links is a ``no_email`` problem naming them and the student (none for an ending link);
    links touching an ending user become removal candidates; duplicate (student, email) pairs
    collapse into the first, as in the four-column reader.
    """
    assembler = _Assembler(pick_student_id, prefer_preferred_names, users_source)
    for link in sorted(links, key=lambda k: (k.line, k.student.line)):
        assembler.add(link)
    return assembler.finish(problems, label)


def load_people(table: Table, problems: list[RowProblem]) -> dict[str, Person]:
    """Index users by sourcedId; a blank or repeated sourcedId is reported and skipped."""
    people: dict[str, Person] = {}
    for rec in table.records:
        sid = rec.get("sourcedId")
        if not sid:
            problems.append(
                RowProblem(
                    rec.line, "no sourcedId; row skipped", source=table.source, field="sourcedId"
                )
            )
        elif sid in people:
            problems.append(
                RowProblem(
                    rec.line,
                    f"sourcedId {sid} repeats line {people[sid].line}; row skipped",
                    source=table.source,
                    field="sourcedId",
                )
            )
        else:
            people[sid] = Person(rec.line, sid, rec, ending=user_ending(rec))
    return people
