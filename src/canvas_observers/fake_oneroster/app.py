"""The fake OneRoster API: a client-credentials token endpoint and the users collection of
the 1.1 or 1.2 REST binding, paged with ``limit``/``offset``, ``X-Total-Count`` and ``Link``,
with the faults of ``FakeOneRosterConfig``.

Answers follow the bindings and RFC 6749: the token endpoint answers ``{"access_token",
"token_type": "bearer", "expires_in"}``, or ``401 {"error": "invalid_client"}``; the API
answers ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"`` to a missing, unknown
or expired token, and errors as the bindings' ``imsx_StatusInfo`` JSON.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canvas_observers.fake_oneroster.config import TOKEN_PATH, FakeOneRosterConfig
from canvas_observers.fake_oneroster.data import load_users

SCOPE = "https://purl.imsglobal.org/spec/or/v{}/scope/roster-core.readonly"


@dataclass
class IssuedToken:
    expires: float
    uses: int = 0


@dataclass
class FakeOneRoster:
    """The fake's config, its users, the tokens it issued and what it was asked."""

    config: FakeOneRosterConfig
    users: list[dict[str, Any]]
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    api_requests: int = 0


def imsx_error(status: int, minor: str, description: str) -> JSONResponse:
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
            ]
        },
    }
    return JSONResponse(body, status_code=status)


def _credentials(request: Request, form: dict[str, str], how: str) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic " and how in ("any", "basic"):
        try:
            pair = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = pair.partition(":")
        return unquote(client_id), unquote(secret)
    if "client_id" in form and how in ("any", "body"):
        return form.get("client_id", ""), form.get("client_secret", "")
    return None


async def token_endpoint(request: Request) -> Response:
    fake: FakeOneRoster = request.app.state.fake
    config = fake.config
    fake.requests["token"] += 1
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    given = _credentials(request, form, config.client_auth)
    ok = given is not None and (
        hmac.compare_digest(given[0].encode(), config.client_id.encode())
        & hmac.compare_digest(given[1].encode(), config.client_secret.encode())
    )
    if not ok:
        fake.requests["token_refused"] += 1
        return JSONResponse(
            {"error": "invalid_client"},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="oneroster"'},
        )
    token = secrets.token_urlsafe(24)
    fake.tokens[token] = IssuedToken(expires=fake.clock() + config.token_seconds)
    body = {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(config.token_seconds),
        "scope": SCOPE.format(config.version.replace(".", "p")),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _fault(fake: FakeOneRoster) -> Response | None:
    config = fake.config
    if config.rate_limit_every and fake.api_requests % config.rate_limit_every == 0:
        fake.requests["throttled"] += 1
        response = imsx_error(429, "server_busy", "Too many requests")
        response.headers["Retry-After"] = f"{config.retry_after:g}"
        return response
    if config.fault_rate and fake.rng.random() < config.fault_rate:
        fake.requests["faults"] += 1
        return imsx_error(fake.rng.choice((500, 502, 503)), "internal_server_error", "fault")
    return None


def _authorised(fake: FakeOneRoster, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer " or fake.config.refuse_tokens:
        return False
    issued = fake.tokens.get(header[7:].strip())
    if issued is None or fake.clock() >= issued.expires:
        return False
    issued.uses += 1
    return not (fake.config.expire_tokens_after and issued.uses > fake.config.expire_tokens_after)


def _int(request: Request, name: str, default: int) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    return int(value) if value.isdigit() else None


def _spoil(record: dict[str, Any], kind: str) -> Any:
    if kind == "not-object":
        return [record.get("sourcedId")]
    spoiled = dict(record)
    if kind == "no-sourcedid":
        del spoiled["sourcedId"]
    else:  # bad-agents
        spoiled["agents"] = "par-0001"
    return spoiled


async def users_endpoint(request: Request) -> Response:
    fake: FakeOneRoster = request.app.state.fake
    config = fake.config
    fake.api_requests += 1
    fake.requests["users"] += 1
    if (fault := _fault(fake)) is not None:
        return fault
    if not _authorised(fake, request):
        fake.requests["unauthorised"] += 1
        response = imsx_error(401, "unauthorisedrequest", "Unauthorized")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    limit, offset = _int(request, "limit", 100), _int(request, "offset", 0)
    if limit is None or offset is None or limit < 1:
        return imsx_error(400, "invalid_data", "limit and offset must be whole numbers")
    limit = min(limit, config.max_limit)
    if config.endless_paging:
        offset = 0
    users = fake.users
    page: list[Any] = list(users[offset : offset + limit])
    if config.malformed and offset <= config.malformed_index < offset + len(page):
        i = config.malformed_index - offset
        page[i] = _spoil(page[i], config.malformed)
    headers: dict[str, str] = {}
    if config.total_count and not config.endless_paging:
        headers["X-Total-Count"] = str(len(users))
    if config.links:
        origin = config.next_link_origin or f"{request.url.scheme}://{request.url.netloc}"
        path = request.url.path

        def link(at: int, rel: str) -> str:
            return f'<{origin}{path}?limit={limit}&offset={at}>; rel="{rel}"'

        parts = []
        if config.endless_paging or offset + limit < len(users):
            parts.append(link(offset + limit, "next"))
        last = max(0, (len(users) - 1) // limit * limit)
        parts.append(link(last, "last"))
        headers["Link"] = ", ".join(parts)
    return JSONResponse({"users": page}, headers=headers)


async def not_found(request: Request) -> Response:
    return imsx_error(404, "unknownobject", "No such endpoint")


def create_app(
    config: FakeOneRosterConfig,
    bundle: Path,
    *,
    base_url: str = "http://127.0.0.1",
) -> Starlette:
    """The fake serving ``bundle`` as ``config.version``; ``app.state.fake`` is its state.

    ``base_url`` only fills the ``href`` of GUID references.
    """
    users = load_users(bundle, config.version, base_url.rstrip("/") + config.prefix)
    fake = FakeOneRoster(config, users, rng=random.Random(config.seed))
    routes = [
        Route(TOKEN_PATH, token_endpoint, methods=["POST"]),
        Route(f"{config.prefix}/users", users_endpoint, methods=["GET"]),
        Route("/{path:path}", not_found, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.fake = fake
    return app
