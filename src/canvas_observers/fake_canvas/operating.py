"""Operating middleware of the fake Canvas: latency, Canvas's throttle, and injected faults.

It acts only on HTTP requests whose path starts with `/api/` (Canvas recognises API requests by
that prefix, `api_request?` in application_controller.rb); the `/__fake__/` side door and
everything else pass straight through. The knobs are read from the shared `FakeConfig` on every
request, so `POST /__fake__/config` changes them at once.

Per API request, in order:

1. Throttle (when `config.throttle`): Canvas's leaky bucket per client
   (app/middleware/request_throttle.rb; docs/canvas-behaviour.md). The client is the bearer
   token, or the `access_token` query parameter, else the peer IP. Arrival reserves
   `up_front_cost`; if the level is then >= `hwm` the reservation is refunded and the request
   is refused with `throttle_status` (429 JSON as hosted Canvas since 2025-10, or the
   plain-text 403 of older Canvas), `X-Rate-Limit-Remaining: 0.0`, no `X-Request-Cost`.
2. Latency: `latency_ms` of sleep while the request holds its reservation (so concurrent slow
   requests stack up in the bucket, as on Canvas).
3. Faults (seeded `random.Random(config.seed)`): with `fault_rate`, a 500 (Canvas JSON) or a
   502/503 (plain text, as a proxy) before the app runs; for writes with `lost_response_rate`,
   the app runs and commits, then its answer is replaced by a proxy 502 or by a dropped
   connection (`DroppedConnection`).
4. On finish the reservation is refunded, `request_cost` is added, and the answer carries
   `X-Request-Cost` and `X-Rate-Limit-Remaining: <hwm - level>`. With the throttle off the
   client is treated as allow-listed (request_throttle.rb `approved?`: no reservation, nothing
   added, never refused), and the answer still carries both headers, `X-Request-Cost` and
   `X-Rate-Limit-Remaining: <hwm>`, since Canvas sets them for every non-session client
   whether or not throttling is enabled. Proxy-made answers (502/503) carry no Canvas
   headers, since Canvas never produced them.

A dropped connection is an `http.response.start` followed by an exception instead of the body.
Over real HTTP uvicorn then closes the socket and httpx raises `httpx.RemoteProtocolError`
("peer closed connection without sending complete message body"). Under `httpx.ASGITransport`
(default `raise_app_exceptions=True`) the exception itself reaches the caller; it subclasses
`httpx.RemoteProtocolError`, so a client sees the same exception type both ways.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx
from starlette.datastructures import URL
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canvas_observers.fake_canvas.config import FakeConfig, FakeStats

Clock = Callable[[], float]
WRITE_METHODS: Final = frozenset({"POST", "PUT", "DELETE", "PATCH"})

_JSON = b"application/json; charset=utf-8"
_TEXT = b"text/plain; charset=utf-8"
# 429 body: the hosted one is not confirmed (docs/canvas-behaviour.md); this is the JSON
# error-array shape every other Canvas API error uses.
_THROTTLED_429 = b'{"errors":[{"message":"Rate Limit Exceeded"}]}'
# request_throttle.rb `rate_limit_exceeded`: plain text, with a trailing newline.
_THROTTLED_403 = b"403 Forbidden (Rate Limit Exceeded)\n"
# application_controller.rb `rescue_action_in_api` for an unexpected exception.
_INTERNAL_500 = json.dumps(
    {"errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]},
    separators=(",", ":"),
).encode()
# What nginx/an AWS load balancer put in front of Canvas answer when the upstream fails.
_PROXY_BODIES: Final = {
    502: b"502 Bad Gateway\n",
    503: b"503 Service Unavailable\n",
}


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised mid-response to imitate a connection dropped after the write committed."""


def _number(value: float) -> str:
    """Format like Ruby's Float#to_s (`600.0`, `599.95`), as Canvas's headers are."""
    return repr(float(round(value, 6)))


@dataclass
class _Bucket:
    level: float
    touched: float


class LeakyBucket:
    """Canvas's per-client leaky buckets (request_throttle.rb `LeakyBucket`), pure math.

    `reserve` is the pre-flight step (add the up-front cost, refuse at the high-water mark);
    `settle` ends a request (refund the reservation, add the real cost). Time comes from
    `clock`, so tests drive it by hand.
    """

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _leak(self, client: str, outflow: float) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(0.0, now)
        else:
            bucket.level = max(0.0, bucket.level - (now - bucket.touched) * outflow)
            bucket.touched = now
        return bucket

    def level(self, client: str, *, outflow: float) -> float:
        """The client's current level after leaking."""
        return self._leak(client, outflow).level

    def reserve(self, client: str, *, up_front_cost: float, hwm: float, outflow: float) -> bool:
        """Reserve `up_front_cost`; False (and the reservation refunded) when now at/over `hwm`.

        Canvas refuses when the count *after* the request's own reservation is >= hwm, so with
        an empty bucket, hwm 600 and 50 up front, the 12th simultaneous request is refused.
        """
        bucket = self._leak(client, outflow)
        bucket.level += up_front_cost
        if bucket.level >= hwm:
            bucket.level = max(0.0, bucket.level - up_front_cost)
            return False
        return True

    def settle(self, client: str, *, up_front_cost: float, cost: float, outflow: float) -> float:
        """Refund the reservation, add the request's real cost; return the new level."""
        bucket = self._leak(client, outflow)
        bucket.level = max(0.0, bucket.level - up_front_cost + cost)
        return bucket.level

    def clear(self) -> None:
        self._buckets.clear()


