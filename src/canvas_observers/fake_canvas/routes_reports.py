"""Account reports and the download of their files (docs/canvas-behaviour.md, "Account reports
(provisioning)").

- API (`/api/v1/accounts/:account_id/reports/:report[/:id]`): start, list and show a report
  (app/controllers/account_reports_controller.rb; `read_reports` on the account).
- Canvas host, outside `/api/`: `/files/:id/download` (the attachment `url`, with a
  `verifier`) and `/accounts/:account_id/files/:id/download` (`file_url`) answer 302 to a
  signed URL on the files store, a second origin (`FakeConfig.files_origin`).
- With `FakeConfig.files_behind_login` the attachment `url` has no verifier and a token is
  not read on those paths: the download answers 302 to `/login`, which goes on to
  `/login/canvas`, an HTML login page (a Canvas with disable_adding_uuid_verifier_in_api that
  does not take API tokens on file paths).
- Files store (`FilesStore`, served on that origin only): `/store/:id/:filename?signature=`.
  Like a signed-URL object store it refuses a request that also carries an `Authorization`
  header (400), and a missing or wrong signature (403).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from canvas_observers.fake_canvas import reports
from canvas_observers.fake_canvas.records import AccountReport, StoredFile
from canvas_observers.fake_canvas.state import ROOT_ACCOUNT_ID
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    FakeCanvas,
    authenticate,
    error,
    forbidden,
    not_found,
    paged_json,
    resolve_account,
    token_of,
)

# What S3 answers (and a signed-URL store like it) for the three refusals.
_XML = "application/xml"
BOTH_AUTH = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code>'
    "<Message>Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
    "Signature query string parameter or the Authorization header should be specified"
    "</Message><ArgumentName>Authorization</ArgumentName></Error>"
)
BAD_SIGNATURE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
    "<Message>The request signature we calculated does not match the signature you "
    "provided.</Message></Error>"
)
NO_SIGNATURE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message></Error>"
)
NO_SUCH_KEY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    "<Message>The specified key does not exist.</Message></Error>"
)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# -- API ---------------------------------------------------------------------------------
def _refused(call: Call) -> Response | None:
    """get_context (404 for an unknown account), then authorized_action(:read_reports)."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.can("read_reports"):
        return call.forbidden()
    return None


def _report_json(
    call: Call, report: AccountReport, *, now: datetime, base: str, just_created: bool = False
) -> dict[str, Any]:
    return reports.report_json(
        report,
        now=now,
        base_url=base,
        user=call.state.users.get(report.user_id),
        just_created=just_created,
        with_verifier=not call.config.files_behind_login,
    )


async def create_report(call: Call) -> Response:
    """AccountReportsController#create: 200 with the report, status `created`; 409 with the
    running report (and a Location naming it) while one of this type with the same
    parameters is still created or running."""
    if refused := _refused(call):
        return refused
    if call.path("report") != reports.REPORT_TYPE:
        return not_found()  # not an available report (the fake has only provisioning_csv)
    raw = call.params.get("parameters")
    parameters = raw if isinstance(raw, dict) else {}
    try:
        reports.requested_kinds(parameters)
    except reports.UnsupportedReport as exc:
        return error(400, str(exc))
    now, base = call.state.clock(), _base_url(call.request)
    twin = reports.running_twin(call.state, reports.REPORT_TYPE, parameters, now)
    if twin is not None:
        body = _report_json(call, twin, now=now, base=base)
        where = f"{base}/api/v1/accounts/{ROOT_ACCOUNT_ID}/reports/{twin.report_type}/{twin.id}"
        return JSONResponse(body, status_code=409, headers={"Location": where})
    config = call.config
    report = reports.start_report(
        call.state,
        parameters,
        report_seconds=config.report_seconds,
        user_id=call.caller.id,
        order_seed=config.seed if config.report_shuffle else None,
    )
    body = _report_json(call, report, now=now, base=base, just_created=True)
    return JSONResponse(body)


async def list_reports(call: Call) -> Response:
    """AccountReportsController#index: this type's reports, newest first, paginated."""
    if refused := _refused(call):
        return refused
    kind = call.path("report")
    found = [r for r in call.state.reports.values() if r.report_type == kind]
    found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
    now, base = call.state.clock(), _base_url(call.request)
    return paged_json(
        call.request,
        call.params,
        found,
        lambda r: _report_json(call, r, now=now, base=base),
        with_last=True,
    )


async def show_report(call: Call) -> Response:
    """AccountReportsController#show: the report now; 404 for an unknown id or another type."""
    if refused := _refused(call):
        return refused
    raw = call.path("id")
    report = call.state.reports.get(int(raw)) if raw.isdigit() else None
    if report is None or report.report_type != call.path("report"):
        return not_found()
    now, base = call.state.clock(), _base_url(call.request)
    body = _report_json(call, report, now=now, base=base)
    return JSONResponse(body)


ROUTES = [
    ApiRoute("GET", "/api/v1/accounts/:account_id/reports/:report", list_reports),
    ApiRoute("POST", "/api/v1/accounts/:account_id/reports/:report", create_report),
    ApiRoute("GET", "/api/v1/accounts/:account_id/reports/:report/:id", show_report),
]


# -- the download on the Canvas host -----------------------------------------------------
def signature(fake: FakeCanvas, stored: StoredFile) -> str:
    message = f"{stored.id}/{stored.filename}".encode()
    return hmac.new(fake.state.file_secret, message, hashlib.sha256).hexdigest()


