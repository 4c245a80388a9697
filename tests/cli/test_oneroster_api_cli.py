"""`sync --oneroster-api`: the SIS's OneRoster API read through the CLI, against the fake
OneRoster provider and the fake Canvas, both over real loopback HTTP."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.fake_oneroster import FakeOneRosterConfig, write_sample
from canvas_observers.fake_oneroster import create_app as create_oneroster
from canvas_observers.fake_oneroster.server import running_server as running_oneroster

TOKEN = "api-cli-token-5d1e8b"
SECRET = "OR-cli-s3cret-Hq4Vn8Rt2Yw6"  # distinctive: a leak is found by a plain search
CLIENT_ID = "district-cli-3"


@pytest.fixture(params=["1.1", "1.2"])
def version(request: pytest.FixtureRequest) -> str:
    """Both OneRoster versions."""
    value: str = request.param
    return value


@pytest.fixture
def bundle(tmp_path: Path, version: str) -> Path:
    """The demo district as a OneRoster bundle folder (what an SIS export would be)."""
    path: Path = write_sample(tmp_path / f"bundle-{version}", version)
    return path


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """The client secret in a file only its owner can read."""
    path = tmp_path / "client-secret"
    path.write_text(SECRET + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def oneroster_config(version: str, **knobs: Any) -> FakeOneRosterConfig:
    return FakeOneRosterConfig(
        version=version,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        max_limit=50,
        **knobs,
    )


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas holding the demo district, over loopback HTTP."""
    app = create_app(FakeConfig(admin_token=TOKEN), scenario="demo")
    with running_server(app) as url:
        yield app, url


