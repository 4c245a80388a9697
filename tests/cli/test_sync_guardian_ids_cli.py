"""`canvas-observers sync` with guardian ids: --observer-id-template and --update-guardians
end to end over real loopback HTTP, with both ways of reading Canvas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server

from .test_sync_cli import TOKEN, sync_cli

HEADER = "student_id,observer_email,observer_first_name,observer_last_name,guardian_id\n"


@pytest.fixture
def server() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Two enrolled students; guardian 7's account (login old@home.test, SIS id G-7) observes
    the first."""
    app = create_app(FakeConfig(admin_token=TOKEN, report_seconds=0.0))
    state = app.fake.state
    course = state.add_course("C")
    kids = []
    for sis in ("100", "1001"):
        kid = state.add_user(f"Kid {sis}", login_id=f"k{sis}@kids.test", sis_user_id=sis)
        state.enroll(kid, course)
        kids.append(kid)
    pat = state.add_user("Pat Lee", login_id="old@home.test", sis_user_id="G-7")
    state.link(pat, kids[0])
    with running_server(app) as url:
        yield app, url


def outcomes(report: Path) -> list[str]:
    return [r["outcome"] for r in json.loads(report.read_text())["rows"]]


@pytest.mark.parametrize("canvas_state", ["lookups", "report"])
def test_email_change_reported_then_applied_through_the_cli(
    server: tuple[FakeCanvasApp, str], tmp_path: Path, canvas_state: str
) -> None:
    """Without --update-guardians the changed email is guardian_email_changed (exit 1) and the
    new child is paired with the same account; with it the login becomes the new email
    (guardian_updated, exit 0); a new guardian's login gets the templated SIS id."""
    app, url = server
    path = tmp_path / "roster.csv"
    path.write_text(
        HEADER + "100,new@home.test,Pat,Lee,7\n1001,new@home.test,Pat,Lee,7\n"
        "1001,sam@home.test,Sam,Roe,8\n",
        encoding="utf-8",
    )
    common = ("--observer-id-template", "G-{sourcedId}", "--canvas-state", canvas_state)
    users = len(app.fake.state.users)
    first = sync_cli(path, url, tmp_path / "j", *common, "--report", str(tmp_path / "a.json"))
    assert first.returncode == 1, first.stderr
    assert outcomes(tmp_path / "a.json") == [
        "guardian_email_changed",
        "guardian_email_changed",
        "created",
    ]
    assert len(app.fake.state.users) == users + 1  # Sam only
    sam = app.fake.state.user_by_sis_id("G-8")
    assert sam is not None and sam.logins[0].unique_id == "sam@home.test"
    second = sync_cli(
        path,
        url,
        tmp_path / "j",
        *common,
        "--update-guardians",
        "--report",
        str(tmp_path / "b.json"),
    )
    assert second.returncode == 0, second.stderr
    assert outcomes(tmp_path / "b.json") == ["guardian_updated", "already_paired", "already_paired"]
    pat = app.fake.state.user_by_sis_id("G-7")
    assert pat is not None and pat.logins[0].unique_id == "new@home.test"
    assert len(app.fake.state.users) == users + 1


def test_a_bad_template_is_a_usage_error(server: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """--observer-id-template with an unknown field stops before anything: exit 2."""
    _app, url = server
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "100,new@home.test,Pat,Lee,7\n", encoding="utf-8")
    result = sync_cli(path, url, tmp_path / "j", "--observer-id-template", "G-{id}")
    assert result.returncode == 2
    assert "unknown field" in result.stderr
