"""CanvasClient over real loopback HTTP to the fake Canvas (uvicorn in a thread), and pacing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from canvas_observers.canvas import CanvasClient, OutcomeUnknown
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server

ADD_WITH_CODE = "POST /api/v1/users/:user_id/observees"


@asynccontextmanager
async def served(app: FakeCanvasApp, **options: Any) -> AsyncIterator[CanvasClient]:
    """A CanvasClient talking HTTP to `app` served on a free 127.0.0.1 port."""
    with running_server(app) as base_url:
        async with httpx.AsyncClient() as http:
            yield CanvasClient(
                http, base_url=base_url, token=app.fake.config.admin_token, **options
            )


@pytest.fixture
def app() -> Iterator[FakeCanvasApp]:
    """A quiet fake Canvas (no throttle)."""
    yield create_app(FakeConfig(throttle=False))


def enrolled(app: FakeCanvasApp, name: str, **ids: Any) -> int:
    student = app.fake.state.add_user(name, **ids)
    app.fake.state.enroll(student, app.fake.state.add_course("Art"))
    return student


async def test_whole_pairing_flow_over_http(app: FakeCanvasApp) -> None:
    """Lookup by escaped SIS id, create, code, pair, and list by login form work over HTTP."""
    student = enrolled(app, "Zoë Ng", sis_user_id="B.12/3+x", login_id="zoe@school.org")
    async with served(app) as client:
        assert (await client.get_user_by_sis_id("B.12/3+x")).id == student
        parent = await client.create_user(name="Kim Ng", login_id="kim.ng+1@home.org")
        code = await client.create_pairing_code(student)
        await client.add_observee_with_code(parent.id, code.code)
        observees = await client.list_observees("sis_login_id:KIM.NG+1@home.org")
        assert [u.id for u in observees] == [student]
        assert [u.id for u in await client.list_observers(student)] == [parent.id]


async def test_dropped_post_over_http_is_outcome_unknown(app: FakeCanvasApp) -> None:
    """A pairing POST whose connection drops (or gets a 502) is OutcomeUnknown, sent once."""
    student = enrolled(app, "Ana")
    parent = app.fake.state.add_user("Pat", login_id="pat@x.org")
    async with served(app) as client:
        codes = [await client.create_pairing_code(student) for _ in range(6)]
        app.fake.config.lost_response_rate = 1.0
        for code in codes:
            with pytest.raises(OutcomeUnknown):
                await client.add_observee_with_code(parent, code.code)
    assert app.fake.stats.by_route[ADD_WITH_CODE] == 6
    assert app.fake.state.is_linked(parent, student)


async def test_dropped_put_over_http_is_retried(app: FakeCanvasApp) -> None:
    """An idempotent PUT survives dropped connections and proxy 502s over real HTTP."""
    app.fake.config.lost_response_rate = 0.5
    app.fake.config.seed = 9
    pairs = [(app.fake.state.add_user(f"P{n}"), enrolled(app, f"S{n}")) for n in range(12)]
    async with served(app) as client:
        for parent, student in pairs:
            await client.add_observee(parent, student)
        assert client.counts.retries >= app.fake.stats.lost_responses > 0
    assert all(app.fake.state.is_linked(p, s) for p, s in pairs)


async def test_token_not_in_http_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """With httpx/httpcore at DEBUG over real HTTP, no record shows the token."""
    token = "loopback-S3CRET-token"
    app = create_app(FakeConfig(throttle=False, admin_token=token))
    caplog.set_level(logging.DEBUG)
    async with served(app) as client:
        await client.get_self()
        await client.create_user(name="Pat", login_id="pat@x.org")
    names = {record.name for record in caplog.records}
    assert any(name.startswith("httpcore") for name in names), names
    assert all(token not in record.getMessage() for record in caplog.records)
