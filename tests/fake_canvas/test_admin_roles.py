"""Limited admin roles: what a custom role without some permissions sees, searches and does.

Canvas hides a field, rather than showing it empty, when the caller's role lacks the permission
for it, and its user search silently stops matching that identifier (docs/canvas-behaviour.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from canvas_observers.cli import fake as fake_cli
from canvas_observers.cli import main
from canvas_observers.fake_canvas import FakeCanvas, FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.roles import ACCOUNT_ADMIN

ClientFor = Callable[..., httpx.AsyncClient]
FIELDS = {"login_id", "sis_user_id", "integration_id", "sis_import_id", "email"}


def guardian(fake: FakeCanvas) -> int:
    return fake.state.add_user(
        "Pat Parent", login_id="pat.login@example.com", sis_user_id="G-77", email="pat@home.example"
    )


async def limited(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor, *rights: str
) -> httpx.AsyncClient:
    """A client whose token is an admin of a custom role with exactly these permissions."""
    user = fake.state.add_user("Limited Admin", login_id="limited")
    response = await api.post(
        "/__fake__/tokens", json={"user_id": user, "permissions": ["read_roster", *rights]}
    )
    assert response.status_code == 200
    return client_for(response.json()["token"])


async def listed(http: httpx.AsyncClient, term: str) -> list[dict[str, object]]:
    response = await http.get(
        "/api/v1/accounts/self/users", params={"search_term": term, "include[]": "email"}
    )
    assert response.status_code == 200
    return list(response.json())


async def test_a_full_admin_sees_every_field(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """The built-in admin sees login, SIS ids, sis_import_id and (asked for) email."""
    guardian(fake)
    [user] = await listed(api, "Pat Parent")
    assert set(user) >= FIELDS
    assert user["login_id"] == "pat.login@example.com"
    assert user["email"] == "pat@home.example"
    assert user["sis_import_id"] is None


async def test_a_role_without_the_field_permissions_sees_and_searches_names_only(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """No view_user_logins/read_sis/read_email_addresses: fields absent, search by name only."""
    guardian(fake)
    http = await limited(fake, api, client_for)
    [user] = await listed(http, "Pat Parent")
    assert not FIELDS & set(user)
    for term in ("pat.login@example.com", "G-77", "pat@home.example"):
        assert await listed(http, term) == [], term
        assert await listed(api, term) != [], term


@pytest.mark.parametrize(
    ("rights", "shown", "found_by"),
    [
        (("view_user_logins",), {"login_id"}, "pat.login@example.com"),
        (("read_sis",), {"sis_user_id", "integration_id"}, "G-77"),
        (("manage_sis",), {"sis_user_id", "integration_id", "sis_import_id"}, "G-77"),
        (("read_email_addresses",), {"email"}, "pat@home.example"),
    ],
)
async def test_each_permission_shows_and_searches_its_own_field(
    fake: FakeCanvas,
    api: httpx.AsyncClient,
    client_for: ClientFor,
    rights: tuple[str, ...],
    shown: set[str],
    found_by: str,
) -> None:
    """One permission shows exactly its fields and lets search match that identifier."""
    guardian(fake)
    http = await limited(fake, api, client_for, *rights)
    [user] = await listed(http, found_by)
    assert FIELDS & set(user) == shown


async def test_show_user_and_observee_lists_follow_the_role(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """GET /users/:id and observee lists hide the same fields for the same role."""
    parent = guardian(fake)
    student = fake.state.add_user("Kim Kid", login_id="kim", sis_user_id="S-1")
    fake.state.link(parent, student)
    http = await limited(fake, api, client_for, "manage_user_observers")
    shown = await http.get(f"/api/v1/users/{parent}")
    assert shown.status_code == 200
    assert not FIELDS & set(shown.json())
    observees = await http.get(f"/api/v1/users/{parent}/observees")
    assert observees.status_code == 200
    assert [u["id"] for u in observees.json()] == [student]
    assert not FIELDS & set(observees.json()[0])


async def test_permissions_endpoint_answers_the_callers_rights(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """GET /accounts/self/permissions answers {name: bool}; an unknown name is false."""
    http = await limited(fake, api, client_for, "read_sis")
    asked = ["read_sis", "view_user_logins", "read_email_addresses", "no_such_permission"]
    response = await http.get("/api/v1/accounts/self/permissions", params={"permissions[]": asked})
    assert response.status_code == 200
    assert response.json() == {
        "read_sis": True,
        "view_user_logins": False,
        "read_email_addresses": False,
        "no_such_permission": False,
    }
    full = await api.get("/api/v1/accounts/self/permissions", params={"permissions[]": asked[:3]})
    assert full.json() == dict.fromkeys(asked[:3], True)


async def test_writes_need_their_permissions(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Without manage_user_logins create is 403 {}; without manage_user_observers PUT is 401."""
    parent = guardian(fake)
    student = fake.state.add_user("Kim Kid", login_id="kim", sis_user_id="S-1")
    http = await limited(fake, api, client_for)
    created = await http.post(
        "/api/v1/accounts/self/users", data={"pseudonym[unique_id]": "new@example.org"}
    )
    assert (created.status_code, created.json()) == (403, {})
    paired = await http.put(f"/api/v1/users/{parent}/observees/{student}")
    assert paired.status_code == 401
    assert not fake.state.is_linked(parent, student)


async def test_create_drops_the_sis_id_without_manage_sis(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """pseudonym[sis_user_id] is silently ignored for a role without manage_sis."""
    http = await limited(fake, api, client_for, "manage_user_logins", "read_sis")
    created = await http.post(
        "/api/v1/accounts/self/users",
        data={"pseudonym[unique_id]": "new@example.org", "pseudonym[sis_user_id]": "G-1"},
    )
    assert created.status_code == 200
    assert created.json()["sis_user_id"] is None


async def test_side_door_refuses_unknown_permission_names(api: httpx.AsyncClient) -> None:
    """A permission the fake does not know is a 400 naming it."""
    response = await api.post("/__fake__/tokens", json={"user_id": 1, "permissions": ["nope"]})
    assert response.status_code == 400
    assert "nope" in response.json()["error"]


async def test_config_limits_the_built_in_admin() -> None:
    """FakeConfig.admin_permissions gives the admin token that role, after a reset too."""
    app = create_app(FakeConfig(admin_permissions=frozenset({"read_roster"})))
    assert app.fake.state.users[app.fake.state.admin_id].permissions == {"read_roster"}
    app.fake.reset()
    assert app.fake.state.users[app.fake.state.admin_id].permissions == {"read_roster"}
    assert create_app(FakeConfig()).fake.state.users[1].permissions == ACCOUNT_ADMIN


def test_admin_permissions_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`fake-canvas --admin-permissions a,b` limits the admin; an unknown name is exit 2."""
    apps: list[FakeCanvasApp] = []
    monkeypatch.setattr(fake_cli, "serve_on", lambda app, *args, **kw: apps.append(app))
    runner = CliRunner()
    ok = runner.invoke(
        main, ["fake-canvas", "--port", "0", "--admin-permissions", "read_roster,read_sis"]
    )
    assert ok.exit_code == 0, ok.output
    fake = apps[0].fake
    assert fake.state.users[fake.state.admin_id].permissions == {"read_roster", "read_sis"}
    bad = runner.invoke(main, ["fake-canvas", "--admin-permissions", "read_roster,bogus"])
    assert bad.exit_code == 2
    assert "bogus" in bad.output
