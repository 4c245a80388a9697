"""Where real Canvas is harsher than a kind fake: self-pairing, limited admin roles, contact
emails that are not identity, and 401/403/404 answers to a pairing (docs/canvas-behaviour.md)."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.fake_canvas import FakeCanvasApp
from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync

from .conftest import BASE_URL, HEADER, District, SyncRunner, outcomes

UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


def pairing_writes(district: District) -> int:
    routes = district.fake.stats.by_route
    return routes.get("POST /api/v1/users/:user_id/observees", 0) + routes.get(
        "PUT /api/v1/users/:user_id/observees/:observee_id", 0
    )


# --- a guardian account that is the student's own -------------------------------------------


async def test_guardian_email_on_a_second_login_of_the_student_is_a_conflict(
    district: District, sync_csv: SyncRunner
) -> None:
    """The email is the student's *other* login (found after "taken"): conflict, no pairing,
    no account; the run goes on (Canvas would answer 401 after burning the code)."""
    kid = district.student("S1")
    state = district.fake.state
    state._add_login(state.users[kid], "family@home.test", None)  # a second login of the kid
    district.student("S2")
    report = await sync_csv("S1,family@home.test,Pat,Lee\nS2,other@home.test,Ann,Lee\n")
    assert outcomes(report) == {2: "conflict", 3: "created"}
    assert "student's own Canvas account" in report.results[0].detail
    assert report.aborted is None
    assert all(s != kid for _, s in district.links())
    assert pairing_writes(district) == 0  # the created guardian was paired by the create


async def test_self_pairing_found_through_the_journal_route_is_a_conflict(
    district: District, sync_csv: SyncRunner
) -> None:
    """A guardian seen before is found by login; when that login is the student's, nothing
    is written, in a dry run too."""
    kid = district.student("S1")
    state = district.fake.state
    state._add_login(state.users[kid], "family@home.test", None)
    journal = Journal.open(":memory:")
    journal.for_run(0, canvas_url=BASE_URL).remember_user(
        kind="observer", key="family@home.test", canvas_id=kid, at="x"
    )
    dry = await sync_csv("S1,family@home.test,Pat,Lee\n", journal=journal, dry_run=True)
    assert outcomes(dry) == {2: "conflict"}
    writes = district.writes()
    report = await sync_csv("S1,family@home.test,Pat,Lee\n", journal=journal, method="direct")
    assert outcomes(report) == {2: "conflict"}
    assert district.writes() == writes
    assert district.links() == set()


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


async def sync_with(app: FakeCanvasApp, transport: httpx.AsyncBaseTransport, csv: str) -> RunResult:
    roster = read_roster(io.BytesIO((HEADER + csv).encode()), source="roster.csv")
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
    report = await sync_with(fake_app, transport, "S1,a@home.test,A,L\nS2,b@home.test,B,L\n")
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
    report = await sync_with(fake_app, transport, "S1,a@home.test,A,L\nS2,b@home.test,B,L\n")
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

    report = await sync_with(
        fake_app, refusing(fake_app, answer), "S1,a@home.test,A,L\nS2,b@home.test,B,L\n"
    )
    assert report.aborted is not None
    assert "manage_user_observers" in report.aborted
    assert report.aborted is not None


# --- limited admin roles ----------------------------------------------------------------------


async def test_a_role_that_cannot_see_logins_stops_before_any_write(
    district: District, sync_csv: SyncRunner
) -> None:
    """Without view_user_logins an existing guardian is invisible (a duplicate account would
    follow): exit 2 naming the permission as Canvas shows it, nothing written."""
    district.student("S1")
    district.guardian("pat@home.test", name="Pat Lee")
    rights = district.fake.state.users[district.fake.state.admin_id].permissions
    district.fake.state.make_admin(district.fake.state.admin_id, rights - {"view_user_logins"})
    writes = district.writes()
    report = await sync_csv("S1,pat@home.test,Pat,Lee\n")
    assert report.aborted is not None
    assert report.aborted is not None
    assert "'Users - view login IDs' (view_user_logins" in report.aborted
    assert district.writes() == writes
    assert len(district.fake.state.users) == 3  # admin, student, guardian: no duplicate


async def test_sis_rights_are_needed_only_for_sis_ids(
    district: District, sync_csv: SyncRunner
) -> None:
    """A role without read_sis may sync a roster of student logins, not one of SIS ids."""
    district.student("S1", login="kid1@school.test")
    rights = district.fake.state.users[district.fake.state.admin_id].permissions
    district.fake.state.make_admin(
        district.fake.state.admin_id, rights - {"read_sis", "manage_sis"}
    )
    by_login = await sync_csv("kid1@school.test,pat@home.test,Pat,Lee\n")
    assert outcomes(by_login) == {2: "created"}
    by_sis = await sync_csv("S1,pat@home.test,Pat,Lee\n")
    assert by_sis.aborted is not None and "'SIS Data - read' (read_sis or manage_sis" in (
        by_sis.aborted
    )


# --- a contact email is not identity ----------------------------------------------------------


async def test_a_strangers_contact_email_is_observer_mismatch_and_nothing_is_written(
    district: District, sync_csv: SyncRunner
) -> None:
    """The roster email is only another adult's contact address: no pairing, no new account;
    the dry run says the same."""
    district.student("S1")
    stranger = district.fake.state.add_user(
        "Not The Parent", login_id="someone.else@home.test", email="shared.home@home.test"
    )
    dry = await sync_csv("S1,shared.home@home.test,Kim,Home\n", dry_run=True)
    assert outcomes(dry) == {2: "observer_mismatch"}
    writes = district.writes()
    report = await sync_csv("S1,shared.home@home.test,Kim,Home\n")
    assert outcomes(report) == {2: "observer_mismatch"}
    detail = report.results[0].detail
    assert f"contact email of Canvas user {stranger} 'Not The Parent'" in detail
    assert "login someone.else@home.test" in detail and "the roster names Kim Home" in detail
    assert district.writes() == writes
    assert district.fake.state.user_by_login("shared.home@home.test") is None
    assert report.aborted is None and report.attention()


async def test_a_contact_email_with_the_roster_name_is_used(
    district: District, sync_csv: SyncRunner
) -> None:
    """Same name (order, case and accents aside): the account is the guardian's; paired."""
    kid = district.student("S1")
    parent = district.fake.state.add_user(
        "JOSÉ  Núñez", login_id="jn-1975", email="jose@home.test", sortable_name="Núñez, JOSÉ"
    )
    report = await sync_csv("S1,jose@home.test,Nunez,jose\n")
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(parent, kid)}


