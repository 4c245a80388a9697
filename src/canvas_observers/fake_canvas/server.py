"""Serve the fake Canvas over real HTTP with uvicorn: in the foreground (`fake-canvas`), or in a
background thread on a free loopback port for tests (`running_server`).

Both listen on two sockets: the Canvas port, and a second port for the files origin (where
report downloads redirect to, `FakeConfig.files_origin`), which they point at that port. One
uvicorn server serves both; the app tells them apart by the Host header."""

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


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (0 = a free port), not yet listening (uvicorn does).

    Created with ``IPPROTO_TCP`` named: asyncio sets TCP_NODELAY only on sockets whose
    protocol says TCP, and without it every answer waits ~40 ms for the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def url_of(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 host in brackets."""
    host = host.strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _url(host: str, sock: socket.socket) -> str:
    return url_of(host, sock.getsockname()[1])


def _point_files_origin(app: ASGIApp, host: str, sock: socket.socket) -> str | None:
    """When `app` is the fake Canvas (FakeCanvasApp.serve_files_on), make `sock` its files
    origin; return the previous origin (None for another app)."""
    serve_files_on = getattr(app, "serve_files_on", None)
    if serve_files_on is None:
        return None
    old: str = serve_files_on(_url(host, sock), sock.getsockname()[1])
    return old


def serve(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8900, files_port: int | None = None
) -> None:
    """Serve `app` until interrupted (Ctrl-C) on `port`, and the files origin on `files_port`
    (default: port + 1); uvicorn logs warnings and errors only. OSError when a port is taken."""
    canvas_sock = bind(host, port)
    try:
        files_sock = bind(host, port + 1 if files_port is None else files_port)
    except OSError:
        canvas_sock.close()
        raise
    _point_files_origin(app, host, files_sock)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    _quiet_drops()
    try:
        server.run(sockets=[canvas_sock, files_sock])
    finally:
        canvas_sock.close()
        files_sock.close()


@contextmanager
def running_server(app: ASGIApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Run `app` in a background thread on a free port of `host`; yield its base URL.

    The sockets are bound here (port 0 = the kernel picks a free one) and handed to uvicorn,
    so there is no race between finding a port and binding it. A second free port serves the
    files origin, and the fake's `config.files_origin` points there until the block ends. On
    exit the server is asked to stop and the thread joined.
    """
    canvas_sock = bind(host, 0)
    files_sock = bind(host, 0)
    old_origin = _point_files_origin(app, host, files_sock)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread; this server runs in another.
    _quiet_drops()
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [canvas_sock, files_sock]},
        name="fake-canvas",
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Canvas server did not start")
            time.sleep(0.01)
        yield _url(host, canvas_sock)
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT)
        canvas_sock.close()
        files_sock.close()
        serve_files_on = getattr(app, "serve_files_on", None)
        if serve_files_on is not None and old_origin is not None:
            serve_files_on(old_origin, None)
