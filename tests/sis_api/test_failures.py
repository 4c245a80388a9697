"""A fetch that does not complete is a clear error and writes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from canvas_observers.canvas.retry import RetryPolicy
from canvas_observers.sis_api import (
    CredentialsRefused,
    MalformedRecord,
    ProviderError,
    Secret,
    UnsafeUrl,
)

from .conftest import CLIENT_ID, SECRET
from .helpers import api_config, fake_api, fetch, state


async def test_bad_credentials_name_the_client_and_token_url(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A wrong secret: CredentialsRefused naming the client id and token URL, nothing written."""
    app = fake_api(samples["1.1"])
    with pytest.raises(CredentialsRefused) as caught:
        await fetch(app, tmp_path / "snap", api_config(client_secret=Secret("wrong-secret")))
    text = str(caught.value)
    assert CLIENT_ID in text and "http://127.0.0.1/oauth/access_token" in text
    assert "invalid_client" in text and "wrong-secret" not in text
    assert state(app).requests["token"] == 1  # a refusal is not retried
    assert not (tmp_path / "snap").exists()


async def test_basic_refused_then_body_accepted(samples: dict[str, Path], tmp_path: Path) -> None:
    """A token endpoint that takes form fields only refuses Basic (with a hint); body works."""
    app = fake_api(samples["1.1"], client_auth="body")
    with pytest.raises(CredentialsRefused, match="--client-auth body"):
        await fetch(app, tmp_path / "snap")
    result = await fetch(app, tmp_path / "snap", api_config(client_auth="body"))
    assert result.users == len(state(app).users)


async def test_token_expiring_early_is_renewed(samples: dict[str, Path], tmp_path: Path) -> None:
    """A token refused after 2 requests is renewed once per refusal and the fetch completes."""
    app = fake_api(samples["1.1"], expire_tokens_after=2)
    result = await fetch(app, tmp_path / "snap")
    fake = state(app)
    assert result.users == len(fake.users) and result.pages == 6
    assert fake.requests["unauthorised"] == 2 and len(fake.tokens) == 3


