"""Sample districts for the fake Canvas, built only through `FakeState`'s public builders.

`build_demo` is the hand-shaped district of `canvas-observers demo` / `fake-canvas --scenario
demo`: every trap the sync must survive appears at least once (see its docstring).
`generate_district` is the big, plain, seeded district of the benchmarks. Both return the
matching roster as CSV text in the four-column roster format (roster/csv_reader.py).
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from canvas_observers.core.columns import ROSTER_COLUMNS
from canvas_observers.fake_canvas.state import FakeState

FIRST_NAMES: Final = (
    "Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Chloe", "Lucas", "Aria", "Mateo",
    "Layla", "Owen", "Nora", "Elijah", "Priya", "Kenji", "Amara", "Diego", "Sofia", "Yusuf",
    "Hannah", "Caleb", "Leah", "Isaac", "Maya", "Omar", "Grace", "Jonah", "Ruby", "Arjun",
    "Elena", "Felix", "Iris", "Hugo", "Lena", "Tariq", "Nina", "Ravi", "Clara", "Jude",
)  # fmt: skip
GUARDIAN_FIRST_NAMES: Final = (
    "Maria", "James", "Fatima", "David", "Linda", "Wei", "Sarah", "Carlos", "Aisha", "Michael",
    "Rosa", "Daniel", "Mei", "Robert", "Ana", "Thomas", "Nadia", "Kevin", "Lucia", "Samuel",
    "Joann", "Ann", "Peter", "Olga", "Victor", "Helen", "Andre", "Grace", "Paul", "Irene",
)  # fmt: skip
LAST_NAMES: Final = (
    "Garcia", "Smith", "Nguyen", "Johnson", "Okafor", "Kim", "Patel", "Brown", "Lopez", "Chen",
    "Müller", "Williams", "Haddad", "Jones", "Silva", "Novak", "O'Brien", "Rossi", "Tanaka",
    "Ivanova", "Dubois", "Cohen", "Singh", "Martin", "Kowalski", "Andersen", "Mensah", "Reyes",
    "Lee", "Walker", "Hall", "Young", "Khan", "Wright", "Scott", "Green", "Baker", "Adams",
    "Nelson", "Hill",
)  # fmt: skip
COURSES: Final = (
    "Grade 6 English", "Grade 6 Math", "Grade 6 Science", "Grade 7 English", "Grade 7 Math",
    "Grade 7 History", "Grade 8 English", "Grade 8 Algebra", "Grade 8 Biology", "Spanish I",
    "Art", "Physical Education",
)  # fmt: skip
STUDENT_DOMAIN: Final = "students.springfield.example.edu"
STAFF_DOMAIN: Final = "springfield.example.edu"
GUARDIAN_DOMAINS: Final = ("example.com", "example.net", "example.org")
# The teacher who is also a parent: this login is their teacher login *and* the roster's
# observer_email for their child, so the sync must reuse the account, not create one.
TEACHER_PARENT_LOGIN: Final = f"maria.garcia@{STAFF_DOMAIN}"
# Search traps: a search for "100" also finds 1001, 1002, 2100, 21000... (substring match).
TRAP_SIS_IDS: Final = ("100", "2100", "21000")
UNKNOWN_STUDENT_ID: Final = "9999"


def write_roster(rows: Iterable[Sequence[str]]) -> str:
    """The four-column roster CSV text (header first, LF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROSTER_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


@dataclass
class _Student:
    first: str
    last: str
    sis_id: str
    login: str
    user_id: int = 0


@dataclass
class _FamilyGuardian:
    """A guardian of one generated family: the roster names them once per child, and
    user_id is their Canvas account when the district already has one."""

    first: str
    last: str
    email: str
    students: list[_Student] = field(default_factory=list)
    user_id: int | None = None


class _Emails:
    """Unique guardian emails: first.last@domain, numbered on collision."""

    def __init__(self) -> None:
        self.taken: set[str] = {TEACHER_PARENT_LOGIN}

    def new(self, first: str, last: str, domain: str) -> str:
        base = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
        candidate, n = f"{base}@{domain}", 1
        while candidate in self.taken:
            n += 1
            candidate = f"{base}{n}@{domain}"
        self.taken.add(candidate)
        return candidate


def build_demo(state: FakeState) -> str:
    """Build the demo district in `state` and return its roster CSV text.

    The district (deterministic): 300 students in 12 courses with 12 teachers; SIS ids `100`,
    `2100`, `21000` and `1000`..`1296` (so `100` is a substring of many others); 10 students
    with no enrollment and 5 whose only enrollment is inactive or deleted; about 40 guardians
    who already have an account (login = email, some with different letter case in Canvas),
    20 of them already paired; a teacher whose teacher login is the email the roster gives as
    their child's guardian.

    The roster (~360 rows) has: siblings sharing a guardian, children with two guardians,
    stray spaces, upper-case emails, a missing first name, a bad email, a duplicated row, a
    student given by login email, an unknown student id, a guardian email that is the
    student's own login (a conflict), and a second guardian the SIS has no email for.
    """
    rng = random.Random(20240901)
    emails = _Emails()
    course_ids = [state.add_course(name) for name in COURSES]
    teacher_parent = 0
    for n, course_id in enumerate(course_ids):
        first, last = GUARDIAN_FIRST_NAMES[n], LAST_NAMES[(n * 3 + 1) % len(LAST_NAMES)]
        login = TEACHER_PARENT_LOGIN if n == 0 else f"{first}.{last}@{STAFF_DOMAIN}".lower()
        teacher = state.add_user(f"{first} {last}", login_id=login, sis_user_id=f"T{n + 1:03d}")
        state.enroll(teacher, course_id, type="TeacherEnrollment")
        if n == 0:
            teacher_parent = teacher

    sis_ids = [*TRAP_SIS_IDS, *(str(1000 + i) for i in range(297))]
    families: list[list[_Student]] = []
    index = 0
    while index < len(sis_ids):
        size = min(rng.choices((1, 2, 3), weights=(80, 15, 5))[0], len(sis_ids) - index)
        last = "Garcia" if not families else rng.choice(LAST_NAMES)
        family = []
        for sis_id in sis_ids[index : index + size]:
            first = rng.choice(FIRST_NAMES)
            login = f"{first}.{last}.{sis_id}@{STUDENT_DOMAIN}".lower().replace("'", "")
            family.append(_Student(first, last, sis_id, login))
        families.append(family)
        index += size

    for n, student in enumerate(s for family in families for s in family):
        student.user_id = state.add_user(
            f"{student.first} {student.last}", login_id=student.login, sis_user_id=student.sis_id
        )
        if n % 29 == 7:
            continue  # never enrolled: pairing codes are refused for them
        if n % 61 == 13:  # only a dead enrollment, which Canvas does not count
            dead = "inactive" if n % 2 else "deleted"
            state.enroll(student.user_id, course_ids[n % 12], state=dead)
            continue
        for k in range(1 + n % 3):
            state.enroll(student.user_id, course_ids[(n + 4 * k) % 12])

    guardians: list[_FamilyGuardian] = []
    for f, family in enumerate(families):
        last = family[0].last
        if f == 0:  # the Garcia children's parent is the teacher Maria Garcia
            first = "Maria"
            guardian = _FamilyGuardian(first, last, TEACHER_PARENT_LOGIN, family, teacher_parent)
            guardians.append(guardian)
            continue
        for g in range(rng.choices((1, 2), weights=(80, 20))[0]):
            first = rng.choice(GUARDIAN_FIRST_NAMES)
            guardian_last = last if g == 0 else rng.choice(LAST_NAMES)
            email = emails.new(first, guardian_last, GUARDIAN_DOMAINS[(f + g) % 3])
            guardians.append(_FamilyGuardian(first, guardian_last, email, family))

    existing = [g for n, g in enumerate(guardians) if n % 7 == 3][:40]
    for n, guardian in enumerate(existing):
        # Logins are case-insensitive in Canvas; some parents registered with capitals.
        login = guardian.email.title() if n % 3 == 0 else guardian.email
        guardian.user_id = state.add_user(f"{guardian.first} {guardian.last}", login_id=login)
        if n % 2 == 0:  # paired already; of siblings only the first, so the rest still need it
            state.link(guardian.user_id, guardian.students[0].user_id)

    rows = [[s.sis_id, g.email, g.first, g.last] for g in guardians for s in g.students]
    return write_roster(_make_messy(rows, [s for family in families for s in family]))


def _make_messy(rows: list[list[str]], students: list[_Student]) -> list[list[str]]:
    """The mistakes real SIS exports contain, at fixed places so the demo is reproducible."""
    rows = [list(r) for r in rows]
    rows[10][0] = f" {rows[10][0]} "  # stray spaces
    rows[20][1] = f"{rows[20][1]}  "
    rows[30][2] = f"  {rows[30][2]}"
    for n in (40, 50, 60):
        rows[n][1] = rows[n][1].upper()  # upper-case emails
    rows[70][2] = ""  # missing first name
    rows[80][1] = rows[80][1].replace("@", ".at.")  # bad email
    by_sis = {s.sis_id: s for s in students}
    rows[90][0] = by_sis[rows[90][0].strip()].login  # the student given by their login
    rows.insert(101, list(rows[100]))  # duplicated row
    rows.insert(150, [UNKNOWN_STUDENT_ID, "pat.unknown@example.com", "Pat", "Unknown"])
    conflict = by_sis[rows[200][0].strip()]  # the student's own login as the guardian's email
    rows.insert(201, [conflict.sis_id, conflict.login, conflict.first, conflict.last])
    no_email = by_sis[rows[250][0].strip()]  # a second guardian, whom the SIS has no email for
    rows.insert(251, [no_email.sis_id, "", "Rosa", no_email.last])
    return rows


def generate_district(
    state: FakeState,
    *,
    rows: int = 1000,
    seed: int = 0,
    existing_guardian_share: float = 0.2,
    paired_share: float = 0.1,
    unenrolled_share: float = 0.05,
    messy_share: float = 0.02,
) -> str:
    """Build a benchmark district of about `rows` roster rows; return the roster CSV text.

    Guardians have one to three students each (siblings), and a student has one guardian, so
    rows = students. About `existing_guardian_share` of guardians already have accounts,
    `paired_share` of rows are already paired, `unenrolled_share` of students have no
    enrollment, and `messy_share` of rows are broken (bad email, missing first name, or an
    unknown student id). Deterministic for a seed on an empty state.
    """
    rng = random.Random(seed)
    course_ids = [state.add_course(f"Course {n + 1}") for n in range(max(1, rows // 25))]
    # Pair within existing guardians' rows so the paired share holds overall.
    pair_given_existing = (
        min(1.0, paired_share / existing_guardian_share) if existing_guardian_share > 0 else 0.0
    )
    out: list[tuple[str, str, str, str]] = []
    student_number = 0
    guardian_number = 0
    while len(out) < rows:
        guardian_number += 1
        g_first, g_last = rng.choice(GUARDIAN_FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{g_first}.{g_last}.{guardian_number}@{GUARDIAN_DOMAINS[guardian_number % 3]}"
        email = email.lower().replace("'", "")
        guardian_id: int | None = None
        if rng.random() < existing_guardian_share:
            guardian_id = state.add_user(f"{g_first} {g_last}", login_id=email)
        for _ in range(min(rng.randint(1, 3), rows - len(out))):
            student_number += 1
            sis_id = str(100000 + student_number)
            first = rng.choice(FIRST_NAMES)
            login = f"s{sis_id}@{STUDENT_DOMAIN}"
            student_id = state.add_user(f"{first} {g_last}", login_id=login, sis_user_id=sis_id)
            if rng.random() >= unenrolled_share:
                state.enroll(student_id, course_ids[student_number % len(course_ids)])
            if guardian_id is not None and rng.random() < pair_given_existing:
                state.link(guardian_id, student_id)
            row = (sis_id, email, g_first, g_last)
            if rng.random() < messy_share:
                row = _break(row, rng.randrange(3))
            out.append(row)
    return write_roster(out)


def _break(row: tuple[str, str, str, str], how: int) -> tuple[str, str, str, str]:
    sis_id, email, first, last = row
    if how == 0:
        return (sis_id, email.replace("@", " at "), first, last)  # bad email
    if how == 1:
        return (sis_id, email, "", last)  # missing first name
    return ("9" + sis_id, email, first, last)  # unknown student: 9100001... is never assigned
