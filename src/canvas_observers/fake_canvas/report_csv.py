"""The provisioning report's CSVs (users, enrollments, user_observers), built from the state.

Rows, columns and their order follow canvas-lms
`gems/plugins/account_reports/lib/account_reports/sis_exporter.rb` in its provisioning form
(not the `sis_export_csv` form); docs/canvas-behaviour.md, "Account reports (provisioning)".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Final

from canvas_observers.fake_canvas.records import Enrollment, Login, User
from canvas_observers.fake_canvas.state import FakeState

USERS_HEADERS: Final = (
    "canvas_user_id",
    "user_id",
    "integration_id",
    "authentication_provider_id",
    "login_id",
    "first_name",
    "last_name",
    "full_name",
    "sortable_name",
    "short_name",
    "email",
    "status",
    "created_by_sis",
)
USER_OBSERVERS_HEADERS: Final = (
    "canvas_observer_id",
    "observer_id",
    "canvas_student_id",
    "student_id",
    "status",
    "created_by_sis",
)
ENROLLMENTS_HEADERS: Final = (
    "canvas_course_id",
    "course_id",
    "canvas_user_id",
    "user_id",
    "role",
    "role_id",
    "canvas_section_id",
    "section_id",
    "status",
    "canvas_associated_user_id",
    "associated_user_id",
    "created_by_sis",
    "base_role_type",
    "limit_section_privileges",
    "canvas_enrollment_id",
)

# The enrollments CSV's status: the enrollment's state, renamed; "deleted" whenever the course
# (or section) is deleted, whatever the enrollment's own state.
ENROLLMENT_STATUS: Final = {
    "invited": "invited",
    "creation_pending": "invited",
    "active": "active",
    "completed": "concluded",
    "inactive": "inactive",
    "deleted": "deleted",
    "rejected": "rejected",
}
# Enrollment#sis_role for the built-in roles.
SIS_ROLES: Final = {
    "StudentEnrollment": "student",
    "TeacherEnrollment": "teacher",
    "TaEnrollment": "ta",
    "DesignerEnrollment": "designer",
    "ObserverEnrollment": "observer",
}
# Canvas numbers the built-in roles per installation; these are the fake's.
ROLE_IDS: Final = {
    "StudentEnrollment": 3,
    "TeacherEnrollment": 4,
    "TaEnrollment": 5,
    "DesignerEnrollment": 6,
    "ObserverEnrollment": 7,
}
TEST_STUDENT_TYPE: Final = "StudentViewEnrollment"
_SUFFIXES: Final = re.compile(
    r"^(Sn?r\.?|Senior|Jn?r\.?|Junior|II|III|IV|V|VI|Esq\.?|Esquire)$", re.IGNORECASE
)

Cell = str | int | bool | None


def name_parts(sortable_name: str) -> tuple[str | None, str | None]:
    """User.name_parts(sortable_name, likely_already_surname_first: true)[0..1]: the first
    and last name the users CSV shows ("Pérez, Ana María" -> ("Ana María", "Pérez"))."""
    pieces = re.split(r"\s*,\s*", sortable_name.strip(), maxsplit=2)
    surname: str | None = pieces[0]
    given: str | None = pieces[1] if len(pieces) > 1 else None
    suffix: str | None = pieces[2] if len(pieces) > 2 else None
    if suffix is not None and not _SUFFIXES.match(suffix):  # "Ho, Chi, Min" -> "Ho, Chi Min"
        given = f"{given} {suffix}"
        suffix = None
    if given is None:  # "John Doe"
        given = sortable_name.strip()
        surname = None
    given_parts = given.split()
    if suffix is None and len(given_parts) > 1 and _SUFFIXES.match(given_parts[-1]):
        given_parts.pop()
    if surname is None and len(given_parts) > 1:  # last resort: the last word
        surname = given_parts.pop()
    return (" ".join(given_parts) if given_parts else None, surname)


# -- the CSVs ----------------------------------------------------------------------------
def _test_students(state: FakeState) -> set[int]:
    """Users with a StudentViewEnrollment (the "test student"): left out of the users CSV."""
    return {e.user_id for e in state.enrollments.values() if e.type == TEST_STUDENT_TYPE}


def _all_logins(state: FakeState) -> list[tuple[User, Login]]:
    pairs = [(user, login) for user in state.users.values() for login in user.logins]
    return sorted(pairs, key=lambda pair: pair[1].id)


def users_rows(state: FakeState, *, include_deleted: bool) -> list[list[Cell]]:
    """One row per login (pseudonym) of the root account, by login id: a user with two logins
    has two rows. Deleted logins are left out; with include_deleted, deleted logins with a SIS
    id come back. Test students are left out. `status` is the login's state."""
    test_students = _test_students(state)
    rows: list[list[Cell]] = []
    for user, login in _all_logins(state):
        if user.id in test_students:
            continue
        if login.workflow_state == "deleted" and not (
            include_deleted and login.sis_user_id is not None
        ):
            continue
        first, last = name_parts(user.sortable_name)
        rows.append(
            [
                user.id,
                login.sis_user_id,
                login.integration_id,
                login.authentication_provider_id,
                login.unique_id,
                first,
                last,
                user.name,
                user.sortable_name,
                user.short_name,
                user.email if user.active else None,  # a deleted user's channels are retired
                login.workflow_state,
                False,  # created_by_sis: the fake has no SIS imports
            ]
        )
    return rows


