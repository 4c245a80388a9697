"""`ApiSession`: the OAuth 2.0 client-credentials token and the paced, retried GETs.

* The token (RFC 6749 section 4.4) is asked for with ``grant_type=client_credentials``, the
  client id and secret as HTTP Basic auth (or form fields, ``client_auth="body"``), cached
  until shortly before ``expires_in`` runs out. A 401 from the API gets one new token and
  the request sent once more; a second 401 is ``CredentialsRefused``.
* 429, 5xx and requests that got no answer are retried with stamina's jittered backoff, a
  ``Retry-After`` replacing the wait (the rule and settings of ``canvas.retry``); once the
  budget is spent the last error is raised with the path, the status and the attempts.
* Requests stay on the provider's origin: redirects are never followed, and a URL on another
  origin is refused before anything is sent. The secret and tokens travel only in the
  ``Authorization`` header or the token request's body; messages, logs and ``repr`` carry the
  client id, paths and statuses only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import stamina

from canvas_observers.canvas.net import origin_of
from canvas_observers.canvas.protocol import retry_after
from canvas_observers.canvas.retry import RetryLater, backoff_hook
from canvas_observers.sis_api.config import ApiConfig, Endpoints
from canvas_observers.sis_api.errors import (
    ConfigError,
    CredentialsRefused,
    ProviderError,
    SisApiError,
    UnsafeUrl,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
REFUSED_CODES = frozenset(
    {"invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope"}
)


class _Unauthorized(Exception):
    """Internal: the API answered 401 to this token."""

    def __init__(self, token: str) -> None:
        super().__init__("401")
        self.token = token


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of the API: the JSON body and the headers that steer paging."""

    data: Any
    headers: httpx.Headers
    url: httpx.URL
    next_link: str | None = None  # the Link header's rel="next" target, as sent


def shown(url: httpx.URL) -> str:
    """A URL as messages show it: the path only, never the query."""
    return url.path


