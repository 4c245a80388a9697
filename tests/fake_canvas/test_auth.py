"""Authentication and permission answers (docs/canvas-behaviour.md)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


async def test_no_token_is_401_with_www_authenticate(client_for: ClientFor) -> None:
    """No token: 401, WWW-Authenticate and the "user authorization required" body."""
    response = await client_for(None).get("/api/v1/users/self")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="canvas-lms"'
    assert response.json() == {
        "status": "unauthenticated",
        "errors": [{"message": "user authorization required"}],
    }


async def test_unknown_token_is_401_invalid(client_for: ClientFor) -> None:
    """An unknown token: 401, WWW-Authenticate and "Invalid access token."."""
    response = await client_for("nope").get("/api/v1/accounts/self/users")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="canvas-lms"'
    assert response.json() == {"errors": [{"message": "Invalid access token."}]}


async def test_access_token_query_param(fake: FakeCanvas, client_for: ClientFor) -> None:
    """The token may come as the access_token query parameter."""
    response = await client_for(None).get(
        "/api/v1/users/self", params={"access_token": fake.config.admin_token}
    )
    assert response.status_code == 200
    assert response.json()["id"] == fake.state.admin_id


async def test_token_of_deleted_user_is_invalid(fake: FakeCanvas, client_for: ClientFor) -> None:
    """A deleted user's token no longer authenticates."""
    uid = fake.state.add_user("Gone", login_id="gone")
    token = fake.state.issue_token(uid)
    fake.state.delete_user(uid)
    response = await client_for(token).get("/api/v1/users/self")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/accounts/self/users?search_term=ab"),
        ("GET", "/api/v1/accounts/self"),
        ("PUT", "/api/v1/users/{other}/observees/{kid}"),
        ("PUT", "/api/v1/users/self/observees/{kid}"),
        ("GET", "/api/v1/users/{other}/observees"),
        ("GET", "/api/v1/users/{other}/observers"),
        ("DELETE", "/api/v1/users/{other}/observees/{kid}"),
        ("POST", "/api/v1/users/{other}/observees"),
        ("POST", "/api/v1/users/{kid}/observer_pairing_codes"),
        ("GET", "/api/v1/users/{other}/enrollments"),
    ],
)
async def test_non_admin_on_admin_actions(
    fake: FakeCanvas, client_for: ClientFor, method: str, path: str
) -> None:
    """A valid non-admin token gets 401 "unauthorized" on admin-only actions."""
    me = fake.state.add_user("Plain Parent", login_id="plain")
    other = fake.state.add_user("Other Parent", login_id="other")
    kid = fake.state.add_user("Kid", login_id="kid")
    fake.state.enroll(kid, fake.state.add_course("Art"))
    fake.state.link(other, kid)
    client = client_for(fake.state.issue_token(me))
    response = await client.request(method, path.format(other=other, kid=kid))
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert "www-authenticate" not in response.headers


async def test_forbidden_status_can_be_403(fake: FakeCanvas, client_for: ClientFor) -> None:
    """With forbidden_status=403 (api_auth_error_updates) the refusal is a 403."""
    fake.config.forbidden_status = 403
    me = fake.state.add_user("Plain", login_id="plain")
    response = await client_for(fake.state.issue_token(me)).get(
        "/api/v1/accounts/self/users", params={"search_term": "ab"}
    )
    assert response.status_code == 403
    assert response.json() == UNAUTHORIZED


async def test_parent_manages_own_links(fake: FakeCanvas, client_for: ClientFor) -> None:
    """A parent may list, show and delete their own links with their own token."""
    me = fake.state.add_user("Plain Parent", login_id="plain")
    kid = fake.state.add_user("Kid", login_id="kid")
    fake.state.link(me, kid)
    client = client_for(fake.state.issue_token(me))
    assert [u["id"] for u in (await client.get("/api/v1/users/self/observees")).json()] == [kid]
    assert "login_id" not in (await client.get("/api/v1/users/self/observees")).json()[0]
    assert (await client.get(f"/api/v1/users/self/observees/{kid}")).status_code == 200
    assert (await client.delete(f"/api/v1/users/self/observees/{kid}")).status_code == 200


async def test_unknown_api_route_is_404_json(api: httpx.AsyncClient) -> None:
    """An /api/ path the fake does not serve answers Canvas's 404 JSON."""
    response = await api.get("/api/v1/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "The specified resource does not exist."}]}
