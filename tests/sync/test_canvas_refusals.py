"""What a sync does when Canvas refuses: a 401/403/404 to one pairing fails that row, and stops
the run only when the token lost the right; a pairing code refused for an enrolled student
stops it; a create refused twice over (login taken, code expired) still pairs; a run that
stops mid-way gives every row one outcome (docs/canvas-behaviour.md)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.core.outcomes import RowResult
from canvas_observers.fake_canvas import FakeCanvasApp
from canvas_observers.roster.model import Roster, RosterRow
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync
from tests.wiring import BASE_URL, HEADER, roster_of, sync_with

from .conftest import District, SyncRunner, outcomes

UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


# --- a run that stops ----------------------------------------------------------------------


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
        report = await sync_with(
            fake_app,
            Roster(rows=rows, source="r.csv"),
            options=SyncOptions(concurrency=4),
            journal=journal,
            on_result=revoke_after_three,
        )
        assert report.aborted is not None and "token" in report.aborted
        assert sorted(r.line for r in report.results) == [r.line for r in rows]
        stopped = [r for r in report.results if r.outcome.value in ("failed", "not_processed")]
        assert stopped, "rows after the stop are reported, not dropped"
        assert all("the run stopped: Canvas refused the token" in r.detail for r in stopped)
        # Rows the stop kept the run from reaching are not_processed: nothing was tried.
        assert any(r.outcome.value == "not_processed" for r in stopped)
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


# --- 401/403/404 answers to a pairing are judged for the row --------------------------------


Answer = Callable[[httpx.Request], httpx.Response | None]


def refusing(app: FakeCanvasApp, answer: Answer) -> httpx.AsyncBaseTransport:
    """A transport to the fake that lets ``answer`` replace Canvas's answer to some requests."""
    inner = httpx.ASGITransport(app=app)

    class Refusing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            replaced = answer(request)
            if replaced is not None:
                return replaced
            return await inner.handle_async_request(request)

    return Refusing()


async def sync_through(
    app: FakeCanvasApp, transport: httpx.AsyncBaseTransport, csv: str
) -> RunResult:
    """A direct-pairing sync of ``csv`` over ``transport`` (a `refusing` one), one row at a
    time."""
    roster = roster_of(HEADER + csv)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=app.fake.config.admin_token)
        return await run_sync(
            roster,
            client=client,
            options=SyncOptions(method="direct", concurrency=1),
            canvas_url=BASE_URL,
        )


def refuse_pairing_of(student: int, status: int, body: object) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and request.url.path.endswith(f"/observees/{student}"):
            return httpx.Response(status, json=body)
        return None

    return answer


async def test_a_401_to_one_pairing_fails_that_row_when_the_token_may_still_pair(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """Canvas says 401 to one pairing; the token still has manage_user_observers: that row
    fails with Canvas's answer and the other rows are paired."""
    district.student("S1")
    s2 = district.student("S2")
    transport = refusing(fake_app, refuse_pairing_of(s2, 401, UNAUTHORIZED))
    report = await sync_through(fake_app, transport, "S1,a@home.test,A,L\nS2,b@home.test,B,L\n")
    assert report.aborted is None
    assert outcomes(report) == {2: "created", 3: "failed"}
    assert "refused the pairing" in report.results[1].detail


async def test_a_404_to_one_pairing_fails_that_row(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """A 404 to a pairing is about those two users: the row fails, the run goes on."""
    s1 = district.student("S1")
    district.student("S2")
    not_found = {"errors": [{"message": "The specified resource does not exist."}]}
    transport = refusing(fake_app, refuse_pairing_of(s1, 404, not_found))
    report = await sync_through(fake_app, transport, "S1,a@home.test,A,L\nS2,b@home.test,B,L\n")
    assert report.aborted is None
    assert outcomes(report) == {2: "failed", 3: "created"}


async def test_a_401_stops_the_run_when_the_token_lost_the_right(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """When Canvas confirms the token no longer has manage_user_observers, the run stops."""
    s1 = district.student("S1")
    district.student("S2")
    lost = {"manage_user_observers": False}

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/permissions") and any(
            v == "manage_user_observers" for _, v in request.url.params.multi_items()
        ):
            return httpx.Response(200, json=lost)
        return refuse_pairing_of(s1, 401, UNAUTHORIZED)(request)

    report = await sync_through(
        fake_app, refusing(fake_app, answer), "S1,a@home.test,A,L\nS2,b@home.test,B,L\n"
    )
    assert report.aborted is not None
    assert "manage_user_observers" in report.aborted
    assert report.aborted is not None


# --- a create refused twice over -----------------------------------------------------------


async def test_a_taken_login_with_an_expired_code_pairs_with_a_fresh_code(
    district: District, sync_csv: SyncRunner, fake_app: FakeCanvasApp
) -> None:
    """The login appears between the look-up and the create, and the code has expired: Canvas
    names both errors in one 400; the sync uses the existing account and pairs with a new
    code."""
    kid = district.student("S1")
    state = district.fake.state
    made: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response | None:
        creating = request.method == "POST" and request.url.path.endswith("/accounts/self/users")
        if creating and not made:  # someone else makes the login, and the code runs out, now
            made.append(state.add_user("Pat Lee", login_id="pat@home.test"))
            for record in state.pairing_codes:
                record.workflow_state = "deleted"
        return None

    transport = refusing(fake_app, answer)
    roster = roster_of(HEADER + "S1,pat@home.test,Pat,Lee\n", source="r.csv")
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        report = await run_sync(roster, client=client, options=SyncOptions(), canvas_url=BASE_URL)
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(made[0], kid)}
