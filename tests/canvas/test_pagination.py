"""Reading every page of a list: an endless next link stops, a user on two pages is listed once."""

from __future__ import annotations

import httpx
import pytest

from canvas_observers.canvas import client as client_module
from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError

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
        with pytest.raises(CanvasError, match="after 5 pages"):
            await canvas.list_observees(1)
    assert len(served) == 5


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
