"""OneRoster 1.1 / 1.2 CSV reader: guardian links out of ``users.csv`` (and ``roles.csv``).

Facts behind the choices (1EdTech OneRoster 1.1 and 1.2 CSV specs; PowerSchool's OneRoster
export notes; see ``docs/oneroster.md``):

* columns are read **by header name**, any order (one generator writes ``agentSourcedIds``
  right after ``givenName``);
* a guardian is a user with a role in ``guardian_roles``: the ``role`` column in 1.1, the
  primary and secondary rows of ``roles.csv`` in 1.2;
* links come from ``agentSourcedIds`` in **both** directions (PowerSchool fills both, other
  generators only the student side); they are unioned, and an id naming no user is reported,
  not fatal;
* ``status`` ``tobedeleted``/``inactive`` and ``enabledUser=false`` users are not
  provisioned: their links become removal candidates.

A row whose cell count differs from the header's is skipped and reported: it is what an
unquoted multi-value ``agentSourcedIds`` cell looks like, and its columns cannot be trusted
(reading them shifted would pair a parent with the wrong child).

The link-to-row assembly here is shared with the SDS reader (``sds.py``); the bundle and
table reading is in ``sources.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from canvas_observers.roster.csv_reader import check_email
from canvas_observers.roster.model import (
    RemovalCandidate,
    Roster,
    RosterError,
    RosterRow,
    RowProblem,
)
from canvas_observers.roster.sources import (
    DEFAULT_GUARDIAN_ROLES,
    Bundle,
    Record,
    Table,
    read_table,
)

# "inactive" is not in the 1.1 vocabulary but some generators use it (docs/oneroster.md).
ENDING_STATUSES = frozenset({"tobedeleted", "inactive"})
NAMED_ID_FIELDS = ("identifier", "username", "sourcedId", "email")
MAX_NAME_LENGTH = 255  # Canvas maximum_string_length, as in csv_reader
MAX_ID_LENGTH = 255

_USERIDS = re.compile(r"\{\s*([^:{}]+?)\s*:\s*([^{}]*?)\s*\}")
# What the four-column reader refuses in a student id, so both readers give the same rows.
_BAD_ID = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_NAME_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def normalise_email(value: str) -> str:
    """Trim and lower-case, as the four-column CSV reader does."""
    return value.strip().lower()


def normalise_name(value: str) -> str:
    """Collapse whitespace runs, as the four-column CSV reader does."""
    return " ".join(value.split())


# --------------------------------------------------------------------------- users and links


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
    rec = person.record
    first, last = rec.get("givenName"), rec.get("familyName")
    if prefer_preferred_names:
        first = rec.get("preferredGivenName") or first
        last = rec.get("preferredFamilyName") or last
    return normalise_name(first), normalise_name(last)


def _guardian_problem(
    email: str, names: tuple[str, str], sourced_id: str
) -> tuple[str, str] | None:
    """(column, why) a guardian cannot be provisioned (the four-column reader's rules; the
    sourcedId becomes the guardian id, checked as the CSV's ``guardian_id``)."""
    if _BAD_ID.search(sourced_id) or len(sourced_id) > MAX_ID_LENGTH:
        return "sourcedId", "has an unusable sourcedId (spaces, control characters or too long)"
    if not email:
        return "email", "has no email"
    if why := check_email(email):
        return "email", why.replace("observer_email", "email", 1)
    for column, value in zip(("givenName", "familyName"), names, strict=True):
        if not value:
            return column, f"has no {column}"
        if _NAME_CONTROL.search(value) or len(value) > MAX_NAME_LENGTH:
            return column, f"has an unusable {column} (control characters or too long)"
    return None


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
        self.duplicates = 0

    def _report_once(self, kind: str, person: Person, problem: RowProblem) -> None:
        if (kind, person.sourced_id) not in self.reported:
            self.reported.add((kind, person.sourced_id))
            self.problems.append(problem)

    def add(self, link: Link) -> None:
        g, s = link.guardian, link.student
        email = normalise_email(g.record.get("email"))
        names = guardian_names(g, prefer_preferred_names=self.prefer)
        if trouble := _guardian_problem(email, names, g.sourced_id):
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
        if not student_id or _BAD_ID.search(student_id) or len(student_id) > MAX_ID_LENGTH:
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
    once and their links skipped; links touching an ending user become removal candidates;
    duplicate (student, email) pairs collapse into the first, as in the four-column reader.
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


def _load_roles(
    bundle: Bundle, people: Mapping[str, Person], users: Table, *, encoding: str
) -> None:
    if users.has("role"):  # 1.1: one role per users.csv row
        for person in people.values():
            role = person.record.get("role").lower()
            if role:
                person.roles.add(role)
    if bundle.has("roles.csv"):  # 1.2: primary and secondary roles, each with a status
        roles = read_table(
            bundle, "roles.csv", encoding=encoding, required=("userSourcedId", "role")
        )
        for rec in roles.records:
            holder = people.get(rec.get("userSourcedId"))
            role = rec.get("role").lower()
            if holder is None or not role:
                continue
            if rec.get("status").lower() in ENDING_STATUSES:
                holder.ending_roles.add(role)
            else:
                holder.roles.add(role)
    elif not users.has("role"):
        raise RosterError(
            "no role column and no roles.csv next to it (OneRoster 1.2 keeps roles in roles.csv)",
            source=users.source,
            line=1,
            field="role",
        )


def read_oneroster(
    bundle: Bundle,
    *,
    guardian_roles: Sequence[str] = DEFAULT_GUARDIAN_ROLES,
    student_id_field: str = "identifier",
    prefer_preferred_names: bool = True,
    encoding: str = "utf-8",
) -> BundleRead:
    """Read guardian links from a OneRoster 1.1 or 1.2 bundle (or a lone users.csv)."""
    users = read_table(
        bundle, "users.csv", encoding=encoding, required=("sourcedId", "agentSourcedIds", "email")
    )
    problems = list(users.problems)
    people = load_people(users, problems)
    _load_roles(bundle, people, users, encoding=encoding)
    wanted = {r.strip().lower() for r in guardian_roles if r.strip()}
    for person in people.values():
        for roles in (wanted, {"student"}):
            # A guardian or student role that is only tobedeleted in roles.csv ends the links.
            if (
                roles
                and person.roles.isdisjoint(roles)
                and not person.ending_roles.isdisjoint(roles)
            ):
                person.ending = person.ending or "role tobedeleted in roles.csv"

    students = [p for p in people.values() if p.has_role(("student",))]
    pick = student_id_picker(users, student_id_field, students)
    links: dict[tuple[str, str], Link] = {}
    for person in people.values():
        for agent_id in person.record.get("agentSourcedIds").split(","):
            agent_id = agent_id.strip()
            if not agent_id:
                continue
            other = people.get(agent_id)
            if other is None:
                problems.append(
                    RowProblem(
                        person.line,
                        f"agentSourcedIds names {agent_id}, which is not in users.csv; ignored",
                        source=users.source,
                        field="agentSourcedIds",
                    )
                )
                continue
            if person.has_role(("student",)) and other.has_role(wanted):
                student, guardian = person, other
            elif person.has_role(wanted) and other.has_role(("student",)):
                student, guardian = other, person
            else:
                continue  # a teacher, an aide, a relative not asked for...
            key = (student.sourced_id, guardian.sourced_id)
            links.setdefault(key, Link(guardian.line, users.source, student, guardian))
    return assemble(
        links.values(),
        pick_student_id=pick,
        prefer_preferred_names=prefer_preferred_names,
        problems=problems,
        users_source=users.source,
        label=bundle.label,
    )
