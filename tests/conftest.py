"""Generic fixtures: an in-process fake Canvas and an admin client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas, FakeCanvasApp, FakeConfig, create_app

BASE_URL = "http://127.0.0.1"


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
