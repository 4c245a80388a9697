"""The client secret stays secret; the snapshot folder is private, atomic and complete, and
is always read back."""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from starlette.applications import Starlette

from canvas_observers.cli.roster_input import snapshot_source
from canvas_observers.roster.model import Roster, RosterError
from canvas_observers.roster.sources import SourceOptions, read_source
from canvas_observers.sis_api import ConfigError, CredentialsRefused, Secret, read_client_secret
from canvas_observers.sis_api.config import ApiConfig, resolve

from .conftest import SECRET
from .helpers import api_config, fake_api, fetch, state


async def test_secret_never_in_output_logs_errors_or_files(
    samples: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """DEBUG logs, errors, reprs and every snapshot file of a run with faults, renewals and a
    refused token: the secret and the access tokens appear in none."""
    caplog.set_level(logging.DEBUG)
    config = api_config("1.2")
    app = fake_api(samples["1.2"], "1.2", expire_tokens_after=3, rate_limit_every=4, retry_after=0)
    result = await fetch(app, tmp_path / "snap", config)
    tokens = list(state(app).tokens)
    refused = fake_api(samples["1.2"], "1.2", refuse_tokens=True)
    with pytest.raises(CredentialsRefused) as caught:
        await fetch(refused, tmp_path / "other", config)
    tokens += list(state(refused).tokens)
    texts = [
        repr(config), str(config), repr(result), str(caught.value), repr(caught.value),
        caplog.text, *(r.getMessage() for r in caplog.records),
    ]  # fmt: skip
    files = [p for p in (tmp_path / "snap").rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"users.csv", "roles.csv", "manifest.csv", "fetch.json"}
    texts += [p.read_text(encoding="utf-8") for p in files]
    assert len(tokens) >= 3
    for text in texts:
        assert SECRET not in text
        for token in tokens:
            assert token not in text
    assert "********" in repr(config)


async def test_snapshot_is_owner_only_and_says_what_was_fetched(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """The folder is 0700, its files 0600; fetch.json has the URL, version and counts."""
    app = fake_api(samples["1.1"])
    dest = tmp_path / "snap"
    result = await fetch(app, dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    for path in dest.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    info = json.loads((dest / "fetch.json").read_text(encoding="utf-8"))
    assert info["url"] == "http://127.0.0.1/ims/oneroster/v1p1"
    assert info["version"] == "1.1" and info["counts"] == {"users": result.users, "roles": 0}
    assert info["started"] <= info["finished"]
    assert sorted(os.listdir(tmp_path)) == ["snap"]  # no temporary folder left behind


async def test_the_folders_a_fetch_makes_are_owner_only_under_umask_022(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """The snapshot's new parent folders are 0700 too (mkdir's mode is masked by the umask,
    and parents get the default 0755); a folder that was there keeps its mode."""
    os.chmod(tmp_path, 0o755)  # noqa: S103 - a folder that was there, as /var/log is
    old = os.umask(0o022)
    try:
        await fetch(fake_api(samples["1.1"]), tmp_path / "district" / "nightly" / "snap")
    finally:
        os.umask(old)
    for folder in ("district", "district/nightly", "district/nightly/snap"):
        assert stat.S_IMODE(os.stat(tmp_path / folder).st_mode) == 0o700, folder
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o755


async def test_failed_fetch_keeps_the_previous_snapshot(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A second fetch that fails leaves the first snapshot as it was."""
    dest = tmp_path / "snap"
    await fetch(fake_api(samples["1.1"]), dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    with pytest.raises(CredentialsRefused):
        await fetch(fake_api(samples["1.1"], refuse_tokens=True), dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    await fetch(fake_api(samples["1.2"], "1.2"), dest, api_config("1.2"))
    assert (dest / "roles.csv").is_file()


async def test_a_folder_that_is_not_a_snapshot_is_not_replaced(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A destination holding other files is refused before anything is sent."""
    dest = tmp_path / "documents"
    dest.mkdir()
    (dest / "letter.txt").write_text("keep me", encoding="utf-8")
    app = fake_api(samples["1.1"])
    with pytest.raises(ConfigError, match="not an earlier snapshot"):
        await fetch(app, dest)
    assert state(app).requests["token"] == 0
    assert (dest / "letter.txt").read_text(encoding="utf-8") == "keep me"


async def test_a_snapshot_with_a_field_over_the_csv_limit_is_read_back(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """The SIS sends a field longer than the csv module's default limit (131,072 characters):
    the snapshot the fetch wrote is read back whole, as the CLI reads it, with the same rows
    as without that field; the process's limit is as it was afterwards. An export someone
    gives the tool keeps the limit (past it, an unmatched quote stops the read)."""
    app = fake_api(samples["1.1"])
    before = await read_roster(tmp_path / "plain", app)
    users = state(app).users
    guardian = next(u for u in users if u["role"] in ("parent", "guardian"))
    guardian["middleName"] = "m" * 200_000
    limit = csv.field_size_limit()
    assert limit < 200_000
    after = await read_roster(tmp_path / "long", app)
    assert (after.rows, after.problems, after.removal_candidates) == (
        before.rows,
        before.problems,
        before.removal_candidates,
    )
    assert before.rows and before.problems  # the district's rows, and its planted problems
    assert csv.field_size_limit() == limit
    with pytest.raises(RosterError, match="field larger than field limit"):
        read_source(tmp_path / "long", format="oneroster")


async def read_roster(dest: Path, app: Starlette) -> Roster:
    """Fetch the API's roster into ``dest`` and read it back as the CLI reads a snapshot."""
    await fetch(app, dest)
    return snapshot_source(SourceOptions()).read(dest)


def test_secret_file_is_stripped_and_a_readable_one_warned_about(tmp_path: Path) -> None:
    """The secret file's text is stripped; group/other-readable gives a warning; empty fails."""
    path = tmp_path / "secret"
    path.write_text(f"  {SECRET}\n", encoding="utf-8")
    path.chmod(0o600)
    got = read_client_secret(path)
    assert got.secret.reveal() == SECRET and got.warning is None
    assert SECRET not in repr(got)
    path.chmod(0o644)
    warning = read_client_secret(path).warning
    assert warning is not None and "chmod 600" in warning
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        read_client_secret(path)


@pytest.mark.parametrize(
    ("url", "version", "want"),
    [
        ("https://sis.example/ims/oneroster/v1p1", None, ("1.1", "/ims/oneroster/v1p1")),
        ("https://sis.example/ims/oneroster/v1p1/", "1.1", ("1.1", "/ims/oneroster/v1p1")),
        (
            "https://sis.example/district/ims/oneroster/rostering/v1p2",
            None,
            ("1.2", "/district/ims/oneroster/rostering/v1p2"),
        ),
        ("https://sis.example", "1.2", ("1.2", "/ims/oneroster/rostering/v1p2")),
    ],
)
def test_version_is_told_from_the_url(url: str, version: str | None, want: tuple[str, str]) -> None:
    """The version comes from the URL's service root, or from `version` for a bare host."""
    got = resolve(ApiConfig(url, "id", Secret("s"), version=version))
    assert (got.version, got.base.path) == want
    assert str(got.token_url) == "https://sis.example/oauth/access_token"


@pytest.mark.parametrize(
    ("url", "version", "said"),
    [
        ("https://sis.example", None, "say which version"),
        ("https://sis.example/ims/oneroster/v1p1", "1.2", "but version 1.2 was asked"),
        ("https://sis.example/api/users", None, "neither a 1.1 root"),
        ("http://sis.example/ims/oneroster/v1p1", None, "clear text"),
        ("https://user:pw@sis.example/ims/oneroster/v1p1", None, "user name or password"),
    ],
)
def test_unusable_urls_are_refused(url: str, version: str | None, said: str) -> None:
    """A URL that names no version, contradicts it, or is unsafe is a ConfigError."""
    with pytest.raises(ConfigError, match=said):
        resolve(ApiConfig(url, "id", Secret("s"), version=version))
