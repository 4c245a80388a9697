"""The sample districts: the demo's traps and messy roster, and the benchmark generator."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import pytest

from canvas_observers.core.columns import ROSTER_COLUMNS
from canvas_observers.fake_canvas import FakeState, create_app
from canvas_observers.fake_canvas.scenarios import (
    TEACHER_PARENT_LOGIN,
    UNKNOWN_STUDENT_ID,
    build_demo,
    generate_district,
)

Row = dict[str, str]


def parse(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == ROSTER_COLUMNS
    rows = list(reader)
    assert all(None not in row and len(row) == 4 for row in rows)
    return rows


@pytest.fixture(scope="module")
def demo() -> tuple[FakeState, list[Row]]:
    state = FakeState()
    return state, parse(build_demo(state))


def students(state: FakeState) -> list[int]:
    """Users with a SIS id that are not teachers (teachers' SIS ids start with T)."""
    return [
        u.id
        for u in state.users.values()
        if u.login and u.login.sis_user_id and not u.login.sis_user_id.startswith("T")
    ]


def test_demo_has_the_substring_search_traps(demo: tuple[FakeState, list[Row]]) -> None:
    """SIS ids 100, 1001, 1002, 2100 exist, so a search for `100` finds many users."""
    state, _ = demo
    for sis_id in ("100", "1001", "1002", "2100"):
        assert state.user_by_sis_id(sis_id) is not None
    assert len(state.search("100")) > 10


def test_demo_size(demo: tuple[FakeState, list[Row]]) -> None:
    """About 300 students in about 12 courses, and about 350 roster rows."""
    state, rows = demo
    assert 280 <= len(students(state)) <= 320
    assert 10 <= len(state.courses) <= 14
    assert 330 <= len(rows) <= 420


def test_demo_has_unenrolled_and_dead_enrolled_students(
    demo: tuple[FakeState, list[Row]],
) -> None:
    """Some students have no enrollment; a few only an inactive or deleted one."""
    state, _ = demo
    ids = students(state)
    never = [u for u in ids if not state.user_enrollments(u)]
    dead = [u for u in ids if state.user_enrollments(u) and not state.has_student_enrollment(u)]
    assert len(never) >= 5
    assert 2 <= len(dead) <= 10
    assert {e.state for u in dead for e in state.user_enrollments(u)} == {"inactive", "deleted"}


def test_demo_guardians_with_accounts_and_pairs(demo: tuple[FakeState, list[Row]]) -> None:
    """About 40 roster guardians already have a login (some in other case); about 20 paired."""
    state, rows = demo
    emails = {r["observer_email"].strip().lower() for r in rows}
    existing = {e for e in emails if state.user_by_login(e) is not None}
    assert 35 <= len(existing) <= 45
    logins = {state.user_by_login(e).login.unique_id for e in existing}  # type: ignore[union-attr]
    assert any(login != login.lower() for login in logins)
    assert 15 <= sum(len(v) for v in state.observees_of.values()) <= 25


def test_demo_teacher_is_also_a_parent(demo: tuple[FakeState, list[Row]]) -> None:
    """The roster names a teacher's own login as a guardian's email."""
    state, rows = demo
    teacher = state.user_by_login(TEACHER_PARENT_LOGIN)
    assert teacher is not None
    assert any(e.type == "TeacherEnrollment" for e in state.user_enrollments(teacher.id))
    assert any(r["observer_email"] == TEACHER_PARENT_LOGIN for r in rows)


def test_demo_roster_is_messy(demo: tuple[FakeState, list[Row]]) -> None:
    """The roster has every mistake the sync must handle."""
    state, rows = demo
    values = [v for r in rows for v in r.values()]
    assert any(v != v.strip() for v in values), "stray spaces"
    assert any(r["observer_email"].isupper() for r in rows), "upper-case email"
    assert any(not r["observer_first_name"].strip() for r in rows), "missing first name"
    assert any("@" not in r["observer_email"] for r in rows), "bad email"
    keys = [tuple(r.values()) for r in rows]
    assert len(keys) != len(set(keys)), "duplicated row"
    assert any(r["student_id"] == UNKNOWN_STUDENT_ID for r in rows)
    assert state.user_by_sis_id(UNKNOWN_STUDENT_ID) is None
    by_login = [r for r in rows if "@" in r["student_id"]]
    assert by_login and all(state.user_by_login(r["student_id"]) for r in by_login)
    conflicts = [
        r
        for r in rows
        if (u := state.user_by_sis_id(r["student_id"].strip()))
        and u.login
        and u.login.unique_id == r["observer_email"]
    ]
    assert conflicts, "guardian email that is the student's own login"
    assert any(not r["observer_email"].strip() and r["observer_first_name"] for r in rows), (
        "a guardian the SIS has no email for"
    )


def test_demo_families(demo: tuple[FakeState, list[Row]]) -> None:
    """Siblings share a guardian, and some children have two guardians."""
    _, rows = demo
    children: dict[str, set[str]] = defaultdict(set)
    guardians: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        email, student = r["observer_email"].strip().lower(), r["student_id"].strip()
        children[email].add(student)
        guardians[student].add(email)
    assert any(len(s) >= 2 for s in children.values())
    assert any(len(g) >= 2 for g in guardians.values())


def test_demo_is_deterministic_and_served_by_create_app() -> None:
    """Two builds give the same roster, which `create_app(scenario="demo")` keeps too."""
    first = build_demo(FakeState())
    assert build_demo(FakeState()) == first
    assert create_app(scenario="demo").fake.demo_roster == first


def test_generate_district_counts() -> None:
    """Rows, shares of existing guardians, pairs, unenrolled students and messy rows."""
    state = FakeState()
    rows = parse(generate_district(state, rows=2000, seed=1))
    assert len(rows) == 2000
    student_ids = students(state)
    assert len(student_ids) == 2000
    guardians = {r["observer_email"] for r in rows}
    existing = sum(state.user_by_login(e) is not None for e in guardians if "@" in e)
    assert 0.13 <= existing / len(guardians) <= 0.27
    pairs = sum(len(v) for v in state.observees_of.values())
    assert 120 <= pairs <= 280
    unenrolled = sum(not state.user_enrollments(u) for u in student_ids)
    assert 50 <= unenrolled <= 160
    broken = sum(
        "@" not in r["observer_email"]
        or not r["observer_first_name"]
        or state.user_by_sis_id(r["student_id"]) is None
        for r in rows
    )
    assert 15 <= broken <= 70
    children = defaultdict(set)
    for r in rows:
        children[r["observer_email"]].add(r["student_id"])
    assert max(len(c) for c in children.values()) == 3


def test_generate_district_is_deterministic_per_seed() -> None:
    """The same seed gives the same roster; another seed a different one."""
    a = generate_district(FakeState(), rows=300, seed=4)
    assert generate_district(FakeState(), rows=300, seed=4) == a
    assert generate_district(FakeState(), rows=300, seed=5) != a


def test_generate_district_honours_zero_shares() -> None:
    """With every share at zero there are no accounts, pairs, gaps or broken rows."""
    state = FakeState()
    rows = parse(
        generate_district(
            state,
            rows=200,
            existing_guardian_share=0.0,
            paired_share=0.0,
            unenrolled_share=0.0,
            messy_share=0.0,
        )
    )
    assert len(rows) == 200
    assert not state.links
    assert all(state.has_student_enrollment(u) for u in students(state))
    assert all(state.user_by_login(r["observer_email"]) is None for r in rows)
    assert all(state.user_by_sis_id(r["student_id"]) for r in rows)