async def test_provider_refusing_every_token_stops(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """An API that answers 401 to a fresh token too: one renewal, then CredentialsRefused."""
    app = fake_api(samples["1.1"], refuse_tokens=True)
    with pytest.raises(CredentialsRefused, match="401 twice") as caught:
        await fetch(app, tmp_path / "snap")
    assert caught.value.path == "/ims/oneroster/v1p1/users"
    assert len(state(app).tokens) == 2
    assert not (tmp_path / "snap").exists()


@pytest.mark.parametrize("links", [True, False])
async def test_endless_paging_stops_with_an_error(
    samples: dict[str, Path], tmp_path: Path, links: bool
) -> None:
    """A provider repeating its first page forever (with or without next links) is an error."""
    app = fake_api(samples["1.1"], endless_paging=True, links=links)
    with pytest.raises(ProviderError, match="endless paging"):
        await fetch(app, tmp_path / "snap")
    assert state(app).requests["users"] == 2
    assert not (tmp_path / "snap").exists()


async def test_server_error_storm_stops_after_the_retry_budget(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """5xx on every request: retried up to the policy's attempts, then an error naming the
    path and status."""
    app = fake_api(samples["1.1"], fault_rate=1.0)
    config = api_config(retry=RetryPolicy(attempts=3))
    with pytest.raises(ProviderError) as caught:
        await fetch(app, tmp_path / "snap", config)
    error = caught.value
    assert error.path == "/ims/oneroster/v1p1/users" and error.status in (500, 502, 503)
    assert "after 3 attempts" in str(error)
    assert state(app).requests["users"] == 3
    assert not (tmp_path / "snap").exists()


async def test_rate_limits_and_some_faults_are_retried(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """429 with Retry-After and occasional 5xx are retried and the fetch completes."""
    app = fake_api(samples["1.2"], "1.2", rate_limit_every=3, retry_after=0, fault_rate=0.2, seed=3)
    result = await fetch(app, tmp_path / "snap", api_config("1.2", retry=RetryPolicy(attempts=8)))
    fake = state(app)
    assert result.users == len(fake.users)
    assert fake.requests["throttled"] >= 2 and result.requests > result.pages + 1


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("no-sourcedid", "record 5 of the page at offset 100 (no sourcedId) has no sourcedId"),
        ("not-object", "record 5 of the page at offset 100 is a list, not an object"),
        ("bad-agents", "record 5 of the page at offset 100 (sourcedId 'par-0106') has a agents"),
    ],
)
async def test_malformed_record_stops_naming_it(
    samples: dict[str, Path], tmp_path: Path, kind: str, said: str
) -> None:
    """A structurally broken user stops the fetch with the collection, offset and record."""
    app = fake_api(samples["1.1"], malformed=kind, malformed_index=105)
    with pytest.raises(MalformedRecord) as caught:
        await fetch(app, tmp_path / "snap")
    assert str(caught.value).startswith("malformed record in users: ")
    assert said in str(caught.value)
    assert not (tmp_path / "snap").exists()


async def test_next_link_to_another_origin_is_refused(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A Link rel=next to another host is refused before anything is sent there."""
    app = fake_api(samples["1.1"], next_link_origin="https://evil.example")
    inner = httpx.ASGITransport(app=app)
    hosts: list[str] = []

    async def spy(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return await inner.handle_async_request(request)

    class Spy(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await spy(request)

    with pytest.raises(UnsafeUrl, match=r"evil\.example"):
        await fetch(Spy(), tmp_path / "snap")
    assert set(hosts) == {"127.0.0.1"}
    assert not (tmp_path / "snap").exists()


async def test_redirect_to_another_origin_is_refused(tmp_path: Path) -> None:
    """A token endpoint answering a redirect elsewhere is not followed (the secret stays)."""
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": "https://login.example/token"})

    with pytest.raises(UnsafeUrl, match="another origin"):
        await fetch(httpx.MockTransport(answer), tmp_path / "snap")
    assert [r.url.host for r in sent] == ["127.0.0.1"]


async def test_total_count_not_reached_is_an_error(tmp_path: Path) -> None:
    """A collection that ends before its X-Total-Count is a partial roster: an error."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("access_token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        offset = int(request.url.params["offset"])
        users = [{"sourcedId": f"u{offset + i}"} for i in range(100 if offset == 0 else 0)]
        return httpx.Response(200, json={"users": users}, headers={"X-Total-Count": "250"})

    with pytest.raises(ProviderError, match="ended after 100 records") as caught:
        await fetch(httpx.MockTransport(answer), tmp_path / "snap")
    assert SECRET not in repr(caught.value)
    assert not (tmp_path / "snap").exists()


def _users_api(pages: dict[int, list[str]], total: int) -> httpx.MockTransport:
    """A provider whose page at each offset holds these sourcedIds, with X-Total-Count."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("access_token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        ids = pages.get(int(request.url.params["offset"]), [])
        users = [{"sourcedId": i, "role": "parent", "givenName": "A"} for i in ids]
        return httpx.Response(200, json={"users": users}, headers={"X-Total-Count": str(total)})

    return httpx.MockTransport(answer)


async def test_a_collection_that_changes_while_read_is_an_error(tmp_path: Path) -> None:
    """A user inserted between two pages shifts one record onto the next page twice (and
    another one off them): the repeat stops the fetch rather than give a roster missing one."""
    moved = _users_api({0: ["u1", "u2"], 2: ["u2", "u3"]}, total=4)
    with pytest.raises(ProviderError, match="'u2' came again at offset 2"):
        await fetch(moved, tmp_path / "snap", api_config(page_size=2))
    assert not (tmp_path / "snap").exists()


async def test_an_unreadable_answer_is_a_provider_error(tmp_path: Path) -> None:
    """A body that does not decode is one clear ProviderError, not a traceback."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("access_token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        raise httpx.DecodingError("broken gzip", request=request)

    with pytest.raises(ProviderError, match="unreadable answer"):
        await fetch(httpx.MockTransport(answer), tmp_path / "snap")


async def test_a_token_that_cannot_go_in_a_header_is_refused(tmp_path: Path) -> None:
    """A non-ASCII access token: a ProviderError naming the token endpoint, nothing sent on."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "tökén", "token_type": "Bearer"})

    with pytest.raises(ProviderError, match="not ASCII"):
        await fetch(httpx.MockTransport(answer), tmp_path / "snap")
