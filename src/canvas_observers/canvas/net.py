"""URL rules shared by everything that sends the token: loopback hosts and origins."""

from __future__ import annotations

import ipaddress

import httpx

from canvas_observers.canvas.errors import ConfigurationError, UnsafeRequest

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


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
    try:
        url = httpx.URL(base_url.strip())
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"not a URL: {base_url!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"the Canvas URL must be http(s)://host: {base_url!r}")
    if url.scheme == "http" and not allow_insecure and not is_loopback(url.host):
        raise UnsafeRequest(
            f"refusing http:// to {url.host}: the token would travel in clear text "
            "(use https://, or allow insecure explicitly)"
        )
    if url.query or url.fragment:
        raise ConfigurationError("the Canvas URL must not have a query or fragment")
    if url.username or url.password:
        # httpx would send them as Basic auth instead of the Bearer token, and print them.
        raise ConfigurationError("the Canvas URL must not hold a user name or password")
    return url
