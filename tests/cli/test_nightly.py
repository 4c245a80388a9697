"""What an admin finds the morning after an unattended run: the run log, retry lines, the stop
reason in `show` and `runs`, `--fail-on`, and the webhook summary (`--notify-url`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.report.notify import scrub
from tests.wiring import HEADER

TOKEN = "nightly-test-token-5d2e"
ROWS = "100,pat@home.test,Pat,Lee\n300,sam@home.test,Sam,Lee\nZZZ,kim@home.test,Kim,Lee\n"


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Student 100 enrolled, 300 not enrolled; ZZZ does not exist."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    state.enroll(
        state.add_user("Kid", login_id="k100@s.test", sis_user_id="100"), state.add_course("C")
    )
    state.add_user("Kid 3", login_id="k300@s.test", sis_user_id="300")
    with running_server(app) as url:
        yield app, url


def cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": token, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def sync(
    tmp_path: Path, url: str, *extra: str, token: str = TOKEN, body: str = ROWS
) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + body, encoding="utf-8")
    return cli(
        "sync",
        str(roster),
        "--canvas-url",
        url,
        "--state",
        str(tmp_path / "j.sqlite3"),
        "--log-file",
        str(tmp_path / "sync.log"),
        *extra,
        token=token,
    )


def test_the_log_file_tells_the_whole_run(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Start, each row paired or needing a human (naming the guardian and the student),
    totals and the end are in --log-file, not on stderr."""
    _, url = canvas
    result = sync(tmp_path, url)
    log = (tmp_path / "sync.log").read_text()
    assert "run 1 started: roster" in log and "pairing code" in log
    assert "line 2: Pat Lee (pat@home.test) paired with Kid (100) (account created)" in log
    assert "line 4: guardian Kim Lee (kim@home.test), student ZZZ: student_not_found" in log
    assert "line 3: guardian Sam Lee (sam@home.test), student Kid 3 (300): not_enrolled" in log
    assert "totals: created 1" in log
    assert "run 1 ended: complete" in log
    assert "student ZZZ" not in result.stderr


def test_a_refused_token_is_in_the_log_file(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A run stopped by a bad token leaves its reason in the log file (it was empty)."""
    _, url = canvas
    result = sync(tmp_path, url, token="wrong-token")
    assert result.returncode == 2
    log = (tmp_path / "sync.log").read_text()
    assert "stopped: Canvas refused the token" in log
    assert "wrong-token" not in log


def test_show_and_runs_say_why_a_run_stopped(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The stop reason is kept in the journal: `show`, `show --json` and `runs` give it."""
    _, url = canvas
    assert sync(tmp_path, url, token="wrong-token").returncode == 2
    state = str(tmp_path / "j.sqlite3")
    shown = cli("show", "1", "--state", state)
    assert "stopped because" in shown.stdout and "refused the token" in shown.stdout
    as_json = json.loads(cli("show", "1", "--state", state, "--json").stdout)
    assert "refused the token" in as_json["run"]["stop_reason"]
    assert "refused" in cli("runs", "--state", state).stdout


def test_show_filters_by_several_outcomes_and_needs_attention(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--outcome takes several values and lists any outcome; --needs-attention keeps the rows
    the run's --fail-on counted (here the default: not_enrolled cures itself, so not it)."""
    _, url = canvas
    sync(tmp_path, url)
    state = str(tmp_path / "j.sqlite3")
    both = json.loads(
        cli("show", "1", "--state", state, "--json", "--outcome", "created,not_enrolled").stdout
    )
    assert sorted(r["outcome"] for r in both["rows"]) == ["created", "not_enrolled"]
    attention = json.loads(cli("show", "1", "--state", state, "--json", "--needs-attention").stdout)
    assert sorted(r["outcome"] for r in attention["rows"]) == ["student_not_found"]
    assert cli("show", "1", "--state", state, "--outcome", "bogus").returncode == 2


def test_fail_on_leaves_out_the_expected_outcomes(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Only not_enrolled left: exit 0 by default; exit 1 when --fail-on names it."""
    _, url = canvas
    body = "100,pat@home.test,Pat,Lee\n300,sam@home.test,Sam,Lee\n"
    assert sync(tmp_path, url, body=body).returncode == 0
    assert sync(tmp_path, url, "--fail-on", "not_enrolled", body=body).returncode == 1


def test_retries_are_one_line_each_with_the_cause(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Under 5xx faults each retry logs method, path, cause and attempt n of m; no bare
    stamina lines."""
    app, url = canvas
    app.fake.config.update({"fault_rate": 0.5, "seed": 4})
    result = sync(tmp_path, url, "--log-level", "info")
    assert "retrying GET /api/v1/" in result.stderr
    assert "attempt 1 of 8 failed" in result.stderr
    assert "stamina.retry_scheduled" not in result.stderr


def test_notify_url_gets_a_summary_without_personal_data(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Exit 1: the webhook gets text, counts and the state, no email and no token; exit 0:
    nothing is sent."""
    _, url = canvas
    received: list[dict[str, object]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    with running_server(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hook_url:
        assert sync(tmp_path, url, "--notify-url", f"{hook_url}/hook").returncode == 1
        body = "100,pat@home.test,Pat,Lee\n"
        assert sync(tmp_path, url, "--notify-url", f"{hook_url}/hook", body=body).returncode == 0
    assert len(received) == 1
    sent = json.dumps(received[0])
    assert received[0]["exit_code"] == 1 and "1 row needs a person" in str(received[0]["text"])
    assert "@" not in sent and TOKEN not in sent
    refused = sync(tmp_path, url, "--notify-url", "http://example.com/hook")
    assert refused.returncode == 2 and "https" in refused.stderr


def test_scrub_removes_emails_and_ids() -> None:
    """Emails (also percent-encoded) and SIS/login ids in a path are scrubbed."""
    text = "GET /api/v1/users/sis_login_id:pat%40home.test/observees -> 404; kim@home.test"
    assert scrub(text) == "GET /api/v1/users/sis_login_id:…/observees -> 404; [email]"
