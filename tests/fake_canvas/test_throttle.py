"""The fake Canvas's throttle: the leaky-bucket math, then over ASGI (docs/canvas-behaviour.md)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.operating import LeakyBucket, client_identifier

HWM, UP_FRONT, OUTFLOW = 600.0, 50.0, 10.0
PATH = "/api/v1/accounts/self"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reserve(bucket: LeakyBucket, client: str = "token:a") -> bool:
    return bucket.reserve(client, up_front_cost=UP_FRONT, hwm=HWM, outflow=OUTFLOW)


def test_twelfth_simultaneous_reservation_is_refused() -> None:
    """With an empty bucket 11 reservations fit and the 12th reaches 600 and is refused."""
    bucket = LeakyBucket(clock=FakeClock())
    assert [reserve(bucket) for _ in range(12)] == [True] * 11 + [False]


def test_refused_reservation_is_refunded() -> None:
    """A refused request leaves the level where it was (550), so it costs nothing."""
    bucket = LeakyBucket(clock=FakeClock())
    for _ in range(11):
        reserve(bucket)
    assert not reserve(bucket)
    assert not reserve(bucket)
    assert bucket.level("token:a", outflow=OUTFLOW) == pytest.approx(550.0)


def test_level_leaks_at_outflow_and_never_goes_negative() -> None:
    """The level drops by outflow units per second of clock time, floored at zero."""
    clock = FakeClock()
    bucket = LeakyBucket(clock=clock)
    for _ in range(11):
        reserve(bucket)
    clock.now += 5.0
    assert bucket.level("token:a", outflow=OUTFLOW) == pytest.approx(500.0)
    assert reserve(bucket)  # room again after the leak
    clock.now += 1000.0
    assert bucket.level("token:a", outflow=OUTFLOW) == 0.0


def test_settle_refunds_reservation_and_adds_cost() -> None:
    """Finishing a request swaps its 50-unit reservation for its real cost."""
    bucket = LeakyBucket(clock=FakeClock())
    reserve(bucket)
    reserve(bucket)
    level = bucket.settle("token:a", up_front_cost=UP_FRONT, cost=0.25, outflow=OUTFLOW)
    assert level == pytest.approx(50.25)


def test_clients_have_separate_buckets() -> None:
    """One client's full bucket does not throttle another client."""
    bucket = LeakyBucket(clock=FakeClock())
    for _ in range(11):
        reserve(bucket, "token:a")
    assert not reserve(bucket, "token:a")
    assert reserve(bucket, "token:b")


@pytest.mark.parametrize(
    ("headers", "query", "client", "expected"),
    [
        ([(b"authorization", b"Bearer abc")], b"", ("10.0.0.1", 1), "token:abc"),
        ([(b"authorization", b"bearer abc")], b"access_token=zzz", None, "token:abc"),
        ([], b"per_page=5&access_token=xyz", ("10.0.0.1", 1), "token:xyz"),
        ([(b"authorization", b"Basic dXNlcg==")], b"", ("10.0.0.2", 1), "ip:10.0.0.2"),
        ([], b"", None, "ip:unknown"),
    ],
)
def test_client_identifier(
    headers: list[tuple[bytes, bytes]],
    query: bytes,
    client: tuple[str, int] | None,
    expected: str,
) -> None:
    """The bucket key is the bearer token, else the access_token param, else the peer IP."""
    scope = {"type": "http", "headers": headers, "query_string": query, "client": client}
    assert client_identifier(scope) == expected


def throttled_app(**knobs: object) -> FakeCanvasApp:
    # A cost of 1 unit per request: see `burst`.
    config = FakeConfig(latency_ms=20.0, request_cost=1.0)
    config.update(dict(knobs))
    return create_app(config)


def client(app: FakeCanvasApp, token: str | None = None) -> httpx.AsyncClient:
    token = token or app.fake.config.admin_token
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1",
        headers={"Authorization": f"Bearer {token}"},
    )


