"""Canvas's REST protocol as pure functions: no I/O, no clock, no httpx (gidgethub's sansio).

Two halves:

* **Building requests.** One builder per operation returns a frozen `Request` (operation name,
  method, escaped path, query pairs, form pairs, and whether it may be sent again after a lost
  answer). Form bodies use Rails' `a[b]` nesting (`flatten_form`); object ids such as
  `sis_login_id:ana@example.org` have their value part percent-escaped (`object_ref`).
* **Deciphering answers.** `decipher(method, path, status, headers, body)` returns an `Answer`
  (the JSON data, the `rel="next"` URL, the throttle headers) or raises the right error from
  `canvas.errors`. The status table is `_decipher_error`; it is the only place that maps
  Canvas statuses to meaning.

Each Canvas fact a decision relies on names in brackets the section of docs/canvas-behaviour.md
that states it, with the canvas-lms file it comes from.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    Conflict,
    InvalidToken,
    NotAllowed,
    NotFound,
    RequestRejected,
    ServerError,
    Throttled,
)

API: Final = "/api/v1"
# The operations that change Canvas's users or links (starting a report changes neither).
WRITE_OPERATIONS: Final = frozenset(
    {
        "create_user",
        "create_pairing_code",
        "add_observee_with_code",
        "add_observee",
        "remove_observee",
        "update_login",  # these three: a guardian's identity (protocol_identity.py)
        "add_email_channel",
        "rename_user",
    }
)
PER_PAGE: Final = 100  # Canvas clamps per_page to 1..100 (lib/api.rb MAX_PER_PAGE) [Pagination]
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})

# Id prefixes Api.sis_parse_id understands for users and accounts (lib/api.rb) [User ids in paths].
ID_PREFIXES: Final = frozenset(
    {"sis_user_id", "sis_login_id", "sis_integration_id", "sis_account_id", "uuid"}
)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Request:
    """One Canvas API call, ready to send: everything but the origin and the token."""

    operation: str
    method: str
    path: str  # already escaped, starts with /api/v1
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()
    replay_safe: bool = True  # may be sent again when its answer was lost
    paginated: bool = False

    @property
    def target(self) -> str:
        """Path and query string, as sent (and as shown in errors: it never holds the token)."""
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def body(self) -> bytes | None:
        """The form body (`application/x-www-form-urlencoded`), or None without a form."""
        return urlencode(self.form).encode("ascii") if self.form else None


def _request(
    operation: str,
    method: str,
    path: str,
    *,
    query: Iterable[tuple[str, str]] = (),
    form: Iterable[tuple[str, str]] = (),
    replay_safe: bool | None = None,
    paginated: bool = False,
) -> Request:
    return Request(
        operation=operation,
        method=method,
        path=API + path,
        query=tuple(query),
        form=tuple(form),
        replay_safe=method in IDEMPOTENT_METHODS if replay_safe is None else replay_safe,
        paginated=paginated,
    )


def escape_id_value(value: str) -> str:
    """Percent-escape an id's value for a URL path segment.

    Canvas's object-id doc: UTF-8, then URI-escape, e.g. `CS/101.11é` -> `CS%2F101%2E11%C3%A9`
    [User ids in paths]. `quote` leaves `.` alone, but Rails would read `.org` as a format
    suffix and `..` is a path step, so `.` becomes `%2E` too. `/`, `@`, `+`, `:` and non-ASCII
    are all escaped.
    """
    return quote(value, safe="").replace(".", "%2E")


def object_ref(value: int | str) -> str:
    """A path segment for a Canvas id: an int, `self`, digits, or `prefix:value`.

    Only the value part of `sis_login_id:ana@x.org` is escaped, the prefix stays readable.
    """
    if isinstance(value, bool):
        raise TypeError("a Canvas id is an int or a str, not a bool")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"not a Canvas id: {value}")
        return str(value)
    text = value.strip()
    if text == "self" or text.isdigit():
        return text
    prefix, colon, rest = text.partition(":")
    if colon and prefix in ID_PREFIXES and rest:
        return f"{prefix}:{escape_id_value(rest)}"
    raise ValueError(f"not a Canvas id form: {value!r}")


def flatten_form(fields: Mapping[str, Any], prefix: str = "") -> tuple[tuple[str, str], ...]:
    """Rails' nested parameters: `{"user": {"name": "A"}}` -> `(("user[name]", "A"),)`.

    Lists become `key[]` repeated; booleans `true`/`false` (what Rails' boolean casting reads);
    None values are left out.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        name = f"{prefix}[{key}]" if prefix else key
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend(flatten_form(value, name))
        elif isinstance(value, list | tuple):
            pairs.extend((f"{name}[]", _scalar(item)) for item in value)
        else:
            pairs.append((name, _scalar(value)))
    return tuple(pairs)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _list_query(per_page: int) -> tuple[tuple[str, str], ...]:
    if not 1 <= per_page <= PER_PAGE:
        raise ValueError(f"per_page must be 1..{PER_PAGE}")
    return (("include[]", "email"), ("per_page", str(per_page)))


def get_self() -> Request:
    return _request("get_self", "GET", "/users/self")


def get_user(user_id: int) -> Request:
    return _request("get_user", "GET", f"/users/{object_ref(user_id)}")


def get_user_by_sis_id(sis_id: str) -> Request:
    # `sis_user_id:` is exact and case-sensitive on Canvas [SIS and login lookups]; never strip
    # or fold it here.
    if not sis_id:
        raise ValueError("an SIS id cannot be empty")
    return _request("get_user_by_sis_id", "GET", f"/users/sis_user_id:{escape_id_value(sis_id)}")


def get_user_by_login(login: str) -> Request:
    # `sis_login_id:` compares LOWER(unique_id) = LOWER(value) [SIS and login lookups].
    if not login.strip():
        raise ValueError("a login id cannot be empty")
    path = f"/users/sis_login_id:{escape_id_value(login.strip())}"
    return _request("get_user_by_login", "GET", path)


def account_permissions(names: Sequence[str], *, account: str | int = "self") -> Request:
    # GET /api/v1/accounts/:account_id/permissions (AccountsController#permissions): the
    # caller's rights as {"name": true|false}; an unknown name is false.
    path = f"/accounts/{object_ref(account)}/permissions"
    return _request(
        "account_permissions", "GET", path, query=tuple(("permissions[]", n) for n in names)
    )


def get_account(account: str | int = "self") -> Request:
    # GET /api/v1/accounts/:id (AccountsController#show): the caller needs :read on the
    # account (an account admin has it; 401/403 otherwise); the answer's default_time_zone is
    # the account's zone as an IANA name (Api::V1::Account#account_json, tzinfo.name).
    return _request("get_account", "GET", f"/accounts/{object_ref(account)}")


PROVISIONING_KINDS: Final = ("users", "user_observers", "enrollments")


def start_provisioning_report(
    kinds: Sequence[str], *, include_deleted: bool = False, account: str | int = "self"
) -> Request:
    # POST /api/v1/accounts/:account_id/reports/provisioning_csv [Account reports]: one CSV
    # per kind asked, zipped when several. Sending it again while the first still runs is a
    # 409 naming that one (which the client takes up), so a lost answer may be sent again.
    # skip_message: without it Canvas emails the token's user "Report Generated" for every
    # report, every night.
    unknown = set(kinds) - set(PROVISIONING_KINDS)
    if unknown or not kinds:
        raise ValueError(f"provisioning report kinds must be among {PROVISIONING_KINDS}")
    form = [(f"parameters[{kind}]", "true") for kind in kinds]
    form.append(("parameters[skip_message]", "true"))
    if include_deleted:
        form.append(("parameters[include_deleted]", "true"))
    path = f"/accounts/{object_ref(account)}/reports/provisioning_csv"
    return _request("start_report", "POST", path, form=form, replay_safe=True)


def get_provisioning_report(report_id: int, *, account: str | int = "self") -> Request:
    path = f"/accounts/{object_ref(account)}/reports/provisioning_csv/{int(report_id)}"
    return _request("poll_report", "GET", path)


def search_users(term: str, *, account: str | int = "self", per_page: int = PER_PAGE) -> Request:
    # Substring search, 2 characters minimum (Canvas answers 400 below that) [Listing users
    # and search]. A blank or spaces-only term is no search at all: Canvas lists every user,
    # so it is refused here rather than sent.
    if not term.strip():
        raise ValueError("a search term cannot be blank (Canvas would list every user)")
    query = (("search_term", term), *_list_query(per_page))
    path = f"/accounts/{object_ref(account)}/users"
    return _request("search_users", "GET", path, query=query, paginated=True)


def create_user(
    *,
    name: str,
    login_id: str,
    sortable_name: str | None = None,
    send_registration: bool = True,
    account: str | int = "self",
    pairing_code: str | None = None,
    sis_user_id: str | None = None,
    authentication_provider: str | None = None,
) -> Request:
    """POST /accounts/:id/users [Creating users]: 200 with the user, 400 `taken` for a used login.

    `authentication_provider` (`pseudonym[authentication_provider_id]`: a provider id, or a
    type such as `canvas`) binds the login to it; one the account does not have is a 404
    [Authentication providers and managed passwords].

    `sis_user_id` becomes the login's SIS id (`pseudonym[sis_user_id]`, honoured with
    `manage_sis`; a used one is a 400 `taken` on `pseudonym.sis_user_id`) [Creating users].

    With `pairing_code`, `user[initial_enrollment_type]=observer` + `pairing_code[code]` make
    the new user observe the code's student in the same request (a bad code is a 400 with
    `errors.pairing_code.code[0].type == "invalid"` and nothing is created) [Creating users].

    `force_self_registration` sends the "finish registering" email; `skip_confirmation`
    instead makes the channel active and sends nothing at all (creation_notify_policy)
    [Creating users].
    The two are exclusive: skip_confirmation would silence the registration email.
    """
    pseudonym: dict[str, Any] = {
        "unique_id": login_id,
        "sis_user_id": sis_user_id,
        "authentication_provider_id": authentication_provider,
    }
    channel: dict[str, Any] = {"type": "email", "address": login_id}
    if send_registration:
        pseudonym["force_self_registration"] = True
    else:
        channel["skip_confirmation"] = True
    user: dict[str, Any] = {"name": name, "sortable_name": sortable_name}
    fields: dict[str, Any] = {
        "user": user,
        "pseudonym": pseudonym,
        "communication_channel": channel,
    }
    if pairing_code is not None:
        user["initial_enrollment_type"] = "observer"
        fields["pairing_code"] = {"code": pairing_code}
    form = flatten_form(fields)
    return _request("create_user", "POST", f"/accounts/{object_ref(account)}/users", form=form)


def list_authentication_providers(*, account: str | int = "self") -> Request:
    # GET /accounts/:id/authentication_providers: needs manage_account_settings on the root
    # account (401/403 otherwise); one unpaginated list [Authentication providers and managed
    # passwords].
    path = f"/accounts/{object_ref(account)}/authentication_providers"
    return _request("list_authentication_providers", "GET", path)


def create_pairing_code(student_id: int) -> Request:
    """POST /users/:id/observer_pairing_codes [Pairing codes].

    Replay-safe although a POST: a lost answer leaves at most a spare code, which expires
    unused in 7 days and harms nothing, so the client simply asks again rather than raising
    OutcomeUnknown.
    """
    path = f"/users/{object_ref(student_id)}/observer_pairing_codes"
    return _request("create_pairing_code", "POST", path, replay_safe=True)


def add_observee_with_code(observer_id: int, code: str) -> Request:
    # The code is burnt before any link is made [Observer links], so a re-send would fail with 422
    # "Invalid pairing code." even when the first one worked: never replayed.
    path = f"/users/{object_ref(observer_id)}/observees"
    return _request(
        "add_observee_with_code", "POST", path, form=(("pairing_code", code),), replay_safe=False
    )


def add_observee(observer_id: int, student_id: int) -> Request:
    # PUT is idempotent for an existing pair and restores a deleted one [Observer links].
    path = f"/users/{object_ref(observer_id)}/observees/{object_ref(student_id)}"
    return _request("add_observee", "PUT", path)


def list_observees(observer: int | str, *, per_page: int = PER_PAGE) -> Request:
    path = f"/users/{object_ref(observer)}/observees"
    return _request("list_observees", "GET", path, query=_list_query(per_page), paginated=True)


def list_observers(student_id: int, *, per_page: int = PER_PAGE) -> Request:
    path = f"/users/{object_ref(student_id)}/observers"
    return _request("list_observers", "GET", path, query=_list_query(per_page), paginated=True)


def list_enrollments(user_id: int, *, per_page: int = PER_PAGE) -> Request:
    # GET /api/v1/users/:user_id/enrollments: the dry run reads enrollments to predict what
    # the pairing-code request would say (User#has_student_enrollment?) [Pairing codes].
    # Without state[] Canvas lists only active and invited ones; completed ones count too.
    path = f"/users/{object_ref(user_id)}/enrollments"
    states = tuple(("state[]", s) for s in ("active", "invited", "creation_pending", "completed"))
    query = (*states, ("type[]", "StudentEnrollment"), ("type[]", "StudentViewEnrollment"))
    return _request(
        "list_enrollments", "GET", path, query=(*query, *_list_query(per_page)), paginated=True
    )


def remove_observee(observer_id: int, student_id: int) -> Request:
    # A second DELETE answers 404 [Observer links]; retrying after a lost answer may therefore
    # end in NotFound, which the caller reads as "already gone".
    path = f"/users/{object_ref(observer_id)}/observees/{object_ref(student_id)}"
    return _request("remove_observee", "DELETE", path)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class RateInfo:
    """Canvas's throttle headers [Throttling]: `X-Rate-Limit-Remaining` and `X-Request-Cost`."""

    remaining: float | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: the parsed JSON, the next page's URL, the throttle headers."""

    data: Any
    next_url: str | None
    rate: RateInfo


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def rate_info(headers: Mapping[str, str]) -> RateInfo:
    """The throttle headers as numbers (None when absent or unreadable)."""
    lowered = _lower(headers)
    return RateInfo(
        remaining=_float(lowered.get("x-rate-limit-remaining")),
        cost=_float(lowered.get("x-request-cost")),
    )


_LINK: Final = re.compile(r"<([^>]*)>([^<]*)")
_REL: Final = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


def next_link(headers: Mapping[str, str]) -> str | None:
    """The `rel="next"` URL of a `Link` header, or None on the last page [Pagination].

    Canvas joins `<url>; rel="current"`, `<url>; rel="next"`, … with commas; a rel may list
    several space-separated values. URLs are opaque (bookmarks) and returned as they are.
    """
    link = _lower(headers).get("link")
    if not link:
        return None
    for found in _LINK.finditer(link):
        url, params = found.group(1), found.group(2)
        for match in _REL.finditer(params):
            rels = (match.group(1) or match.group(2) or "").lower().split()
            if "next" in rels:
                return url.strip()
    return None


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    value = _lower(headers).get("retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _is_rate_limit_text(headers: Mapping[str, str], body: bytes) -> bool:
    # request_throttle.rb answers `403 Forbidden (Rate Limit Exceeded)` as text/plain [Throttling];
    # a permission 403 is always JSON on /api/ paths [Authentication and error answers], so the
    # body tells them apart.
    content_type = _lower(headers).get("content-type", "")
    return b"rate limit exceeded" in body.lower() and "json" not in content_type.lower()


def _first_message(data: Any) -> str | None:
    probe = RequestRejected("", errors=data)
    messages = probe.messages
    if messages:
        return messages[0]
    if isinstance(data, dict) and isinstance(data.get("errors"), str):
        # `{"errors":"Invalid as_user_id"}` [Authentication and error answers]
        return str(data["errors"])
    return None


def decipher(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> Answer:
    """Turn an HTTP answer into an `Answer`, or raise the error its status means."""
    if 200 <= status < 300:
        data = _json(body)
        if data is None and body.strip():
            raise CanvasError(
                "Canvas answered with a body that is not JSON",
                method=method,
                path=path,
                status=status,
            )
        return Answer(data=data, next_url=next_link(headers), rate=rate_info(headers))
    raise _decipher_error(method, path, status, headers, body)


def _decipher_error(
    method: str, path: str, status: int, headers: Mapping[str, str], body: bytes
) -> CanvasError:
    """The status table: each row is one Canvas behaviour from docs/canvas-behaviour.md."""
    where: dict[str, Any] = {"method": method, "path": path, "status": status}
    data = _json(body)
    message = _first_message(data)
    lowered = _lower(headers)
    if status == 429 or (status == 403 and _is_rate_limit_text(headers, body)):
        # 429 on hosted Canvas since 2025-10, the plain-text 403 before [Throttling].
        return Throttled("Canvas rate limit exceeded", **where)
    if status == 401 and "www-authenticate" in lowered:
        # require_user / invalid, expired or revoked token: 401 + WWW-Authenticate
        # [Authentication and error answers].
        return InvalidToken(message or "Canvas refused the token", **where)
    if status in (401, 403):
        # render_json_unauthorized: 401, or 403 with api_auth_error_updates; 403 `{}` for a
        # user create without rights; 401 for a pairing code of an unenrolled student
        # [Creating users, Pairing codes]. Also the scope error (401 without WWW-Authenticate).
        return NotAllowed(message or "Canvas says this token may not do that", **where)
    if status == 404:
        # Not found and not visible look the same; a deleted user is 404 with its JSON
        # [User ids in paths].
        return NotFound(message or "not found", **where)
    if status == 409:
        # A start of a report of the same type and parameters as one still created or running:
        # that report's JSON and a Location naming it [Account reports].
        return Conflict(
            "Canvas is already doing this",
            errors=data,
            location=lowered.get("location"),
            **where,
        )
    if status == 408:
        # A proxy or load balancer gave up waiting: a temporary failure, not Canvas's "no".
        # Retried like a 5xx when replay-safe; a POST may have reached Canvas (OutcomeUnknown).
        return ServerError(message or "request timed out at a proxy (408)", **where)
    if status in (400, 422) or 400 <= status < 500:
        # 400 create-user validation (nested), 400 search term, 422 model validation,
        # 422 pairing code [Authentication and error answers]. Other 4xx are also the request's
        # fault.
        errors = data.get("errors", data) if isinstance(data, dict) else data
        return RequestRejected(message or "Canvas rejected the request", errors=errors, **where)
    if status >= 500:
        return ServerError(message or f"Canvas server error {status}", **where)
    if 300 <= status < 400:
        # Redirects are never followed (the token must not travel elsewhere): most likely the
        # Canvas URL is not the API's own (an old domain, a vanity URL, http -> https).
        location = lowered.get("location", "")
        hint = f" to {location.split('?')[0]}" if location else ""
        return ConfigurationError(
            f"Canvas answered with a redirect{hint}; use the Canvas URL it points to", **where
        )
    return CanvasError(f"unexpected answer {status}", **where)
