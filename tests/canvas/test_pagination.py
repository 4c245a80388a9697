"""Reading every page of a list: an endless next link stops, a user on two pages is listed once."""

from __future__ import annotations

import httpx
import pytest

from canvas_observers.canvas import client as client_module
from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError, ConfigurationError, UnsafeRequest

BASE = "https://canvas.example.edu"


async def test_endless_pagination_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """A next link that never ends is followed up to a limit, then a clear error."""
    monkeypatch.setattr(client_module, "MAX_PAGES", 5)
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        served.append(page)
        link = f'<{BASE}/api/v1/users/1/observees?page={page + 1}&per_page=100>; rel="next"'
        return httpx.Response(200, json=[{"id": page, "name": "x"}], headers={"Link": link})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=BASE, token="t0ken")
        with pytest.raises(CanvasError, match="after 5 pages") as caught:
            await canvas.list_observees(1)
    assert len(served) == 5
    assert caught.value.method == "GET"
    assert caught.value.path == "/api/v1/users/1/observees?page=6&per_page=100"


async def test_a_user_repeated_across_pages_is_listed_once() -> None:
    """A page boundary that shifted while reading does not list one user twice."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("page") == "2":
            return httpx.Response(200, json=[{"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
        link = f'<{BASE}/api/v1/users/1/observees?page=2&per_page=100>; rel="next"'
        body = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
        return httpx.Response(200, json=body, headers={"Link": link})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=BASE, token="t0ken")
        assert [u.id for u in await canvas.list_observees(1)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("link", "error"),
    [
        (
            "https://elsewhere.example.edu/api/v1/users/1/observees?page=2",
            "pagination link leaves the Canvas origin; not followed "
            "(GET /api/v1/users/1/observees?include%5B%5D=email&per_page=100)",
        ),
        (
            "http://[::1/api/v1/users/1/observees?page=2",
            "unreadable pagination link "
            "(GET /api/v1/users/1/observees?include%5B%5D=email&per_page=100)",
        ),
    ],
)
async def test_a_next_link_off_the_origin_or_unreadable_is_refused(link: str, error: str) -> None:
    """The error names the page the link was on (path and query, never the token), and no
    request goes to the link."""
    served: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(request.url)
        return httpx.Response(
            200, json=[{"id": 1, "name": "a"}], headers={"Link": f'<{link}>; rel="next"'}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=BASE, token="t0ken")
        with pytest.raises(CanvasError) as caught:
            await canvas.list_observees(1)
    assert str(caught.value) == error
    assert [url.host for url in served] == ["canvas.example.edu"]


async def test_a_next_link_back_to_a_page_already_read_ends_the_list() -> None:
    """Page 2 links back to page 1: the list is what the two pages held, read once each."""
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page", "1")
        served.append(page)
        if page == "1":
            link = f'<{BASE}/api/v1/users/1/observees?page=2&per_page=100>; rel="next"'
        else:
            link = f'<{BASE}/api/v1/users/1/observees?page=1&per_page=100>; rel="next"'
        return httpx.Response(200, json=[{"id": int(page), "name": page}], headers={"Link": link})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=BASE, token="t0ken")
        # the first request has no page parameter: its link back names page=1, a new URL
        users = await canvas.list_observees(1)
    assert sorted(u.id for u in users) == [1, 2]
    assert served == ["1", "2", "1"]


async def test_a_list_request_answered_without_a_list_of_objects_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[1, 2])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=BASE, token="t0ken")
        with pytest.raises(CanvasError) as caught:
            await canvas.list_observees(1)
    assert str(caught.value) == (
        "Canvas answered a list request without a JSON list "
        "(GET /api/v1/users/1/observees?include%5B%5D=email&per_page=100)"
    )


async def test_plain_http_is_refused_unless_allowed_by_default() -> None:
    """Without ``allow_insecure`` a client on a remote http:// Canvas is not made at all."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(UnsafeRequest):
            CanvasClient(http, base_url="http://canvas.example.edu", token="t0ken")


@pytest.mark.parametrize("token", ["", "   ", "S3CR\nET", "S3CR\r\nET"])
async def test_an_empty_or_malformed_token_is_refused(token: str) -> None:
    """Nothing to send, or a line break inside (it would split the header): refused, and
    the error says it is the token (never showing it)."""
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError) as caught:
            CanvasClient(http, base_url=BASE, token=token)
    assert str(caught.value).startswith("the Canvas token ")
    assert "S3CR" not in str(caught.value)


async def test_the_token_and_timeout_that_are_accepted() -> None:
    """Any letters make a token (an X too); a timeout must be above zero, a fraction is fine."""
    async with httpx.AsyncClient() as http:
        CanvasClient(http, base_url=BASE, token="tokenXX", timeout=0.5)
        with pytest.raises(ValueError, match=r"^timeout must be positive$"):
            CanvasClient(http, base_url=BASE, token="t0ken", timeout=0)


async def test_a_canvas_under_a_path_gets_every_request_under_it() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"id": 1, "name": "Admin"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        canvas = CanvasClient(http, base_url=f"{BASE}/canvas/", token="t0ken")
        await canvas.get_self()
    assert seen == ["/canvas/api/v1/users/self"]
