"""The first minutes of a new user, through the real CLI: a Canvas URL typed without its
scheme, a OneRoster URL copied with its collection, and `show last` / `undo last` instead of
looking up a run's number."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.fake_oneroster import FakeOneRosterConfig, write_sample
from canvas_observers.fake_oneroster import create_app as create_oneroster
from canvas_observers.fake_oneroster.server import running_server as running_oneroster
from tests.wiring import HEADER, run_cli

TOKEN = "new-user-token-3f9a"
KIDS = 12  # one fewer is still above the 90% line a truncated roster falls below


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Twelve enrolled students, S0..S11."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(KIDS):
        kid = state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}")
        state.enroll(kid, course)
    with running_server(app) as url:
        yield app, url


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, token=TOKEN)


def test_a_canvas_url_without_scheme_gets_the_https_one(tmp_path: Path) -> None:
    """`--canvas-url school.instructure.com`: exit 2 with the URL to use; no journal made."""
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n", encoding="utf-8")
    state = tmp_path / "j.sqlite3"
    for typed in ("school.instructure.com", "school.instructure.com/"):
        result = cli("sync", str(roster), "--canvas-url", typed, "--state", str(state))
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: the Canvas URL {typed!r} has no scheme; use https://school.instructure.com"
        )
    assert not state.exists()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("rest", ["users", "users/", "orgs/sch-1/students"])
def test_a_oneroster_url_with_a_collection_reads_the_service_root(
    tmp_path: Path, version: str, rest: str
) -> None:
    """A OneRoster URL copied from the provider's docs (…/v1p1/users): a note says the whole
    roster is read from the service root, and it is (export-sis writes every guardian)."""
    bundle = write_sample(tmp_path / "bundle", version)
    secret = tmp_path / "secret"
    secret.write_text("OR-new-user-secret\n", encoding="utf-8")
    secret.chmod(0o600)
    config = FakeOneRosterConfig(
        version=version, client_id="c1", client_secret="OR-new-user-secret", max_limit=50
    )
    root = "/ims/oneroster/v1p1" if version == "1.1" else "/ims/oneroster/rostering/v1p2"
    with running_oneroster(create_oneroster(config, bundle)) as sis:
        outputs = {}
        for url in (sis + root, f"{sis}{root}/{rest}"):
            out = tmp_path / ("trimmed" if rest in url else "root")
            result = cli(
                "export-sis", "--oneroster-api", url, "--client-id", "c1",
                "--client-secret-file", str(secret), "--out", str(out),
            )  # fmt: skip
            assert result.returncode in (0, 1), result.stderr
            outputs[out.name] = (out / "users.csv").read_text(encoding="utf-8")
            note = f"note: --oneroster-api goes on to '{rest.strip('/')}'; reading the whole "
            assert (note in result.stderr) is (out.name == "trimmed")
    assert f"the service root {sis}{root}\n" in result.stderr
    assert outputs["trimmed"] == outputs["root"]
    assert outputs["root"].count("\n") > 1


def linked(app: FakeCanvasApp, sis: str, email: str) -> bool:
    state = app.fake.state
    student, observer = state.user_by_sis_id(sis), state.user_by_login(email)
    return student is not None and observer is not None and state.is_linked(observer.id, student.id)


def test_show_last_and_undo_last(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """`show last` is the latest run; `undo last` names the run it undoes and restores what it
    removed; then the latest run is the undo itself, which removed nothing: refused (exit 2)."""
    app, url = canvas
    roster, state = tmp_path / "roster.csv", str(tmp_path / "j.sqlite3")

    def sync(kids: range, *extra: str) -> subprocess.CompletedProcess[str]:
        body = "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in kids)
        roster.write_text(HEADER + body, encoding="utf-8")
        return cli("sync", str(roster), "--canvas-url", url, "--state", state, *extra)

    nothing = cli("show", "last", "--state", state)
    assert nothing.returncode == 2 and "no journal at" in nothing.stderr
    assert sync(range(KIDS), "--pairing", "direct").returncode == 0
    args = ("--remove-ended", "--grace-runs", "1", "--pairing", "direct")
    removed = sync(range(1, KIDS), *args, "--report", str(tmp_path / "r.json"))
    assert removed.returncode == 0, removed.stderr
    run_id = json.loads((tmp_path / "r.json").read_text())["run"]["run_id"]
    assert not linked(app, "S0", "g0@home.test")
    shown = cli("show", "last", "--state", state, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["run"]["id"] == run_id == 2
    assert json.loads(cli("show", "1", "--state", state, "--json").stdout)["run"]["id"] == 1
    undone = cli("undo", "last", "--canvas-url", url, "--state", state)
    assert undone.returncode == 0, undone.stderr
    assert f"The last run is run {run_id}." in undone.stderr
    assert linked(app, "S0", "g0@home.test")
    again = cli("undo", "LAST", "--canvas-url", url, "--state", state)
    assert again.returncode == 2
    assert f"The last run is run {run_id + 1}." in again.stderr
    assert f"run {run_id + 1} removed no link" in again.stderr
    bad = cli("show", "latest", "--state", state)
    assert bad.returncode == 2
    assert "'latest' is not a run: give its number from `canvas-observers runs`, or last" in (
        bad.stderr
    )
