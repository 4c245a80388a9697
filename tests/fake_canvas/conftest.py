"""Fixtures for the fake Canvas's own tests: clients acting as other users."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp

ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_for(fake_app: FakeCanvasApp) -> AsyncIterator[ClientFactory]:
    """Make clients on the fake with a given token (None: no Authorization header)."""
    clients: list[httpx.AsyncClient] = []

    def make(
        token: str | None, *, client: tuple[str, int] = ("127.0.0.1", 40000)
    ) -> httpx.AsyncClient:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=fake_app, client=client),
            base_url="http://127.0.0.1",
            headers=headers,
        )
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()
