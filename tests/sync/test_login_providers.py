"""New guardian logins bound to an authentication provider, so that an SSO district's parents
can still set a password (managed_password?), the checks around it (the provider exists, no
login of another provider has the email, before the create and after a lost one), and
guardians whose only login is suspended (docs/canvas-behaviour.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.fake_canvas import FakeCanvasApp
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync
from tests.wiring import BASE_URL, HEADER, roster_of, sync_with

from .conftest import District, SyncRunner, outcomes

CREATE = "POST /api/v1/accounts/:account_id/users"
WITH_IDS = HEADER.strip() + ",guardian_id\n"
Answer = Callable[[httpx.Request], httpx.Response | None]


def creates(district: District) -> int:
    return district.fake.stats.by_route.get(CREATE, 0)


def guardian_login(district: District, email: str) -> tuple[int | None, bool]:
    """(provider id, managed password) of the guardian's login in the fake."""
    user = district.fake.state.user_by_login(email)
    assert user is not None and user.login is not None
    return user.login.authentication_provider_id, district.fake.state.managed_password(user.login)


async def sync_over(
    app: FakeCanvasApp,
    answer: Answer,
    csv: str,
    *,
    journal: Journal | None = None,
    **options: object,
) -> RunResult:
    """A sync whose requests go to the fake, except those ``answer`` answers itself (it may
    also change the fake first and return None)."""
    inner = httpx.ASGITransport(app=app)

    class Hooked(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            replaced = answer(request)
            return replaced if replaced is not None else await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=Hooked(), base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=app.fake.config.admin_token)
        return await run_sync(
            roster_of(HEADER + csv),
            client=client,
            options=SyncOptions(**options),  # type: ignore[arg-type]
            canvas_url=BASE_URL,
            journal=journal,
        )


async def sync_ids(app: FakeCanvasApp, csv: str, **options: object) -> RunResult:
    """A sync of a five-column roster (guardian_id last), guardian ids made SIS ids G-<id>."""
    settings = SyncOptions(observer_id_template="G-{sourcedId}", **options)  # type: ignore[arg-type]
    return await sync_with(app, roster_of(WITH_IDS + csv), options=settings)


