"""Wiring a CanvasClient, and a sync run, to a fake Canvas in-process (httpx.ASGITransport),
plus the roster's header and text-to-roster parsing that such tests share, and the
one-student fake Canvas on loopback that the command-line tests run against.

A test that wires something on purpose (a proxy transport, a real loopback server, a token
Canvas refuses) builds its client by hand, so the unusual part stays in sight.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.roster.columns import REQUIRED_COLUMNS
from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.roster.model import Roster
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync

BASE_URL = "http://127.0.0.1"
# The four-column roster's header line, as the product names its columns.
HEADER = ",".join(REQUIRED_COLUMNS) + "\n"


def roster_of(csv_text: str, source: str = "roster.csv") -> Roster:
    """Parse roster CSV text (header included) exactly as the CLI would."""
    return read_roster(io.BytesIO(csv_text.encode()), source=source)


def in_process(app: FakeCanvasApp, *, base_url: str = BASE_URL) -> httpx.AsyncClient:
    """An httpx client whose requests go to ``app`` in-process; the caller closes it."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def canvas_client_on(
    http: httpx.AsyncClient,
    app: FakeCanvasApp,
    *,
    token: str | None = None,
    base_url: str = BASE_URL,
    **options: Any,
) -> CanvasClient:
    """A CanvasClient over ``http``, with ``app``'s admin token unless ``token`` is given;
    ``options`` go to CanvasClient (retry, pacing, per_page...)."""
    return CanvasClient(
        http,
        base_url=base_url,
        token=token if token is not None else app.fake.config.admin_token,
        **options,
    )


@asynccontextmanager
async def canvas_client(
    app: FakeCanvasApp, *, token: str | None = None, base_url: str = BASE_URL, **options: Any
) -> AsyncIterator[CanvasClient]:
    """A CanvasClient on ``app`` in-process (admin token by default), closed on leaving."""
    async with in_process(app, base_url=base_url) as http:
        yield canvas_client_on(http, app, token=token, base_url=base_url, **options)


async def sync_with(
    app: FakeCanvasApp,
    roster: Roster,
    *,
    options: SyncOptions | None = None,
    journal: Journal | None = None,
    token: str | None = None,
    base_url: str = BASE_URL,
    **run_options: Any,
) -> RunResult:
    """One sync of ``roster`` against ``app`` in-process; ``options`` default to
    ``SyncOptions()``, ``run_options`` go to run_sync (on_result, interrupt...)."""
    async with canvas_client(app, token=token, base_url=base_url) as client:
        return await run_sync(
            roster,
            client=client,
            options=options if options is not None else SyncOptions(),
            canvas_url=base_url,
            journal=journal,
            **run_options,
        )


@contextmanager
def one_student_canvas(token: str) -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback (no throttle) with one enrolled student, S1; its URL."""
    app = create_app(FakeConfig(admin_token=token, throttle=False))
    state = app.fake.state
    state.enroll(
        state.add_user("Kid", login_id="kid@s.test", sis_user_id="S1"), state.add_course("C")
    )
    with running_server(app) as url:
        yield app, url


def run_cli(*args: str, token: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``canvas-observers ARGS`` in a subprocess, as an admin runs it: the token in
    CANVAS_TOKEN, a wide terminal (tables are not folded), ``env`` on top."""
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": token, "COLUMNS": "250", **env},
        timeout=120,
        check=False,
    )