def signed_url(fake: FakeCanvas, stored: StoredFile) -> str:
    origin = fake.config.files_origin.rstrip("/")
    return (
        f"{origin}/store/{stored.id}/{quote(stored.filename)}?signature={signature(fake, stored)}"
    )


def _available(fake: FakeCanvas, raw_id: str) -> StoredFile | None:
    stored = fake.state.files.get(int(raw_id)) if raw_id.isdigit() else None
    if stored is None or fake.state.clock() < stored.available_at:
        return None
    return stored


async def download(request: Request) -> Response:
    """FilesController#show with download_frd: a valid `verifier`, or a token of a caller with
    read_reports, gets a 302 to the signed URL on the files store. With files_behind_login no
    token is read here: without a verifier the caller has no session, and Canvas sends it to
    the login page."""
    fake: FakeCanvas = request.app.state.fake
    account = request.path_params.get("account_id")
    stored = _available(fake, str(request.path_params["file_id"]))
    if stored is None or (account is not None and resolve_account(str(account)) is None):
        return PlainTextResponse("404 Not Found", status_code=404)
    verifier = request.query_params.get("verifier") or ""
    if not (verifier and hmac.compare_digest(verifier, stored.verifier)):
        if fake.config.files_behind_login:
            return RedirectResponse(f"{_base_url(request)}/login", status_code=302)
        caller = authenticate(fake, token_of(request))
        if isinstance(caller, Response):
            return caller
        if not caller.can("read_reports"):
            return forbidden(fake.config)
    return RedirectResponse(signed_url(fake, stored), status_code=302)


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log In to Canvas</title></head>
<body><form id="login_form" action="/login/canvas" method="post">
<label for="pseudonym_session_unique_id">Email</label>
<input id="pseudonym_session_unique_id" name="pseudonym_session[unique_id]" type="text">
<label for="pseudonym_session_password">Password</label>
<input id="pseudonym_session_password" name="pseudonym_session[password]" type="password">
<button type="submit">Log In</button></form></body></html>
"""


async def login(request: Request) -> Response:
    """`/login` sends a browser on to the default authentication provider's page."""
    return RedirectResponse(f"{_base_url(request)}/login/canvas", status_code=302)


async def login_page(request: Request) -> Response:
    """Canvas's own login form: a web page for people, nothing an API client can use."""
    return HTMLResponse(LOGIN_PAGE)


CANVAS_ROUTES = [
    Route("/files/{file_id}/download", download, methods=["GET"]),
    Route("/accounts/{account_id}/files/{file_id}/download", download, methods=["GET"]),
    Route("/login", login, methods=["GET"]),
    Route("/login/canvas", login_page, methods=["GET"]),
]


# -- the files store (the second origin) -------------------------------------------------
async def store(request: Request) -> Response:
    """A signed-URL object store: Authorization -> 400, bad signature -> 403, else the file."""
    fake: FakeCanvas = request.app.state.fake
    if "authorization" in request.headers:
        fake.stats.files_with_authorization += 1
        return Response(BOTH_AUTH, status_code=400, media_type=_XML)
    given = request.query_params.get("signature")
    if not given:
        return Response(NO_SIGNATURE, status_code=403, media_type=_XML)
    raw_id = str(request.path_params["file_id"])
    stored = fake.state.files.get(int(raw_id)) if raw_id.isdigit() else None
    if stored is None:
        return Response(NO_SUCH_KEY, status_code=404, media_type=_XML)
    filename = str(request.path_params["filename"])
    if filename != stored.filename or not hmac.compare_digest(given, signature(fake, stored)):
        return Response(BAD_SIGNATURE, status_code=403, media_type=_XML)
    fake.stats.file_downloads += 1
    return Response(
        stored.data,
        media_type=stored.content_type,
        headers={"Content-Disposition": f'attachment; filename="{stored.filename}"'},
    )


def _plain_404(request: Request, exc: Exception) -> Response:
    return PlainTextResponse("404 Not Found", status_code=404)


class FilesStore:
    """The ASGI app of the files origin; FakeCanvasApp sends it the requests for that host."""

    def __init__(self, fake: FakeCanvas) -> None:
        self.app = Starlette(
            routes=[Route("/store/{file_id}/{filename}", store, methods=["GET"])],
            exception_handlers={404: _plain_404, 405: _plain_404},
        )
        self.app.state.fake = fake
        self.fake = fake
        self.ports: set[int] = set()  # local ports of real sockets that serve only the store

    def serves(self, scope: Scope) -> bool:
        """The request is for the files origin: it came in on one of `ports` (real HTTP), or
        its Host header names `files_origin` (in-process, e.g. httpx.ASGITransport)."""
        server = scope.get("server")
        if server and server[1] in self.ports:
            return True
        host = next((v for k, v in scope.get("headers", []) if k == b"host"), None)
        if host is None:
            return False
        return _netloc(f"//{host.decode('latin-1')}", "http") == _origin_netloc(
            self.fake.config.files_origin
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _netloc(url: str, scheme: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a malformed port in the Host header: not the files origin
        return ("", -1)
    return ((parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme, 80))


def _origin_netloc(origin: str) -> tuple[str, int]:
    scheme = urlsplit(origin).scheme or "http"
    return _netloc(origin, scheme)
