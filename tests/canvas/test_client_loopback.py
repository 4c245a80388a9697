"""CanvasClient over real loopback HTTP to the fake Canvas (uvicorn in a thread), and pacing."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from canvas_observers.canvas import CanvasClient, OutcomeUnknown, RetryPolicy, TransportError
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


def slow_site(release: threading.Event) -> Starlette:
    """A site that answers every GET only once the test sets ``release``, or after 3 seconds:
    long past the short timeouts below, and short of httpx's own 5-second default, so a client
    that sends a request without its own timeout gets this answer and its test fails."""

    async def slow(request: Request) -> JSONResponse:
        for _ in range(300):
            if release.is_set():
                break
            await asyncio.sleep(0.01)
        return JSONResponse({"id": 1, "name": "Site Admin"})

    return Starlette(routes=[Route("/{path:path}", slow)])


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test, so the slow site's pending answer ends with it."""
    event = threading.Event()
    yield event
    event.set()


async def test_a_canvas_slower_than_the_timeout_is_no_answer(release: threading.Event) -> None:
    """A Canvas that does not answer within the client's timeout is a transport error (the
    client gives httpx its own timeout, not httpx's default and not none)."""
    with running_server(slow_site(release)) as base_url:
        async with httpx.AsyncClient() as http:
            client = CanvasClient(
                http, base_url=base_url, token="t0ken", timeout=0.2, retry=RetryPolicy.none()
            )
            with pytest.raises(TransportError) as caught:
                await client.get_self()
            release.set()
    assert str(caught.value) == "no answer from Canvas (ReadTimeout) (GET /api/v1/users/self)"
    assert client.counts.transport_errors == 1


async def test_a_file_store_slower_than_the_timeout_is_no_answer(
    release: threading.Event,
) -> None:
    """A file store that does not answer within the client's timeout is a transport error,
    as Canvas itself would be: a download's hops carry the client's timeout too."""
    with running_server(slow_site(release)) as store:
        async with httpx.AsyncClient() as http:
            client = CanvasClient(
                http,
                base_url="https://school.instructure.com",  # never asked: the file is elsewhere
                token="t0ken",
                timeout=0.2,
                retry=RetryPolicy.none(),
            )
            with pytest.raises(TransportError) as caught:
                await client.download(f"{store}/files/report.zip?sig=S3CRET")
            release.set()
    assert str(caught.value) == f"no answer (ReadTimeout) (GET {store}/files/report.zip)"
    assert client.counts.by_operation == {"report_file_store": 1}


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_first_connection_fails_at_once() -> None:
    """Before Canvas has ever answered, a refused connection means the URL is wrong: it fails
    on the first attempt, with the reason, instead of after every retry."""
    port = unused_port()
    async with httpx.AsyncClient() as http:
        client = CanvasClient(
            http,
            base_url=f"http://127.0.0.1:{port}",
            token="t0ken",
            retry=RetryPolicy(attempts=4),
        )
        with pytest.raises(TransportError) as caught:
            await client.get_self()
    assert "connection refused by 127.0.0.1:" in str(caught.value)
    assert (client.counts.requests, client.counts.retries) == (1, 0)


async def test_a_refused_connection_after_an_answer_is_retried(app: FakeCanvasApp) -> None:
    """Once Canvas has answered, a refused connection is a Canvas going away for a moment
    (a restart): nothing was sent, so it is retried, by the retry policy."""
    async with httpx.AsyncClient() as http:
        with running_server(app) as base_url:
            client = CanvasClient(
                http,
                base_url=base_url,
                token=app.fake.config.admin_token,
                retry=RetryPolicy(attempts=4),
            )
            await client.get_self()
        with pytest.raises(TransportError) as caught:  # the server is gone
            await client.get_self()
    assert "connection refused by 127.0.0.1:" in str(caught.value)
    assert (client.counts.requests, client.counts.retries) == (5, 3)
