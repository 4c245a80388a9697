"""Injected faults of the fake Canvas: 5xx before the app runs, lost responses after a commit."""

from __future__ import annotations

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.operating import DroppedConnection
from canvas_observers.fake_canvas.server import running_server

INTERNAL_ERROR = {
    "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]
}


def app_with(**knobs: object) -> FakeCanvasApp:
    config = FakeConfig(throttle=False)
    config.update(dict(knobs))
    return create_app(config)


def client(app: FakeCanvasApp, base_url: str = "http://127.0.0.1") -> httpx.AsyncClient:
    transport = None if base_url != "http://127.0.0.1" else httpx.ASGITransport(app=app)
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url,
        headers={"Authorization": f"Bearer {app.fake.config.admin_token}"},
    )


def new_user(n: int) -> dict[str, str]:
    return {"user[name]": f"Parent {n}", "pseudonym[unique_id]": f"parent{n}@example.com"}


async def statuses(http: httpx.AsyncClient, n: int) -> list[int]:
    return [(await http.get("/api/v1/accounts/self")).status_code for _ in range(n)]


async def test_fault_rate_one_answers_every_request_with_5xx_and_counts() -> None:
    """With fault_rate 1 every API request gets 500 (Canvas JSON) or 502/503 (proxy text)."""
    app = app_with(fault_rate=1.0)
    async with client(app) as http:
        responses = [await http.get("/api/v1/accounts/self") for _ in range(30)]
    assert {r.status_code for r in responses} == {500, 502, 503}
    for r in responses:
        if r.status_code == 500:
            assert r.json() == INTERNAL_ERROR
        else:
            assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert r.text.startswith(str(r.status_code))
    assert app.fake.stats.faults == 30


async def test_fault_comes_before_the_write() -> None:
    """A faulted write is not committed: the 5xx is answered before the app runs."""
    app = app_with(fault_rate=1.0)
    async with client(app) as http:
        r = await http.post("/api/v1/accounts/self/users", data=new_user(1))
    assert r.status_code >= 500
    assert app.fake.state.user_by_login("parent1@example.com") is None


async def test_faults_spare_the_side_door() -> None:
    """`/__fake__/` is never faulted, so a test can always read the state."""
    app = app_with(fault_rate=1.0)
    async with client(app) as http:
        r = await http.get("/__fake__/stats")
    assert r.status_code == 200
    assert r.json()["faults"] == 0


async def test_lost_response_write_is_committed_although_the_client_saw_an_error() -> None:
    """Every write commits, yet the client gets a 502 or a dropped connection; both occur."""
    app = app_with(lost_response_rate=1.0, seed=3)
    seen: set[str] = set()
    async with client(app) as http:
        for n in range(12):
            try:
                r = await http.post("/api/v1/accounts/self/users", data=new_user(n))
            except httpx.RemoteProtocolError as exc:
                assert isinstance(exc, DroppedConnection)
                seen.add("dropped")
            else:
                assert r.status_code == 502
                assert r.text == "502 Bad Gateway\n"
                seen.add("502")
            assert app.fake.state.user_by_login(f"parent{n}@example.com") is not None
    assert seen == {"dropped", "502"}
    assert app.fake.stats.lost_responses == 12


async def test_lost_responses_spare_reads() -> None:
    """A GET is never turned into a lost response, whatever the rate."""
    app = app_with(lost_response_rate=1.0)
    async with client(app) as http:
        assert await statuses(http, 10) == [200] * 10
    assert app.fake.stats.lost_responses == 0


async def test_dropped_connection_over_real_http_is_a_protocol_error() -> None:
    """Over uvicorn a drop closes the socket mid-answer: httpx raises RemoteProtocolError."""
    app = app_with(lost_response_rate=1.0, seed=3)
    errors = 0
    with running_server(app) as url:
        async with client(app, url) as http:
            for n in range(12):
                try:
                    r = await http.post("/api/v1/accounts/self/users", data=new_user(n))
                except httpx.RemoteProtocolError:
                    errors += 1
                else:
                    assert r.status_code == 502
                assert app.fake.state.user_by_login(f"parent{n}@example.com") is not None
    assert errors > 0


async def test_same_seed_same_faults() -> None:
    """Two fakes with the same seed fault the same requests; another seed differs."""
    runs = []
    for seed in (11, 11, 12):
        app = app_with(fault_rate=0.5, seed=seed)
        async with client(app) as http:
            runs.append(await statuses(http, 40))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {200, 500, 502, 503} >= set(runs[0]) > {200}


async def test_changing_the_seed_reseeds() -> None:
    """Setting the seed through the side door restarts the fault sequence of that seed."""
    fresh = app_with(fault_rate=0.5, seed=7)
    async with client(fresh) as http:
        expected = await statuses(http, 30)
    app = app_with(fault_rate=0.5, seed=0)
    async with client(app) as http:
        await statuses(http, 5)
        r = await http.post("/__fake__/config", json={"seed": 7})
        assert r.status_code == 200
        assert await statuses(http, 30) == expected


@pytest.mark.parametrize("rate", [0.0, 0.3])
async def test_fault_rate_is_roughly_honoured(rate: float) -> None:
    """The share of faulted requests follows fault_rate (none at 0, some but not all at 0.3)."""
    app = app_with(fault_rate=rate, seed=5)
    async with client(app) as http:
        got = await statuses(http, 100)
    faults = sum(s != 200 for s in got)
    assert faults == app.fake.stats.faults
    if rate == 0.0:
        assert faults == 0
    else:
        assert 10 <= faults <= 55