def client_identifier(scope: Scope) -> str:
    """The throttle key: the token (header, then query param), else the peer IP.

    request_throttle.rb `client_identifiers` prefers `token:<hash>` over `ip:<ip>`.
    """
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return f"token:{token.strip()}"
    query = httpx.QueryParams(scope.get("query_string", b"").decode("latin-1"))
    token = query.get("access_token")
    if token:
        return f"token:{token}"
    peer = scope.get("client")
    return f"ip:{peer[0] if peer else 'unknown'}"


def _start(
    status: int, content_type: bytes, body: bytes, extra: list[tuple[bytes, bytes]]
) -> Message:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return {"type": "http.response.start", "status": status, "headers": headers + extra}


async def _answer(
    send: Send, status: int, content_type: bytes, body: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    await send(_start(status, content_type, body, extra))
    await send({"type": "http.response.body", "body": body})


class OperatingMiddleware:
    """Pure ASGI middleware that imitates Canvas's operating behaviour on `/api/` paths."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: FakeConfig,
        stats: FakeStats,
        clock: Clock = time.monotonic,
    ) -> None:
        self.app = app
        self.config = config
        self.stats = stats
        self.bucket = LeakyBucket(clock=clock)
        self._seed = config.seed
        self._rng = random.Random(config.seed)

    def _roll(self) -> float:
        # Re-seed when the seed knob changed, so a test that sets a seed gets its sequence.
        if self.config.seed != self._seed:
            self._seed = self.config.seed
            self._rng = random.Random(self._seed)
        return self._rng.random()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        config = self.config
        client = client_identifier(scope)
        # Knobs may change while this request is in flight; settle what was reserved.
        metered, up_front = config.throttle, config.up_front_cost
        if metered and not self.bucket.reserve(
            client, up_front_cost=up_front, hwm=config.hwm, outflow=config.outflow
        ):
            self.stats.throttled += 1
            await self._sleep()
            await self._throttled(send)
            return
        try:
            await self._sleep()
            messages, dropped = await self._run(scope, receive)
        finally:
            if metered:
                level = self.bucket.settle(
                    client, up_front_cost=up_front, cost=config.request_cost, outflow=config.outflow
                )
        if dropped:
            # Headers go out, the body never does: uvicorn closes the socket on the exception.
            await send(messages[0])
            raise DroppedConnection(
                "fake Canvas dropped the connection after committing the write",
                request=httpx.Request(scope["method"], _url(scope)),
            )
        if messages[0].get("status") not in _PROXY_BODIES:
            # request_throttle.rb `call`: both headers on every answer it lets through.
            remaining = config.hwm - level if metered else config.hwm
            messages[0] = _with_headers(
                messages[0],
                [
                    (b"x-request-cost", _number(config.request_cost).encode()),
                    (b"x-rate-limit-remaining", _number(remaining).encode()),
                ],
            )
        for message in messages:
            await send(message)

    async def _sleep(self) -> None:
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)

    async def _throttled(self, send: Send) -> None:
        remaining = [(b"x-rate-limit-remaining", b"0.0")]
        if self.config.throttle_status == 403:
            await _answer(send, 403, _TEXT, _THROTTLED_403, remaining)
        else:
            await _answer(send, self.config.throttle_status, _JSON, _THROTTLED_429, remaining)

    async def _run(self, scope: Scope, receive: Receive) -> tuple[list[Message], bool]:
        """Run the app (or a fault instead); the buffered answer, and whether to drop it.

        The answer is buffered because Canvas sets `X-Request-Cost` after the request is done
        (Rack middleware sees the whole response), which ASGI can only do by holding the start.
        """
        config = self.config
        if self._roll() < config.fault_rate:
            self.stats.faults += 1
            status = (500, 502, 503)[self._rng.randrange(3)]
            if status == 500:
                return _buffered(500, _JSON, _INTERNAL_500), False
            return _buffered(status, _TEXT, _PROXY_BODIES[status]), False
        messages = await _collect(self.app, scope, receive)
        if scope["method"] in WRITE_METHODS and self._roll() < config.lost_response_rate:
            # The write has committed; the answer is lost between Canvas and the client, as
            # when a proxy times out: either the proxy answers 502 or the connection drops.
            self.stats.lost_responses += 1
            if self._rng.random() < 0.5:
                return _buffered(502, _TEXT, _PROXY_BODIES[502]), False
            return messages, True
        return messages, False


async def _collect(app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    messages: list[Message] = []

    async def capture(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, capture)
    return messages


def _buffered(status: int, content_type: bytes, body: bytes) -> list[Message]:
    return [_start(status, content_type, body, []), {"type": "http.response.body", "body": body}]


def _with_headers(start: Message, extra: list[tuple[bytes, bytes]]) -> Message:
    return {**start, "headers": [*start.get("headers", []), *extra]}


def _url(scope: Scope) -> str:
    return str(URL(scope=scope))
