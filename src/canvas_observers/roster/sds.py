"""Microsoft School Data Sync v2.1 reader: guardian links from ``relationships.csv``.

SDS v2.1 (learn.microsoft.com/schooldatasync/sds-v2.1-csv-file-format) is derived from
OneRoster but is not OneRoster: guardians are plain ``users.csv`` rows (no ``roles.csv`` row),
and ``relationships.csv`` (``userSourcedId,relationshipUserSourcedId,relationshipRole``) is
keyed by the **student** (``userSourcedId``) and names the adult
(``relationshipUserSourcedId``). Roles seen: parent, guardian, relative, other, doctor, aide;
they are compared case-insensitively. One adult may be guardian of one student and relative
of another, so the role filter applies per relationship row, not per user.

SDS has no ``identifier`` or ``userIds``: its ``sourcedId`` is the SIS id, so the default
``--student-id-field identifier`` means the student's ``userSourcedId``.
"""

from __future__ import annotations

from collections.abc import Sequence

from canvas_observers.roster.bundle import Bundle, read_table
from canvas_observers.roster.links import BundleRead, Link, Person, assemble, load_people
from canvas_observers.roster.model import RosterError, RowProblem

SDS_ID_FIELDS = ("identifier", "sourcedId", "username", "email")


def read_sds(
    bundle: Bundle,
    *,
    guardian_roles: Sequence[str],
    student_id_field: str = "identifier",
    prefer_preferred_names: bool = True,
    encoding: str = "utf-8",
) -> BundleRead:
    """Read guardian links from an SDS v2.1 bundle (directory or zip)."""
    field = student_id_field.strip().lower()
    if field not in {f.lower() for f in SDS_ID_FIELDS}:
        raise RosterError(
            f"--student-id-field {student_id_field!r} does not exist in SDS "
            f"v2.1 files; use one of {', '.join(SDS_ID_FIELDS)}"
        )
    relationships = read_table(
        bundle,
        "relationships.csv",
        encoding=encoding,
        required=("userSourcedId", "relationshipUserSourcedId", "relationshipRole"),
    )
    users = read_table(bundle, "users.csv", encoding=encoding, required=("sourcedId", "email"))
    if field in {"username", "email"} and not users.has(field):
        raise RosterError(
            f"no {student_id_field} column (--student-id-field)",
            source=users.source,
            line=1,
            field=student_id_field,
        )
    problems = [*relationships.problems, *users.problems]
    people = load_people(users, problems)
    wanted = {r.strip().lower() for r in guardian_roles if r.strip()}

    links: dict[tuple[str, str], Link] = {}
    for rec in relationships.records:
        if rec.get("relationshipRole").lower() not in wanted:
            continue
        student_sid, guardian_sid = rec.get("userSourcedId"), rec.get("relationshipUserSourcedId")
        student, guardian = people.get(student_sid), people.get(guardian_sid)
        missing = [
            (sid, col)
            for sid, col, person in (
                (student_sid, "userSourcedId", student),
                (guardian_sid, "relationshipUserSourcedId", guardian),
            )
            if person is None
        ]
        for sid, col in missing:
            what = f"{col} {sid}, which is not in users.csv" if sid else f"no {col}"
            problems.append(
                RowProblem(
                    rec.line, f"names {what}; skipped", source=relationships.source, field=col
                )
            )
        if student is None or guardian is None:
            continue
        links.setdefault(
            (student_sid, guardian_sid), Link(rec.line, relationships.source, student, guardian)
        )

    def pick(person: Person) -> str:
        if field in {"identifier", "sourcedid"}:
            return person.sourced_id
        return person.record.get(field)

    return assemble(
        links.values(),
        pick_student_id=pick,
        prefer_preferred_names=prefer_preferred_names,
        problems=problems,
        users_source=users.source,
        label=bundle.label,
    )
