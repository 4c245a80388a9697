"""Client edges found in review: proxy timeouts, redirects, credentials in URLs, endless pages."""

from __future__ import annotations

import re

import httpx
import pytest

from canvas_observers.canvas import client as client_module
from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError, ConfigurationError, ServerError
from canvas_observers.canvas.net import check_base_url
from canvas_observers.canvas.protocol import decipher

BASE = "https://canvas.example.edu"


def test_408_is_a_temporary_failure() -> None:
    """A proxy's 408 is retried like a 5xx (and is OutcomeUnknown for a POST), not a refusal."""
    with pytest.raises(ServerError):
        decipher("GET", "/api/v1/users/1", 408, {}, b"")


def test_a_redirect_is_a_configuration_error_naming_where() -> None:
    """A 301 is never followed: the user is told to use the URL it points to (query dropped)."""
    headers = {"Location": "https://new.example.edu/api/v1/users/self?access_token=x"}
    with pytest.raises(
        ConfigurationError, match=re.escape("https://new.example.edu/api/v1/users/self;")
    ):
        decipher("GET", "/api/v1/users/self", 301, headers, b"")


def test_credentials_in_the_canvas_url_are_refused() -> None:
    """user:password@ in the URL would go out as Basic auth and be printed: refused."""
    with pytest.raises(ConfigurationError, match="user name or password"):
        check_base_url("https://admin:secret@canvas.example.edu")


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


def test_a_server_wait_past_the_budget_is_not_waited_for() -> None:
    """Retry-After longer than the request's remaining time budget: give up now, not later."""
    from canvas_observers.canvas.errors import Throttled
    from canvas_observers.canvas.retry import RetryLater, RetryPolicy, backoff_hook

    policy = RetryPolicy(timeout=10.0, retry_after_max=60.0)
    now = [100.0]
    hook = backoff_hook(policy, deadline=105.0, clock=lambda: now[0])
    assert hook(RetryLater(Throttled("slow down"), wait=3.0)) == 3.0
    assert hook(RetryLater(Throttled("slow down"), wait=30.0)) is False
    assert hook(RetryLater(Throttled("slow down"), wait=None)) is True  # stamina's backoff
    assert hook(ValueError("not ours")) is False
