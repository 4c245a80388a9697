"""Errors of the OneRoster API reader, and the client secret's wrapper.

Every error says what went wrong and where (the URL path, the collection, the page offset,
the record) and never holds the client secret or an access token: messages are built from
paths and the client id only. ``Secret`` keeps the secret out of ``repr()`` and ``str()``, so
a dataclass or a traceback that shows it shows ``Secret('********')``.
"""

from __future__ import annotations

from canvas_observers.core.errors import CanvasObserversError


class Secret:
    """A client secret that does not print itself; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret is not pickled")


class SisApiError(CanvasObserversError):
    """The fetch from the SIS's OneRoster API did not complete; nothing was written.

    ``path`` is the URL path (never the query, never a credential); ``status`` the HTTP status
    when there was an answer.
    """

    def __init__(self, message: str, *, path: str = "", status: int | None = None) -> None:
        self.message = message
        self.path = path
        self.status = status
        super().__init__(message)

    def __str__(self) -> str:
        where = self.path + (f" -> {self.status}" if self.status is not None else "")
        return f"{self.message} ({where})" if where else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, path={self.path!r}, status={self.status!r})"
        )


class ConfigError(SisApiError):
    """The settings cannot work (URL, version, secret file): fix them and run again."""


class CredentialsRefused(SisApiError):
    """The token endpoint refused the client id and secret, or the API refused every token."""


class UnsafeUrl(SisApiError):
    """Refused before sending: another origin (a next link, a redirect), or http:// to a
    remote host."""


class MalformedRecord(SisApiError):
    """A record of a collection is not a OneRoster object the bundle could hold."""


class ProviderError(SisApiError):
    """The provider failed: errors past the retry budget, endless paging, unreadable pages."""
