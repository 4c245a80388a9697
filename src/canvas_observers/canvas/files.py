"""Fetching a file Canvas points to (a report's CSV or zip): the one place a redirect is followed.

A report's file URL is on the Canvas origin, and Canvas answers it with a redirect to its file
store: on hosted Canvas a signed URL on another host (docs/canvas-behaviour.md, "Account
reports"). The token must never leave the Canvas origin, and a signed-URL store refuses a
request that carries an Authorization header anyway. So each hop is decided here, purely:

* a URL on the Canvas origin is fetched with the token;
* a URL on any other origin is fetched with no Authorization header at all, and only over
  https (plain http only to a loopback host, as for Canvas itself);
* at most ``MAX_REDIRECTS`` hops.

Log lines and errors show the scheme, host and path of a hop, never its query: a signed URL's
query is itself a credential.

A Canvas whose file URLs carry no verifier (the root account's feature
``disable_adding_uuid_verifier_in_api``) and that does not take API tokens on file paths
answers the download as it answers a browser without a session: a redirect to its login page.
That, or a web page where the file should be, is told apart here (``is_login_page``,
``looks_like_html``), so the caller can say what is wrong instead of failing to parse HTML.

A fetched file is Canvas's answer too, and its cells become names and logins in row details:
``redact_file`` takes the token out of it (out of each member of a zip), as the client does
for every JSON answer.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

import httpx

from canvas_observers.canvas.errors import CanvasError, UnsafeRequest
from canvas_observers.canvas.net import is_loopback, origin_of
from canvas_observers.core.redact import REDACTED

_CHUNK = 1 << 20  # a zip member is searched a megabyte at a time, never read whole for it

MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
BEHIND_LOGIN = (
    "Canvas sent the report's file to its login page: its file URLs carry no verifier (the "
    "root account's feature disable_adding_uuid_verifier_in_api) and it does not take API "
    "tokens on file paths, so the report cannot be downloaded with a token; read Canvas by "
    "look-ups (--canvas-state lookups), or ask your Canvas administrator or Instructure to let "
    "API tokens download files"
)


@dataclass(frozen=True, slots=True)
class Hop:
    """One request of a download: where, and whether it may carry the token."""

    url: httpx.URL
    with_token: bool

    @property
    def shown(self) -> str:
        """The hop as logs and errors show it: no query string."""
        return str(self.url.copy_with(query=None, fragment=None))


def first_hop(url: str, *, canvas: tuple[str, str, int | None], allow_insecure: bool) -> Hop:
    """The first request for a file URL Canvas gave (it may be relative to the Canvas origin)."""
    return _hop(httpx.URL(url), canvas=canvas, allow_insecure=allow_insecure)


def next_hop(
    current: Hop,
    location: str | None,
    *,
    canvas: tuple[str, str, int | None],
    allow_insecure: bool,
) -> Hop:
    """Where a redirect answer sends the download next; the token only stays on Canvas."""
    if not location:
        raise CanvasError("a redirect without a Location header", method="GET", path=current.shown)
    target = current.url.join(location)
    return _hop(target, canvas=canvas, allow_insecure=allow_insecure)


def _hop(url: httpx.URL, *, canvas: tuple[str, str, int | None], allow_insecure: bool) -> Hop:
    if url.scheme not in ("http", "https") or not url.host:
        raise UnsafeRequest(f"not an http(s) file URL: {url.scheme}://{url.host}")
    if url.username or url.password:
        raise UnsafeRequest("a file URL with a user name or password is not fetched")
    on_canvas = origin_of(url) == canvas
    if url.scheme == "http" and not on_canvas and not (allow_insecure or is_loopback(url.host)):
        raise UnsafeRequest(f"refusing plain http:// to the file store {url.host}")
    return Hop(url, with_token=on_canvas)


def is_login_page(hop: Hop) -> bool:
    """A hop to Canvas's own login page (``/login``, ``/login/canvas``...): where Canvas sends a
    request that has no session."""
    path = hop.url.path.rstrip("/")
    return hop.with_token and (path == "/login" or path.startswith("/login/"))


def looks_like_html(content_type: str | None, data: bytes) -> bool:
    """A web page where a CSV or a zip should be: an HTML content type, or a body that opens
    like HTML."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in HTML_TYPES:
        return True
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def redact_file(content: bytes, secrets: tuple[str, ...]) -> bytes:
    """``content`` with every secret replaced by ``[REDACTED]``: in the bytes of a CSV, in
    each member of a zip (whose compressed bytes would hide it). A zip is rebuilt only when a
    member holds a secret, which no report ever should: the usual file is returned as is."""
    needles = [s.encode("utf-8") for s in secrets if s]
    if not needles:
        return content
    if content[:2] != b"PK":
        for needle in needles:
            content = content.replace(needle, REDACTED.encode())
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
            if not any(_holds(archive, info, needles) for info in infos):
                return content
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rebuilt:
                for info in infos:
                    data = archive.read(info)
                    for needle in needles:
                        data = data.replace(needle, REDACTED.encode())
                    rebuilt.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            return out.getvalue()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError):
        return content  # not a zip after all: its reader says so, and shows none of its bytes


def _holds(archive: zipfile.ZipFile, info: zipfile.ZipInfo, needles: list[bytes]) -> bool:
    """Whether a member holds a needle, read a chunk at a time (a needle may span two)."""
    overlap = max(len(n) for n in needles) - 1
    tail = b""
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            window = tail + chunk
            if any(n in window for n in needles):
                return True
            tail = window[-overlap:] if overlap else b""
    return False
