"""URL rules shared by everything that sends the token: loopback hosts and origins."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl

import httpx

from canvas_observers.canvas.errors import ConfigurationError, UnsafeRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# First path segments of Canvas's own pages and API: a URL with one was pasted from the
# browser's address bar (or an API example), not the address of the site.
_PAGE_SEGMENTS = frozenset(
    {
        "about", "accounts", "api", "calendar", "conversations", "courses", "dashboard",
        "files", "grades", "groups", "login", "logout", "profile", "search", "users",
    }
)  # fmt: skip


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: what "same origin" means."""
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(scheme)


def check_base_url(base_url: str, *, allow_insecure: bool = False) -> httpx.URL:
    """Parse the Canvas URL; refuse what would expose the token (UnsafeRequest)."""
    given = base_url.strip()
    if given and "://" not in given and not given.startswith("/"):
        # A bare host ("school.instructure.com", as the browser's address bar shows it).
        raise ConfigurationError(
            f"the Canvas URL {given!r} has no scheme; use https://{given.rstrip('/')}"
        )
    try:
        url = httpx.URL(given)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"not a URL: {base_url!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"the Canvas URL must be http(s)://host: {base_url!r}")
    if url.scheme == "http" and not allow_insecure and not is_loopback(url.host):
        raise UnsafeRequest(
            f"refusing http:// to {url.host}: the token would travel in clear text "
            "(use https://, or pass --allow-insecure-http for a test server)"
        )
    if url.username or url.password:
        # httpx would send them as Basic auth instead of the Bearer token, and print them.
        raise ConfigurationError("the Canvas URL must not hold a user name or password")
    first = url.path.strip("/").split("/", 1)[0].lower()
    if first in _PAGE_SEGMENTS:
        raise ConfigurationError(
            f"{base_url.strip()} is a page of Canvas, not the site; use the site's root: "
            f"{canonical_url(url.copy_with(path='/'))}"
        )
    if url.query or url.fragment:
        raise ConfigurationError("the Canvas URL must not have a query or fragment")
    return url


def canonical_url(url: httpx.URL) -> str:
    """One spelling per Canvas: lower-case scheme and host, no default port, no trailing slash
    (``https://X.instructure.com:443/`` is ``https://x.instructure.com``)."""
    scheme, host, port = origin_of(url)
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    netloc = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{url.path.rstrip('/')}"


def explain_transport(exc: httpx.TransportError, url: httpx.URL) -> str | None:
    """Why a request got no answer, when retrying cannot help: a refused connection, an
    unknown host or a failed TLS handshake stays so for the next minutes, so the first call to
    Canvas says so at once instead of after every retry. None for anything else."""
    where = f"{url.host}:{origin_of(url)[2]}"
    refused = f"connection refused by {where}: nothing listens there; check the URL's port"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {url.host} was refused: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause)
            if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"):
                return (
                    f"TLS handshake failed: {where} answers in plain HTTP, not https; "
                    "check the URL's scheme and port"
                )
            return f"TLS handshake with {where} failed: {reason}"
        if isinstance(cause, ConnectionRefusedError):
            return refused
        if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
            return refused
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME:
            return f"unknown host {url.host}; check the Canvas URL"
        cause = cause.__cause__ or cause.__context__
    return None
