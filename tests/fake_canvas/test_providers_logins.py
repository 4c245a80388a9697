"""Authentication providers, managed passwords, normalised login ids and suspended logins
(pseudonym.rb, authentication_provider.rb, authentication_providers_controller.rb, the
pseudonym normalisation migration; docs/canvas-behaviour.md), and the smaller answers a
sync meets: channels, DELETE observees, permissions, blank search terms."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas
from canvas_observers.fake_canvas.report_csv import USERS_HEADERS, users_rows
from canvas_observers.fake_canvas.state import StateError

ClientFor = Callable[..., httpx.AsyncClient]
USERS = "/api/v1/accounts/self/users"
PROVIDERS = "/api/v1/accounts/self/authentication_providers"


def create_form(login: str, **extra: str) -> dict[str, str]:
    return {"user[name]": "Pat Lee", "pseudonym[unique_id]": login, **extra}


async def limited(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor, *rights: str
) -> httpx.AsyncClient:
    user = fake.state.add_user("Limited Admin", login_id=f"limited-{len(fake.state.users)}")
    answer = await api.post("/__fake__/tokens", json={"user_id": user, "permissions": rights})
    return client_for(answer.json()["token"])


def users_csv(fake: FakeCanvas) -> list[dict[str, object]]:
    return [
        dict(zip(USERS_HEADERS, row, strict=True))
        for row in users_rows(fake.state, include_deleted=False)
    ]


# --- authentication providers ----------------------------------------------------------------


async def test_providers_list_canvas_and_sso_when_configured(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """GET /accounts/self/authentication_providers lists Canvas's own provider; the `sso`
    knob (side door) adds a SAML provider after it."""
    answer = await api.get(PROVIDERS)
    assert answer.status_code == 200
    assert [(p["id"], p["auth_type"], p["position"]) for p in answer.json()] == [
        (fake.state.canvas_provider_id, "canvas", 1)
    ]
    assert (await api.post("/__fake__/config", json={"sso": True})).json()["sso"] is True
    types = [p["auth_type"] for p in (await api.get(PROVIDERS)).json()]
    assert types == ["canvas", "saml"]
    assert fake.state.non_canvas_auth_configured()


async def test_providers_need_manage_account_settings(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """require_root_account_management: a role without manage_account_settings is refused."""
    reader = await limited(fake, api, client_for, "read_roster", "manage_user_logins")
    assert (await reader.get(PROVIDERS)).status_code == 401


async def test_create_bound_to_canvas_provider_by_type_or_id(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """pseudonym[authentication_provider_id]=canvas binds the new login to the first Canvas
    provider (an id works too); the login list and the report's users.csv show it."""
    canvas = fake.state.canvas_provider_id
    by_type = await api.post(
        USERS,
        data=create_form("a@home.test", **{"pseudonym[authentication_provider_id]": "canvas"}),
    )
    by_id = await api.post(
        USERS,
        data=create_form("b@home.test", **{"pseudonym[authentication_provider_id]": str(canvas)}),
    )
    assert by_type.status_code == by_id.status_code == 200
    logins = (await api.get(f"/api/v1/users/{by_type.json()['id']}/logins")).json()
    assert logins[0]["authentication_provider_id"] == canvas
    rows = {r["login_id"]: r for r in users_csv(fake)}
    assert rows["a@home.test"]["authentication_provider_id"] == canvas
    assert rows["b@home.test"]["authentication_provider_id"] == canvas
    assert rows["admin"]["authentication_provider_id"] is None


@pytest.mark.parametrize("ref", ["99", "cas", "saml"])
async def test_create_with_an_unknown_provider_is_404_and_creates_nothing(
    fake: FakeCanvas, api: httpx.AsyncClient, ref: str
) -> None:
    """`authentication_providers.active.find` raises for an id or a type the account does
    not have: 404 before any validation, nothing created (no SSO here, so no saml either)."""
    before = len(fake.state.users)
    answer = await api.post(
        USERS, data=create_form("c@home.test", **{"pseudonym[authentication_provider_id]": ref})
    )
    assert answer.status_code == 404
    assert len(fake.state.users) == before