async def test_trust_contact_email_pairs_by_email_alone(
    district: District, sync_csv: SyncRunner
) -> None:
    """--trust-contact-email restores the older rule for districts that want it."""
    kid = district.student("S1")
    stranger = district.fake.state.add_user(
        "Not The Parent", login_id="someone.else@home.test", email="shared.home@home.test"
    )
    report = await sync_csv("S1,shared.home@home.test,Kim,Home\n", trust_contact_email=True)
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(stranger, kid)}


# --- look-ups that cannot add a match are not made --------------------------------------------


async def test_an_unknown_sis_id_is_not_searched(district: District, sync_csv: SyncRunner) -> None:
    """After sis_user_id: answers 404 no search follows: it could not find an exact match."""
    district.student("S100")
    report = await sync_csv("10,pat@home.test,Pat,Lee\n")
    assert outcomes(report) == {2: "student_not_found"}
    assert district.fake.stats.by_route.get("GET /api/v1/accounts/:account_id/users", 0) == 1


# --- enrollments in a deleted course, and a create refused twice over -----------------------


async def test_dry_run_predicts_a_deleted_course_as_canvas_answers_it(
    district: District, sync_csv: SyncRunner, api: httpx.AsyncClient
) -> None:
    """A course deleted through the API takes its enrollments with it, so Canvas refuses the
    code: the dry run predicts not_enrolled, and the real run agrees; a student with another
    live course is still paired."""
    only = district.student("S1")
    other = district.student("S2")
    state = district.fake.state
    second = state.add_course("Art")
    state.enroll(other, second)
    response = await api.delete(f"/api/v1/courses/{district.course}", params={"event": "delete"})
    assert response.json() == {"delete": True}
    rows = "S1,a@home.test,A,L\nS2,b@home.test,B,L\n"
    dry = await sync_csv(rows, dry_run=True)
    assert outcomes(dry) == {2: "not_enrolled", 3: "would_create"}
    real = await sync_csv(rows)
    assert outcomes(real) == {2: "not_enrolled", 3: "created"}
    assert {s for _, s in district.links()} == {other}
    assert only not in {s for _, s in district.links()}


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
    roster = read_roster(
        io.BytesIO((HEADER + "S1,pat@home.test,Pat,Lee\n").encode()), source="r.csv"
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        report = await run_sync(roster, client=client, options=SyncOptions(), canvas_url=BASE_URL)
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(made[0], kid)}
