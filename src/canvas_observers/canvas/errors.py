"""The one exception tree for everything that talks to Canvas.

Split by what the caller should do about it::

    CanvasError                       every Canvas problem; .method .path .status
    ├── ConfigurationError            fix the settings, then run again (the run stops)
    │   ├── InvalidToken              401 with WWW-Authenticate: missing/unknown/expired token
    │   ├── NotAllowed                401/403 "unauthorized" JSON (or 403 {}): this token may not
    │   └── UnsafeRequest             refused before sending: http:// to a non-loopback host,
    │                                 a pagination link that leaves the Canvas origin
    ├── NotFound                      404: no such object (or one this token may not see)
    ├── FileBehindLogin               a file download led to Canvas's login page (or a web
    │                                 page): this Canvas takes no token on file paths
    ├── RequestRejected               400/422: Canvas said no; .errors holds the parsed body,
    │   │                             .error_types() e.g. {"taken"}, .messages
    │   └── Conflict                  409: Canvas is already doing it; .location names what
    ├── RetryableError                retried by the client; raised once retries are spent
    │   ├── Throttled                 429, or 403 "Rate Limit Exceeded" text
    │   ├── ServerError               5xx
    │   └── TransportError            timeout, refused or dropped connection
    └── OutcomeUnknown                a POST got no answer (timeout, dropped connection, 5xx):
                                      Canvas may or may not have done it; look it up, never re-send

``NotAllowed`` is raised for a row-level refusal too (a pairing code for a student with no
enrollment is refused with the same 401/403), so the sync decides by operation whether it
stops the run or skips the row.

No exception message, ``repr`` or ``str`` ever contains the token: ``path`` is the URL path
and query only, and the Authorization header is never attached. A message may quote Canvas's
answer (its error message, a redirect's Location), and an answer may echo the token: the
client calls ``redacted`` on every error built from an answer before raising it, so the
token is ``[REDACTED]`` in the message and in ``RequestRejected.errors`` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.redact import redact, redact_json


class CanvasError(CanvasObserversError):
    """Base of every Canvas error; carries the request's method, path and the status."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
    ) -> None:
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        super().__init__(message)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        status = f" -> {self.status}" if self.status is not None else ""
        return f"{self.message} ({where}{status})" if where else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, method={self.method!r}, "
            f"path={self.path!r}, status={self.status!r})"
        )

    def redacted(self, secrets: tuple[str, ...]) -> Self:
        """This error with every secret replaced in what it carries from Canvas's answer (in
        place: the client calls it on a fresh error, before anyone has seen it)."""
        self.message = redact(self.message, secrets)
        self.path = redact(self.path, secrets)
        self.args = (self.message,)
        return self


class ConfigurationError(CanvasError):
    """The settings are wrong for this Canvas: the run cannot go on."""


class InvalidToken(ConfigurationError):
    """401 with WWW-Authenticate: the token is missing, unknown, expired or revoked."""


class NotAllowed(ConfigurationError):
    """401/403 with the "unauthorized" body (or 403 ``{}``): authenticated but not permitted."""


class UnsafeRequest(ConfigurationError):
    """Refused before sending: the token would travel in clear text or to another host."""


class NotFound(CanvasError):
    """404: no such object, or one the token may not see (Canvas does not tell which)."""


class FileBehindLogin(CanvasError):
    """A file Canvas pointed to was answered with its login page (a redirect to ``/login``, or
    HTML where a CSV or zip should be): the URL carries no verifier and this Canvas does not
    take an API token on file paths, so no client with a token can fetch it."""


class RequestRejected(CanvasError):
    """400/422: Canvas refused the request; ``errors`` is the parsed JSON error body."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        errors: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status)
        self.errors = errors

    def redacted(self, secrets: tuple[str, ...]) -> Self:
        """Also the parsed error body, which ``messages`` and the sync's details quote."""
        self.errors = redact_json(self.errors, secrets)
        return super().redacted(secrets)

    def error_types(self, attribute: str | None = None) -> set[str]:
        """Every ``type`` string anywhere in the error body (e.g. ``{"taken"}``); with
        ``attribute``, only those of errors on that attribute (a model error names it), so a
        request that sets two fields can tell which one Canvas refused."""
        return {
            str(item["type"])
            for item in _walk(self.errors)
            if "type" in item and (attribute is None or item.get("attribute") == attribute)
        }

    @property
    def messages(self) -> list[str]:
        """Every ``message`` string anywhere in the error body."""
        return [str(item["message"]) for item in _walk(self.errors) if "message" in item]


class Conflict(RequestRejected):
    """409: Canvas is already doing what was asked (a report of the same type and parameters
    that is still running); ``errors`` is the parsed body, ``location`` the Location header."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        errors: Any = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, errors=errors)
        self.location = location


class RetryableError(CanvasError):
    """A temporary failure; the client retries these and raises one when retries run out."""


class Throttled(RetryableError):
    """Canvas's rate limiter refused the request (429, or 403 "Rate Limit Exceeded")."""


class ServerError(RetryableError):
    """Canvas answered 5xx."""


class TransportError(RetryableError):
    """No answer: timeout, refused or dropped connection."""


class OutcomeUnknown(CanvasError):
    """A non-idempotent write got no usable answer: it may or may not have happened.

    The client never re-sends it; the caller looks the result up instead.
    """


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Yield every dict inside a nested JSON value."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