async def burst(http: httpx.AsyncClient, n: int) -> list[httpx.Response]:
    """One request, then n at once. The 12th of a burst meets 11 * 50 units plus its own 50,
    minus what leaked (10 units/s) since the burst began; the first request's 1-unit cost
    covers that leak (100 ms worth), as on Canvas, where a busy token is rarely at exactly 0."""
    first = await http.get(PATH)
    assert first.status_code == 200
    return list(await asyncio.gather(*(http.get(PATH) for _ in range(n))))


async def test_twelve_simultaneous_requests_get_a_429() -> None:
    """12 slow requests in flight on one token: at least one is throttled with the 429 JSON."""
    app = throttled_app()
    async with client(app) as http:
        responses = await burst(http, 12)
    refused = [r for r in responses if r.status_code == 429]
    assert refused, [r.status_code for r in responses]
    for r in refused:
        assert r.json() == {"errors": [{"message": "Rate Limit Exceeded"}]}
        assert r.headers["X-Rate-Limit-Remaining"] == "0.0"
        assert "X-Request-Cost" not in r.headers
    assert all(r.status_code in (200, 429) for r in responses)
    assert app.fake.stats.throttled == len(refused)


async def test_throttled_403_is_plain_text() -> None:
    """With throttle_status 403 the refusal is older Canvas's plain-text 403."""
    app = throttled_app(throttle_status=403)
    async with client(app) as http:
        responses = await burst(http, 12)
    refused = [r for r in responses if r.status_code == 403]
    assert refused
    for r in refused:
        assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert r.text == "403 Forbidden (Rate Limit Exceeded)\n"
        assert r.headers["X-Rate-Limit-Remaining"] == "0.0"


async def test_two_hundred_sequential_requests_are_never_throttled() -> None:
    """One request at a time never fills the bucket; every answer carries the throttle headers."""
    app = throttled_app(latency_ms=0.0, request_cost=0.05)
    async with client(app) as http:
        for _ in range(200):
            r = await http.get(PATH)
            assert r.status_code == 200
            assert r.headers["X-Request-Cost"] == "0.05"
            assert 0.0 < float(r.headers["X-Rate-Limit-Remaining"]) <= 600.0
    assert app.fake.stats.throttled == 0


async def test_tokens_have_separate_buckets_over_asgi() -> None:
    """11 in flight on each of two tokens: nobody is throttled."""
    app = throttled_app()
    other = app.fake.state.issue_token(app.fake.state.admin_id)
    async with client(app) as a, client(app, other) as b:
        responses = await asyncio.gather(burst(a, 11), burst(b, 11))
    assert [r.status_code for group in responses for r in group] == [200] * 22


async def test_no_throttle_means_no_refusals_but_still_the_headers() -> None:
    """With the throttle off, 20 simultaneous requests all pass and still carry both headers."""
    app = throttled_app(throttle=False)
    async with client(app) as http:
        responses = await burst(http, 20)
        side_door = await http.get("/__fake__/stats")
    assert [r.status_code for r in responses] == [200] * 20
    assert app.fake.stats.throttled == 0
    for r in responses:
        assert r.headers["X-Request-Cost"] == "1.0"
        assert r.headers["X-Rate-Limit-Remaining"] == "600.0"
    assert "X-Request-Cost" not in side_door.headers
    assert "X-Rate-Limit-Remaining" not in side_door.headers


async def test_side_door_is_outside_the_throttle() -> None:
    """`/__fake__/` answers carry no throttle headers and are never refused."""
    app = throttled_app()
    async with client(app) as http:
        responses = await asyncio.gather(*(http.get("/__fake__/stats") for _ in range(15)))
    assert [r.status_code for r in responses] == [200] * 15
    assert all("X-Request-Cost" not in r.headers for r in responses)


async def test_config_changes_apply_to_the_next_request() -> None:
    """Switching throttle_status through the side door changes the very next refusal."""
    app = throttled_app()
    async with client(app) as http:
        r = await http.post("/__fake__/config", json={"throttle_status": 403})
        assert r.status_code == 200
        statuses = {r.status_code for r in await burst(http, 12)}
    assert 403 in statuses
    assert 429 not in statuses
