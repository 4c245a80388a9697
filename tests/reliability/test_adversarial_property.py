"""Never a pairing on a partial or ambiguous match: a Hypothesis property on adversarial
districts (SIS ids that are substrings and case variants of each other, shared and recycled
emails, deleted users whose login is reused, look-alike names).

Unlike tests/sync/test_sync_property.py (which models the whole expected result), this checks
each link the sync *creates* against an oracle of exact identifiers, computed from the district
as it was before the run: the link must join the one user whose login (else email) equals the
row's email, and the one student whose SIS id equals the row's id exactly (or, for an id with
`@`, whose login, else email, equals it). An ambiguous or partial match may never be linked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canvas_observers.fake_canvas import FakeConfig, create_app
from canvas_observers.sync.options import SyncOptions
from tests.wiring import HEADER, roster_of, sync_with

from .conftest import Canvas, active_logins, fold

SIS_IDS = ["7", "77", "770", "A7", "a7", "A7-1", "07"]
SHARED = "shared@home.test"
GUARDIAN_LOGINS = [
    "pat@home.test", "PAT@Home.test", "pat@home.test.uk", "pat.lee@home.test", "at@home.test",
    "pat", SHARED, "lee@home.test",
]  # fmt: skip
CHANNELS = [None, "pat@home.test", "Pat@home.TEST", SHARED, "lee@home.test", "kid0@school.test"]
ROW_IDS = [*SIS_IDS, "A", "70", "kid0@school.test", "KID1@School.Test", "kid@school.test", SHARED]
ROW_EMAILS = [
    "pat@home.test", "PAT@HOME.TEST", "pat@home.test.uk", "at@home.test", "pat.lee@home.test",
    SHARED, "lee@home.test", "new@home.test", "kid0@school.test",
]  # fmt: skip
NAMES = [("Pat", "Lee"), ("Pat", "Leigh"), ("Patricia", "Lee"), ("Kid", "Zero")]

District = dict[str, Any]


@st.composite
def districts(draw: st.DrawFn) -> District:
    sis = draw(st.lists(st.sampled_from(SIS_IDS), min_size=1, max_size=5, unique=True))
    students = [
        {
            "sis": s,
            "email": draw(st.sampled_from([None, SHARED, "kid0@school.test", "pat@home.test"])),
            "enrolled": draw(st.booleans()),
            "deleted": draw(st.integers(0, 5)) == 0,
        }
        for s in sis
    ]
    logins = draw(
        st.lists(st.sampled_from(GUARDIAN_LOGINS), max_size=4, unique_by=lambda e: e.lower())
    )
    guardians = [
        {
            "login": login,
            "email": draw(st.sampled_from(CHANNELS)),
            "name": draw(st.sampled_from(NAMES)),
            # deleted, and maybe its login recycled by a new account (a new family at the school)
            "fate": draw(st.sampled_from(["live", "live", "deleted", "recycled"])),
        }
        for login in logins
    ]
    links = draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=3))
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ROW_IDS), st.sampled_from(ROW_EMAILS), st.sampled_from(NAMES)
            ),
            min_size=1,
            max_size=8,
        )
    )
    method = draw(st.sampled_from(["code", "direct"]))
    return {"students": students, "guardians": guardians, "links": links, "rows": rows,
            "method": method}  # fmt: skip


def build(case: District) -> Any:
    app = create_app(FakeConfig(throttle=False))
    state = app.fake.state
    course = state.add_course("C")
    student_ids = []
    for i, s in enumerate(case["students"]):
        uid = state.add_user(
            f"Kid {i}", login_id=f"kid{i}@school.test", sis_user_id=s["sis"], email=s["email"]
        )
        if s["enrolled"]:
            state.enroll(uid, course)
        student_ids.append(uid)
    guardian_ids = []
    for g in case["guardians"]:
        first, last = g["name"]
        uid = state.add_user(f"{first} {last}", login_id=g["login"], email=g["email"])
        guardian_ids.append(uid)
    if guardian_ids and student_ids:
        for o, s in case["links"]:
            state.link(guardian_ids[o % len(guardian_ids)], student_ids[s % len(student_ids)])
    for uid, g in zip(guardian_ids, case["guardians"], strict=True):
        if g["fate"] != "live":
            state.delete_user(uid)
        if g["fate"] == "recycled":
            state.add_user("Someone Else", login_id=g["login"], email=None)
    for uid, s in zip(student_ids, case["students"], strict=True):
        if s["deleted"]:
            state.delete_user(uid)
    return app


def unique(users: set[int]) -> int | None:
    return next(iter(users)) if len(users) == 1 else None


def by_login_else_email(canvas: Canvas, key: str) -> set[int]:
    """Live users whose login equals `key`; if none, those whose email channel equals it."""
    key = fold(key)
    login = {
        u
        for u, d in canvas.users.items()
        if any(fold(p["unique_id"]) == key for p in active_logins(d))
    }
    if login:
        return login
    return {u for u, d in canvas.users.items() if any(fold(e) == key for e in d.get("emails", []))}


def exact_student(canvas: Canvas, student_id: str) -> int | None:
    """The one live user the id names exactly (SIS id case-sensitively; `@` ids as logins)."""
    if "@" in student_id:
        return unique(by_login_else_email(canvas, student_id))
    return unique(
        {
            u
            for u, d in canvas.users.items()
            if any(p["sis_user_id"] == student_id for p in active_logins(d))
        }
    )


async def sync(app: Any, csv_text: str, method: str) -> None:
    options = SyncOptions(method="direct" if method == "direct" else "code")
    report = await sync_with(app, roster_of(csv_text), options=options)
    assert report.aborted is None


def check_every_new_link_is_exact(case: District) -> None:
    app = build(case)
    before = Canvas(app.fake.state.snapshot())
    csv_text = HEADER + "".join(
        f"{sid},{email},{f},{last}\n" for sid, email, (f, last) in case["rows"]
    )
    roster = roster_of(csv_text)
    asyncio.run(sync(app, csv_text, case["method"]))
    after = Canvas(app.fake.state.snapshot())

    # A new account only for a guardian email that no live account had as login or email,
    # with that email as its login, and at most one per email.
    created = set(after.users) - set(before.users)
    logins = [after.login_of(uid) for uid in created]
    assert len(logins) == len(set(logins)), "two accounts created for one guardian"
    for login in logins:
        assert login in {fold(r.observer_email) for r in roster.rows}
        assert before.accounts_for(login) == set(), f"{login} already had an account"

    for observer, student in after.live_links() - before.live_links():
        justified = []
        for row in roster.rows:
            guardian = unique(by_login_else_email(before, row.observer_email))
            if guardian is None and not by_login_else_email(before, row.observer_email):
                guardian = unique(
                    {u for u in created if after.login_of(u) == fold(row.observer_email)}
                )
            if guardian == observer and exact_student(before, row.student_id) == student:
                justified.append(row.line)
        assert justified, (
            f"link {after.login_of(observer)} -> {after.sis_of(student)} matches no roster row "
            f"exactly; rows: {case['rows']}"
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts())
def test_every_created_link_matches_a_row_exactly(case: District) -> None:
    """Every link the sync creates joins the unique exact-login/email guardian and the unique
    exact-SIS-id (or login) student of some roster row; ambiguity and substrings never link."""
    check_every_new_link_is_exact(case)


@pytest.mark.soak
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts())
def test_every_created_link_matches_a_row_exactly_soak(case: District) -> None:
    """Soak: the same property over many more adversarial districts."""
    check_every_new_link_is_exact(case)
