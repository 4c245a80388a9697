"""Fetching a report's file: the redirect is followed, and the token never leaves the Canvas
origin (the file store refuses a request that carries it, and must never see it anyway)."""

from __future__ import annotations

import io
import logging
import zipfile

import httpx
import pytest

from canvas_observers.canvas import (
    CanvasClient,
    CanvasError,
    NotFound,
    RetryPolicy,
    ServerError,
    TransportError,
    UnsafeRequest,
    files,
)
from canvas_observers.canvas.errors import FileBehindLogin
from canvas_observers.canvas.files import BEHIND_LOGIN, MAX_REDIRECTS, first_hop, next_hop
from canvas_observers.cli.common import UrlQueryRedactor

CANVAS = ("https", "school.instructure.com", 443)
TOKEN = "files-S3CRET-token"


def test_hops_carry_the_token_only_on_the_canvas_origin() -> None:
    """Same origin: with the token; another host, port or scheme: without."""
    hop = first_hop(
        "https://school.instructure.com/files/9/download?verifier=v",
        canvas=CANVAS,
        allow_insecure=False,
    )
    assert hop.with_token
    store = next_hop(
        hop,
        "https://store.example.com/9/report.zip?Signature=x",
        canvas=CANVAS,
        allow_insecure=False,
    )
    assert not store.with_token
    assert store.shown == "https://store.example.com/9/report.zip"  # never the query
    other_port = next_hop(
        hop, "https://school.instructure.com:8443/x", canvas=CANVAS, allow_insecure=False
    )
    assert not other_port.with_token
    relative = next_hop(hop, "/files/9/other", canvas=CANVAS, allow_insecure=False)
    assert relative.with_token and relative.url.host == "school.instructure.com"


CREDENTIALS = "a file URL with a user name or password is not fetched"


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        (
            "http://store.example.com/9?Signature=S",
            "refusing plain http:// to the file store store.example.com",
        ),
        ("ftp://store.example.com/9", "not an http(s) file URL: ftp://store.example.com"),
        ("https://u:p@store.example.com/9", CREDENTIALS),
        ("https://u@store.example.com/9", CREDENTIALS),  # a user name alone
        ("https://:p@store.example.com/9", CREDENTIALS),  # a password alone
    ],
)
def test_an_unsafe_file_store_is_refused(location: str, refusal: str) -> None:
    """Plain http to a remote store, another scheme, credentials in the URL: refused, with the
    reason and the host, never the query."""
    hop = first_hop(
        "https://school.instructure.com/files/9/download", canvas=CANVAS, allow_insecure=False
    )
    with pytest.raises(UnsafeRequest) as caught:
        next_hop(hop, location, canvas=CANVAS, allow_insecure=False)
    assert str(caught.value) == refusal
    loopback = next_hop(hop, "http://127.0.0.1:9/x", canvas=CANVAS, allow_insecure=False)
    assert not loopback.with_token


def test_allow_insecure_lets_a_plain_http_store_through_still_without_the_token() -> None:
    """``allow_insecure`` (as for an http:// Canvas) lifts the https rule for the file store,
    on the first hop and after a redirect; the token still stays on the Canvas origin."""
    canvas = ("http", "canvas.test", 80)
    first = first_hop("http://store.example.com/9?Signature=S", canvas=canvas, allow_insecure=True)
    assert not first.with_token
    on_canvas = first_hop("http://canvas.test/files/9/download", canvas=canvas, allow_insecure=True)
    assert on_canvas.with_token
    store = next_hop(on_canvas, "http://store.example.com/9", canvas=canvas, allow_insecure=True)
    assert not store.with_token
    with pytest.raises(UnsafeRequest):
        next_hop(on_canvas, "http://store.example.com/9", canvas=canvas, allow_insecure=False)


@pytest.mark.parametrize("location", [None, ""])
def test_a_redirect_without_a_location_is_an_error_naming_no_query(location: str | None) -> None:
    """A 3xx with no Location header (or an empty one) stops the download; the error shows the
    hop without its query."""
    hop = first_hop(
        "https://school.instructure.com/files/9/download?verifier=SECRET",
        canvas=CANVAS,
        allow_insecure=False,
    )
    with pytest.raises(CanvasError) as caught:
        next_hop(hop, location, canvas=CANVAS, allow_insecure=False)
    assert str(caught.value) == (
        "a redirect without a Location header (GET https://school.instructure.com/files/9/download)"
    )


def client_on(handler: httpx.MockTransport) -> CanvasClient:
    return CanvasClient(
        httpx.AsyncClient(transport=handler),
        base_url="https://school.instructure.com",
        token=TOKEN,
        retry=RetryPolicy.none(),
    )


