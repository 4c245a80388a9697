"""GET /api/v1/users/:id, ids self, sis_user_id:, sis_login_id: (docs/canvas-behaviour.md)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


def escape(value: str) -> str:
    """Percent-encode an id the way Canvas's object_ids doc asks (`/` and `.` too)."""
    return quote(value, safe="").replace(".", "%2E")


async def test_show_by_numeric_id(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A numeric id shows the admin view of the user."""
    uid = fake.state.add_user("Ana Pérez", login_id="ana", sis_user_id="S-1", email="a@x.org")
    response = await api.get(f"/api/v1/users/{uid}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == uid
    assert body["name"] == "Ana Pérez"
    assert body["sortable_name"] == "Pérez, Ana"
    assert body["short_name"] == "Ana Pérez"
    assert body["sis_user_id"] == "S-1"
    assert body["login_id"] == "ana"
    assert body["email"] == "a@x.org"
    assert body["first_name"] == "Ana"
    assert body["last_name"] == "Pérez"
    assert "locale" in body
    assert body["created_at"].endswith("Z")


async def test_show_self_is_the_token_owner(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """`self` is the admin for the admin token."""
    response = await api.get("/api/v1/users/self")
    assert response.status_code == 200
    assert response.json()["id"] == fake.state.admin_id


async def test_sis_user_id_is_exact_and_case_sensitive(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """sis_user_id: finds the exact value only; another case is a 404."""
    uid = fake.state.add_user("Sis Kid", login_id="kid", sis_user_id="AbC-9")
    found = await api.get("/api/v1/users/sis_user_id:AbC-9")
    assert found.status_code == 200
    assert found.json()["id"] == uid
    wrong_case = await api.get("/api/v1/users/sis_user_id:abc-9")
    assert wrong_case.status_code == 404
    assert wrong_case.json() == NOT_FOUND


async def test_sis_login_id_is_case_insensitive(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """sis_login_id: matches the login whatever the case."""
    uid = fake.state.add_user("Pat Parent", login_id="Pat.Parent@Example.org")
    response = await api.get("/api/v1/users/sis_login_id:pat.parent%40EXAMPLE.ORG")
    assert response.status_code == 200
    assert response.json()["id"] == uid


@pytest.mark.parametrize(
    "sis_id", ["CS/101.11é", "a.b", "dad+kid@x.org", "x/y/z", "Zoë Ünïcode", "50%off"]
)
async def test_percent_encoded_sis_ids(
    fake: FakeCanvas, api: httpx.AsyncClient, sis_id: str
) -> None:
    """Escaped `/`, `.`, `@`, `+`, `%` and non-ASCII characters are decoded once."""
    uid = fake.state.add_user("Odd Id", login_id="odd", sis_user_id=sis_id)
    response = await api.get(f"/api/v1/users/sis_user_id:{escape(sis_id)}")
    assert response.status_code == 200
    assert response.json()["sis_user_id"] == sis_id
    assert response.json()["id"] == uid


@pytest.mark.parametrize("ident", ["999", "sis_user_id:nobody", "sis_login_id:nobody", "bogus:1"])
async def test_unknown_ids_are_404(api: httpx.AsyncClient, ident: str) -> None:
    """Unknown users and unknown id prefixes get the documented 404 body."""
    response = await api.get(f"/api/v1/users/{ident}")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_deleted_user_is_404_with_the_user_body(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """A deleted user comes back as a 404 whose body is the user JSON."""
    uid = fake.state.add_user("Del Eted", login_id="deleted")
    removed = await api.delete(f"/api/v1/accounts/self/users/{uid}")
    assert removed.status_code == 200
    response = await api.get(f"/api/v1/users/{uid}")
    assert response.status_code == 404
    assert response.json()["id"] == uid
    assert response.json()["name"] == "Del Eted"
    assert (await api.get("/api/v1/users/sis_login_id:deleted")).json() == NOT_FOUND


async def test_non_admin_sees_self_but_not_others(fake: FakeCanvas, client_for: ClientFor) -> None:
    """A plain user may show themself; anyone else is the same 404 as a missing user."""
    me = fake.state.add_user("Plain User", login_id="plain", sis_user_id="P-1")
    other = fake.state.add_user("Other User", login_id="other")
    client = client_for(fake.state.issue_token(me))
    own = await client.get("/api/v1/users/self")
    assert own.status_code == 200
    assert own.json()["id"] == me
    assert "login_id" not in own.json()  # view_user_logins is an admin right
    hidden = await client.get(f"/api/v1/users/{other}")
    assert hidden.status_code == 404
    assert hidden.json() == NOT_FOUND


async def test_sis_lookups_skip_deleted_logins(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """sis_user_id:/sis_login_id: ignore deleted logins (plain 404); the SIS id stays taken."""
    uid = fake.state.add_user("Gone Kid", login_id="gone", sis_user_id="G-1")
    fake.state.delete_user(uid)
    for ident in ("sis_user_id:G-1", "sis_login_id:gone"):
        response = await api.get(f"/api/v1/users/{ident}")
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    by_id = await api.get(f"/api/v1/users/{uid}")
    assert by_id.status_code == 404
    assert by_id.json()["id"] == uid
    create = await api.post(
        "/api/v1/accounts/self/users",
        data={"pseudonym[unique_id]": "new@example.com", "pseudonym[sis_user_id]": "G-1"},
    )
    assert create.status_code == 400
    assert create.json()["errors"]["pseudonym"]["sis_user_id"][0]["type"] == "taken"
