"""The fake Canvas ASGI app: routes, auth and request counting, wrapped in the operating
middleware (latency, throttle, faults) from operating.py.

Layers, outermost first: FakeCanvasApp (exposes `.fake`; sends requests addressed to the files
origin, `FakeConfig.files_origin`, to the files store) -> OperatingMiddleware -> _RawPath
(keeps `%2F` inside ids and counts `/api/` requests by method) -> Starlette routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from canvas_observers.fake_canvas import (
    routes_courses,
    routes_logins,
    routes_observees,
    routes_register,
    routes_reports,
    routes_side,
    routes_users,
)
from canvas_observers.fake_canvas.config import FakeConfig, FakeStats
from canvas_observers.fake_canvas.operating import OperatingMiddleware
from canvas_observers.fake_canvas.state import FakeState
from canvas_observers.fake_canvas.web import (
    NOT_FOUND,
    ApiRoute,
    BadBody,
    Call,
    FakeCanvas,
    authenticate,
    error,
    read_params,
    token_of,
)

API_ROUTES: list[ApiRoute] = [
    *routes_users.ROUTES,
    *routes_logins.ROUTES,
    *routes_observees.ROUTES,
    *routes_courses.ROUTES,
    *routes_reports.ROUTES,
]


def _endpoint(route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
    key = f"{route.method} {route.template}"

    async def endpoint(request: Request) -> Response:
        fake: FakeCanvas = request.app.state.fake
        fake.stats.by_route[key] += 1
        if isinstance(checked := authenticate(fake, token_of(request)), Response):
            return checked
        try:
            params = await read_params(request)  # the only await: state work below is atomic
        except BadBody as exc:
            return error(400, str(exc))
        caller = authenticate(fake, token_of(request))  # again: the await may have yielded
        if isinstance(caller, Response):
            return caller
        return await route.handler(Call(request, params, fake, caller))

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown `/api/` routes answer Canvas's 404 JSON; anything else stays plain."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/api/"):
        return JSONResponse(NOT_FOUND, status_code=404)
    return PlainTextResponse(str(status), status_code=status)


class _RawPath:
    """Route on the still-encoded path, so `sis_user_id:a%2Fb` stays one path segment
    (Rails routes on the raw path too); handlers percent-decode ids once."""

    def __init__(self, app: ASGIApp, fake: FakeCanvas) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw:
                scope = dict(scope, path=raw.decode("utf-8", "replace"))
            if scope["path"].startswith("/api/"):
                self.fake.stats.by_method[scope["method"]] += 1
        await self.app(scope, receive, send)


class FakeCanvasApp:
    """The ASGI app to serve; `.fake` is the FakeCanvas (config, state, stats)."""

    def __init__(self, starlette: Starlette, fake: FakeCanvas) -> None:
        self.starlette = starlette
        self.fake = fake
        self._asgi: ASGIApp = OperatingMiddleware(
            _RawPath(starlette, fake), config=fake.config, stats=fake.stats
        )
        self.files_store = routes_reports.FilesStore(fake)

    @property
    def state(self) -> State:
        """`app.state.fake`, as on the Starlette app inside."""
        return self.starlette.state

    def serve_files_on(self, origin: str, port: int | None) -> str:
        """Make `origin` the files origin (report downloads redirect there); `port`, when
        given, is a real socket's local port whose requests all go to the files store (None
        forgets the ports). Returns the previous origin. Used by fake_canvas/server.py."""
        old = self.fake.config.files_origin
        self.fake.config.files_origin = origin
        if port is None:
            self.files_store.ports.clear()
        else:
            self.files_store.ports.add(port)
        return old

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.files_store.serves(scope):
            # The files origin is another host: no throttle, no faults, no side door.
            await self.files_store(scope, receive, send)
            return
        await self._asgi(scope, receive, send)


def create_app(
    config: FakeConfig | None = None,
    state: FakeState | None = None,
    *,
    scenario: str = "empty",
) -> FakeCanvasApp:
    """Build the fake Canvas; `scenario="demo"` fills it with the sample district and keeps
    the matching roster CSV text at `app.fake.demo_roster`."""
    config = config or FakeConfig()
    if state is None:
        state = FakeState(config.admin_token)
    else:
        state.set_admin_token(config.admin_token)
    fake = FakeCanvas(config=config, state=state, stats=FakeStats())
    fake.apply_admin_role()
    if scenario == "demo":
        # Imported lazily: scenarios builds on this module's builders and is only for the demo.
        from canvas_observers.fake_canvas import scenarios

        fake.demo_roster = scenarios.build_demo(state)
    elif scenario != "empty":
        raise ValueError(f"unknown scenario {scenario!r} (expected 'empty' or 'demo')")
    routes: list[BaseRoute] = [
        Route(r.starlette_path, _endpoint(r), methods=[r.method]) for r in API_ROUTES
    ]
    routes += routes_reports.CANVAS_ROUTES
    routes += routes_register.ROUTES  # the public sign-up: no token, outside /api/
    routes += routes_side.ROUTES
    starlette = Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
    starlette.state.fake = fake
    return FakeCanvasApp(starlette, fake)