async def test_download_follows_the_redirect_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Canvas redirects to a signed URL on another host: that request has no Authorization
    header, the bytes come back, and no log line shows the signature."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "school.instructure.com":
            return httpx.Response(
                302, headers={"Location": "https://store.example.com/r.zip?Signature=SIG"}
            )
        if "authorization" in request.headers:
            return httpx.Response(400, text="only one auth mechanism allowed")
        return httpx.Response(200, content=b"PK-zip-bytes")

    caplog.set_level(logging.DEBUG)
    client = client_on(httpx.MockTransport(answer))
    data = await client.download("https://school.instructure.com/files/9/download?verifier=v")
    assert data == b"PK-zip-bytes"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in seen[1].headers
    ours = [r for r in caplog.records if r.name.startswith("canvas_observers")]
    assert ours and all("SIG" not in r.getMessage() and TOKEN not in r.getMessage() for r in ours)
    assert client.counts.by_operation == {"report_file": 1, "report_file_store": 1}


async def test_endless_redirects_and_store_errors_are_errors() -> None:
    """A redirect loop stops after a few hops; a store's 403 is an error naming no query."""

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://school.instructure.com/again"})

    with pytest.raises(CanvasError, match="redirects"):
        await client_on(httpx.MockTransport(loop)).download("https://school.instructure.com/x")

    def denied(request: httpx.Request) -> httpx.Response:
        if request.url.host == "school.instructure.com":
            return httpx.Response(
                302, headers={"Location": "https://store.example.com/r?Signature=S"}
            )
        return httpx.Response(403, text="AccessDenied")

    with pytest.raises(CanvasError) as caught:
        await client_on(httpx.MockTransport(denied)).download("https://school.instructure.com/x")
    assert caught.value.status == 403
    assert "Signature" not in str(caught.value)


