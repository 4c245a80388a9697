"""Serve the fake Canvas over real HTTP with uvicorn: in the foreground (`fake-canvas`), or in a
background thread on a free loopback port for tests (`running_server`)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from canvas_observers.fake_canvas.operating import DroppedConnection

_STARTUP_TIMEOUT = 10.0  # seconds for uvicorn to bind; generous for a loaded 2-core machine


class _QuietDrops(logging.Filter):
    """Hide uvicorn's traceback for the connections the fake drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def _quiet_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8900) -> None:
    """Serve `app` until interrupted (Ctrl-C); uvicorn logs warnings and errors only."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    _quiet_drops()
    server.run()


@contextmanager
def running_server(app: ASGIApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `app` in a background thread on a free port of `host`; yield its base URL.

    The socket is bound here (port 0 = the kernel picks a free one) and handed to uvicorn, so
    there is no race between finding a port and binding it. On exit the server is asked to
    stop and the thread joined.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread; this server runs in another.
    _quiet_drops()
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-canvas", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Canvas server did not start")
            time.sleep(0.01)
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT)
        sock.close()
