"""Every row names its people: the student as Canvas gives them, the guardian as the roster
does, through the engine, the dry-run plan, removals and undo, into the journal; a guardian
the SIS has no email for is ``no_email``, reported by name and never written to Canvas.
"""

from __future__ import annotations

import pytest

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.undo import undo_removals
from tests.wiring import BASE_URL, HEADER, canvas_client, roster_of, sync_with


async def no_sleep(_seconds: float) -> None:
    return None


def town() -> tuple[FakeCanvasApp, dict[str, int]]:
    """Sam Lee (A1) and Kim Ray (B2), enrolled; an existing guardian account for Pat."""
    app = create_app(FakeConfig(throttle=False, report_seconds=0.0))
    state = app.fake.state
    course = state.add_course("C")
    ids = {
        "A1": state.add_user("Sam Lee", login_id="sam@kids.test", sis_user_id="A1"),
        "B2": state.add_user("Kim Ray", login_id="kim@kids.test", sis_user_id="B2"),
    }
    for uid in ids.values():
        state.enroll(uid, course)
    ids["pat"] = state.add_user("Patricia Lee", login_id="pat@home.test")
    return app, ids


ROWS = (
    "A1,pat@home.test,Pat,Lee\n"  # 2 paired
    "ZZ9,zed@home.test,Zed,Nobody\n"  # 3 student_not_found
    "A1,,Ana,Ng\n"  # 4 no_email: A1 is looked up by line 2
    "B2,  ,Bo,Ng\n"  # 5 no_email: B2 by no row (blank is no email)
    "A1,not-an-email,Bad,Row\n"  # 6 invalid_row: a malformed email is a fault of the row
)


@pytest.mark.parametrize("canvas_state", ["lookups", "report"])
async def test_rows_name_the_student_and_guardian(canvas_state: str) -> None:
    """Both ways of reading Canvas name the student as Canvas does and the guardian as the
    roster does; a no_email row names the student when the run knows them (the report knows
    every student; look-ups only those a row looked up, with no call made for the row);
    no_email is not in the default --fail-on, a malformed email still is; the journal keeps
    the names."""
    app, ids = town()
    with Journal.open(":memory:") as journal:
        result = await sync_with(
            app,
            roster_of(HEADER + ROWS),
            options=SyncOptions(canvas_state=canvas_state),  # type: ignore[arg-type]
            journal=journal,
            sleep=no_sleep,
        )
        assert result.aborted is None
        got = {
            r.line: (r.outcome, r.student_name, r.guardian_name, r.observer_email)
            for r in result.results
        }
        b2 = "Kim Ray" if canvas_state == "report" else ""
        assert got == {
            2: (Outcome.PAIRED, "Sam Lee", "Pat Lee", "pat@home.test"),
            3: (Outcome.STUDENT_NOT_FOUND, "", "Zed Nobody", "zed@home.test"),
            4: (Outcome.NO_EMAIL, "Sam Lee", "Ana Ng", ""),
            5: (Outcome.NO_EMAIL, b2, "Bo Ng", ""),
            6: (Outcome.INVALID_ROW, "", "Bad Row", "not-an-email"),
        }
        no_email = [r for r in result.results if r.outcome is Outcome.NO_EMAIL]
        assert all("pairing code" in r.detail and r.student_id for r in no_email)
        assert [r.line for r in result.attention()] == [3, 6]
        assert Outcome.NO_EMAIL not in DEFAULT_FAIL_ON
        assert result.info.rows_rejected == 1  # the malformed email only
        assert result.info.rows_read == 5
        assert app.fake.state.is_linked(ids["pat"], ids["A1"])
        assert not app.fake.state.is_linked(ids["pat"], ids["B2"])
        assert result.info.run_id is not None
        assert sorted(journal.run_rows(result.info.run_id), key=lambda r: r.line) == list(
            result.results
        )
    # Nothing is looked up for the no_email rows: the run makes the calls it makes without them.
    without, _ = town()
    others = "".join(
        line + "\n" for line in ROWS.splitlines() if ",," not in line and ",  ," not in line
    )
    alone = await sync_with(
        without,
        roster_of(HEADER + others),
        options=SyncOptions(canvas_state=canvas_state),  # type: ignore[arg-type]
        sleep=no_sleep,
    )
    assert [r.outcome for r in alone.results] == [
        Outcome.PAIRED,
        Outcome.STUDENT_NOT_FOUND,
        Outcome.INVALID_ROW,
    ]
    assert alone.info.api_calls == result.info.api_calls


async def test_a_dry_run_plan_names_people() -> None:
    """A dry run over the report (the whole plan at once) names them as a real run would."""
    app, _ = town()
    result = await sync_with(
        app,
        roster_of(HEADER + "B2,new@home.test,New,Parent\n"),
        options=SyncOptions(canvas_state="report", dry_run=True),
        sleep=no_sleep,
    )
    ((line, outcome, student, guardian),) = [
        (r.line, r.outcome, r.student_name, r.guardian_name) for r in result.results
    ]
    assert (line, outcome, student, guardian) == (2, Outcome.WOULD_CREATE, "Kim Ray", "New Parent")


async def test_removal_pending_removed_and_undone_rows_name_people() -> None:
    """A link the roster stops listing is pending, then removed, then put back by undo: each
    row names the guardian as the roster last gave them (the journal's memory) and the student
    as Canvas gives them."""
    app, ids = town()
    keep = "B2,kay@home.test,Kay,Ray\n"
    options = SyncOptions(canvas_state="report", remove_ended=True, grace_runs=2)
    with Journal.open(":memory:") as journal:

        async def night(rows: str) -> list[tuple[Outcome, str, str]]:
            result = await sync_with(
                app, roster_of(HEADER + rows), options=options, journal=journal, sleep=no_sleep
            )
            assert result.aborted is None, result.aborted
            return [
                (r.outcome, r.student_name, r.guardian_name) for r in result.results if r.line == 0
            ]

        # Kay takes Pat's place for Sam: as many rows, so the roster is not taken as truncated.
        later = keep + "A1,kay@home.test,Kay,Ray\n"
        assert await night("A1,pat@home.test,Pat,Lee\n" + keep) == []
        assert await night(later) == [(Outcome.REMOVAL_PENDING, "Sam Lee", "Pat Lee")]
        assert await night(later) == [(Outcome.REMOVED, "Sam Lee", "Pat Lee")]
        assert not app.fake.state.is_linked(ids["pat"], ids["A1"])
        removing_run = journal.list_runs(limit=1)[0].id
        async with canvas_client(app) as client:
            _, undone = await undo_removals(client, journal, removing_run, canvas_url=BASE_URL)
        assert [(r.outcome, r.student_label, r.guardian_label) for r in undone] == [
            (Outcome.PAIRED, "Sam Lee (A1)", "Pat Lee (pat@home.test)")
        ]
        assert app.fake.state.is_linked(ids["pat"], ids["A1"])
