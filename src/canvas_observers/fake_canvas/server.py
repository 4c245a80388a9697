"""Serve the fake Canvas over real HTTP with uvicorn: in the foreground (`fake-canvas`), or in a
background thread on a free loopback port for tests (`running_server`).

Both listen on two sockets: the Canvas port, and a second port for the files origin (where
report downloads redirect to, `FakeConfig.files_origin`), which they point at that port. One
uvicorn server serves both; the app tells them apart by the Host header. The files origin's
port is a free one unless given: a fixed "Canvas port + 1" could be taken by anything."""

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

_BACKLOG = 2048  # uvicorn's default
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
    (default: a free port); uvicorn logs warnings and errors only. OSError when a port is
    taken."""
    canvas_sock, files_sock = bind_pair(host, port, files_port)
    serve_on(app, host, canvas_sock, files_sock)


def bind_pair(host: str, port: int, files_port: int | None) -> tuple[socket.socket, socket.socket]:
    """The Canvas socket on `port` and the files origin's on `files_port` (None or 0: a free
    port, as is `port` 0), both listening already: a client that connects once the ports are
    printed waits in the backlog until uvicorn runs, instead of being refused. OSError, naming
    the port, when one cannot be bound."""
    canvas_sock = _bind_port(host, port)
    try:
        files_sock = _bind_port(host, files_port or 0)
    except OSError:
        canvas_sock.close()
        raise
    for sock in (canvas_sock, files_sock):
        sock.listen(_BACKLOG)
    return canvas_sock, files_sock


def _bind_port(host: str, port: int) -> socket.socket:
    try:
        return bind(host, port)
    except OSError as exc:
        raise PortTaken(host, port, exc.strerror or str(exc)) from exc


class PortTaken(OSError):
    """A port the fake was told to listen on cannot be bound (in use, or not allowed)."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host} port {port}: {reason}")
        self.host, self.port, self.reason = host, port, reason


def serve_on(
    app: ASGIApp, host: str, canvas_sock: socket.socket, files_sock: socket.socket
) -> None:
    """Serve `app` on two bound sockets (``bind_pair``) until interrupted, the second as its
    files origin; closes them at the end."""
    _point_files_origin(app, host, files_sock)
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    _quiet_drops()
    try:
        server.run(sockets=[canvas_sock, files_sock])
    finally:
        canvas_sock.close()
        files_sock.close()


def port_of(sock: socket.socket) -> int:
    """The port a bound socket listens on (the kernel's pick for port 0)."""
    return int(sock.getsockname()[1])


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
