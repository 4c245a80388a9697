"""Never a pairing on a partial or ambiguous match: a Hypothesis property on adversarial
districts (SIS ids that are substrings and case variants of each other, shared and recycled
emails, deleted users whose login is reused, look-alike names), with Canvas read by look-ups
and read whole from one provisioning report (as real districts are, above the 300-row cut-off).

An oracle of exact identifiers, computed from the district as it was before the run, says
which pair each row links: the one live user whose login (else email) equals the row's email,
and the one student whose SIS id equals the row's id exactly (or, for an id with `@`, whose
login, else email, equals it); an account found only through its contact email counts only
when its name has exactly the words of the roster's names. After the run, Canvas must hold
exactly the links it held before plus the oracle's: every expected pair linked, even one the
sync judged already paired, and no other. An ambiguous or partial match may never be linked.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canvas_observers.fake_canvas import FakeConfig, create_app
from canvas_observers.roster.model import Roster, RosterRow
from canvas_observers.sync.options import CanvasStateMode, SyncOptions
from tests.wiring import HEADER, roster_of, sync_with

from .conftest import Canvas, active_logins, fold

SIS_IDS = ["7", "77", "770", "A7", "a7", "A7-1", "07"]
SHARED = "shared@home.test"
GUARDIAN_LOGINS = [
    "pat@home.test", "PAT@Home.test", "pat@home.test.uk", "pat.lee@home.test", "at@home.test",
    "pat", SHARED, "lee@home.test",
]  # fmt: skip
# Accounts a row finds by their contact email alone: a login no row gives (another address,
# or one that holds the contact email as a substring or as a prefix), a name of NAMES.
CONTACTS = ["pat@home.test", "Pat@home.TEST", "lee@home.test", "pat.lee@home.test"]
CONTACT_LOGINS = ["other", "substring", "prefix"]
CHANNELS = [None, "pat@home.test", "Pat@home.TEST", SHARED, "lee@home.test", "kid0@school.test"]
ROW_IDS = [
    *SIS_IDS, "A", "70", "kid0@school.test", "KID1@School.Test", "kid@school.test", SHARED,
    "id0@school.test",  # a part of student 0's login
]  # fmt: skip
ROW_EMAILS = [
    "pat@home.test", "PAT@HOME.TEST", "pat@home.test.uk", "at@home.test", "pat.lee@home.test",
    SHARED, "lee@home.test", "new@home.test", "kid0@school.test",
]  # fmt: skip
NAMES = [("Pat", "Lee"), ("Pat", "Leigh"), ("Patricia", "Lee"), ("Kim", "Lee"), ("Kid", "Zero")]
ROW_NAMES = [*NAMES, ("Lee", "Pat"), ("PAT", "lee")]  # the same words in another order or case

District = dict[str, Any]
Link = tuple[int, int]
MODES = pytest.mark.parametrize("canvas_state", ["lookups", "report"])


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
    contacts = [
        {
            "email": email,
            "name": draw(st.sampled_from(NAMES)),
            "login": draw(st.sampled_from(CONTACT_LOGINS)),
        }
        for email in draw(st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=2))
    ]
    links = draw(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=3))
    # Half the rows name a student of the district, and half give the contact email of one of
    # the accounts above: the cases a near miss would link.
    emails = [c["email"] for c in contacts]
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sis) | st.sampled_from(ROW_IDS),
                st.sampled_from(emails) | st.sampled_from(ROW_EMAILS),
                st.sampled_from(ROW_NAMES),
            ),
            min_size=1,
            max_size=8,
        )
    )
    method = draw(st.sampled_from(["code", "direct"]))
    return {"students": students, "guardians": guardians, "contacts": contacts, "links": links,
            "rows": rows, "method": method}  # fmt: skip


def build(case: District) -> Any:
    app = create_app(FakeConfig(throttle=False, report_seconds=0.0))
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
    for i, c in enumerate(case["contacts"]):
        email = c["email"].lower()
        login = {"other": f"family{i}@home.test", "substring": f"{i}{email}"}.get(
            c["login"], f"{email}.{i}"
        )
        first, last = c["name"]
        guardian_ids.append(state.add_user(f"{first} {last}", login_id=login, email=c["email"]))
    if guardian_ids and student_ids:
        for o, s in case["links"]:
            state.link(guardian_ids[o % len(guardian_ids)], student_ids[s % len(student_ids)])
    for uid, g in zip(guardian_ids, case["guardians"], strict=False):  # contacts stay live
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


def words(text: str | None) -> frozenset[str]:
    return frozenset(w for w in re.split(r"[^a-z0-9]+", (text or "").lower()) if w)


def named_as(user: Mapping[str, Any], row: RosterRow) -> bool:
    """The account's display or sortable name has exactly the words of the row's names (the
    names here are plain ASCII: only case and order may differ)."""
    wanted = words(f"{row.observer_first_name} {row.observer_last_name}")
    return bool(wanted) and wanted in {words(user["name"]), words(user["sortable_name"])}


def enrolled(canvas: Canvas, user_id: int) -> bool:
    return any(
        e["user_id"] == user_id
        and e["type"] == "StudentEnrollment"
        and e["enrollment_state"] == "active"
        for e in canvas.dump["enrollments"]
    )


def expected_pairs(before: Canvas, roster: Roster, method: str) -> dict[int, tuple[str, int]]:
    """Line -> (guardian, student Canvas id) for every row that must end linked. The guardian
    is a Canvas id, or the row's email (folded) when no live account has it and one is made.

    A row links nothing when the roster also uses its email as a student's login, when its
    student is not exactly one live user, when its guardian's email leads to several accounts
    or to the student's own account, login or email, when that account is found only through
    its contact email and is named otherwise, and (pairing codes) when the student has no
    live student enrollment."""
    rows = roster.rows
    both = {r.student_id.lower() for r in rows if r.student_is_login} & {
        fold(r.observer_email) for r in rows
    }
    expected: dict[int, tuple[str, int]] = {}
    for row in rows:
        key = fold(row.observer_email)
        if key in both or (row.student_is_login and row.student_id.lower() in both):
            continue
        student = exact_student(before, row.student_id)
        if student is None:
            continue
        by_login = {
            u
            for u, d in before.users.items()
            if any(fold(p["unique_id"]) == key for p in active_logins(d))
        }
        owners = by_login or by_login_else_email(before, key)
        if len(owners) > 1:
            continue
        owner = next(iter(owners), None)
        kid = before.users[student]
        own = {fold(p["unique_id"]) for p in active_logins(kid)} | {
            fold(e) for e in kid.get("emails", [])
        }
        if owner == student or key in own:
            continue
        if owner is not None and not by_login and not named_as(before.users[owner], row):
            continue
        if method == "code" and not enrolled(before, student):
            continue
        expected[row.line] = (key if owner is None else str(owner), student)
    return expected


async def no_sleep(_seconds: float) -> None:
    """The report's polls wait for nothing (the fake's reports take no time here)."""
    await asyncio.sleep(0)


async def sync(app: Any, roster: Roster, method: str, canvas_state: CanvasStateMode) -> None:
    options = SyncOptions(
        method="direct" if method == "direct" else "code", canvas_state=canvas_state
    )
    report = await sync_with(app, roster, options=options, sleep=no_sleep)
    assert report.aborted is None
    assert report.info.canvas_state == canvas_state


def check_exactly_the_exact_pairs_are_linked(case: District, canvas_state: CanvasStateMode) -> None:
    app = build(case)
    before = Canvas(app.fake.state.snapshot())
    csv_text = HEADER + "".join(
        f"{sid},{email},{f},{last}\n" for sid, email, (f, last) in case["rows"]
    )
    roster = roster_of(csv_text)
    pairs = expected_pairs(before, roster, case["method"])
    asyncio.run(sync(app, roster, case["method"], canvas_state))
    after = Canvas(app.fake.state.snapshot())

    # A new account only for a guardian email that no live account had as login or email,
    # with that email as its login, and at most one per email.
    created = set(after.users) - set(before.users)
    logins = [after.login_of(uid) for uid in created]
    assert len(logins) == len(set(logins)), "two accounts created for one guardian"
    for login in logins:
        assert login in {fold(r.observer_email) for r in roster.rows}
        assert before.accounts_for(login) == set(), f"{login} already had an account"
    made = {after.login_of(uid): uid for uid in created}

    expected: set[Link] = set(before.live_links())
    for line, (guardian, student) in pairs.items():
        if guardian.isdigit():
            expected.add((int(guardian), student))
        else:
            assert guardian in made, f"line {line}: no account was made for {guardian}"
            expected.add((made[guardian], student))
    links = after.live_links()

    def named(found: set[Link]) -> list[str]:
        return sorted(f"{after.login_of(o)} -> {after.sis_of(s)}" for o, s in found)

    assert links == expected, (
        f"missing: {named(expected - links)}; unasked: {named(links - expected)}; "
        f"rows: {case['rows']}"
    )


@MODES
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=districts())
def test_exactly_the_exact_pairs_are_linked(canvas_state: CanvasStateMode, case: District) -> None:
    """Canvas ends with the links it had plus, for each row, the link of the unique
    exact-login/email guardian (by contact email only under the guardian's own name) and the
    unique exact-SIS-id (or login) student: each such pair linked, already paired or not, and
    no other; ambiguity, substrings and a stranger's contact email never link."""
    check_exactly_the_exact_pairs_are_linked(case, canvas_state)


@pytest.mark.soak
@MODES
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=districts())
def test_exactly_the_exact_pairs_are_linked_soak(
    canvas_state: CanvasStateMode, case: District
) -> None:
    """Soak: the same property over many more adversarial districts."""
    check_exactly_the_exact_pairs_are_linked(case, canvas_state)
