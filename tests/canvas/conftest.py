"""Fixtures for the Canvas client tests: a fake Canvas and clients on it, with no retry sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from canvas_observers.canvas import CanvasClient
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from tests.wiring import canvas_client_on, in_process

ClientFactory = Callable[..., CanvasClient]


@pytest.fixture(autouse=True)
def _no_retry_sleeps(no_retry_sleeps: None) -> None:
    """Retries never sleep; each request keeps its policy's attempt limit (tests/conftest.py)."""


@pytest.fixture
async def http_clients() -> AsyncIterator[list[httpx.AsyncClient]]:
    """httpx clients made by a test, closed at its end."""
    made: list[httpx.AsyncClient] = []
    yield made
    for http in made:
        await http.aclose()


@pytest.fixture
def canvas_on(http_clients: list[httpx.AsyncClient]) -> Callable[..., CanvasClient]:
    """Build a CanvasClient on a fake app in-process (ASGI), admin token by default."""

    def make(app: FakeCanvasApp, *, token: str | None = None, **options: Any) -> CanvasClient:
        http = in_process(app)
        http_clients.append(http)
        return canvas_client_on(http, app, token=token, **options)

    return make


@pytest.fixture
def quiet_app() -> FakeCanvasApp:
    """A fake Canvas with the throttle off (the throttle has its own tests)."""
    return create_app(FakeConfig(throttle=False))