@pytest.mark.parametrize("redirects", [MAX_REDIRECTS, MAX_REDIRECTS + 1])
async def test_at_most_max_redirects_hops_are_followed(redirects: int) -> None:
    """A chain of MAX_REDIRECTS redirects on Canvas is followed to the file, each hop with the
    token (it stays on the origin); one more is an error naming the hop, never its query."""
    seen: list[httpx.Request] = []

    def chain(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= redirects:
            return httpx.Response(302, headers={"Location": f"/files/9/hop{len(seen)}?v=SECRET"})
        return httpx.Response(200, content=b"report")

    client = client_on(httpx.MockTransport(chain))
    if redirects == MAX_REDIRECTS:
        assert await client.download("https://school.instructure.com/files/9/download") == (
            b"report"
        )
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
        counts = client.counts
        assert counts.requests == MAX_REDIRECTS + 1
        assert counts.by_method == {"GET": MAX_REDIRECTS + 1}
        assert counts.by_operation == {"report_file": MAX_REDIRECTS + 1}
        return
    with pytest.raises(CanvasError) as caught:
        await client.download("https://school.instructure.com/files/9/download")
    assert str(caught.value) == (
        f"more than {MAX_REDIRECTS} redirects for a file "
        f"(GET https://school.instructure.com/files/9/hop{MAX_REDIRECTS + 1})"
    )
    assert len(seen) == MAX_REDIRECTS + 1


async def test_an_insecure_client_fetches_a_plain_http_store_without_the_token() -> None:
    """A client allowed plain http (a test Canvas) may fetch from an http:// store, the file
    URL Canvas gave or the one it redirects to, and the token still goes to Canvas only."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "canvas.test":
            return httpx.Response(302, headers={"Location": "http://store.test/r.zip?Sig=S"})
        return httpx.Response(200, content=b"zip")

    client = CanvasClient(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        base_url="http://canvas.test",
        token=TOKEN,
        allow_insecure=True,
        retry=RetryPolicy.none(),
    )
    assert await client.download("http://canvas.test/files/9/download") == b"zip"
    assert await client.download("http://store.test/r.zip?Sig=S") == b"zip"
    assert [("authorization" in r.headers) for r in seen] == [True, False, False]
    assert repr(client) == "CanvasClient(base_url='http://canvas.test', token=<redacted>)"


async def test_the_download_follows_each_hop_itself_even_on_a_redirecting_http_client() -> None:
    """An injected httpx client set to follow redirects does not follow them for a download:
    each hop is the client's own, so the token's rule holds whatever the client was given."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "school.instructure.com":
            return httpx.Response(302, headers={"Location": "https://store.example.com/r.zip"})
        return httpx.Response(200, content=b"zip")

    client = CanvasClient(
        httpx.AsyncClient(transport=httpx.MockTransport(answer), follow_redirects=True),
        base_url="https://school.instructure.com",
        token=TOKEN,
        retry=RetryPolicy.none(),
    )
    assert await client.download("https://school.instructure.com/files/9/download") == b"zip"
    assert [("authorization" in r.headers) for r in seen] == [True, False]
    assert client.counts.by_operation == {"report_file": 1, "report_file_store": 1}


async def test_a_store_that_does_not_answer_is_a_transport_error_naming_no_query(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The file store drops the connection: a TransportError that shows the hop without its
    query, counted as a transport error; each hop answered is logged the same way."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "school.instructure.com":
            return httpx.Response(302, headers={"Location": "https://store.example.com/r?Sig=S"})
        raise httpx.ConnectError("connection refused", request=request)

    caplog.set_level(logging.DEBUG, logger="canvas_observers")
    client = client_on(httpx.MockTransport(answer))
    with pytest.raises(TransportError) as caught:
        await client.download("https://school.instructure.com/files/9/download")
    assert str(caught.value) == "no answer (ConnectError) (GET https://store.example.com/r)"
    assert client.counts.transport_errors == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("canvas_observers")]
    assert "file GET https://school.instructure.com/files/9/download -> 302" in lines


def answers(*statuses: int) -> httpx.MockTransport:
    """Canvas redirects to the store; the store answers these statuses in turn, then 200."""
    left = list(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "school.instructure.com":
            return httpx.Response(302, headers={"Location": "https://store.example.com/r?Sig=S"})
        return httpx.Response(left.pop(0) if left else 200, content=b"zip")

    return httpx.MockTransport(answer)


def retrying(transport: httpx.MockTransport) -> CanvasClient:
    return CanvasClient(
        httpx.AsyncClient(transport=transport),
        base_url="https://school.instructure.com",
        token=TOKEN,
        retry=RetryPolicy(attempts=2),
    )


@pytest.mark.usefixtures("no_retry_sleeps")
@pytest.mark.parametrize(
    ("statuses", "error"),
    [
        ((500,), None),  # a store's 5xx is retried like Canvas's own
        ((503, 503), "the file store failed (GET https://store.example.com/r -> 503)"),
        ((404,), "the file could not be fetched (GET https://store.example.com/r -> 404)"),
        ((300,), "the file could not be fetched (GET https://store.example.com/r -> 300)"),
    ],
)
async def test_what_the_file_store_answers(statuses: tuple[int, ...], error: str | None) -> None:
    """A 5xx from the store is retried, then a ServerError; any other answer that is neither
    a success nor a redirect is an error; both name the store's hop without its query."""
    client = retrying(answers(*statuses))
    if error is None:
        assert await client.download("https://school.instructure.com/files/9") == b"zip"
        assert client.counts.retries == 1
        return
    with pytest.raises(CanvasError) as caught:
        await client.download("https://school.instructure.com/files/9")
    assert str(caught.value) == error


@pytest.mark.usefixtures("no_retry_sleeps")
async def test_canvas_own_errors_on_a_file_url_are_its_usual_ones() -> None:
    """On the Canvas origin a 503 is retried, and a 404 is Canvas's NotFound for that path
    (never the query)."""
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503 if len(calls) == 1 else 200, content=b"csv")

    assert (
        await retrying(httpx.MockTransport(flaky)).download(
            "https://school.instructure.com/files/9?verifier=V"
        )
        == b"csv"
    )

    def missing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"errors": [{"message": "The specified resource does not exist."}]}
        )

    with pytest.raises(NotFound) as caught:
        await retrying(httpx.MockTransport(missing)).download(
            "https://school.instructure.com/files/9?verifier=V"
        )
    assert caught.value.status == 404
    assert caught.value.method == "GET"
    assert caught.value.path == "https://school.instructure.com/files/9"

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    with pytest.raises(ServerError) as failed:
        await retrying(httpx.MockTransport(down)).download("https://school.instructure.com/f/9")
    assert failed.value.status == 503


@pytest.mark.usefixtures("no_retry_sleeps")
async def test_each_dropped_connection_is_counted() -> None:
    def dropped(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection reset", request=request)

    client = retrying(httpx.MockTransport(dropped))
    with pytest.raises(TransportError):
        await client.download("https://school.instructure.com/files/9")
    assert client.counts.transport_errors == 2


def test_the_cli_log_filter_drops_url_queries() -> None:
    """httpx's own request lines lose their query (a signed URL's signature) in the CLI's logs."""
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: %s %s",
        ("GET", httpx.URL("https://s.example/r.zip?Signature=SIG")),
        None,
    )
    assert UrlQueryRedactor().filter(record)
    assert "SIG" not in record.getMessage()
    assert "https://s.example/r.zip" in record.getMessage()