def is_create(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/accounts/self/users")


# --- where the new login is bound ------------------------------------------------------------


async def test_new_logins_are_bound_to_canvas_so_sso_parents_can_set_a_password(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """By default the new login (with the guardian id's SIS id) is bound to the Canvas
    provider, so on an SSO account its password is not managed; --login-provider none keeps
    the unbound login, whose password Canvas then manages."""
    district.fake.state.set_sso(True)
    district.student("S1")
    district.student("S2")
    report = await sync_ids(fake_app, "S1,pat@home.test,Pat,Lee,P1\n")
    assert outcomes(report) == {2: "created"}
    assert guardian_login(district, "pat@home.test") == (
        district.fake.state.canvas_provider_id,
        False,
    )
    unbound = await sync_ids(fake_app, "S2,kim@home.test,Kim,Lee,K1\n", login_provider=None)
    assert outcomes(unbound) == {2: "created"}
    assert guardian_login(district, "kim@home.test") == (None, True)


async def test_a_provider_the_account_lacks_stops_the_run_before_any_write(
    district: District, sync_csv: SyncRunner
) -> None:
    """The preflight reads the providers: an id the account does not have, or `canvas` on an
    account whose Canvas sign-in is gone, stops the run with what it has; nothing written."""
    district.student("S1")
    report = await sync_csv("S1,pat@home.test,Pat,Lee\n", login_provider="7")
    assert report.aborted is not None
    assert "no provider '7'" in report.aborted and "1 (canvas)" in report.aborted
    state = district.fake.state
    state.set_sso(True)
    state.delete_provider(state.canvas_provider_id)
    gone = await sync_csv("S1,pat@home.test,Pat,Lee\n")
    assert gone.aborted is not None and "no Canvas sign-in provider" in gone.aborted
    assert district.writes() == 0


async def test_a_token_that_may_not_list_providers_warns_and_a_refused_create_stops(
    district: District, fake_app: FakeCanvasApp, caplog: pytest.LogCaptureFixture
) -> None:
    """Without manage_account_settings the providers are not checked: one warning, the run
    goes on, and the create Canvas refuses (404) for the unknown provider stops it."""
    district.student("S1")
    admin = district.fake.state.users[district.fake.state.admin_id]
    district.fake.state.make_admin(admin.id, admin.permissions - {"manage_account_settings"})
    caplog.set_level(logging.WARNING)
    report = await sync_over(
        fake_app, lambda _r: None, "S1,pat@home.test,Pat,Lee\n", login_provider="9"
    )
    warnings = [
        r.getMessage() for r in caplog.records if "authentication providers" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert report.aborted is not None
    assert "no authentication provider '9'" in report.aborted
    assert district.fake.state.user_by_login("pat@home.test") is None


# --- no second account, whatever the provider ------------------------------------------------


async def test_a_login_made_between_the_check_and_the_create_is_used_not_doubled(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """The race: no login has the email when the sync looks, then someone makes an unbound
    one; Canvas refuses the Canvas-bound create without "taken" (its database does), and the
    sync, looking the login up after the failed create, pairs with that account: one account,
    reported paired, not created."""
    kid = district.student("S1")
    made: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response | None:
        if is_create(request) and not made:
            made.append(district.fake.state.add_user("Pat Lee", login_id="Pat@Home.test"))
        return None

    with Journal.open(":memory:") as journal:
        report = await sync_over(
            fake_app, answer, "S1,pat@home.test,Pat,Lee\n", journal=journal, method="direct"
        )
        actions = journal.run_actions(report.info.run_id or 0)
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(made[0], kid)}
    matching = [
        u
        for u in district.fake.state.users.values()
        if u.login and u.login.unique_id.lower() == "pat@home.test"
    ]
    assert len(matching) == 1
    creating = [a for a in actions if a.kind == "create_user"]
    assert [a.result for a in creating] == ["unknown", "failed"]
    assert "made meanwhile" in creating[1].detail


async def test_a_lost_create_that_was_done_is_this_runs_account(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """The create is done but its answer lost: the login found is bound to the Canvas provider
    as this run binds it, so the row is created and the action recovered."""
    district.student("S1")
    lost: list[bool] = []
    inner = httpx.ASGITransport(app=fake_app)

    class Losing(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            answer = await inner.handle_async_request(request)
            if is_create(request) and not lost:
                lost.append(True)
                return httpx.Response(502, text="502 Bad Gateway\n")
            return answer

    async with httpx.AsyncClient(transport=Losing(), base_url=BASE_URL) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
        with Journal.open(":memory:") as journal:
            report = await run_sync(
                roster_of(HEADER + "S1,pat@home.test,Pat,Lee\n"),
                client=client,
                options=SyncOptions(method="direct"),
                canvas_url=BASE_URL,
                journal=journal,
            )
            results = [a.result for a in journal.run_actions(report.info.run_id or 0)]
    assert outcomes(report) == {2: "created"}
    assert results[:2] == ["unknown", "recovered"]


async def test_a_suspended_login_the_search_cannot_see_is_found_before_the_create(
    district: District, sync_csv: SyncRunner
) -> None:
    """Look-ups mode: the search skips a suspended login, so before creating a Canvas-bound
    login the sync asks `sis_login_id:` (any provider, suspended too); the account found has
    only that suspended login: conflict naming it, no create, no pairing."""
    district.student("S1")
    parent = district.guardian("pat@home.test")
    state = district.fake.state
    state.suspend_login(state.users[parent].logins[0].id)
    report = await sync_csv("S1,pat@home.test,Pat,Lee\n", canvas_state="lookups")
    assert outcomes(report) == {2: "conflict"}
    assert "only a suspended login (pat@home.test)" in report.results[0].detail
    assert report.results[0].canvas_observer_id == parent
    assert creates(district) == 0 and district.links() == set()


@pytest.mark.parametrize("canvas_state", ["lookups", "report"])
@pytest.mark.parametrize("login_provider", ["canvas", None])
async def test_a_guardian_whose_only_login_is_suspended_is_a_conflict(
    district: District, sync_csv: SyncRunner, canvas_state: str, login_provider: str | None
) -> None:
    """By look-ups or by the report, with or without a provider: a guardian whose only login
    is suspended gets a conflict naming the login, never a second account; a dry run says so
    too. (Without a provider Canvas's "taken" leads there: the login's account is read.)"""
    district.student("S1")
    parent = district.guardian("pat@home.test")
    state = district.fake.state
    state.suspend_login(state.users[parent].logins[0].id)
    options = {"canvas_state": canvas_state, "login_provider": login_provider}
    dry = await sync_csv("S1,pat@home.test,Pat,Lee\n", dry_run=True, **options)
    report = await sync_csv("S1,pat@home.test,Pat,Lee\n", **options)
    assert outcomes(report) == {2: "conflict"}
    assert "only a suspended login" in report.results[0].detail
    if canvas_state == "report" or login_provider is not None:
        assert outcomes(dry) == {2: "conflict"}
    assert [
        u.id for u in state.users.values() if u.login and u.login.unique_id == "pat@home.test"
    ] == [parent]
    assert district.links() == set()


async def test_a_guardian_found_by_guardian_id_with_a_suspended_login_is_a_conflict(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """Found by the SIS id of their guardian id (`sis_user_id:` matches suspended logins):
    the logins are read before the pairing, and all suspended is a conflict."""
    district.student("S1")
    state = district.fake.state
    parent = state.add_user("Pat Lee", login_id="pat@home.test", sis_user_id="G-P1")
    state.suspend_login(state.users[parent].logins[0].id)
    report = await sync_ids(fake_app, "S1,pat@home.test,Pat,Lee,P1\n", canvas_state="lookups")
    assert outcomes(report) == {2: "conflict"}
    assert district.links() == set()