# --- managed passwords -----------------------------------------------------------------------


def test_unbound_sis_login_is_managed_on_an_sso_account(fake: FakeCanvas) -> None:
    """managed_password?: an unbound login with an SIS id on an account with SSO is managed,
    so its owner's password reset is refused; bound to Canvas (or without SSO, or without an
    SIS id) it is not."""
    state = fake.state
    unbound = state.add_user("Pat", login_id="pat@home.test", sis_user_id="G-1")
    bound = state.add_user(
        "Kim", login_id="kim@home.test", sis_user_id="G-2", provider_id=state.canvas_provider_id
    )
    plain = state.add_user("Lee", login_id="lee@home.test")
    login = {uid: state.users[uid].logins[0] for uid in (unbound, bound, plain)}
    assert not any(state.managed_password(p) for p in login.values())
    state.set_sso(True)
    assert state.managed_password(login[unbound])
    assert not state.managed_password(login[bound]) and not state.managed_password(login[plain])
    with pytest.raises(StateError, match="Cannot change the password"):
        state.reset_password(login[unbound].id)
    state.reset_password(login[bound].id)
    saml = next(p.id for p in state.active_providers() if p.auth_type == "saml")
    sso_login = state.users[state.add_user("Sso", login_id="sso@home.test", provider_id=saml)]
    assert state.managed_password(sso_login.logins[0])
    assert state.snapshot()["users"][1]["logins"][0]["managed_password"] is True


# --- normalised login ids, per provider family -----------------------------------------------


@pytest.mark.parametrize(
    "other", ["PAT@HOME.TEST", " pat@home.test ", "ＰＡＴ@home.test", "pat@home.test\u2003"]
)
async def test_login_ids_clash_on_their_normalised_form(
    fake: FakeCanvas, api: httpx.AsyncClient, other: str
) -> None:
    """Case, compatibility forms (full-width letters) and surrounding or odd spaces do not
    make a new login id: the create is 400 `taken`, and so is a login edit to it."""
    fake.state.add_user("Pat", login_id="pat@home.test")
    answer = await api.post(USERS, data=create_form(other))
    assert answer.status_code == 400
    assert answer.json()["errors"]["pseudonym"]["unique_id"][0]["type"] == "taken"
    kim = fake.state.add_user("Kim", login_id="kim@home.test")
    login = fake.state.users[kim].logins[0].id
    edit = await api.put(f"/api/v1/accounts/self/logins/{login}", data={"login[unique_id]": other})
    assert edit.status_code == 400
    assert edit.json()["errors"]["unique_id"][0]["type"] == "taken"


def test_inner_runs_of_spaces_count_once(fake: FakeCanvas) -> None:
    """ "a  b" and "a b" are one login id (the normalised form collapses runs of spaces)."""
    fake.state.add_user("Ann", login_id="ann  smith")
    with pytest.raises(StateError):
        fake.state.add_user("Other Ann", login_id="Ann Smith")


