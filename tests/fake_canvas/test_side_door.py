"""The /__fake__/ side door: stats, state, tokens, config, reset, loopback only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]


async def test_stats_count_api_requests_by_method_and_route(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Every /api/ request is counted by method and by route template; side-door calls not."""
    uid = fake.state.add_user("Kid", login_id="kid")
    await api.get(f"/api/v1/users/{uid}")
    await api.get("/api/v1/users/sis_login_id:kid")
    await api.get("/api/v1/users/404404")
    await api.post("/api/v1/accounts/self/users", data={"pseudonym[unique_id]": "p@x.org"})
    await api.get("/api/v1/unknown")
    stats = (await api.get("/__fake__/stats")).json()
    assert stats["by_method"] == {"GET": 4, "POST": 1}
    assert stats["by_route"] == {
        "GET /api/v1/users/:id": 3,
        "POST /api/v1/accounts/:account_id/users": 1,
    }
    assert stats["throttled"] == 0
    assert stats["faults"] == 0


async def test_state_dump(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """The state dump lists users with logins, enrollments, links, codes and emails."""
    kid = fake.state.add_user("Kim Kid", login_id="kim", sis_user_id="S-1", email="k@x.org")
    fake.state.enroll(kid, fake.state.add_course("Math"))
    parent = fake.state.add_user("Pat Parent", login_id="pat")
    fake.state.link(parent, kid)
    await api.post(f"/api/v1/users/{kid}/observer_pairing_codes")
    await api.post(
        "/api/v1/accounts/self/users",
        data={"pseudonym[unique_id]": "new@x.org", "pseudonym[force_self_registration]": "1"},
    )
    dump = (await api.get("/__fake__/state")).json()
    kim = next(u for u in dump["users"] if u["id"] == kid)
    assert kim["logins"][0]["unique_id"] == "kim"
    assert kim["logins"][0]["sis_user_id"] == "S-1"
    assert kim["emails"] == ["k@x.org"]
    assert any(
        e["user_id"] == kid and e["type"] == "StudentEnrollment" for e in dump["enrollments"]
    )
    assert {"observer_id": parent, "student_id": kid, "workflow_state": "active"} in dump[
        "observer_links"
    ]
    assert [c["user_id"] for c in dump["pairing_codes"]] == [kid]
    assert [e["kind"] for e in dump["registration_emails"]] == ["confirm_registration"]


async def test_tokens_act_as_the_user(fake: FakeCanvas, client_for: ClientFor) -> None:
    """POST /__fake__/tokens returns a token that authenticates as that user."""
    uid = fake.state.add_user("Kid", login_id="kid")
    side = client_for(None)
    response = await side.post("/__fake__/tokens", json={"user_id": uid})
    assert response.status_code == 200
    me = await client_for(response.json()["token"]).get("/api/v1/users/self")
    assert me.json()["id"] == uid
    assert (await side.post("/__fake__/tokens", json={"user_id": 999})).status_code == 404
    assert (await side.post("/__fake__/tokens", json={"user": 1})).status_code == 400


async def test_config_changes_knobs(fake: FakeCanvas, client_for: ClientFor) -> None:
    """POST /__fake__/config changes knobs at once; an unknown knob is a 400."""
    side = client_for(None)
    response = await side.post("/__fake__/config", json={"latency_ms": 0, "forbidden_status": 403})
    assert response.status_code == 200
    assert fake.config.forbidden_status == 403
    assert "admin_token" not in response.json()
    bad = await side.post("/__fake__/config", json={"warp_speed": 9})
    assert bad.status_code == 400
    assert (await side.post("/__fake__/config", content=b"[1]")).status_code == 400


async def test_reset_empties_state_and_stats_but_keeps_config(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Reset leaves only the admin, zeroes counters, and keeps knobs and the admin token."""
    fake.state.add_user("Kid", login_id="kid")
    fake.config.forbidden_status = 403
    await api.get("/api/v1/users/self")
    assert (await api.post("/__fake__/reset")).status_code == 200
    assert fake.config.forbidden_status == 403
    assert fake.stats.as_json()["by_method"] == {}
    assert [u["name"] for u in fake.state.snapshot()["users"]] == ["Fake Admin"]
    assert (await api.get("/api/v1/users/sis_login_id:kid")).status_code == 404
    assert (await api.get("/api/v1/users/self")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/__fake__/stats"),
        ("GET", "/__fake__/state"),
        ("POST", "/__fake__/tokens"),
        ("POST", "/__fake__/config"),
        ("POST", "/__fake__/reset"),
    ],
)
async def test_side_door_refuses_non_loopback(
    fake: FakeCanvas, client_for: ClientFor, method: str, path: str
) -> None:
    """A client that is not on loopback gets 403 and changes nothing."""
    fake.state.add_user("Kid", login_id="kid")
    outsider = client_for(None, client=("10.1.2.3", 5555))
    response = await outsider.request(method, path, json={"user_id": 1, "seed": 5})
    assert response.status_code == 403
    assert fake.config.seed == 0
    assert fake.state.user_by_login("kid") is not None