@pytest.mark.parametrize("zipped", [False, True], ids=["csv", "zip"])
async def test_a_downloaded_file_that_echoes_the_token_is_redacted(zipped: bool) -> None:
    """A report file whose cells hold the token (a CSV, or a member of a zip) comes back with
    `[REDACTED]` there; a file without it comes back byte for byte."""
    rows = f"canvas_user_id,login_id,full_name\n5,pat@x.test,Pat {TOKEN}\n".encode()
    clean = b"canvas_user_id,login_id,full_name\n6,kim@x.test,Kim\n"

    def packed(*members: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for n, member in enumerate(members):
                archive.writestr(f"t{n}.csv", member)
        return out.getvalue()

    for content, echoed in ((rows, True), (clean, False)):
        body = packed(clean, content) if zipped else content

        def answer(_request: httpx.Request, body: bytes = body) -> httpx.Response:
            return httpx.Response(200, content=body)

        data = await client_on(httpx.MockTransport(answer)).download(
            "https://school.instructure.com/files/9/download"
        )
        if not echoed:
            assert data == body
            continue
        text = (
            b"".join(zipfile.ZipFile(io.BytesIO(data)).read(n) for n in ("t0.csv", "t1.csv"))
            if zipped
            else data
        )
        assert TOKEN.encode() not in text
        assert b"5,pat@x.test,Pat [REDACTED]\n" in text


@pytest.mark.usefixtures("no_retry_sleeps")
@pytest.mark.parametrize("host", ["school.instructure.com", "store.example.com"])
@pytest.mark.parametrize(("retry_after", "retried"), [("5", True), ("3600", False)])
async def test_a_file_hops_retry_after_is_the_wait_asked_for(
    host: str, retry_after: str, retried: bool
) -> None:
    """A 503 with Retry-After, from Canvas's file URL or from the store, is waited for as it
    asks: a wait that fits the request's time budget (30 s here) is retried, and one that
    would outlast it (an hour, capped at a minute, still past the budget) gives up at once
    with the 503, as the rest of the client does. (Retries sleep no time in tests; what is
    asked for decides whether a retry is made at all.)"""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.host)
        if request.url.host != host:  # Canvas, sending the download to the store
            return httpx.Response(302, headers={"Location": "https://store.example.com/r?Sig=S"})
        if sent.count(host) == 1:
            return httpx.Response(503, headers={"Retry-After": retry_after})
        return httpx.Response(200, content=b"zip")

    client = CanvasClient(
        httpx.AsyncClient(transport=httpx.MockTransport(answer)),
        base_url="https://school.instructure.com",
        token=TOKEN,
        retry=RetryPolicy(attempts=3, timeout=30.0),
    )
    if retried:
        assert await client.download("https://school.instructure.com/files/9") == b"zip"
    else:
        with pytest.raises(ServerError) as caught:
            await client.download("https://school.instructure.com/files/9")
        assert caught.value.status == 503
    assert sent.count(host) == (2 if retried else 1)
    assert client.counts.retries == (1 if retried else 0)


@pytest.mark.parametrize(
    ("canvas", "store", "shown", "status"),
    [
        # Canvas sends the download to its own login page: the hop that did is named.
        (
            httpx.Response(302, headers={"Location": "/login/canvas"}),
            None,
            "https://school.instructure.com/files/9/download",
            302,
        ),
        # The store answers a web page by its content type alone (a body not opening as HTML).
        (
            httpx.Response(302, headers={"Location": "https://store.example.com/r?Sig=S"}),
            httpx.Response(
                200, headers={"Content-Type": "text/html; charset=utf-8"}, content=b"Sign in"
            ),
            "https://store.example.com/r",
            200,
        ),
    ],
)
async def test_a_file_behind_the_login_page_is_said_so(
    canvas: httpx.Response, store: httpx.Response | None, shown: str, status: int
) -> None:
    """FileBehindLogin, with what to do, the hop (never its query) and Canvas's status."""

    def answer(request: httpx.Request) -> httpx.Response:
        return canvas if request.url.host == "school.instructure.com" else store or canvas

    with pytest.raises(FileBehindLogin) as caught:
        await client_on(httpx.MockTransport(answer)).download(
            "https://school.instructure.com/files/9/download?verifier=V"
        )
    assert (caught.value.method, caught.value.path, caught.value.status) == ("GET", shown, status)
    assert str(caught.value) == f"{BEHIND_LOGIN} (GET {shown} -> {status})"