def expiry(expires_in: object, now: float) -> float | None:
    """When to stop using a token: shortly before ``expires_in`` (a 10th of it, at most a
    minute); None when the server gave no usable lifetime (used until a 401)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        return None
    try:
        seconds = float(expires_in)
    except ValueError:
        return None
    if seconds <= 0:
        return now
    return now + seconds - min(60.0, seconds / 10)


class ApiSession:
    """Sends GETs to one OneRoster provider with a client-credentials token."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: ApiConfig,
        endpoints: Endpoints,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._config = config
        self._endpoints = endpoints
        self._clock = clock
        self._token: str | None = None
        self._expires: float | None = None
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max(1, config.max_in_flight))
        self._last_start = 0.0
        self._timeout = httpx.Timeout(config.timeout)
        self.requests = 0
        self.retries = 0
        self.tokens = 0

    def __repr__(self) -> str:
        return (
            f"ApiSession(base={str(self._endpoints.base)!r}, "
            f"client_id={self._config.client_id!r}, secret=<redacted>, token=<redacted>)"
        )

    # ------------------------------------------------------------------ the token

    async def _bearer(self) -> str:
        async with self._token_lock:
            now = self._clock()
            if self._token is None or (self._expires is not None and now >= self._expires):
                self._token, self._expires = await self._new_token()
            return self._token

    async def _renew(self, refused: str) -> None:
        """A new token, unless another request already replaced the refused one."""
        async with self._token_lock:
            if self._token == refused:
                self._token, self._expires = await self._new_token()

    async def _new_token(self) -> tuple[str, float | None]:
        return await self._retrying(self._token_once, self._endpoints.token_url)

    def _refused(self, why: str, status: int | None) -> CredentialsRefused:
        token_url = self._endpoints.token_url
        return CredentialsRefused(
            f"the token endpoint {token_url.copy_with(query=None)} refused the client id "
            f"{self._config.client_id!r} and its secret ({why}); check both with the SIS "
            "admin"
            + (
                ", or try sending them in the form body (--client-auth body)"
                if self._config.client_auth == "basic"
                else ""
            ),
            path=shown(token_url),
            status=status,
        )

    async def _token_once(self) -> tuple[str, float | None]:
        config, url = self._config, self._endpoints.token_url
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {"Accept": "application/json"}
        secret = config.client_secret.reveal()
        if config.client_auth == "basic":
            pair = f"{config.client_id}:{secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form["client_id"] = config.client_id
            form["client_secret"] = secret
        response = await self._send("POST", url, headers=headers, data=form)
        status = response.status_code
        body = _json_or_none(response)
        if status in (400, 401):
            code = body.get("error") if isinstance(body, dict) else None
            why = code if isinstance(code, str) and _ERROR_CODE.match(code) else f"HTTP {status}"
            if status == 401 or why in REFUSED_CODES:
                raise self._refused(why, status)
            raise ProviderError(
                f"the token endpoint refused the request ({why})", path=shown(url), status=status
            )
        self._judge(response, "the token endpoint")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProviderError(
                "the token endpoint answered without an access_token",
                path=shown(url),
                status=status,
            )
        kind = body.get("token_type", "bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise ProviderError(
                "the token endpoint gave a token that is not a Bearer token",
                path=shown(url),
                status=status,
            )
        token = body["access_token"].strip()
        if not token or any(c in token for c in "\r\n"):
            raise ProviderError("the token endpoint gave an empty token", path=shown(url))
        if not token.isascii():
            raise ProviderError(
                "the token endpoint gave a token that cannot go in a header (not ASCII)",
                path=shown(url),
            )
        self.tokens += 1
        log.debug("oneroster token: new token (expires_in %r)", body.get("expires_in"))
        return token, expiry(body.get("expires_in"), self._clock())

    # ------------------------------------------------------------------ GET

    async def get(self, url: httpx.URL) -> Page:
        """One page of a collection; a 401 gets one new token, then CredentialsRefused."""
        self.check_origin(url)
        try:
            return await self._retrying(lambda: self._get_once(url), url)
        except _Unauthorized as first:
            await self._renew(first.token)
        try:
            return await self._retrying(lambda: self._get_once(url), url)
        except _Unauthorized:
            raise CredentialsRefused(
                f"the API refused a freshly issued access token for client id "
                f"{self._config.client_id!r} (401 twice): the client may not read this API",
                path=shown(url),
                status=401,
            ) from None

    def check_origin(self, url: httpx.URL) -> None:
        if origin_of(url) != self._endpoints.origin:
            raise UnsafeUrl(
                f"refusing to send the token to {url.scheme}://{url.host}: it is not the "
                f"OneRoster API's origin ({self._endpoints.base.host})",
                path=shown(url),
            )

    async def _get_once(self, url: httpx.URL) -> Page:
        token = await self._bearer()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = await self._send("GET", url, headers=headers)
        if response.status_code == 401:
            raise _Unauthorized(token)
        self._judge(response, "the OneRoster API")
        try:
            data = response.json()
        except ValueError:
            raise ProviderError(
                "the OneRoster API answered with something that is not JSON",
                path=shown(url),
                status=response.status_code,
            ) from None
        link = response.links.get("next", {}).get("url")
        return Page(data, response.headers, url, link or None)

    # ------------------------------------------------------------------ sending

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        async with self._slots:
            gap = self._config.min_interval - (self._clock() - self._last_start)
            if gap > 0 and self._last_start:
                await asyncio.sleep(gap)
            self._last_start = self._clock()
            yield

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str],
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with self._slot():
            self.requests += 1
            try:
                response = await self._http.request(
                    method,
                    url,
                    headers=headers,
                    data=data,
                    timeout=self._timeout,
                    follow_redirects=False,
                )
            except httpx.TransportError as exc:
                log.debug(
                    "oneroster %s %s -> no answer (%s)", method, shown(url), type(exc).__name__
                )
                error = ProviderError(
                    f"no answer from {url.host} ({type(exc).__name__})", path=shown(url)
                )
                raise RetryLater(error, None) from None
            except httpx.RequestError as exc:  # e.g. a body that does not decode
                raise ProviderError(
                    f"an unreadable answer from {url.host} ({type(exc).__name__})",
                    path=shown(url),
                ) from None
        log.debug("oneroster %s %s -> %s", method, shown(url), response.status_code)
        return response

    def _judge(self, response: httpx.Response, who: str) -> None:
        """Raise for any answer but 2xx: retryable ones as RetryLater, the rest as they are."""
        status, url = response.status_code, response.request.url
        if status < 300:
            return
        if status == 429 or status >= 500:
            what = "is rate limiting" if status == 429 else "failed"
            error = ProviderError(f"{who} {what}", path=shown(url), status=status)
            raise RetryLater(error, retry_after(response.headers))
        if status in (301, 302, 303, 307, 308):
            target = response.headers.get("location", "")
            try:
                to = url.join(target)
            except httpx.InvalidURL:
                to = url
            if origin_of(to) != origin_of(url):
                raise UnsafeUrl(
                    f"{who} redirects to another origin ({to.scheme}://{to.host}); not followed",
                    path=shown(url),
                    status=status,
                )
            raise ConfigError(
                f"{who} redirects to {shown(to)}; give that URL instead",
                path=shown(url),
                status=status,
            )
        if status == 403:
            raise CredentialsRefused(
                f"{who} refused client id {self._config.client_id!r} access (403): ask the SIS "
                "admin to let it read users (and the scope it needs)",
                path=shown(url),
                status=status,
            )
        if status == 404:
            raise ConfigError(
                f"{who} has nothing at this address (404): check the URL and the version",
                path=shown(url),
                status=status,
            )
        raise ProviderError(f"{who} refused the request", path=shown(url), status=status)

    async def _retrying(self, once: Callable[[], Awaitable[T]], url: httpx.URL) -> T:
        policy = self._config.retry
        deadline = self._clock() + policy.timeout
        tried = 0

        try:
            async for attempt in stamina.retry_context(
                on=backoff_hook(policy, deadline=deadline, clock=self._clock),
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    tried += 1
                    if tried > 1:
                        self.retries += 1
                        log.info("retrying %s (attempt %d)", shown(url), tried)
                    return await once()
        except RetryLater as spent:
            error: SisApiError = spent.error
            raise type(error)(
                f"{error.message}, still after {tried} attempt{'s' * (tried != 1)}",
                path=error.path,
                status=error.status,
            ) from None
        raise AssertionError("unreachable: stamina either returns or raises")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