@pytest.fixture
def sis(bundle: Path, version: str) -> Iterator[tuple[FakeOneRosterConfig, str]]:
    """The fake OneRoster API serving the bundle, over loopback: its switches and its URL."""
    config = oneroster_config(version)
    with running_oneroster(create_oneroster(config, bundle)) as url:
        yield config, url


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as cron runs it."""
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": TOKEN},
        timeout=180,
        check=False,
    )


def api_args(url: str, secret_file: Path, version: str) -> list[str]:
    prefix = "/ims/oneroster/v1p1" if version == "1.1" else "/ims/oneroster/rostering/v1p2"
    return [
        "--oneroster-api",
        url + prefix,
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
        str(secret_file),
    ]


def links(app: FakeCanvasApp) -> set[tuple[str, str]]:
    """Every observer link in the fake Canvas, by (observer login, student SIS id)."""
    state = app.fake.state
    found = set()
    for observer_id, students in state.observees_of.items():
        for student_id in students:
            observer = state.users[observer_id].login
            student = state.users[student_id].login
            assert observer is not None and student is not None
            found.add((observer.unique_id, student.sis_user_id or student.unique_id))
    return found


def requests_to(app: FakeCanvasApp) -> int:
    """API requests the fake Canvas served."""
    return sum(app.fake.stats.by_method.values())


def report_rows(path: Path) -> list[tuple[str, str, str, str]]:
    rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
    return sorted((r["student_id"], r["observer_email"], r["outcome"], r["detail"]) for r in rows)


def test_the_api_gives_the_bundles_rows_and_links(
    tmp_path: Path, bundle: Path, secret_file: Path, version: str
) -> None:
    """One district, read from its bundle and from the API: the same rows, the same links."""
    results = {}
    for how in ("bundle", "api"):
        app = create_app(FakeConfig(admin_token=TOKEN), scenario="demo")
        provider = create_oneroster(oneroster_config(version), bundle)
        with running_server(app) as url, running_oneroster(provider) as sis:
            source = [str(bundle)] if how == "bundle" else api_args(sis, secret_file, version)
            done = run_cli(
                "sync",
                *source,
                "--canvas-url",
                url,
                "--state",
                str(tmp_path / how / "journal.sqlite3"),
                "--pairing",
                "direct",
                "--report",
                str(tmp_path / f"{how}.json"),
            )
        assert done.returncode in (0, 1), done.stderr
        results[how] = (report_rows(tmp_path / f"{how}.json"), links(app))
    assert results["api"] == results["bundle"]
    rows, made = results["api"]
    assert len(rows) > 100 and len(made) > 100


def test_the_journal_names_the_api_and_keeps_the_snapshot(
    tmp_path: Path,
    secret_file: Path,
    version: str,
    canvas: tuple[FakeCanvasApp, str],
    sis: tuple[FakeOneRosterConfig, str],
) -> None:
    """Runs of one API are runs of one roster in the journal, each with its saved snapshot."""
    _, url = canvas
    journal = tmp_path / "journal.sqlite3"
    args = api_args(sis[1], secret_file, version)
    for _ in range(2):
        done = run_cli("sync", *args, "--canvas-url", url, "--state", str(journal))
        assert done.returncode in (0, 1), done.stderr
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT roster, settings FROM runs ORDER BY id").fetchall()
    assert [r[0] for r in runs] == [args[1], args[1]]
    snapshots = [Path(json.loads(r[1])["oneroster_snapshot"]) for r in runs]
    assert snapshots[0] != snapshots[1]
    for snapshot in snapshots:
        assert (snapshot / "users.csv").is_file() and (snapshot / "fetch.json").is_file()
        assert snapshot.parent == tmp_path / "journal-oneroster"


def test_the_secret_is_never_printed_logged_or_stored(
    tmp_path: Path,
    secret_file: Path,
    version: str,
    canvas: tuple[FakeCanvasApp, str],
    sis: tuple[FakeOneRosterConfig, str],
) -> None:
    """Not in the output, the debug log file, the report, the journal or the snapshot."""
    _, url = canvas
    out = tmp_path / "out"
    args = api_args(sis[1], secret_file, version)
    done = run_cli(
        "sync",
        *args,
        *("--canvas-url", url, "--state", str(out / "journal.sqlite3")),
        *("--report", str(out / "report.json"), "--log-file", str(out / "run.log")),
        *("--log-level", "debug"),
    )
    exported = run_cli("export-sis", *args, "--out", str(out / "sis"))
    assert done.returncode in (0, 1), done.stderr
    assert exported.returncode in (0, 1), exported.stderr
    assert SECRET not in done.stdout + done.stderr + exported.stdout + exported.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "users.csv" for p in files) and (out / "run.log").is_file()
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


def sync_from(sis_url: str, secret: Path, version: str, canvas_url: str, state: Path) -> Any:
    """`sync --oneroster-api ... --canvas-url ... --state ...`, with --remove-ended."""
    args = api_args(sis_url, secret, version)
    return run_cli(
        "sync", *args, "--canvas-url", canvas_url, "--state", str(state), "--remove-ended"
    )


def test_refused_credentials_stop_before_canvas(
    tmp_path: Path,
    version: str,
    canvas: tuple[FakeCanvasApp, str],
    sis: tuple[FakeOneRosterConfig, str],
) -> None:
    """A wrong secret: exit 2, one line naming the client id, nothing sent to Canvas."""
    app, url = canvas
    wrong = tmp_path / "wrong-secret"
    wrong.write_text("not-the-secret\n", encoding="utf-8")
    wrong.chmod(0o600)
    done = sync_from(sis[1], wrong, version, url, tmp_path / "j.sqlite3")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and CLIENT_ID in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "not-the-secret" not in done.stderr
    assert requests_to(app) == 0


def test_a_fetch_that_never_ends_writes_nothing(
    tmp_path: Path,
    secret_file: Path,
    version: str,
    canvas: tuple[FakeCanvasApp, str],
    sis: tuple[FakeOneRosterConfig, str],
) -> None:
    """A provider that pages forever: exit 2 with a clear line, nothing sent to Canvas."""
    app, url = canvas
    sis[0].endless_paging = True
    done = sync_from(sis[1], secret_file, version, url, tmp_path / "j.sqlite3")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert requests_to(app) == 0
    assert not (tmp_path / "j-oneroster").exists() or not any(
        (p / "users.csv").exists() for p in (tmp_path / "j-oneroster").iterdir()
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                *("roster.csv", "--oneroster-api", "https://sis.example.org"),
                *("--client-id", "x", "--client-secret-file", "secret"),
            ],
            "not both",
        ),
        ([], "give the ROSTER file, or --oneroster-api URL"),
        (["roster.csv", "--client-id", "x"], "--client-id only go with --oneroster-api"),
        (["--oneroster-api", "https://sis.example.org"], "needs --client-id"),
    ],
)
def test_the_roster_flags_are_checked_first(args: list[str], message: str) -> None:
    """ROSTER or --oneroster-api, with its client id and secret file: a usage error otherwise."""
    done = run_cli("sync", *args, "--canvas-url", "https://school.instructure.com")
    assert done.returncode == 2
    assert message in done.stderr


def test_a_bad_canvas_url_stops_before_the_sis_is_read(
    tmp_path: Path, secret_file: Path, version: str, sis: tuple[FakeOneRosterConfig, str]
) -> None:
    """audit and sync check the Canvas URL first: a refused one costs no roster fetch."""
    args = api_args(sis[1], secret_file, version)
    for command in ("audit", "sync"):
        done = run_cli(
            command,
            *args,
            *("--canvas-url", "http://canvas.example.invalid"),
            *("--state", str(tmp_path / "j.sqlite3")),
        )
        assert done.returncode == 2, done.stderr
        assert "clear text" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "j-oneroster").exists()


def test_an_unwritable_snapshot_folder_is_one_error(
    tmp_path: Path, secret_file: Path, version: str, sis: tuple[FakeOneRosterConfig, str]
) -> None:
    """export-sis with --out under a file: exit 2 and one error line, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli(
        "export-sis", *api_args(sis[1], secret_file, version), "--out", str(blocker / "sis")
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert "OneRoster snapshot" in done.stderr


def test_the_snapshot_is_read_as_utf8_whatever_encoding_says(
    tmp_path: Path, bundle: Path, secret_file: Path, version: str
) -> None:
    """--encoding is for exported files: a snapshot (UTF-8 by construction) reads the same
    with --encoding cp1252, an accented guardian name intact."""
    users = bundle / "users.csv"
    lines = users.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    at = next(i for i, line in enumerate(lines) if "maria.garcia@springfield" in line)
    cells = lines[at].split(",")
    cells[header.index("givenName")] = "José"
    lines[at] = ",".join(cells)
    users.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = {}
    with running_oneroster(create_oneroster(oneroster_config(version), bundle)) as url:
        for encoding in ("utf-8", "cp1252"):
            folder = tmp_path / encoding
            done = run_cli(
                "export-sis",
                *api_args(url, secret_file, version),
                *("--encoding", encoding, "--out", str(folder)),
            )
            assert done.returncode in (0, 1), done.stderr
            out[encoding] = (folder / "users.csv").read_text(encoding="utf-8")
    assert "José" in out["utf-8"]
    assert out["cp1252"] == out["utf-8"]
