"""`canvas-observers fake-canvas ARGS`, with TCP_NODELAY on the fake's connections.

Up to 4c988db the fake bound its two sockets itself (`fake_canvas/server.py` `_bind`) with
`socket.socket(AF_INET, SOCK_STREAM)`, i.e. protocol 0, and handed them to uvicorn. asyncio sets
TCP_NODELAY only on connections whose socket says `IPPROTO_TCP` (`base_events._set_nodelay`),
so the fake's answers (headers and body written separately) meet Nagle's algorithm and the
client's delayed ACK: every request waits ~40 ms more than `--latency-ms` (measured: 44 ms a
request at latency 0, 96 ms at latency 50; 1 ms and 54 ms with the sockets made as below).
That is the fake's plumbing, not Canvas's latency, so the benchmark starts the fake through
this shim, which binds the same sockets with `IPPROTO_TCP`. Everything else is the fake-canvas
command as is; when `_bind` already does this (the fake does since 79bd932) or is gone, the shim
changes nothing, so older commits can still be measured on the same footing.

    python benchmarks/fake_nodelay.py --port 8900 --scenario generated --rows 1000 ...
"""

from __future__ import annotations

import socket
import sys

from canvas_observers.cli.fake import fake_canvas
from canvas_observers.fake_canvas import server


def _bind_tcp(host: str, port: int) -> socket.socket:
    """`server._bind` with the protocol named, so accepted connections get TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def needs_patch() -> bool:
    """True when the fake's own `_bind` makes sockets asyncio will not set TCP_NODELAY on."""
    bind = getattr(server, "_bind", None)
    if bind is None:
        return False
    sock = bind("127.0.0.1", 0)
    try:
        return bool(sock.proto != socket.IPPROTO_TCP)
    finally:
        sock.close()


def main() -> None:
    if needs_patch():
        server._bind = _bind_tcp
    fake_canvas.main(args=sys.argv[1:], prog_name="canvas-observers fake-canvas")


if __name__ == "__main__":
    main()