async def test_canvas_bound_create_beside_an_unbound_login_is_no_taken(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """The model checks one provider at a time, so an unbound login does not make a
    Canvas-bound create "taken"; the normalisation trigger refuses the save instead (500,
    nothing created). Bound to the same provider it is "taken"; an SSO-bound login does not
    clash with a Canvas-bound one."""
    state = fake.state
    state.add_user("Pat", login_id="pat@home.test")
    before = len(state.users)
    canvas = {"pseudonym[authentication_provider_id]": "canvas"}
    race = await api.post(USERS, data=create_form("Pat@home.test", **canvas))
    assert race.status_code == 500
    assert race.json()["errors"][0]["error_code"] == "internal_server_error"
    assert len(state.users) == before
    state.add_user("Kim", login_id="kim@home.test", provider_id=state.canvas_provider_id)
    taken = await api.post(USERS, data=create_form("kim@home.test", **canvas))
    assert taken.status_code == 400
    state.set_sso(True)
    saml = next(p.id for p in state.active_providers() if p.auth_type == "saml")
    state.add_user("Lee", login_id="lee@home.test", provider_id=saml)
    assert (await api.post(USERS, data=create_form("lee@home.test", **canvas))).status_code == 200


# --- suspended logins ------------------------------------------------------------------------


async def test_a_suspended_login_is_still_taken_and_found_by_its_ids(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """A suspended login keeps its login id taken, is found by `sis_user_id:`,
    `sis_login_id:` and a search on its SIS id (not on its login id), shows `suspended` in
    the logins list and the report, and its user's links still count."""
    state = fake.state
    uid = state.add_user("Pat Lee", login_id="pat@home.test", sis_user_id="G-7")
    kid = state.add_user("Kid Lee", login_id="kid@s.test", sis_user_id="S1")
    state.link(uid, kid)
    state.suspend_login(state.users[uid].logins[0].id)
    taken = await api.post(USERS, data=create_form("pat@home.test"))
    assert taken.json()["errors"]["pseudonym"]["unique_id"][0]["type"] == "taken"
    assert (await api.get("/api/v1/users/sis_user_id:G-7")).json()["id"] == uid
    shown = (await api.get("/api/v1/users/sis_login_id:PAT@home.test")).json()
    assert (shown["id"], shown["login_id"]) == (uid, "pat@home.test")
    by_sis = await api.get(USERS, params={"search_term": "G-7"})
    assert [u["id"] for u in by_sis.json()] == [uid]
    assert (await api.get(USERS, params={"search_term": "pat@home"})).json() == []
    logins = (await api.get(f"/api/v1/users/{uid}/logins")).json()
    assert logins[0]["workflow_state"] == "suspended"
    assert {r["login_id"]: r["status"] for r in users_csv(fake)}["pat@home.test"] == "suspended"
    assert [u["id"] for u in (await api.get(f"/api/v1/users/{uid}/observees")).json()] == [kid]


# --- the smaller answers ---------------------------------------------------------------------


async def test_an_address_that_is_no_email_is_400_on_email(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """POST /users/:id/communication_channels with an invalid address: 400 on `email`,
    type `invalid`; nothing is added or sent."""
    uid = fake.state.add_user("Pat", login_id="pat@home.test", email="pat@home.test")
    form = {
        "communication_channel[address]": "not an email",
        "communication_channel[type]": "email",
    }
    answer = await api.post(f"/api/v1/users/{uid}/communication_channels", data=form)
    assert answer.status_code == 400
    assert answer.json()["errors"]["email"][0] == {
        "attribute": "email",
        "type": "invalid",
        "message": "invalid",
    }
    assert fake.state.users[uid].emails == ["pat@home.test"]
    assert fake.state.emails_sent == []


async def test_delete_observee_answers_no_root_accounts_and_checks_rights_first(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """DELETE /users/:o/observees/:s: 200 with the student and
    `observation_link_root_account_ids: []` (no link is left); a caller without rights on the
    observer gets 401/403 even for a student that does not exist (rights come first)."""
    state = fake.state
    observer = state.add_user("Pat", login_id="pat@home.test")
    kid = state.add_user("Kid", login_id="kid@s.test")
    state.link(observer, kid)
    answer = await api.delete(f"/api/v1/users/{observer}/observees/{kid}")
    assert answer.status_code == 200
    assert answer.json()["id"] == kid
    assert answer.json()["observation_link_root_account_ids"] == []
    other = client_for(state.issue_token(kid))
    assert (await other.delete(f"/api/v1/users/{observer}/observees/99999")).status_code == 401
    assert (await api.delete(f"/api/v1/users/{observer}/observees/99999")).status_code == 404


async def test_permissions_without_names_lists_every_right(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """GET /accounts/self/permissions with no permissions[]: every right of the account, each
    true or false for the caller."""
    everything = (await api.get("/api/v1/accounts/self/permissions")).json()
    assert {"read_roster", "manage_sis", "manage_account_settings"} <= set(everything)
    assert all(value is True for value in everything.values())
    reader = await limited(fake, api, client_for, "read_roster")
    limited_rights = (await reader.get("/api/v1/accounts/self/permissions")).json()
    assert set(limited_rights) == set(everything)
    assert [k for k, v in limited_rights.items() if v] == ["read_roster"]