def user_observers_rows(state: FakeState, *, include_deleted: bool) -> list[list[Cell]]:
    """Each observer link joined to every active login of the student and every login
    (any state) of the observer in the root account, ordered by the student's login id: one
    link gives several rows when either user has several logins. Deleted links (and deleted
    student logins) are left out unless include_deleted."""
    keyed: list[tuple[tuple[int, int, int], list[Cell]]] = []
    for link in state.links.values():
        if link.workflow_state == "deleted" and not include_deleted:
            continue
        student = state.users[link.student_id]
        observer = state.users[link.observer_id]
        for s_login in student.logins:
            if s_login.workflow_state != "active" and not include_deleted:
                continue
            for o_login in observer.logins:
                row: list[Cell] = [
                    observer.id,
                    o_login.sis_user_id,
                    student.id,
                    s_login.sis_user_id,
                    link.workflow_state,
                    link.created_by_sis,
                ]
                keyed.append(((s_login.id, observer.id, o_login.id), row))
    keyed.sort(key=lambda item: item[0])
    return [row for _, row in keyed]


def report_login(user: User, *, include_deleted: bool) -> Login | None:
    """The login an enrollments row names (SisPseudonym.for, trusted, SIS not required): an
    active one (a deleted one too with include_deleted), preferring one with a SIS id."""
    candidates = [p for p in user.logins if p.workflow_state == "active" or include_deleted]
    candidates.sort(key=lambda p: (p.workflow_state == "deleted", p.sis_user_id is None, p.id))
    return candidates[0] if candidates else None


def enrollment_status(state: FakeState, enrollment: Enrollment) -> str:
    course = state.courses[enrollment.course_id]
    if course.workflow_state == "deleted":
        return "deleted"
    return ENROLLMENT_STATUS.get(enrollment.state, enrollment.state)


def enrollments_rows(state: FakeState, *, include_deleted: bool) -> list[list[Cell]]:
    """One row per enrollment, by id, leaving out test-student enrollments and those of a
    user without a usable login. Deleted and concluded enrollments are left out; with
    include_deleted concluded ones come back (deleted ones only if made by a SIS import,
    which the fake has not). Each course has one default section, numbered like the course."""
    rows: list[list[Cell]] = []
    for enrollment in sorted(state.enrollments.values(), key=lambda e: e.id):
        if enrollment.type == TEST_STUDENT_TYPE or enrollment.state == "deleted":
            continue
        if enrollment.state == "completed" and not include_deleted:
            continue
        login = report_login(state.users[enrollment.user_id], include_deleted=include_deleted)
        if login is None:
            continue
        associated = None
        if enrollment.associated_user_id is not None:
            associated = report_login(
                state.users[enrollment.associated_user_id], include_deleted=include_deleted
            )
        course = state.courses[enrollment.course_id]
        rows.append(
            [
                course.id,
                course.sis_course_id,
                enrollment.user_id,
                login.sis_user_id,
                SIS_ROLES.get(enrollment.type, enrollment.type),
                ROLE_IDS.get(enrollment.type),
                course.id,  # canvas_section_id: the course's default section
                None,  # section_id: default sections have no SIS id
                enrollment_status(state, enrollment),
                enrollment.associated_user_id,
                associated.sis_user_id if associated is not None else None,
                False,  # created_by_sis
                enrollment.type,  # base_role_type
                False,  # limit_section_privileges
                enrollment.id,
            ]
        )
    return rows


HEADERS: Final = {
    "users": USERS_HEADERS,
    "enrollments": ENROLLMENTS_HEADERS,
    "user_observers": USER_OBSERVERS_HEADERS,
}
BUILDERS = {
    "users": users_rows,
    "enrollments": enrollments_rows,
    "user_observers": user_observers_rows,
}


def _cell(value: Cell) -> str:
    if isinstance(value, bool):  # Ruby's CSV writes true/false
        return "true" if value else "false"
    return "" if value is None else str(value)


def render_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8, `\\n` line ends, fields quoted only when needed (Ruby's CSV defaults)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8")
