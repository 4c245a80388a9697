"""Generic fixtures: an in-process fake Canvas, an admin client on it, and retries that never
sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stamina

from canvas_observers.fake_canvas import FakeCanvas, FakeCanvasApp, FakeConfig, create_app

BASE_URL = "http://127.0.0.1"


@pytest.fixture(autouse=True)
def private_state_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test its own user state folder (XDG_STATE_HOME, inherited by subprocesses): the
    run locks, the journal registry and the default journals never touch the real one, and
    no test sees another's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def no_retry_sleeps() -> Iterator[None]:
    """stamina's test mode for one test: retry backoffs (and Retry-After waits) are zero and
    each request keeps its RetryPolicy's own attempt limit.

    The mode caps attempts at 1000, a number no policy reaches, rather than setting one
    number for every request: the client's tests check the policies' limits, and a request
    given ``RetryPolicy.none()`` still makes one attempt. (tests/sync and tests/reliability
    used to set 5 and 6 attempts for every request; they pass alike with the policies' own
    limits, which is what their fixtures said they kept.) Opt in with an autouse fixture
    in a directory's conftest.
    """
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture
def fake_app() -> FakeCanvasApp:
    """A fresh fake Canvas (empty district, throttle off so tests never wait)."""
    return create_app(FakeConfig(throttle=False))


@pytest.fixture
def fake(fake_app: FakeCanvasApp) -> FakeCanvas:
    """The fake's config, state and stats, for building districts and checking results."""
    return fake_app.fake


@pytest.fixture
async def api(fake_app: FakeCanvasApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the fake in-process, authenticated with the admin token."""
    token = fake_app.fake.config.admin_token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake_app),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client
