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

This module finds the links; turning them into roster rows (``links.py``) is shared with the
SDS reader (``sds.py``), and the bundle and table reading is in ``bundle.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from canvas_observers.roster.bundle import Bundle, Table, read_table
from canvas_observers.roster.links import (
    ENDING_STATUSES,
    BundleRead,
    Link,
    Person,
    assemble,
    load_people,
    student_id_picker,
)
from canvas_observers.roster.model import RosterError, RowProblem


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
    guardian_roles: Sequence[str],
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
