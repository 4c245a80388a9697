"""Hypothesis property: on random small districts, one sync does exactly what the roster asks,
whether Canvas is read by look-ups or whole, from one provisioning report (as real districts
are, above the 300-row cut-off).

After one sync, every valid, unambiguous (and, for codes, enrolled) row is paired exactly once,
no guardian has two accounts, no link exists that the roster did not ask for (beyond those that
were there before), and a second sync writes nothing. Guardian accounts and roster rows draw
their names from one overlapping list, so an account found only through its contact email is
sometimes the guardian by name and sometimes a stranger who shares a word of it: the oracle
pairs it only when its name has exactly the roster's words.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canvas_observers.fake_canvas import FakeConfig, create_app
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import CanvasStateMode, SyncOptions
from canvas_observers.sync.rules import PairingMethod
from tests.wiring import HEADER, roster_of, sync_with

# Adversarial identifiers: substrings of each other, case variants, shared emails.
SIS_IDS = ["1", "10", "100", "1001", "A7", "a7", "A7-B"]
EMAILS = ["pat@x.test", "PAT@x.test", "pat@x.test.uk", "lee@x.test", "kid1@x.test", "amy@y.test"]
# Guardians also log in with addresses no row gives: their contact email (one of EMAILS) is
# then all a row can find them by.
LOGINS = [*EMAILS, *(f"{name}@home.test" for name in ("kim", "parent", "p.lee", "pat", "lee"))]
# Overlapping names: the same words in another order or case, a shared last or first name, a
# middle name more, an initial.
ACCOUNT_NAMES = ["Pat Lee", "Lee Pat", "PAT LEE", "Kim Lee", "Pat Kim", "Pat Jo Lee", "P Lee"]
ROSTER_NAMES = [("Pat", "Lee"), ("pat", "LEE"), ("Kim", "Lee"), ("Pat Jo", "Lee"), ("P.", "Lee")]
MODES = pytest.mark.parametrize("canvas_state", ["lookups", "report"])


@dataclass(frozen=True)
class Student:
    sis: str
    enrolled: bool
    email: str | None


@dataclass(frozen=True)
class Guardian:
    login: str
    email: str | None
    name: str


Row = tuple[str, str, tuple[str, str]]


@dataclass(frozen=True)
class Case:
    students: list[Student]
    guardians: list[Guardian]
    links: list[tuple[int, int]]
    rows: list[Row]
    method: str


@st.composite
def districts(draw: st.DrawFn) -> Case:
    sis = draw(st.lists(st.sampled_from(SIS_IDS), min_size=1, max_size=5, unique=True))
    students = [
        Student(s, draw(st.booleans()), draw(st.sampled_from([None, None, *EMAILS]))) for s in sis
    ]
    logins = draw(
        st.lists(st.sampled_from(LOGINS), min_size=1, max_size=4, unique_by=lambda e: e.lower())
    )
    guardians = [
        Guardian(g, draw(st.sampled_from([None, *EMAILS])), draw(st.sampled_from(ACCOUNT_NAMES)))
        for g in logins
    ]
    contacts = [g.email for g in guardians if g.email is not None]
    links = draw(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), max_size=3))
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*sis, *sis, *SIS_IDS, "kid1@x.test"]),  # mostly found
                st.sampled_from([*contacts, *contacts, *EMAILS, " Lee@X.test "]),
                st.sampled_from(ROSTER_NAMES),
            ),
            min_size=1,
            max_size=8,
        )
    )
    method = draw(st.sampled_from(["code", "direct"]))
    return Case(students, guardians, links, rows, method)


def _fold(value: str | None) -> str | None:
    return None if value is None else value.strip().lower()


def _login(user: dict[str, Any]) -> str | None:
    logins = [p["unique_id"] for p in user["logins"] if p["workflow_state"] == "active"]
    return _fold(logins[0]) if logins else None


def _words(text: str | None) -> frozenset[str]:
    return frozenset(w for w in re.split(r"[^a-z0-9]+", (text or "").lower()) if w)


def same_name(user: dict[str, Any], first: str, last: str) -> bool:
    """The roster's words, exactly, as the account's display or sortable name (these names
    are plain ASCII: case and order are all that may differ)."""
    wanted = _words(f"{first} {last}")
    return bool(wanted) and wanted in {_words(user["name"]), _words(user["sortable_name"])}


async def no_sleep(_seconds: float) -> None:
    """The report's polls wait for nothing (the fake's reports take no time here)."""
    await asyncio.sleep(0)


@MODES
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=districts())
def test_one_sync_pairs_exactly_what_the_roster_asks(
    canvas_state: CanvasStateMode, case: Case
) -> None:
    """Every safe row is paired once, nothing else is linked, a contact email pairs only the
    account of the guardian's own name, and a re-run writes nothing; read either way."""
    app = create_app(FakeConfig(throttle=False, report_seconds=0.0))
    state = app.fake.state
    course = state.add_course("C")
    sids: dict[str, int] = {}
    for i, s in enumerate(case.students):
        uid = state.add_user(
            f"Kid {i}", login_id=f"kid{i}@school.test", sis_user_id=s.sis, email=s.email
        )
        if s.enrolled:
            state.enroll(uid, course)
        sids[s.sis] = uid
    gids = [state.add_user(g.name, login_id=g.login, email=g.email) for g in case.guardians]
    before: set[tuple[int, int]] = set()
    for o, k in case.links:
        if gids and sids:
            pair = (gids[o % len(gids)], list(sids.values())[k % len(sids)])
            state.link(*pair)
            before.add(pair)
    users = {u["id"]: u for u in state.snapshot()["users"]}
    roster = roster_of(
        HEADER + "".join(f"{s},{e},{first},{last}\n" for s, e, (first, last) in case.rows),
        source="r.csv",
    )

    def emails_of(uid: int) -> set[str | None]:
        return {_fold(e) for e in users[uid].get("emails", [])}

    def exact_student(sid: str) -> int | None:
        if "@" in sid:
            hits = {u for u, d in users.items() if _login(d) == sid}
            if not hits:
                hits = {u for u in users if sid in emails_of(u)}
        else:
            hits = {sids[sid]} if sid in sids else set()
        return hits.pop() if len(hits) == 1 else None

    # The expected result, computed independently of the planner, from the rows as read.
    expected = set(before)
    asked: set[tuple[str, int]] = set()
    # An email the roster uses both as a student login and as a guardian email pairs no one.
    both = {r.student_id.lower() for r in roster.rows if "@" in r.student_id} & {
        r.observer_email.lower() for r in roster.rows
    }
    for row in roster.rows:
        key, sid = row.observer_email.lower(), row.student_id
        if key in both or sid.lower() in both:
            continue
        student = exact_student(sid)
        if student is None:
            continue
        if key in {_login(users[student]), *emails_of(student)}:
            continue  # conflict
        by_login = [u for u, d in users.items() if _login(d) == key]
        by_email = [u for u in users if key in emails_of(u)]
        owners = by_login or by_email
        if len(owners) > 1 or owners == [student]:
            continue  # ambiguous guardian / the student themself
        if owners and not by_login:
            first, last = row.observer_first_name, row.observer_last_name
            if not same_name(users[owners[0]], first, last):
                continue  # only the contact email of another name: observer_mismatch
        if case.method == "code" and not any(
            e["user_id"] == student
            and e["enrollment_state"] == "active"
            and e["type"] == "StudentEnrollment"
            for e in state.snapshot()["enrollments"]
        ):
            continue
        asked.add((key, student))
        if owners:
            expected.add((owners[0], student))

    async def sync() -> None:
        method: PairingMethod = "direct" if case.method == "direct" else "code"
        options = SyncOptions(method=method, canvas_state=canvas_state)
        report = await sync_with(app, roster, options=options, journal=journal, sleep=no_sleep)
        assert report.aborted is None
        assert report.info.canvas_state == canvas_state

    journal = Journal.open(":memory:")  # the CLI always has one
    asyncio.run(sync())
    snap = state.snapshot()
    links = {
        (k["observer_id"], k["student_id"])
        for k in snap["observer_links"]
        if k["workflow_state"] == "active"
    }
    logins: dict[str, int] = {}
    for u in snap["users"]:
        login = _login(u)
        if login is not None:
            assert login not in logins, f"two accounts with login {login}"
            logins[login] = u["id"]
    for key, student in asked:
        owner = logins.get(key) or next((u for u in users if key in emails_of(u)), None)
        assert owner is not None, f"no account has the login {key}: none was made"
        expected.add((owner, student))
    assert links == expected
    writes = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    reports = app.fake.stats.by_route.get("POST /api/v1/accounts/:account_id/reports/:report", 0)
    asyncio.run(sync())
    again = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    started = app.fake.stats.by_route.get("POST /api/v1/accounts/:account_id/reports/:report", 0)
    assert again - (started - reports) == writes, "the re-run wrote (starting a report aside)"
