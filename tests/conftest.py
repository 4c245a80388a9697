"""Generic fixtures: an in-process fake Canvas, an admin client on it, and retries that never
sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stamina

from canvas_observers.fake_canvas import FakeCanvas, FakeCanvasApp, FakeConfig, create_app

BASE_URL = "http://127.0.0.1"


@pytest.fixture
def retry_attempts() -> int | None:
    """The attempts every retried request gets under ``no_retry_sleeps``; ``None`` keeps each
    RetryPolicy's own limit. A conftest overrides it to pin one number for its tests."""
    return None


@pytest.fixture
def no_retry_sleeps(retry_attempts: int | None) -> Iterator[None]:
    """stamina's test mode for one test: retry backoffs (and Retry-After waits) are zero.

    With ``retry_attempts`` left at ``None`` (tests/canvas) the mode caps attempts at 1000,
    which no policy reaches, so each request keeps its RetryPolicy's own limit: the client's
    tests check those limits. A number pins every request to exactly that many attempts,
    whatever its policy says: tests/sync (5) and tests/reliability (6, their FAST_RETRY's,
    which in-process CLI runs with the default policy of 8 also get) have always run so, and
    keep it, since a fault run draws the fake's seeded faults attempt by attempt and another
    limit would meet other faults. Opt in with an autouse fixture in a directory's conftest.
    """
    if retry_attempts is None:
        testing = stamina.set_testing(True, attempts=1000, cap=True)
    else:
        testing = stamina.set_testing(True, attempts=retry_attempts)
    with testing:
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
