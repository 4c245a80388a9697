"""Serve the fake OneRoster API with uvicorn: in the foreground (`fake-oneroster`) or in a
background thread on a free loopback port for tests (`running_server`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from canvas_observers.fake_canvas.server import bind, url_of

_STARTUP_TIMEOUT = 10.0


def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8910) -> None:
    """Serve until Ctrl-C; OSError when the port is taken."""
    sock = bind(host, port)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(app: ASGIApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` in a background thread on a free port of ``host``; yield its base URL."""
    sock = bind(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-oneroster", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OneRoster server did not start")
            time.sleep(0.01)
        yield url_of(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT)
        sock.close()
