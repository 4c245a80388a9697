"""Edge cases found in review: look-alike emails, stops mid-run, refused codes, aliases."""

from __future__ import annotations

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.core.outcomes import RowResult
from canvas_observers.fake_canvas import FakeCanvasApp
from canvas_observers.roster.model import Roster, RosterRow
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync

from .conftest import BASE_URL, District, SyncRunner, outcomes

UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


async def test_lookalike_emails_are_two_guardians(district: District, sync_csv: SyncRunner) -> None:
    """`straße` and `strasse` are two Canvas logins, so two guardians, each with their own child."""
    a = district.student("A1")
    b = district.student("B2")
    report = await sync_csv("A1,anna.straße@home.test,Anna,S\nB2,anna.strasse@home.test,Bob,S\n")
    assert outcomes(report) == {2: "created", 3: "created"}
    anna = district.fake.state.user_by_login("anna.straße@home.test")
    bob = district.fake.state.user_by_login("anna.strasse@home.test")
    assert anna is not None and bob is not None and anna.id != bob.id
    assert district.links() == {(anna.id, a), (bob.id, b)}


async def test_a_stop_mid_run_still_gives_every_row_one_outcome(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """Token revoked after a few rows: the run stops, and every row has exactly one result."""
    for i in range(12):
        district.student(f"S{i}")
    rows = tuple(RosterRow(i + 2, f"S{i}", f"g{i}@home.test", "G", str(i)) for i in range(12))
    seen: list[RowResult] = []

    def revoke_after_three(result: RowResult) -> None:
        seen.append(result)
        if len(seen) == 3:
            del district.fake.state.tokens[district.fake.config.admin_token]  # revoked

    with Journal.open(":memory:") as journal:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake_app), base_url=BASE_URL
        ) as http:
            client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
            report = await run_sync(
                Roster(rows=rows, source="r.csv"),
                client=client,
                options=SyncOptions(concurrency=4),
                canvas_url=BASE_URL,
                journal=journal,
                on_result=revoke_after_three,
            )
        assert report.aborted is not None and "token" in report.aborted
        assert sorted(r.line for r in report.results) == [r.line for r in rows]
        stopped = [r for r in report.results if r.outcome.value == "failed"]
        assert stopped, "rows after the stop are reported, not dropped"
        assert all("the run stopped: Canvas refused the token" in r.detail for r in stopped)
        assert report.info.run_id is not None
        assert len(journal.run_rows(report.info.run_id)) == 12


async def test_code_refused_for_an_enrolled_student_stops_the_run(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """401 on a pairing code for an enrolled student (self-registration off) stops the run."""
    district.student("A1")
    roster = Roster(rows=(RosterRow(2, "A1", "pat@home.test", "Pat", "Lee"),), source="r.csv")

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/observer_pairing_codes"):
            return httpx.Response(401, json=UNAUTHORIZED)
        return await httpx.ASGITransport(app=fake_app).handle_async_request(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        report: RunResult = await run_sync(
            roster, client=client, options=SyncOptions(), canvas_url=BASE_URL
        )
    assert report.aborted is not None
    assert report.aborted is not None
    assert "--pairing direct" in report.aborted
    assert "self-registration" in report.aborted
    assert [r.outcome.value for r in report.results] == ["failed"]


async def test_two_emails_of_one_account_pair_a_student_once(
    district: District, sync_csv: SyncRunner
) -> None:
    """A login and an email of the same account, both in the roster: one pairing, not two."""
    s1 = district.student("S1")
    dad = district.guardian("dad@work.test", name="Dad Doe", login="dad@home.test")
    rows = "".join(f"S1,{email},Dad,Doe\n" for email in ("dad@home.test", "dad@work.test"))
    report = await sync_csv(rows, method="direct")
    assert sorted(outcomes(report).values()) == ["already_paired", "paired"]
    assert district.links() == {(dad, s1)}
    assert district.fake.stats.by_method.get("PUT", 0) == 1


async def test_report_never_shows_a_stale_observer_id(
    district: District, sync_csv: SyncRunner
) -> None:
    """A guardian recreated with the same login is never reported under the old account id."""
    a = district.student("A1")
    journal = Journal.open(":memory:")
    await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    old = district.fake.state.user_by_login("pat@home.test")
    assert old is not None
    district.fake.state.delete_user(old.id)
    new = district.guardian("pat@home.test")
    district.fake.state.link(new, a)
    report = await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    assert outcomes(report) == {2: "already_paired"}
    assert report.results[0].canvas_observer_id in {None, new}
