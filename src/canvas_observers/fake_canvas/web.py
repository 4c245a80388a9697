"""HTTP plumbing shared by the fake Canvas's routes: params, ids, auth, errors, pagination.

Canvas (Rails) merges query and body params and reads nested `a[b]` / `a[]` form keys as
hashes and arrays; JSON bodies give the same hashes. Path ids go through `Api.sis_parse_id`
(lib/api.rb): digits, `self`, `sis_user_id:` (exact), `sis_login_id:` (case-insensitive),
`sis_integration_id:`, after one round of percent-decoding.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas.config import FakeConfig, FakeStats
from canvas_observers.fake_canvas.state import ROOT_ACCOUNT_ID, FakeState, User

PER_PAGE = 10  # lib/api.rb PER_PAGE
MAX_PER_PAGE = 100  # lib/api.rb MAX_PER_PAGE
_TRUE = frozenset({"1", "true", "t", "on", "yes", "y"})  # Canvas::Plugin.value_to_boolean

NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
UNAUTHENTICATED = {
    "status": "unauthenticated",
    "errors": [{"message": "user authorization required"}],
}
INVALID_TOKEN = {"errors": [{"message": "Invalid access token."}]}
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="canvas-lms"'}


@dataclass
class FakeCanvas:
    """One fake Canvas: its knobs, its district and its counters (`app.state.fake`)."""

    config: FakeConfig = field(default_factory=FakeConfig)
    state: FakeState = field(default_factory=FakeState)
    stats: FakeStats = field(default_factory=FakeStats)
    demo_roster: str | None = None

    def reset(self) -> None:
        """Fresh empty district and zeroed counters; the config (and admin token) stay."""
        self.state = FakeState(self.config.admin_token)
        self.stats.reset()
        self.apply_admin_role()

    def apply_admin_role(self) -> None:
        """Give the built-in admin the role the config names (every permission by default),
        and the account the sign-in the config names (SSO or Canvas's own only)."""
        if self.config.admin_permissions is not None:
            self.state.make_admin(self.state.admin_id, self.config.admin_permissions)
        if self.config.sso:
            self.state.set_sso(True)


# -- params ------------------------------------------------------------------------------
def _key_parts(key: str) -> list[str]:
    """`user[name]` -> ["user", "name"]; `include[]` -> ["include", ""]."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    return [head, *rest.rstrip("]").split("][")]


def nest(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Rails-style nesting of flat form/query pairs into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _key_parts(key)
        node = root
        for part in parts[:-2] if parts[-1] == "" else parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if parts[-1] == "" and len(parts) > 1:
            items = node.get(parts[-2])
            if not isinstance(items, list):
                items = node[parts[-2]] = []
            items.append(value)
        else:
            node[parts[-1]] = value
    return root


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


class BadBody(Exception):
    """The request body could not be parsed."""


async def read_params(request: Request) -> dict[str, Any]:
    """Query params merged with a JSON, urlencoded or multipart body (the body wins)."""
    params = nest(parse_qsl(request.url.query, keep_blank_values=True))
    if request.method in ("GET", "HEAD"):
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body: dict[str, Any] = {}
    if content_type == "application/json":
        raw = await request.body()
        if raw.strip():
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise BadBody("invalid JSON") from exc
            if not isinstance(data, dict):
                raise BadBody("JSON body must be an object")
            body = data
    elif content_type == "multipart/form-data":
        form = await request.form()
        body = nest((k, v) for k, v in form.multi_items() if isinstance(v, str))
    else:
        raw = await request.body()
        body = nest(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return _merge(params, body)


def get(params: dict[str, Any], *path: str) -> Any:
    node: Any = params
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def get_str(params: dict[str, Any], *path: str) -> str | None:
    value = get(params, *path)
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def get_bool(params: dict[str, Any], *path: str) -> bool:
    value = get_str(params, *path)
    return value is not None and value.strip().lower() in _TRUE


def get_list(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value is None or isinstance(value, dict) else [str(value)]


# -- ids ---------------------------------------------------------------------------------
def resolve_user(state: FakeState, raw: str, caller: User) -> User | None:
    """`Api.sis_parse_id` for users; the raw value is percent-decoded once here."""
    ident = unquote(raw).strip()
    if ident == "self":
        return caller
    if ident.isdigit() and len(ident) <= 19:
        return state.users.get(int(ident))
    prefix, colon, value = ident.partition(":")
    if not colon:
        return None
    if prefix == "sis_user_id":
        return state.user_by_sis_id(value)  # exact, case-sensitive
    if prefix == "sis_login_id":
        return state.user_by_login(value)  # LOWER(unique_id) = LOWER(value)
    if prefix == "sis_integration_id":
        return state.user_by_integration_id(value)
    return None


def resolve_account(raw: str) -> int | None:
    ident = unquote(raw).strip()
    return ROOT_ACCOUNT_ID if ident in ("self", "default", str(ROOT_ACCOUNT_ID)) else None


# -- responses ---------------------------------------------------------------------------
def not_found() -> JSONResponse:
    return JSONResponse(NOT_FOUND, status_code=404)


def forbidden(config: FakeConfig) -> JSONResponse:
    """render_json_unauthorized: 401, or 403 under the api_auth_error_updates flag.

    lib/authentication_methods.rb; docs/canvas-behaviour.md.
    """
    return JSONResponse(UNAUTHORIZED, status_code=config.forbidden_status)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=status)


def internal_error(report_id: int) -> JSONResponse:
    """rescue_action_in_api for an exception no action rescues (a database constraint the
    model validations did not foresee): 500 with Canvas's generic body and an error report."""
    body = {
        "errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}],
        "error_report_id": report_id,
    }
    return JSONResponse(body, status_code=500)


# -- pagination --------------------------------------------------------------------------
def page_args(params: dict[str, Any]) -> tuple[int, int]:
    """Api.per_page_for clamps to 1..100 silently; a bad page number means page 1."""
    raw_per_page = get_str(params, "per_page")
    try:
        per_page = int(raw_per_page) if raw_per_page else PER_PAGE
    except ValueError:
        per_page = 1
    try:
        page = max(int(get_str(params, "page") or 1), 1)
    except ValueError:
        page = 1
    return page, min(max(per_page, 1), MAX_PER_PAGE)


def paginate(
    request: Request, params: dict[str, Any], items: list[Any], *, with_last: bool
) -> tuple[list[Any], str]:
    """One page of items and the Link header (Api.build_links_hash: current, next, prev,
    first, last; last only when the total is computed). URLs keep the other query params."""
    page, per_page = page_args(params)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    kept = [
        (k, v)
        for k, v in parse_qsl(request.url.query, keep_blank_values=True)
        if k not in ("page", "per_page", "access_token", "api_key")
    ]
    base = str(request.url.replace(query=""))

    def url(number: int) -> str:
        query = urlencode([*kept, ("page", str(number)), ("per_page", str(per_page))])
        return f"{base}?{query}"

    last = max((len(items) + per_page - 1) // per_page, 1)
    links = [(url(page), "current")]
    if start + per_page < len(items):
        links.append((url(page + 1), "next"))
    if page > 1:
        links.append((url(page - 1), "prev"))
    links.append((url(1), "first"))
    if with_last:
        links.append((url(last), "last"))
    return chunk, ",".join(f'<{u}>; rel="{rel}"' for u, rel in links)


def paged_json(
    request: Request,
    params: dict[str, Any],
    items: list[Any],
    render: Callable[[Any], dict[str, Any]],
    *,
    with_last: bool,
) -> JSONResponse:
    chunk, link = paginate(request, params, items, with_last=with_last)
    return JSONResponse([render(item) for item in chunk], headers={"Link": link})


# -- the per-request context -------------------------------------------------------------
@dataclass
class Call:
    """What a route handler gets: the request, its params, the fake and the caller."""

    request: Request
    params: dict[str, Any]
    fake: FakeCanvas
    caller: User

    @property
    def state(self) -> FakeState:
        return self.fake.state

    @property
    def config(self) -> FakeConfig:
        return self.fake.config

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def state_user(self, name: str) -> User | None:
        """The path user, deleted ones included (GET /users/:id shows them with a 404)."""
        return resolve_user(self.state, self.path(name), self.caller)

    def user(self, name: str) -> User | None:
        """The path user, or None when missing or deleted (callers answer 404)."""
        user = resolve_user(self.state, self.path(name), self.caller)
        return user if user is not None and user.active else None

    def forbidden(self) -> JSONResponse:
        return forbidden(self.config)

    def can(self, permission: str) -> bool:
        """The caller is an account admin whose role grants this permission."""
        return self.caller.can(permission)

    @property
    def rights(self) -> frozenset[str]:
        """The caller's admin permissions (empty for a user who is no admin)."""
        return self.caller.permissions if self.caller.is_admin else frozenset()


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class ApiRoute:
    """One `/api/` endpoint: the method, Canvas's route template and the handler."""

    method: str
    template: str  # e.g. "/api/v1/users/:user_id"
    handler: Handler

    @property
    def starlette_path(self) -> str:
        return "/".join(
            "{" + part[1:] + "}" if part.startswith(":") else part
            for part in self.template.split("/")
        )


def token_of(request: Request) -> str | None:
    """AuthenticationMethods.access_token: the Bearer header, else the access_token param."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token")


def authenticate(fake: FakeCanvas, token: str | None) -> User | JSONResponse:
    """The caller, or the 401 of lib/authentication_methods.rb (with WWW-Authenticate)."""
    if not token:
        return JSONResponse(UNAUTHENTICATED, status_code=401, headers=WWW_AUTHENTICATE)
    user_id = fake.state.tokens.get(token)
    user = None if user_id is None else fake.state.users.get(user_id)
    if user is None or not user.active:
        return JSONResponse(INVALID_TOKEN, status_code=401, headers=WWW_AUTHENTICATE)
    return user
