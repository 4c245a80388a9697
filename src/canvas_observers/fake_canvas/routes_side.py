"""The side door under `/__fake__/`: counters, state dump, tokens, knobs, clock, reset.

Never under `/api/`, so no Canvas client reaches it by accident; no token, loopback only.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canvas_observers.fake_canvas import reports
from canvas_observers.fake_canvas.roles import parse_permissions
from canvas_observers.fake_canvas.web import FakeCanvas

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _fake(request: Request) -> FakeCanvas:
    fake: FakeCanvas = request.app.state.fake
    return fake


def _refused(request: Request) -> Response | None:
    host = request.client.host if request.client else None
    if host is None or host in LOOPBACK or host.startswith("127."):
        return None
    return JSONResponse({"error": "the side door is for loopback clients only"}, status_code=403)


async def _json_object(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def stats(request: Request) -> Response:
    return _refused(request) or JSONResponse(_fake(request).stats.as_json())


async def state(request: Request) -> Response:
    """The district, and the report messages Canvas would have sent by now."""
    if refused := _refused(request):
        return refused
    fake = _fake(request)
    data = fake.state.snapshot()
    data["report_messages"] = reports.messages(fake.state)
    return JSONResponse(data)


async def tokens(request: Request) -> Response:
    """`{"user_id": N}` -> `{"token": "..."}`: a token acting as that user.

    With `"permissions": [...]` (Canvas's names, roles.ACCOUNT_ADMIN) the user becomes an
    account admin of a custom role with exactly those permissions, as a district's limited
    admin role would be; `[]` leaves an admin who may do and see almost nothing.
    """
    if refused := _refused(request):
        return refused
    data = await _json_object(request)
    user_id = None if data is None else data.get("user_id")
    if data is None or not isinstance(user_id, int) or isinstance(user_id, bool):
        return JSONResponse({"error": "send a JSON object with an integer user_id"}, 400)
    fake = _fake(request)
    if user_id not in fake.state.users:
        return JSONResponse({"error": f"no user {user_id}"}, status_code=404)
    if "permissions" in data:
        names = data["permissions"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return JSONResponse({"error": "permissions must be a list of names"}, 400)
        try:
            fake.state.make_admin(user_id, parse_permissions(names))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"token": fake.state.issue_token(user_id)})


async def config(request: Request) -> Response:
    """GET: the config. POST: change operating knobs at once (FakeConfig.update) and answer
    the config; unknown knobs are a 400."""
    if refused := _refused(request):
        return refused
    if request.method == "GET":
        return JSONResponse(_fake(request).config.public())
    data = await _json_object(request)
    if data is None:
        return JSONResponse({"error": "send a JSON object of knobs"}, status_code=400)
    fake = _fake(request)
    try:
        fake.config.update(data)
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    if "sso" in data:  # the one knob that is the account's sign-in, not the server's
        fake.state.set_sso(fake.config.sso)
    return JSONResponse(fake.config.public())


async def clock(request: Request) -> Response:
    """POST `{"offset_seconds": N}`: the district's clock runs N seconds from the real one
    (negative: in the past; 0: the real time again). Pairing codes keep the expiry they were
    issued with, so codes issued eight days back are expired once the clock is put right."""
    if refused := _refused(request):
        return refused
    data = await _json_object(request)
    offset = None if data is None else data.get("offset_seconds")
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not math.isfinite(offset):
        return JSONResponse({"error": "send a JSON object with a number offset_seconds"}, 400)
    fake = _fake(request)
    fake.state.set_clock_offset(timedelta(seconds=offset))
    return JSONResponse({"offset_seconds": offset, "now": fake.state.clock().isoformat()})


async def reset(request: Request) -> Response:
    """A fresh empty district and zeroed counters; the config stays."""
    if refused := _refused(request):
        return refused
    _fake(request).reset()
    return JSONResponse({"reset": True})


ROUTES = [
    Route("/__fake__/stats", stats, methods=["GET"]),
    Route("/__fake__/state", state, methods=["GET"]),
    Route("/__fake__/tokens", tokens, methods=["POST"]),
    Route("/__fake__/config", config, methods=["GET", "POST"]),
    Route("/__fake__/clock", clock, methods=["POST"]),
    Route("/__fake__/reset", reset, methods=["POST"]),
]