# -- what the download judges and redacts in a file, read directly --------------------------


@pytest.mark.parametrize(
    ("path", "login"),
    [
        ("/login", True),
        ("/login/", True),
        ("/login/canvas", True),
        ("/login/saml/3", True),
        ("/LOGIN", False),  # Canvas's routes are lower-case; this is some other page
        ("/loginx", False),
        ("/loginX", False),
        ("/login%20", False),  # a path that only starts like it
        ("/files/9/login", False),
    ],
)
def test_a_hop_to_canvass_login_page_is_known_by_its_path(path: str, login: bool) -> None:
    """``/login`` itself, with a trailing slash, or one of its providers' pages; only on Canvas
    (a file store's /login is the store's business)."""
    canvas = files.Hop(httpx.URL(f"https://school.instructure.com{path}?x=1"), with_token=True)
    store = files.Hop(httpx.URL(f"https://store.example{path}"), with_token=False)
    assert (files.is_login_page(canvas), files.is_login_page(store)) == (login, False)


@pytest.mark.parametrize(
    ("content_type", "body", "page"),
    [
        ("text/html; charset=utf-8; x=y", b"Sign in", True),  # the type, whatever follows
        ("application/octet-stream", b"<!DOCTYPE html><title>Log in</title>", True),
        ("application/octet-stream", b"\n\t  <!doctype HTML>", True),
        ("text/csv", b"  <HTML lang=en>", True),
        (None, b"<html>", True),
        (None, b" " * 507 + b"<html>", True),
        (None, b" " * 508 + b"<html>", False),  # only the first 512 bytes are looked at
        ("text/csv", b"canvas_user_id,user_id\n1,<html>\n", False),
        ("application/zip", b"PK\x03\x04<html>", False),
    ],
)
def test_a_web_page_is_known_by_its_type_or_its_first_bytes(
    content_type: str | None, body: bytes, page: bool
) -> None:
    assert files.looks_like_html(content_type, body) is page


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


TOKEN = "7~" + "k" * 62


def test_a_zip_without_the_token_is_returned_as_it_came() -> None:
    """The usual report file holds no secret: it is returned byte for byte, not rebuilt (which
    would deflate its stored members), even a member longer than the megabyte read at a time."""
    content = zipped({"users.csv": b"a,b\n" * 400_000, "logins.csv": b"x\n"}, zipfile.ZIP_STORED)
    assert files.redact_file(content, (TOKEN,)) == content


@pytest.mark.parametrize(
    ("token", "data"),
    [
        ("XXab~cd", b"ab~cd,1\n" * 10),  # a member that starts with the token's end
        ("X", b"a,b\n" * 400_000),  # a one-character token, a member past the first megabyte
    ],
)
def test_only_the_whole_token_makes_a_zip_rebuilt(token: str, data: bytes) -> None:
    """A member holding part of the token, where it starts or where a megabyte ends, holds no
    token: the file is returned as it came."""
    content = zipped({"users.csv": data}, zipfile.ZIP_STORED)
    assert files.redact_file(content, (token,)) == content


@pytest.mark.parametrize("before", [files._CHUNK - len(TOKEN) + 1, files._CHUNK - 1])
def test_a_token_across_the_megabyte_boundary_is_found_and_redacted(before: int) -> None:
    """A member is searched a megabyte at a time; a token whose bytes fall on both sides of a
    boundary (all but one before it, or one) is found all the same."""
    data = b"." * before + TOKEN.encode() + b"." * 10
    content = zipped({"users.csv": data})
    with zipfile.ZipFile(io.BytesIO(files.redact_file(content, (TOKEN,)))) as rebuilt:
        assert rebuilt.read("users.csv") == b"." * before + b"[REDACTED]" + b"." * 10


def test_a_rebuilt_zip_is_compressed_whatever_the_original_was() -> None:
    """A zip rebuilt to redact a token is deflated member by member, even when Canvas stored
    them: a report of a hundred thousand users stays small."""
    content = zipped({"users.csv": b"id," + TOKEN.encode() + b"\n" * 1000}, zipfile.ZIP_STORED)
    with zipfile.ZipFile(io.BytesIO(files.redact_file(content, (TOKEN,)))) as rebuilt:
        (info,) = rebuilt.infolist()
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert rebuilt.read(info) == b"id,[REDACTED]" + b"\n" * 1000
