"""`CanvasClient`: the async Canvas API client the sync uses; the only module that sends HTTP.

It sends what `protocol` builds over an injected `httpx.AsyncClient` (production, demo and tests
differ only in its transport), paces itself with `pacing.Pacer`, retries by the rule in
`retry`, follows pagination within the configured origin, and counts every request.

Safety of the token: it travels only in the `Authorization` header of requests to the
configured origin; redirects are never followed; pagination links to another scheme, host or
port raise `UnsafeRequest` before anything is sent; `http://` is refused unless the host is
loopback or `allow_insecure` is set. Log lines and errors carry the method, the path and the
status only, and `repr(client)` hides the token (httpx already shows that header as
`[secure]`), so DEBUG logging never shows it.

An answer that echoes the token (an error page repeating the request's headers, a proxy, a
message quoting a parameter) is cleaned where it enters, in `_decipher`: every string of a
parsed answer, every error built from one (its message, and a `RequestRejected`'s error body)
and every downloaded file has the token replaced by `[REDACTED]`. Names, logins and error
messages flow from there into row details, the journal, the reports, the webhook and the log,
so each of them inherits the cleaned text rather than needing a filter of its own. The token
must be printable ASCII without spaces (all an HTTP header can carry, and all a Canvas token
is; `token_problem` says what else is refused): an echo then carries it as sent, or
percent-encoded as a URL would (`core.redact.spellings`), and both are replaced.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import stamina

from canvas_observers.canvas import files, protocol
from canvas_observers.canvas import protocol_identity as identity
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    Conflict,
    FileBehindLogin,
    OutcomeUnknown,
    RequestRejected,
    RetryableError,
    ServerError,
    Throttled,
    TransportError,
    UnsafeRequest,
)
from canvas_observers.canvas.models import (
    AccountReport,
    AuthProvider,
    CanvasUser,
    Channel,
    Enrollment,
    Login,
    PairingCode,
)
from canvas_observers.canvas.net import check_base_url, explain_transport, origin_of
from canvas_observers.canvas.pacing import Pacer, PacingPolicy
from canvas_observers.canvas.protocol import Answer, Request
from canvas_observers.canvas.retry import RetryLater, RetryPolicy, backoff_hook, never_sent
from canvas_observers.core.redact import redact_json, spellings

log = logging.getLogger(__name__)

MAX_PAGES = 10_000  # 1,000,000 items at 100 a page: far past any real list; stops a loop


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """A snapshot of what the client sent: every HTTP request, retries and pages included."""

    by_operation: dict[str, int] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    throttled: int = 0  # answers that were 429 / 403 "Rate Limit Exceeded"
    retries: int = 0  # requests sent again after a failure (included in `requests`)
    transport_errors: int = 0  # requests that got no answer at all

    def as_dict(self) -> dict[str, Any]:
        return {
            "by_operation": dict(self.by_operation),
            "by_method": dict(self.by_method),
            "requests": self.requests,
            "throttled": self.throttled,
            "retries": self.retries,
            "transport_errors": self.transport_errors,
        }


class CanvasClient:
    """One method per Canvas operation the sync needs; values in, frozen values out."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str,
        allow_insecure: bool = False,
        max_in_flight: int = 11,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing it is safe
        timeout: float = 30.0,
        pacing: PacingPolicy | None = None,
        per_page: int = protocol.PER_PAGE,
    ) -> None:
        problem = token_problem(token)
        if problem:
            raise ConfigurationError(f"the Canvas token {problem}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._http = http
        self._base = check_base_url(base_url, allow_insecure=allow_insecure)
        self._allow_insecure = allow_insecure
        self._prefix = self._base.path.rstrip("/")
        self._origin = origin_of(self._base)
        self._authorization = f"Bearer {token.strip()}"
        self._secrets = spellings(token.strip())
        self._retry = retry
        self._per_page = per_page
        self._timeout = httpx.Timeout(timeout)
        self.pacer = Pacer(pacing or PacingPolicy(max_in_flight=max_in_flight))
        self._by_operation: Counter[str] = Counter()
        self._by_method: Counter[str] = Counter()
        self._requests = self._throttled = self._retries = self._transport_errors = 0
        self._answered = False  # until Canvas first answers, a refused connection is final

    def __repr__(self) -> str:
        return f"CanvasClient(base_url={str(self._base)!r}, token=<redacted>)"

    @property
    def counts(self) -> RequestCounts:
        return RequestCounts(
            by_operation=dict(self._by_operation),
            by_method=dict(self._by_method),
            requests=self._requests,
            throttled=self._throttled,
            retries=self._retries,
            transport_errors=self._transport_errors,
        )

    # ------------------------------------------------------------------ operations

    async def get_self(self) -> CanvasUser:
        """The token's owner; InvalidToken when Canvas refuses the token."""
        return await self._user(protocol.get_self())

    async def get_user(self, user_id: int) -> CanvasUser:
        return await self._user(protocol.get_user(user_id))

    async def get_user_by_sis_id(self, sis_id: str) -> CanvasUser:
        return await self._user(protocol.get_user_by_sis_id(sis_id))

    async def get_user_by_login(self, login: str) -> CanvasUser:
        return await self._user(protocol.get_user_by_login(login))

    async def account_permissions(self, names: Sequence[str]) -> dict[str, bool]:
        """Which of these Canvas permissions the token's role has on the account."""
        request = protocol.account_permissions(names)
        data = self._object(await self._one(request), request)
        return {name: data.get(name) is True for name in names}

    async def account_time_zone(self) -> str:
        """The account's ``default_time_zone`` (an IANA name), '' when Canvas gives none."""
        request = protocol.get_account()
        zone = self._object(await self._one(request), request).get("default_time_zone")
        return zone.strip() if isinstance(zone, str) else ""

    async def search_users(self, term: str, *, account: str = "self") -> list[CanvasUser]:
        """Every page of a substring search (`100` also finds `1001`): callers keep exact hits."""
        return await self._users(
            protocol.search_users(term, account=account, per_page=self._per_page)
        )

    async def create_user(
        self,
        *,
        name: str,
        login_id: str,
        sortable_name: str | None = None,
        send_registration: bool = True,
        account: str = "self",
        pairing_code: str | None = None,
        sis_user_id: str | None = None,
        authentication_provider: str | None = None,
    ) -> CanvasUser:
        """Create an account (observing the code's student when a pairing code is given), its
        login with this SIS id when one is given, bound to this authentication provider (an id
        or a type such as ``canvas``) when one is given.

        RequestRejected (`"taken"`, or `"invalid"` for the code), NotFound for a provider the
        account does not have, or OutcomeUnknown; never re-sent.
        """
        request = protocol.create_user(
            name=name,
            login_id=login_id,
            sortable_name=sortable_name,
            send_registration=send_registration,
            account=account,
            pairing_code=pairing_code,
            sis_user_id=sis_user_id,
            authentication_provider=authentication_provider,
        )
        return await self._user(request)

    async def list_authentication_providers(self) -> list[AuthProvider]:
        """The account's active authentication providers (NotAllowed without
        manage_account_settings)."""
        request = protocol.list_authentication_providers()
        answer = await self._one(request)
        items = answer.data if isinstance(answer.data, list) else []
        return [AuthProvider.from_json(item) for item in items if isinstance(item, dict)]

    async def create_pairing_code(self, student_id: int) -> PairingCode:
        """A new code; NotAllowed when the student has no enrollment (retried if lost)."""
        request = protocol.create_pairing_code(student_id)
        answer = await self._one(request)
        return PairingCode.from_json(self._object(answer, request))

    async def add_observee_with_code(self, observer_id: int, code: str) -> CanvasUser:
        """Pair with a code; OutcomeUnknown when the answer is lost (list observees to see)."""
        return await self._link(protocol.add_observee_with_code(observer_id, code))

    async def add_observee(self, observer_id: int, student_id: int) -> CanvasUser:
        """Pair directly (admin PUT, idempotent, retried)."""
        return await self._link(protocol.add_observee(observer_id, student_id))

    async def list_observees(self, observer: int | str) -> list[CanvasUser]:
        return await self._users(protocol.list_observees(observer, per_page=self._per_page))

    async def list_observers(self, student_id: int) -> list[CanvasUser]:
        return await self._users(protocol.list_observers(student_id, per_page=self._per_page))

    async def list_enrollments(self, user_id: int) -> list[Enrollment]:
        """Every enrollment of a user (all states), for the dry run's pairing-code check."""
        items = await self._pages(protocol.list_enrollments(user_id, per_page=self._per_page))
        return [Enrollment.from_json(item) for item in items]

    async def remove_observee(self, observer_id: int, student_id: int) -> CanvasUser:
        return await self._user(protocol.remove_observee(observer_id, student_id))

    # --- a guardian's identity: never re-sent after a lost answer (OutcomeUnknown) ----------

    async def list_logins(self, user_id: int) -> list[Login]:
        items = await self._pages(identity.list_logins(user_id, per_page=self._per_page))
        return [Login.from_json(item) for item in items]

    async def update_login(
        self, login_id: int, unique_id: str, *, sis_user_id: str | None = None
    ) -> Login:
        """A login's new unique id, and new SIS id when one is given (in the same save);
        RequestRejected `"taken"` when another login has either (``error_types`` by
        attribute tells which), NotAllowed for an SIS id without manage_sis."""
        request = identity.update_login(login_id, unique_id, sis_user_id=sis_user_id)
        return Login.from_json(self._object(await self._one(request), request))

    async def list_channels(self, user_id: int) -> list[Channel]:
        items = await self._pages(identity.list_channels(user_id, per_page=self._per_page))
        return [Channel.from_json(item) for item in items]

    async def add_email_channel(self, user_id: int, address: str) -> Channel:
        """A new, confirmed email channel; RequestRejected `"unique!"` when it is there."""
        request = identity.add_email_channel(user_id, address)
        return Channel.from_json(self._object(await self._one(request), request))

    async def rename_user(self, user_id: int, *, name: str, sortable_name: str) -> CanvasUser:
        return await self._user(
            identity.rename_user(user_id, name=name, sortable_name=sortable_name)
        )

    async def start_report(
        self, kinds: Sequence[str], *, include_deleted: bool = False
    ) -> AccountReport:
        """Ask Canvas for a provisioning report of these kinds (it runs as a queued job).

        While one of the same kinds still runs (started by a try whose answer was lost, by an
        audit during a sync, or by a run that gave up waiting), Canvas answers 409 naming it:
        that report is returned, marked ``adopted``, for the caller to wait for."""
        request = protocol.start_provisioning_report(kinds, include_deleted=include_deleted)
        try:
            answer = await self._one(request)
        except Conflict as conflict:
            running = AccountReport.named_by_conflict(conflict.errors, conflict.location)
            if running is None:
                raise
            return running
        return AccountReport.from_json(self._object(answer, request))

    async def get_report(self, report_id: int) -> AccountReport:
        """The report's status and progress; its file URL once it is complete."""
        request = protocol.get_provisioning_report(report_id)
        return AccountReport.from_json(self._object(await self._one(request), request))

    async def download(self, url: str) -> bytes:
        """A file Canvas points to, following its redirect to the file store (files.py): the
        token goes with a request to the Canvas origin only, never to the store.
        FileBehindLogin when Canvas sends it to its login page, or answers a web page."""
        hop = files.first_hop(url, canvas=self._origin, allow_insecure=self._allow_insecure)
        for _ in range(files.MAX_REDIRECTS + 1):
            response = await self._fetch(hop)
            if response.status_code not in files.REDIRECT_STATUSES:
                if files.looks_like_html(response.headers.get("content-type"), response.content):
                    raise FileBehindLogin(
                        files.BEHIND_LOGIN,
                        method="GET",
                        path=hop.shown,
                        status=response.status_code,
                    )
                return files.redact_file(response.content, self._secrets)
            came_from = hop
            hop = files.next_hop(
                hop,
                response.headers.get("location"),
                canvas=self._origin,
                allow_insecure=self._allow_insecure,
            )
            if files.is_login_page(hop):
                raise FileBehindLogin(
                    files.BEHIND_LOGIN,
                    method="GET",
                    path=came_from.shown,
                    status=response.status_code,
                )
        raise CanvasError(
            f"more than {files.MAX_REDIRECTS} redirects for a file", method="GET", path=hop.shown
        )

    # ------------------------------------------------------------------ parsing at the edge

    async def _user(self, request: Request) -> CanvasUser:
        answer = await self._one(request)
        return CanvasUser.from_json(self._object(answer, request))

    async def _link(self, request: Request) -> CanvasUser:
        answer = await self._one(request)
        data = self._object(answer, request)
        # With no shared root account Canvas answers 200 and makes no link [Observer links].
        if data.get("observation_link_root_account_ids") == []:
            raise RequestRejected(
                "Canvas made no link: the users share no root account",
                method=request.method,
                path=request.path,
                status=200,
                errors=None,
            )
        return CanvasUser.from_json(data)

    async def _users(self, request: Request) -> list[CanvasUser]:
        # One user once, even if a page boundary shifted while we read (a user added or
        # removed between two pages repeats or skips an item; skipping is Canvas's to fix).
        users = {int(item["id"]): item for item in await self._pages(request) if "id" in item}
        return [CanvasUser.from_json(item) for item in users.values()]

    @staticmethod
    def _object(answer: Answer, request: Request) -> dict[str, Any]:
        if not isinstance(answer.data, dict):
            raise CanvasError(
                "Canvas answered without the expected JSON object",
                method=request.method,
                path=request.path,
            )
        return answer.data

    # ------------------------------------------------------------------ sending

    def _decipher(self, method: str, target: str, response: httpx.Response) -> Answer:
        """`protocol.decipher`, with the token taken out of all it returns or raises: the one
        door every Canvas answer comes in by (see the module docstring)."""
        try:
            answer = protocol.decipher(
                method, target, response.status_code, response.headers, response.content
            )
        except CanvasError as error:
            raise error.redacted(self._secrets) from None
        return dataclasses.replace(answer, data=redact_json(answer.data, self._secrets))

    def _url(self, target: str) -> httpx.URL:
        return self._base.copy_with(raw_path=(self._prefix + target).encode("ascii"))

    async def _one(self, request: Request) -> Answer:
        return await self._send(request, self._url(request.target))

    async def _pages(self, request: Request) -> list[dict[str, Any]]:
        """Follow `rel="next"` while it stays on the configured origin [Pagination]."""
        items: list[dict[str, Any]] = []
        url: httpx.URL | None = self._url(request.target)
        seen: set[str] = set()
        while url is not None:
            if len(seen) >= MAX_PAGES:
                raise CanvasError(
                    f"Canvas kept answering with another page after {MAX_PAGES} pages",
                    method=request.method,
                    path=_target(url),
                )
            seen.add(str(url))
            answer = await self._send(request, url)
            if not isinstance(answer.data, list) or not all(
                isinstance(item, dict) for item in answer.data
            ):
                raise CanvasError(
                    "Canvas answered a list request without a JSON list",
                    method=request.method,
                    path=_target(url),
                )
            items.extend(answer.data)
            url = self._next(answer.next_url, request, url)
            if url is not None and str(url) in seen:
                break  # a link back to a page already read: stop rather than loop
        return items

    def _next(self, link: str | None, request: Request, current: httpx.URL) -> httpx.URL | None:
        if not link:
            return None
        try:
            url = current.join(link)
        except httpx.InvalidURL as exc:
            raise CanvasError(
                "unreadable pagination link", method="GET", path=_target(current)
            ) from exc
        if origin_of(url) != self._origin:
            # The token goes only to the configured Canvas: refuse before sending.
            raise UnsafeRequest(
                "pagination link leaves the Canvas origin; not followed",
                method=request.method,
                path=_target(current),
            )
        return url

    async def _attempts(self) -> AsyncIterator[stamina.Attempt]:
        """The attempts of one logical request, by the retry policy (each retry counted)."""
        policy = self._retry
        async for attempt in stamina.retry_context(
            on=backoff_hook(policy, deadline=time.monotonic() + policy.timeout),
            attempts=policy.attempts,
            timeout=policy.timeout,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            if attempt.num > 1:
                self._retries += 1
            yield attempt

    async def _send(self, request: Request, url: httpx.URL) -> Answer:
        """One logical request: paced attempts, retried by the rule in `retry`."""
        policy = self._retry
        try:
            async for attempt in self._attempts():
                with attempt:
                    try:
                        return await self._attempt(request, url)
                    except RetryLater as later:
                        if attempt.num < policy.attempts:
                            _log_retry(
                                request, later, attempt.num, policy.attempts, attempt.next_wait
                            )
                        raise
        except RetryLater as spent:
            raise spent.error from None
        raise AssertionError("unreachable: stamina either returns or raises")

    async def _attempt(self, request: Request, url: httpx.URL) -> Answer:
        method, target = request.method, _target(url)
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        body = request.body()
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with self.pacer.slot() as slot:
            self._requests += 1
            self._by_method[method] += 1
            self._by_operation[request.operation] += 1
            started = time.monotonic()
            try:
                response = await self._http.request(
                    method,
                    url,
                    content=body,
                    headers=headers,
                    timeout=self._timeout,
                    follow_redirects=False,
                )
            except httpx.TransportError as exc:
                self._transport_errors += 1
                why = explain_transport(exc, url)
                what = f": {why}" if why else f" ({type(exc).__name__})"
                log.debug("canvas %s %s -> no answer%s", method, target, what)
                error = TransportError(f"no answer from Canvas{what}", method=method, path=target)
                if why and not self._answered:  # the URL is wrong, not the network: say so now
                    raise error from None
                if request.replay_safe or never_sent(exc):
                    raise RetryLater(error, None) from None
                lost = "the write got no answer; it may or may not have happened"
                raise OutcomeUnknown(lost, method=method, path=target) from None
            self._answered = True
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            log.debug("canvas %s %s -> %s (%.0f ms)", method, target, status, elapsed_ms)
            rate = protocol.rate_info(response.headers)
            try:
                answer = self._decipher(method, target, response)
            except Throttled as error:
                self._throttled += 1
                slot.throttled()
                raise RetryLater(error, protocol.retry_after(response.headers)) from None
            except ServerError as error:
                slot.answered(remaining=rate.remaining, cost=rate.cost)
                if not request.replay_safe:
                    raise OutcomeUnknown(
                        f"the write was answered {status}; it may or may not have happened",
                        method=method,
                        path=target,
                        status=status,
                    ) from None
                raise RetryLater(error, protocol.retry_after(response.headers)) from None
            except CanvasError:
                slot.answered(remaining=rate.remaining, cost=rate.cost)
                raise
            slot.answered(remaining=rate.remaining, cost=rate.cost)
            return answer

    async def _fetch(self, hop: files.Hop) -> httpx.Response:
        """One hop of a download, retried like a GET; a redirect answer is returned as is."""
        try:
            async for attempt in self._attempts():
                with attempt:
                    if not hop.with_token:  # the file store: not Canvas, not paced
                        return self._judge_hop(hop, await self._hop_request(hop))
                    async with self.pacer.slot() as slot:
                        response = await self._hop_request(hop)
                        rate = protocol.rate_info(response.headers)
                        try:
                            judged = self._judge_hop(hop, response)
                        except RetryLater as later:
                            if isinstance(later.error, Throttled):
                                self._throttled += 1
                                slot.throttled()
                            else:
                                slot.answered(remaining=rate.remaining, cost=rate.cost)
                            raise
                        except CanvasError:
                            slot.answered(remaining=rate.remaining, cost=rate.cost)
                            raise
                        slot.answered(remaining=rate.remaining, cost=rate.cost)
                        return judged
        except RetryLater as spent:
            raise spent.error from None
        raise AssertionError("unreachable: stamina either returns or raises")

    async def _hop_request(self, hop: files.Hop) -> httpx.Response:
        headers = {"Authorization": self._authorization} if hop.with_token else {}
        self._requests += 1
        self._by_method["GET"] += 1
        self._by_operation["report_file" if hop.with_token else "report_file_store"] += 1
        try:
            response = await self._http.get(
                hop.url, headers=headers, timeout=self._timeout, follow_redirects=False
            )
        except httpx.TransportError as exc:
            self._transport_errors += 1
            error = TransportError(
                f"no answer ({type(exc).__name__})", method="GET", path=hop.shown
            )
            raise RetryLater(error, None) from None
        log.debug("file GET %s -> %s", hop.shown, response.status_code)
        return response

    def _judge_hop(self, hop: files.Hop, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if status < 300 or status in files.REDIRECT_STATUSES:
            return response
        if hop.with_token:  # Canvas's own answer: the usual typed errors, retried as usual
            try:
                self._decipher("GET", hop.shown, response)
            except (Throttled, ServerError) as error:
                raise RetryLater(error, protocol.retry_after(response.headers)) from None
        elif status >= 500:
            failed = ServerError(
                "the file store failed", method="GET", path=hop.shown, status=status
            )
            raise RetryLater(failed, protocol.retry_after(response.headers)) from None
        raise CanvasError(
            "the file could not be fetched", method="GET", path=hop.shown, status=status
        )


def token_problem(token: str) -> str:
    """What is wrong with a token, as the end of a sentence, or "" when it can be sent; the
    token itself is never in it. An HTTP header carries printable ASCII only, and a Canvas
    token is letters, digits and ``~``: a character outside that is a copy-and-paste accident
    (a smart quote, a non-breaking space), and httpx would fail on it with a traceback."""
    text = token.strip()
    if not text:
        return "is empty"
    for position, char in enumerate(text, start=1):
        if not ("!" <= char <= "~"):
            kind = "a space or a control character" if char.isascii() else "not ASCII"
            return (
                f"has a character that cannot be sent (character {position} is {kind}); a "
                "Canvas token is letters, digits and ~: copy it again from Canvas"
            )
    return ""


def _log_retry(
    request: Request, later: RetryLater[RetryableError], num: int, attempts: int, wait: float
) -> None:
    """One line per retry: the request (no query string), why, the attempt, the wait."""
    error = later.error
    cause = f"answered {error.status}" if error.status is not None else error.message
    log.info(
        "retrying %s %s (%s): attempt %d of %d failed, next in %.1f s",
        request.method,
        request.path,
        cause,
        num,
        attempts,
        later.wait if later.wait is not None else wait,
    )


def _target(url: httpx.URL) -> str:
    """Path and query of a URL, as errors and logs show it (the token is never in it)."""
    return url.raw_path.decode("ascii", errors="replace")
