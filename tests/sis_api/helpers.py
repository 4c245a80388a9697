"""Building a fake OneRoster API and an ApiConfig on it, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from canvas_observers.canvas.retry import RetryPolicy
from canvas_observers.fake_oneroster import FakeOneRoster, FakeOneRosterConfig, create_app
from canvas_observers.sis_api import ApiConfig, FetchResult, Secret, fetch_bundle

from .conftest import CLIENT_ID, SECRET

BASE = "http://127.0.0.1"


def fake_api(bundle: Path, version: str = "1.1", **knobs: Any) -> Starlette:
    config = FakeOneRosterConfig(
        version=version, client_id=CLIENT_ID, client_secret=SECRET, **knobs
    )
    return create_app(config, bundle, base_url=BASE)


def state(app: Starlette) -> FakeOneRoster:
    fake: FakeOneRoster = app.state.fake
    return fake


def api_config(version: str = "1.1", **over: Any) -> ApiConfig:
    settings: dict[str, Any] = {
        "base_url": BASE,
        "version": version,
        "client_id": CLIENT_ID,
        "client_secret": Secret(SECRET),
        "retry": RetryPolicy(attempts=4),
    }
    settings.update(over)
    return ApiConfig(**settings)


async def fetch(
    app: Starlette | httpx.AsyncBaseTransport, dest: Path, config: ApiConfig | None = None
) -> FetchResult:
    transport = app if isinstance(app, httpx.AsyncBaseTransport) else httpx.ASGITransport(app=app)
    return await fetch_bundle(config or api_config(), dest, transport=transport)
