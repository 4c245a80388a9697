"""Guardians followed by their SIS guardian id: found by the SIS id their login gets, an email
the SIS changed reported (or, with --update-guardians, applied), never a second account; the
same outcomes whether Canvas is read by look-ups or by one provisioning report."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import NotFound
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync
from tests.wiring import BASE_URL, canvas_client, roster_of, sync_with

from .conftest import District, outcomes

HEADER = "student_id,observer_email,observer_first_name,observer_last_name,guardian_id\n"
TEMPLATE = "G-{sourcedId}"
MODES = pytest.mark.parametrize("canvas_state", ["lookups", "report"])


@pytest.fixture
def fake_app() -> FakeCanvasApp:
    """The fake with reports that finish at once (the sync's report mode needs no waiting)."""
    return create_app(FakeConfig(throttle=False, report_seconds=0.0))


async def sync(
    app: FakeCanvasApp, csv_text: str, *, journal: Journal | None = None, **options: Any
) -> RunResult:
    """Run the sync of a five-column roster (guardian_id last) against the in-process fake."""
    options.setdefault("observer_id_template", TEMPLATE)
    return await sync_with(
        app, roster_of(HEADER + csv_text), options=SyncOptions(**options), journal=journal
    )


def moved_guardian(district: District) -> int:
    """Pat Lee, SIS guardian 7, whose account (login old@home.test, SIS id G-7) observes S1."""
    state = district.fake.state
    uid = state.add_user(
        "Pat Lee", login_id="old@home.test", sis_user_id="G-7", email="old@home.test"
    )
    state.link(uid, district.student("S1"))
    district.student("S2")
    return uid


Follow = Callable[[int], Journal]


@pytest.fixture
def follow() -> Iterator[Follow]:
    """``follow(uid)``: a journal that remembers account ``uid`` as SIS guardian 7 of the
    roster source the tests' rosters belong to, as an earlier run that resolved guardian 7
    would have left it. The sync then looks that account up first, whatever its login or SIS
    id (the template's SIS id of a changed email finds nothing)."""
    opened: list[Journal] = []

    def remember(uid: int) -> Journal:
        journal = Journal.open(":memory:")
        opened.append(journal)
        run = journal.start_run(
            canvas_url=BASE_URL,
            settings={},
            roster="roster.csv",
            dry_run=False,
            started_at="2026-12-01T02:00:00+00:00",
        )
        recorder = journal.for_run(run, canvas_url=BASE_URL)
        recorder.remember_guardian(guardian_id="7", canvas_id=uid, at="2026-12-01T02:00:00+00:00")
        journal.finish_run(
            run, ended_at="2026-12-01T02:00:01+00:00", state="complete", totals={}, api_calls={}
        )
        return journal

    yield remember
    for journal in opened:
        journal.close()


def emailed_guardian(district: District, sis_user_id: str = "old@home.test") -> int:
    """Pat Lee, SIS guardian 7, whose account (login old@home.test, with the SIS id the
    default template {email} gave it) observes S1; S2 exists."""
    state = district.fake.state
    uid = state.add_user(
        "Pat Lee", login_id="old@home.test", sis_user_id=sis_user_id, email="old@home.test"
    )
    state.link(uid, district.student("S1"))
    district.student("S2")
    return uid


def logins(district: District, uid: int) -> list[tuple[str, str | None]]:
    return [(p.unique_id, p.sis_user_id) for p in district.fake.state.users[uid].logins]


def user_count(district: District) -> int:
    return len(district.fake.state.users)


@MODES
async def test_a_changed_email_is_guardian_email_changed_and_paired_with_the_same_account(
    district: District, fake_app: FakeCanvasApp, canvas_state: str
) -> None:
    """The guardian id finds the account with the old login: dry run and real run say
    guardian_email_changed, the real run pairs the new child with that account, and no
    account is created."""
    uid = moved_guardian(district)
    users = user_count(district)
    rows = "S1,new@home.test,Pat,Lee,7\nS2,new@home.test,Pat,Lee,7\n"
    dry = await sync(fake_app, rows, dry_run=True, canvas_state=canvas_state)
    assert outcomes(dry) == {2: "guardian_email_changed", 3: "guardian_email_changed"}
    assert "old@home.test" in dry.results[0].detail and "new@home.test" in dry.results[0].detail
    report = await sync(fake_app, rows, canvas_state=canvas_state)
    assert outcomes(report) == {2: "guardian_email_changed", 3: "guardian_email_changed"}
    assert [r.canvas_observer_id for r in report.results] == [uid, uid]
    assert "already paired" in report.results[0].detail
    assert "; paired" in report.results[1].detail
    assert district.links() == {(uid, district.ids["S1"]), (uid, district.ids["S2"])}
    assert user_count(district) == users
    assert district.fake.state.users[uid].logins[0].unique_id == "old@home.test"
    assert report.aborted is None and report.attention()


@MODES
async def test_update_guardians_changes_login_and_email_and_creates_nothing(
    district: District, fake_app: FakeCanvasApp, canvas_state: str
) -> None:
    """With --update-guardians the account's login becomes the new email, the email is added
    as a confirmed channel and the new name is set; the first row is guardian_updated, its
    sibling plainly paired, and a re-run has nothing to do."""
    uid = moved_guardian(district)
    users = user_count(district)
    rows = "S1,new@home.test,Pat,Kim,7\nS2,new@home.test,Pat,Kim,7\n"
    journal = Journal.open(":memory:")
    report = await sync(
        fake_app, rows, journal=journal, update_guardians=True, canvas_state=canvas_state
    )
    assert outcomes(report) == {2: "guardian_updated", 3: "paired"}
    assert "login old@home.test -> new@home.test" in report.results[0].detail
    assert report.aborted is None and not report.attention()
    account = district.fake.state.users[uid]
    assert [(p.unique_id, p.sis_user_id) for p in account.logins] == [("new@home.test", "G-7")]
    assert [(c.address, c.workflow_state) for c in account.channels][-1] == (
        "new@home.test",
        "active",
    )
    assert (account.name, account.sortable_name) == ("Pat Kim", "Kim, Pat")
    assert user_count(district) == users
    assert district.links() == {(uid, district.ids["S1"]), (uid, district.ids["S2"])}
    run = report.info.run_id
    assert run is not None
    kinds = {(a.kind, a.result) for a in journal.run_actions(run)}
    assert {("update_login", "ok"), ("add_email", "ok"), ("rename_user", "ok")} <= kinds
    again = await sync(fake_app, rows, update_guardians=True, canvas_state=canvas_state)
    assert outcomes(again) == {2: "already_paired", 3: "already_paired"}


@MODES
async def test_update_guardians_leaves_an_sis_id_that_does_not_name_the_email(
    district: District, fake_app: FakeCanvasApp, canvas_state: str
) -> None:
    """Template G-{sourcedId}: the SIS id G-7 does not depend on the email, so the login
    changes and its SIS id stays, and the note says nothing of it."""
    uid = moved_guardian(district)
    report = await sync(
        fake_app, "S1,new@home.test,Pat,Lee,7\n", update_guardians=True, canvas_state=canvas_state
    )
    assert outcomes(report) == {2: "guardian_updated"}
    assert logins(district, uid) == [("new@home.test", "G-7")]
    assert "SIS id" not in report.results[0].detail
    routes = district.fake.stats.by_route
    assert routes["PUT /api/v1/accounts/:account_id/logins/:id"] == 1


async def test_update_guardians_moves_the_templates_sis_id_with_the_login(
    district: District, fake_app: FakeCanvasApp, follow: Follow
) -> None:
    """Default template {email}: the login whose SIS id is old@home.test (the template's for
    the old email) becomes new@home.test with the SIS id new@home.test, in one PUT. The old
    SIS id then finds nobody, so the next guardian given old@home.test (Sam, guardian 8) is
    not taken for Pat by it: without the rewrite Sam's row would be paired with Pat's
    account as Pat's changed email."""
    uid = emailed_guardian(district)
    journal = follow(uid)
    report = await sync(
        fake_app,
        "S1,new@home.test,Pat,Lee,7\n",
        journal=journal,
        update_guardians=True,
        observer_id_template="{email}",
        canvas_state="lookups",
    )
    assert outcomes(report) == {2: "guardian_updated"}
    detail = report.results[0].detail
    assert "login old@home.test -> new@home.test" in detail
    assert "SIS id old@home.test -> new@home.test" in detail
    assert logins(district, uid) == [("new@home.test", "new@home.test")]
    routes = district.fake.stats.by_route
    assert routes["PUT /api/v1/accounts/:account_id/logins/:id"] == 1
    run = report.info.run_id
    assert run is not None
    assert [a.result for a in journal.run_actions(run) if a.kind == "update_login"] == ["ok"]
    async with canvas_client(fake_app) as client:
        assert (await client.get_user_by_sis_id("new@home.test")).id == uid
        with pytest.raises(NotFound):
            await client.get_user_by_sis_id("old@home.test")
    links = district.links()
    sam = await sync(
        fake_app,
        "S2,old@home.test,Sam,Roe,8\n",
        observer_id_template="{email}",
        canvas_state="lookups",
    )
    # Pat's account is no longer Sam's by SIS id; it still has old@home.test as a contact
    # address, which under another name is observer_mismatch: nothing is written.
    assert outcomes(sam) == {2: "observer_mismatch"}
    assert district.links() == links


async def test_update_guardians_leaves_an_sis_id_the_template_did_not_make(
    district: District, fake_app: FakeCanvasApp, follow: Follow
) -> None:
    """Template {email}, but the login's SIS id is P-7 (an SIS import's, not the template's
    for the old email): the login changes, the SIS id stays and is not sent."""
    uid = emailed_guardian(district, sis_user_id="P-7")
    report = await sync(
        fake_app,
        "S1,new@home.test,Pat,Lee,7\n",
        journal=follow(uid),
        update_guardians=True,
        observer_id_template="{email}",
        canvas_state="lookups",
    )
    assert outcomes(report) == {2: "guardian_updated"}
    assert logins(district, uid) == [("new@home.test", "P-7")]
    assert "SIS id" not in report.results[0].detail


@pytest.mark.parametrize("holder", ["deleted", "live"])
async def test_a_taken_new_sis_id_keeps_the_old_one_and_still_changes_the_login(
    district: District, fake_app: FakeCanvasApp, follow: Follow, holder: str
) -> None:
    """The new email's SIS id is another login's (a deleted one's too: Canvas keeps it
    taken): Canvas refuses the PUT with both, the login is sent again alone, the row is
    still guardian_updated and its detail says the old SIS id was kept and why."""
    uid = emailed_guardian(district)
    state = district.fake.state
    other = state.add_user(
        "Former Holder", login_id="former@home.test", sis_user_id="new@home.test"
    )
    if holder == "deleted":
        state.delete_login(state.users[other].logins[0].id)
    journal = follow(uid)
    report = await sync(
        fake_app,
        "S1,new@home.test,Pat,Lee,7\n",
        journal=journal,
        update_guardians=True,
        observer_id_template="{email}",
        canvas_state="lookups",
    )
    assert outcomes(report) == {2: "guardian_updated"}
    detail = report.results[0].detail
    assert "login old@home.test -> new@home.test" in detail
    assert "SIS id old@home.test kept: Canvas refused new@home.test" in detail
    assert "another login has that SIS id" in detail
    assert logins(district, uid) == [("new@home.test", "old@home.test")]
    assert report.aborted is None
    run = report.info.run_id
    assert run is not None
    tries = [a.result for a in journal.run_actions(run) if a.kind == "update_login"]
    assert tries == ["failed", "ok"]


async def test_without_manage_sis_the_login_changes_and_the_sis_id_is_kept(
    district: District, fake_app: FakeCanvasApp, follow: Follow
) -> None:
    """A role with read_sis but not manage_sis: Canvas refuses the SIS id (401/403, nothing
    saved); the login is changed alone, the run goes on, and the detail names the right."""
    uid = emailed_guardian(district)
    state = district.fake.state
    state.make_admin(state.admin_id, state.users[state.admin_id].permissions - {"manage_sis"})
    report = await sync(
        fake_app,
        "S1,new@home.test,Pat,Lee,7\n",
        journal=follow(uid),
        update_guardians=True,
        observer_id_template="{email}",
        canvas_state="lookups",
    )
    assert report.aborted is None
    assert outcomes(report) == {2: "guardian_updated"}
    assert "SIS id old@home.test kept" in report.results[0].detail
    assert "manage_sis" in report.results[0].detail
    assert logins(district, uid) == [("new@home.test", "old@home.test")]


@MODES
async def test_update_guardians_refuses_an_email_that_is_another_accounts_login(
    district: District, fake_app: FakeCanvasApp, canvas_state: str
) -> None:
    """The new email is already another account's login: conflict in the dry run and the real
    run, the login stays, no account is made, and the row is paired with the guardian's own
    account."""
    uid = moved_guardian(district)
    other = district.guardian("new@home.test", name="Someone Else")
    users = user_count(district)
    rows = "S2,new@home.test,Pat,Lee,7\n"
    dry = await sync(fake_app, rows, dry_run=True, update_guardians=True, canvas_state=canvas_state)
    assert outcomes(dry) == {2: "conflict"}
    report = await sync(fake_app, rows, update_guardians=True, canvas_state=canvas_state)
    assert outcomes(report) == {2: "conflict"}
    assert f"login of Canvas user {other}" in report.results[0].detail
    assert district.fake.state.users[uid].logins[0].unique_id == "old@home.test"
    assert user_count(district) == users
    assert district.links() == {(uid, district.ids["S1"]), (uid, district.ids["S2"])}


@MODES
async def test_a_new_guardian_gets_the_templated_sis_id_and_is_found_by_it_next_time(
    district: District, fake_app: FakeCanvasApp, canvas_state: str
) -> None:
    """A guardian with a guardian id and no account is created with the SIS id G-<id>; the
    next run, under a new email, finds that account by it."""
    district.student("S1")
    first = await sync(fake_app, "S1,pat@home.test,Pat,Lee,42\n", canvas_state=canvas_state)
    assert outcomes(first) == {2: "created"}
    created = district.fake.state.user_by_sis_id("G-42")
    assert created is not None
    assert created.logins[0].unique_id == "pat@home.test"
    users = user_count(district)
    moved = await sync(fake_app, "S1,pat@work.test,Pat,Lee,42\n", canvas_state=canvas_state)
    assert outcomes(moved) == {2: "guardian_email_changed"}
    assert moved.results[0].canvas_observer_id == created.id
    assert user_count(district) == users


async def test_without_a_guardian_id_no_sis_id_is_sent(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """A row without a guardian id creates the account as before: no SIS id on its login."""
    district.student("S1")
    report = await sync(fake_app, "S1,pat@home.test,Pat,Lee,\n", canvas_state="lookups")
    assert outcomes(report) == {2: "created"}
    guardian = district.fake.state.user_by_login("pat@home.test")
    assert guardian is not None and guardian.logins[0].sis_user_id is None


async def test_one_guardian_id_with_two_emails_is_a_conflict(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """The roster gives one guardian id two emails: both rows are conflict, nothing written."""
    district.student("S1")
    district.student("S2")
    report = await sync(
        fake_app, "S1,a@home.test,Pat,Lee,7\nS2,b@home.test,Pat,Lee,7\n", canvas_state="lookups"
    )
    assert outcomes(report) == {2: "conflict", 3: "conflict"}
    assert district.writes() == 0


async def test_lost_answers_to_the_guardian_updates_are_looked_up_not_resent(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """Each update write commits and loses its answer (502): the sync finds each one done by
    reading the logins, channels and user back, sends none of them twice, and records them as
    recovered."""
    uid = moved_guardian(district)
    inner = httpx.ASGITransport(app=fake_app)
    sent: list[str] = []

    class Lossy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            answer = await inner.handle_async_request(request)
            path = request.url.path
            if (request.method, path.rsplit("/", 2)[-2]) in {
                ("PUT", "logins"),
                ("POST", str(uid)),
            } or (request.method == "PUT" and path.endswith(f"/users/{uid}")):
                sent.append(f"{request.method} {path}")
                await answer.aread()
                return httpx.Response(502)
            return answer

    roster = roster_of(HEADER + "S1,new@home.test,Pat,Kim,7\n")
    journal = Journal.open(":memory:")
    async with httpx.AsyncClient(transport=Lossy(), base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        report = await run_sync(
            roster,
            client=client,
            options=SyncOptions(
                observer_id_template=TEMPLATE, update_guardians=True, canvas_state="lookups"
            ),
            canvas_url=BASE_URL,
            journal=journal,
        )
    assert outcomes(report) == {2: "guardian_updated"}
    assert len(sent) == 3 and len(set(sent)) == 3
    run = report.info.run_id
    assert run is not None
    recovered = {a.kind for a in journal.run_actions(run) if a.result == "recovered"}
    assert recovered == {"update_login", "add_email", "rename_user"}
    account = district.fake.state.users[uid]
    assert account.logins[0].unique_id == "new@home.test"
    assert account.name == "Pat Kim"


async def test_a_sis_id_held_by_a_deleted_login_fails_the_row_clearly(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """Canvas keeps a deleted login's SIS id taken: the create is refused, no look-up finds
    the holder, and the row fails saying so (no retry loop, no account)."""
    state = district.fake.state
    old = state.add_user("Old Pat", login_id="gone@home.test", sis_user_id="G-9")
    state.delete_login(state.users[old].logins[0].id)
    district.student("S1")
    users = user_count(district)
    report = await sync(fake_app, "S1,pat@home.test,Pat,Lee,9\n", canvas_state="lookups")
    assert outcomes(report) == {2: "failed"}
    assert "deleted login" in report.results[0].detail
    assert user_count(district) == users
    routes = district.fake.stats.by_route
    assert routes["POST /api/v1/accounts/:account_id/users"] == 1


async def test_a_lost_answer_to_the_login_and_sis_id_edit_is_judged_by_both(
    district: District, fake_app: FakeCanvasApp, follow: Follow
) -> None:
    """The PUT with the login and its SIS id commits and loses its answer (502): the logins
    read back show both, so it is recovered, never sent twice."""
    uid = emailed_guardian(district)
    journal = follow(uid)
    inner = httpx.ASGITransport(app=fake_app)
    sent: list[str] = []

    class Lossy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            answer = await inner.handle_async_request(request)
            if request.method == "PUT" and "/logins/" in request.url.path:
                sent.append(request.content.decode())
                await answer.aread()
                return httpx.Response(502)
            return answer

    async with httpx.AsyncClient(transport=Lossy(), base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        report = await run_sync(
            roster_of(HEADER + "S1,new@home.test,Pat,Lee,7\n"),
            client=client,
            options=SyncOptions(
                observer_id_template="{email}", update_guardians=True, canvas_state="lookups"
            ),
            canvas_url=BASE_URL,
            journal=journal,
        )
    assert outcomes(report) == {2: "guardian_updated"}
    assert len(sent) == 1 and "login%5Bsis_user_id%5D=new%40home.test" in sent[0]
    assert logins(district, uid) == [("new@home.test", "new@home.test")]
    run = report.info.run_id
    assert run is not None
    tries = [a.result for a in journal.run_actions(run) if a.kind == "update_login"]
    assert tries == ["unknown", "recovered"]
