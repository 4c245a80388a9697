"""The fake OneRoster API itself: tokens, paging headers, version paths, the CLI."""

from __future__ import annotations

import base64
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from canvas_observers.cli import main
from canvas_observers.fake_oneroster import (
    FakeOneRoster,
    FakeOneRosterConfig,
    create_app,
    write_sample,
)
from canvas_observers.fake_oneroster.server import running_server
from canvas_observers.roster.sources import read_source
from canvas_observers.sis_api import ApiConfig, Secret, fetch_bundle

BASE = "http://127.0.0.1"
BASIC = "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bundles")
    return {v: write_sample(root / v, v) for v in ("1.1", "1.2")}


def app_for(bundle: Path, **knobs: object) -> Starlette:
    return create_app(FakeOneRosterConfig(**knobs), bundle)  # type: ignore[arg-type]


@pytest.fixture
async def client(
    bundles: dict[str, Path],
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeOneRoster]]:
    app = app_for(bundles["1.1"], max_limit=50)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http, app.state.fake


async def token(http: httpx.AsyncClient) -> str:
    r = await http.post(
        "/oauth/access_token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": BASIC},
    )
    assert r.status_code == 200, r.text
    value: str = r.json()["access_token"]
    return value


async def test_token_endpoint_follows_client_credentials(
    client: tuple[httpx.AsyncClient, FakeOneRoster],
) -> None:
    """Basic or form credentials get a Bearer token; wrong ones 401 invalid_client; another
    grant 400."""
    http, _ = client
    r = await http.post(
        "/oauth/access_token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": BASIC},
    )
    assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 3600
    r = await http.post(
        "/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
        },
    )
    assert r.status_code == 200
    r = await http.post(
        "/oauth/access_token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "nope",
        },
    )
    assert (r.status_code, r.json()) == (401, {"error": "invalid_client"})
    r = await http.post(
        "/oauth/access_token", data={"grant_type": "password"}, headers={"Authorization": BASIC}
    )
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type")


async def test_paging_headers(client: tuple[httpx.AsyncClient, FakeOneRoster]) -> None:
    """limit/offset pages with X-Total-Count, Link next/last; limit is capped by max_limit."""
    http, fake = client
    auth = {"Authorization": f"Bearer {await token(http)}"}
    total = len(fake.users)
    r = await http.get(
        "/ims/oneroster/v1p1/users", params={"limit": 500, "offset": 0}, headers=auth
    )
    assert r.status_code == 200 and len(r.json()["users"]) == 50
    assert r.headers["X-Total-Count"] == str(total)
    assert r.links["next"]["url"] == f"{BASE}/ims/oneroster/v1p1/users?limit=50&offset=50"
    last = (total - 1) // 50 * 50
    assert r.links["last"]["url"].endswith(f"offset={last}")
    r = await http.get(
        "/ims/oneroster/v1p1/users", params={"limit": 50, "offset": last}, headers=auth
    )
    assert len(r.json()["users"]) == total - last and "next" not in r.links
    assert r.json()["users"][0]["sourcedId"] == fake.users[last]["sourcedId"]
    r = await http.get("/ims/oneroster/v1p1/users", params={"limit": "x"}, headers=auth)
    assert r.status_code == 400 and r.json()["imsx_codeMajor"] == "failure"


async def test_tokens_expire(client: tuple[httpx.AsyncClient, FakeOneRoster]) -> None:
    """A token past its lifetime, or past expire_tokens_after uses, is answered 401."""
    http, fake = client
    auth = {"Authorization": f"Bearer {await token(http)}"}
    assert (await http.get("/ims/oneroster/v1p1/users", headers=auth)).status_code == 200
    now = fake.clock()
    fake.clock = lambda: now + 3601
    r = await http.get("/ims/oneroster/v1p1/users", headers=auth)
    assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]
    fake.clock = lambda: now
    fake.config.expire_tokens_after = 1
    auth = {"Authorization": f"Bearer {await token(http)}"}
    assert (await http.get("/ims/oneroster/v1p1/users", headers=auth)).status_code == 200
    assert (await http.get("/ims/oneroster/v1p1/users", headers=auth)).status_code == 401
    assert (await http.get("/ims/oneroster/v1p1/users")).status_code == 401


async def test_version_paths(bundles: dict[str, Path]) -> None:
    """A 1.2 fake serves /ims/oneroster/rostering/v1p2/users with roles, and not the 1.1 path."""
    app = app_for(bundles["1.2"], version="1.2")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        auth = {"Authorization": f"Bearer {await token(http)}"}
        r = await http.get("/ims/oneroster/rostering/v1p2/users", headers=auth)
        assert r.status_code == 200
        user = r.json()["users"][0]
        assert "role" not in user
        assert {"roleType", "role", "org"} <= set(user["roles"][0])
        assert (await http.get("/ims/oneroster/v1p1/users", headers=auth)).status_code == 404


async def test_real_http_fetch_from_the_served_fake(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    """Over real loopback HTTP the reader fetches the fake and reads the bundle's roster."""
    app = app_for(bundles["1.2"], version="1.2", client_secret="loop-secret")
    with running_server(app) as url:
        config = ApiConfig(
            f"{url}/ims/oneroster/rostering/v1p2",
            "demo-client",
            Secret("loop-secret"),
            page_size=250,
        )
        result = await fetch_bundle(config, tmp_path / "snap")
    assert result.version == "1.2" and result.pages == 3
    assert read_source(tmp_path / "snap").rows == read_source(bundles["1.2"]).rows


def test_cli_help_lists_every_option() -> None:
    """`canvas-observers fake-oneroster --help` documents each flag."""
    result = CliRunner().invoke(main, ["fake-oneroster", "--help"])
    assert result.exit_code == 0, result.output
    for option in (
        "--bundle", "--sample-out", "--version", "--host", "--allow-remote", "--port",
        "--client-id", "--client-secret-file", "--secret-out", "--client-auth",
        "--token-seconds", "--max-limit", "--total-count", "--links", "--fault-rate",
        "--rate-limit-every", "--retry-after", "--expire-tokens-after", "--endless-paging",
        "--malformed-record", "--seed",
    ):  # fmt: skip
        assert option in result.output


def test_cli_refuses_a_remote_host_and_a_missing_secret_file(tmp_path: Path) -> None:
    """A non-loopback --host needs --allow-remote; an unreadable secret file is a usage error."""
    result = CliRunner().invoke(main, ["fake-oneroster", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 2 and "loopback" in result.output
    missing = tmp_path / "nope"
    result = CliRunner().invoke(main, ["fake-oneroster", "--client-secret-file", str(missing)])
    assert result.exit_code == 2 and "cannot read the client secret file" in result.output


def test_cli_writes_the_sample_and_a_private_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --bundle and a secret file, the demo bundle and a 0600 secret are written."""
    served: list[object] = []
    module = sys.modules["canvas_observers.cli.fake_oneroster"]  # the package attr is the command
    monkeypatch.setattr(module, "serve", lambda app, **kw: served.append(kw))
    monkeypatch.chdir(tmp_path)
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(main, ["fake-oneroster", "--version", "1.2", "--port", "8999"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    secret_file = tmp_path / "fake-oneroster-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text(encoding="utf-8").strip() in result.output
    assert (tmp_path / "fake-oneroster-sample" / "roles.csv").is_file()
    assert "http://127.0.0.1:8999/ims/oneroster/rostering/v1p2" in result.output
    assert served == [{"host": "127.0.0.1", "port": 8999}]
