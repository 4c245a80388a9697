"""Hypothesis property: on random small districts, one sync does exactly what the roster asks.

After one sync, every valid, unambiguous (and, for codes, enrolled) row is paired exactly once,
no guardian has two accounts, no link exists that the roster did not ask for (beyond those that
were there before), and a second sync writes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canvas_observers.fake_canvas import FakeConfig, create_app
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from tests.wiring import HEADER, roster_of, sync_with

# Adversarial identifiers: substrings of each other, case variants, shared emails.
SIS_IDS = ["1", "10", "100", "1001", "A7", "a7", "A7-B"]
EMAILS = ["pat@x.test", "PAT@x.test", "pat@x.test.uk", "lee@x.test", "kid1@x.test", "amy@y.test"]


@dataclass(frozen=True)
class Student:
    sis: str
    enrolled: bool
    email: str | None


@dataclass(frozen=True)
class Guardian:
    login: str
    email: str | None


@st.composite
def districts(
    draw: st.DrawFn,
) -> tuple[list[Student], list[Guardian], list[tuple[int, int]], list[tuple[str, str]], str]:
    sis = draw(st.lists(st.sampled_from(SIS_IDS), min_size=1, max_size=5, unique=True))
    students = [
        Student(s, draw(st.booleans()), draw(st.sampled_from([None, *EMAILS]))) for s in sis
    ]
    logins = draw(st.lists(st.sampled_from(EMAILS), max_size=3, unique_by=lambda e: e.lower()))
    guardians = [Guardian(g, draw(st.sampled_from([None, *EMAILS]))) for g in logins]
    links = draw(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 10)), max_size=3))
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*SIS_IDS, "kid1@x.test"]),
                st.sampled_from([*EMAILS, " Lee@X.test "]),
            ),
            min_size=1,
            max_size=8,
        )
    )
    method = draw(st.sampled_from(["code", "direct"]))
    return students, guardians, links, rows, method


def _fold(value: str | None) -> str | None:
    return None if value is None else value.strip().lower()


def _login(user: dict) -> str | None:  # type: ignore[type-arg]
    logins = [p["unique_id"] for p in user["logins"] if p["workflow_state"] == "active"]
    return _fold(logins[0]) if logins else None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(districts())
def test_one_sync_pairs_exactly_what_the_roster_asks(case: tuple) -> None:  # type: ignore[type-arg]
    """Every safe row is paired once, nothing else is linked, and a re-run writes nothing."""
    students, guardians, raw_links, rows, method = case
    app = create_app(FakeConfig(throttle=False))
    state = app.fake.state
    course = state.add_course("C")
    sids: dict[str, int] = {}
    for i, s in enumerate(students):
        uid = state.add_user(
            f"Kid {i}", login_id=f"kid{i}@school.test", sis_user_id=s.sis, email=s.email
        )
        if s.enrolled:
            state.enroll(uid, course)
        sids[s.sis] = uid
    gids = [
        state.add_user(f"Parent {i}", login_id=g.login, email=g.email)
        for i, g in enumerate(guardians)
    ]
    before: set[tuple[int, int]] = set()
    for o, s in raw_links:
        if gids and sids:
            pair = (gids[o % len(gids)], list(sids.values())[s % len(sids)])
            state.link(*pair)
            before.add(pair)
    users = {u["id"]: u for u in state.snapshot()["users"]}

    def exact_student(sid: str) -> int | None:
        if "@" in sid:
            hits = {u for u, d in users.items() if _login(d) == sid}
            if not hits:
                hits = {
                    u for u, d in users.items() if sid in {_fold(e) for e in d.get("emails", [])}
                }
        else:
            hits = {sids[sid]} if sid in sids else set()
        return hits.pop() if len(hits) == 1 else None

    # The expected result, computed independently of the planner.
    expected = set(before)
    asked: set[tuple[str, int]] = set()
    # An email the roster uses both as a student login and as a guardian email pairs no one.
    both = {s.lower() for s, _ in rows if "@" in s} & {e.strip().lower() for _, e in rows}
    for sid, email in rows:
        key = email.strip().lower()
        if key in both or sid.lower() in both:
            continue
        student = exact_student(sid)
        if student is None:
            continue
        info = users[student]
        if key in {_login(info), *(_fold(e) for e in info.get("emails", []))}:
            continue  # conflict
        by_login = [u for u, d in users.items() if _login(d) == key]
        by_email = [u for u, d in users.items() if key in {_fold(e) for e in d.get("emails", [])}]
        owners = by_login or by_email
        if len(owners) > 1 or owners == [student]:
            continue  # ambiguous guardian / the student themself
        if owners and not by_login:
            continue  # only a contact email, of an account named otherwise: observer_mismatch
        if method == "code" and not any(
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
        roster = roster_of(
            HEADER + "".join(f"{s},{e},First,Last\n" for s, e in rows), source="r.csv"
        )
        await sync_with(app, roster, options=SyncOptions(method=method), journal=journal)

    journal = Journal.open(":memory:")  # the CLI always has one
    asyncio.run(sync())
    snap = state.snapshot()
    links = {
        (k["observer_id"], k["student_id"])
        for k in snap["observer_links"]
        if k["workflow_state"] == "active"
    }
    logins = {}
    for u in snap["users"]:
        login = _login(u)
        if login is not None:
            assert login not in logins, f"two accounts with login {login}"
            logins[login] = u["id"]
    for key, student in asked:
        owner = logins.get(key) or next(
            u for u, d in users.items() if key in {_fold(e) for e in d.get("emails", [])}
        )
        expected.add((owner, student))
    assert links == expected
    writes = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    asyncio.run(sync())
    assert sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE")) == writes
