"""A nightly run from cron or systemd makes noise only when a person is needed: `--quiet`
prints nothing on a night that exits 0; the run's `--fail-on` is the one meaning of "needs
attention" (exit code, summary, `runs`, `show --needs-attention`); the webhook says what
happened and what to do, gives up within one deadline, and is told when a run cannot start.
Every test drives the real command in a subprocess against the fake Canvas on loopback."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canvas_observers.cli.lock import run_lock
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.fake_oneroster import FakeOneRosterConfig, write_sample
from canvas_observers.fake_oneroster import create_app as create_oneroster
from canvas_observers.fake_oneroster.server import running_server as running_oneroster
from tests.wiring import HEADER

TOKEN = "quiet-nights-token-7c1f"
PAIRED = "100,pat@home.test,Pat,Lee\n"
NOT_ENROLLED = "300,sam@home.test,Sam,Lee\n"
NOT_FOUND = "ZZZ,kim@home.test,Kim,Lee\n"

# The command as cron runs it, with the webhook's overall deadline shortened (an internal
# constant, not a flag): a slow receiver then costs the test one second, not fifteen.
SHORT_DEADLINE = (
    "import sys; import canvas_observers.cli.nightly as nightly; nightly.NOTIFY_DEADLINE = 1.0; "
    "from canvas_observers.cli import main; sys.argv[0] = 'canvas-observers'; main()"
)


@pytest.fixture
def canvas() -> Iterator[str]:
    """Student 100 enrolled, 300 not enrolled; ZZZ does not exist."""
    app: FakeCanvasApp = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    state.enroll(
        state.add_user("Kid", login_id="k100@s.test", sis_user_id="100"), state.add_course("C")
    )
    state.add_user("Kid 3", login_id="k300@s.test", sis_user_id="300")
    with running_server(app) as url:
        yield url


def cli(*args: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    """The command in a subprocess, the webhook deadline shortened; never more than 2 min."""
    return subprocess.run(
        [sys.executable, "-c", SHORT_DEADLINE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": token, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def sync(
    tmp_path: Path, url: str, body: str, *extra: str, token: str = TOKEN
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


def check_column(runs_output: str, run_id: int) -> str:
    """The `check` (needs attention) field of one run in `canvas-observers runs`, as a pipe
    gets it: a line of labelled fields per run (``id 1 · … · check 0 · …``), wrapped lines
    indented."""
    records: list[str] = []
    for line in runs_output.splitlines():
        if line[:1].isspace() and records:
            records[-1] += " " + line.strip()
        else:
            records.append(line)
    record = next(r for r in records if re.match(rf"id {run_id} · ", r))
    found = re.search(r"· check (\S+)", record)
    assert found is not None, record
    return found.group(1)


# --- --quiet ---------------------------------------------------------------------------------


def test_quiet_prints_nothing_at_all_on_a_night_that_exits_0(canvas: str, tmp_path: Path) -> None:
    """Exit 0 with --quiet: empty stdout and stderr, even with a warning logged during the run
    (a journal others can read) and a not_enrolled row; the log file keeps both."""
    body = PAIRED + NOT_ENROLLED
    assert sync(tmp_path, canvas, body).returncode == 0
    (tmp_path / "j.sqlite3").chmod(0o644)  # the journal warns about this at every open
    result = sync(tmp_path, canvas, body, "--quiet")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""
    log = (tmp_path / "sync.log").read_text()
    assert "chmod 600" in log  # held from the terminal, kept in the file
    assert re.search(
        r"line 3: guardian [^\n]*\(sam@home\.test\), student [^\n]*: not_enrolled", log
    )


def test_a_night_with_a_guardian_without_email_is_quiet(canvas: str, tmp_path: Path) -> None:
    """A guardian the SIS has no email for is common: `no_email` is reported (in the JSON
    report, by name) but needs no one tonight, so with --quiet the night prints nothing and
    exits 0, and the webhook is not called."""
    report = tmp_path / "night.json"
    body = PAIRED + "100,,Ana,Ng\n"
    result = sync(tmp_path, canvas, body, "--quiet", "--report", str(report))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    rows = json.loads(report.read_text(encoding="utf-8"))["rows"]
    no_email = [r for r in rows if r["outcome"] == "no_email"]
    assert len(no_email) == 1 and no_email[0]["guardian_name"] == "Ana Ng"


def test_quiet_prints_what_a_person_needs_when_the_run_needs_one(
    canvas: str, tmp_path: Path
) -> None:
    """Exit 1 with --quiet: the rows needing attention, the command to see the run, the held
    warning; no totals or API calls tables. Exit 2: the error line."""
    (tmp_path / "j.sqlite3").touch(mode=0o644)
    result = sync(tmp_path, canvas, PAIRED + NOT_FOUND, "--quiet")
    assert result.returncode == 1
    assert "Rows that need attention (1)" in result.stdout and "student_not_found" in result.stdout
    state = str((tmp_path / "j.sqlite3").absolute())
    assert f"See the run: canvas-observers show 1 --state {state}" in result.stdout
    assert "API calls" not in result.stdout and "Sync summary" not in result.stdout
    assert "chmod 600" in result.stderr  # the held warning, printed since a person is needed
    refused = sync(tmp_path, canvas, PAIRED, "--quiet", token="wrong-token")
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "error: the run stopped: Canvas refused the token" in refused.stderr


# --- one meaning of "needs attention" --------------------------------------------------------


def test_runs_and_show_count_what_the_runs_fail_on_counted(canvas: str, tmp_path: Path) -> None:
    """Run 1 with --fail-on failed: its not_enrolled and student_not_found rows need nobody
    (exit 0, `runs` counts 0, `show --needs-attention` lists none, `--outcome` still lists
    them). Run 2 with the default set counts what DEFAULT_FAIL_ON counts: student_not_found."""
    body = PAIRED + NOT_ENROLLED + NOT_FOUND
    assert sync(tmp_path, canvas, body, "--fail-on", "failed").returncode == 0
    assert sync(tmp_path, canvas, body).returncode == 1
    state = str(tmp_path / "j.sqlite3")
    runs = cli("runs", "--state", state).stdout
    assert check_column(runs, 1) == "0"
    assert check_column(runs, 2) == "1"

    def shown(run: str, *flags: str) -> Any:
        return json.loads(cli("show", run, "--state", state, "--json", *flags).stdout)

    first = shown("1", "--needs-attention")
    assert first["rows"] == [] and first["run"]["fail_on"] == ["failed"]
    listed = shown("1", "--outcome", "not_enrolled")["rows"]
    assert [r["outcome"] for r in listed] == ["not_enrolled"]
    second = shown("2", "--needs-attention")
    assert [r["outcome"] for r in second["rows"]] == ["student_not_found"]
    assert second["run"]["fail_on"] == sorted(o.value for o in DEFAULT_FAIL_ON)


def test_a_run_recorded_before_fail_on_was_kept_counts_the_default_set(
    canvas: str, tmp_path: Path
) -> None:
    """A run from before the journal kept --fail-on (NULL) falls back to the default set."""
    body = PAIRED + NOT_ENROLLED + NOT_FOUND
    assert sync(tmp_path, canvas, body, "--fail-on", "failed").returncode == 0
    with sqlite3.connect(tmp_path / "j.sqlite3") as conn:
        conn.execute("UPDATE runs SET fail_on = NULL")
    state = str(tmp_path / "j.sqlite3")
    assert check_column(cli("runs", "--state", state).stdout, 1) == "1"


# --- the webhook -----------------------------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A webhook on loopback: POST /ok records the body, POST /gone-secret-path answers 404."""
    received: list[dict[str, object]] = []

    async def ok(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    async def gone(_request: Request) -> Response:
        return Response("no_service", status_code=404)

    routes = [
        Route("/ok", ok, methods=["POST"]),
        Route("/gone-secret-path", gone, methods=["POST"]),
    ]
    with running_server(Starlette(routes=routes)) as url:
        yield url, received


def test_the_webhook_says_what_happened_and_the_show_command_to_run(
    canvas: str, tmp_path: Path, hook: tuple[str, list[dict[str, object]]]
) -> None:
    """The text names the run, the Canvas host and the local time in a sentence, then what to
    do first: a `show` command with --state (and --config when the run used one) that runs
    as printed."""
    url, received = hook
    settings = tmp_path / "nightly.toml"
    settings.write_text('pairing = "code"\n', encoding="utf-8")
    assert sync(tmp_path, canvas, PAIRED + NOT_FOUND, "--notify-url", f"{url}/ok").returncode == 1
    with_config = ("--notify-url", f"{url}/ok", "--config", str(settings))
    assert sync(tmp_path, canvas, PAIRED + NOT_FOUND, *with_config).returncode == 1
    first, second = (str(body["text"]) for body in received)
    said, to_do, counts = first.splitlines()
    assert re.match(r"canvas-observers run 1 on 127\.0\.0\.1 ended at \d{4}-\d\d-\d\d", said)
    assert said.endswith("1 row needs a person.")
    assert to_do.startswith("What to do first: `canvas-observers show 1 --state ")
    assert counts == "created 1, student_not_found 1 (exit 1)"
    command = shlex.split(to_do.split("`")[1])
    assert "--config" not in command
    shown = cli(*command[1:])  # as printed, from any folder
    assert shown.returncode == 0 and "student_not_found" in shown.stdout
    assert "created" not in shown.stdout.split("Rows")[1]  # --needs-attention: that row only
    assert f"--config {settings.absolute()}" in second


def test_a_webhook_that_fails_names_its_status_and_host_not_its_url(
    canvas: str, tmp_path: Path, hook: tuple[str, list[dict[str, object]]]
) -> None:
    """404 from the webhook: one warning with the status and the host; the path (a Slack or
    Teams webhook's secret) and the token are never shown; the exit code stays 1."""
    url, _ = hook
    result = sync(tmp_path, canvas, NOT_FOUND, "--notify-url", f"{url}/gone-secret-path")
    assert result.returncode == 1
    warning = next(line for line in result.stderr.splitlines() if "webhook" in line)
    assert "at 127.0.0.1: it answered HTTP 404 Not Found" in warning
    log = (tmp_path / "sync.log").read_text()
    for text in (result.stdout, result.stderr, log):
        assert "gone-secret-path" not in text and TOKEN not in text


@pytest.fixture
def dribbler() -> Iterator[str]:
    """A webhook that takes the request, then answers one byte every 0.3 s (for 20 s at
    most): each read is quick, the answer never ends. Its URL."""
    stop = threading.Event()
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                ends = time.monotonic() + 20
                while not stop.is_set() and time.monotonic() < ends:
                    try:
                        conn.sendall(b".")
                    except OSError:
                        break  # the client gave up
                    stop.wait(0.3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_a_slow_webhook_is_given_up_at_the_deadline(
    canvas: str, tmp_path: Path, dribbler: str
) -> None:
    """A receiver that dribbles a byte at a time does not hold the run: the POST has one
    overall deadline, the run ends with its own exit code and says the webhook timed out."""
    result = sync(tmp_path, canvas, NOT_FOUND, "--notify-url", dribbler)
    assert result.returncode == 1
    assert "webhook at 127.0.0.1: it timed out: no complete answer within 1 s" in result.stderr


def test_the_webhook_is_told_when_a_run_cannot_start(
    canvas: str, tmp_path: Path, hook: tuple[str, list[dict[str, object]]]
) -> None:
    """Another run holding the lock, a missing roster, an empty one: each sends the webhook a
    sentence saying what failed and what to do first; exit 2, nothing sent to Canvas."""
    url, received = hook
    notify = ("--notify-url", f"{url}/ok")
    state = tmp_path / "j.sqlite3"
    with run_lock(canvas, state, "sync"):
        assert sync(tmp_path, canvas, PAIRED, *notify).returncode == 2
    missing = cli("sync", str(tmp_path / "gone.csv"), "--canvas-url", canvas, "--state",
                  str(state), *notify)  # fmt: skip
    assert missing.returncode == 2
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    empty = cli("sync", str(tmp_path / "empty.csv"), "--canvas-url", canvas, "--state",
                str(state), *notify)  # fmt: skip
    assert empty.returncode == 2
    locked, gone, blank = (str(body["text"]) for body in received)
    start = r"canvas-observers could not start its run on 127\.0\.0\.1 at \d{4}-\d\d-\d\d \d\d:\d\d"
    assert re.match(start + r".*: another run is using http://127\.0\.0\.1:\d+ \(", locked)
    assert "What to do first: check whether the run named above is still working" in locked
    assert "gone.csv: no such file" in gone and "tonight's SIS export ran" in gone
    assert "the file is empty" in blank and "tonight's SIS export ran" in blank
    assert all(body["exit_code"] == 2 and body["state"] == "not_started" for body in received)


def test_the_webhook_is_told_when_the_sis_refuses_the_run(
    canvas: str, tmp_path: Path, hook: tuple[str, list[dict[str, object]]]
) -> None:
    """The SIS's OneRoster API refuses the client secret: the run cannot start, and the
    webhook's text says so and to check the API's credentials; the secret is never sent."""
    url, received = hook
    config = FakeOneRosterConfig(version="1.1", client_id="district-q", client_secret="right-1")
    bundle = write_sample(tmp_path / "bundle", "1.1")
    wrong = tmp_path / "secret"
    wrong.write_text("wrong-secret-5b\n", encoding="utf-8")
    wrong.chmod(0o600)
    with running_oneroster(create_oneroster(config, bundle)) as sis:
        result = cli(
            "sync", "--oneroster-api", f"{sis}/ims/oneroster/v1p1", "--client-id", "district-q",
            "--client-secret-file", str(wrong), "--canvas-url", canvas,
            "--state", str(tmp_path / "j.sqlite3"), "--notify-url", f"{url}/ok",
        )  # fmt: skip
    assert result.returncode == 2
    (body,) = received
    text = str(body["text"])
    assert text.startswith("canvas-observers could not start its run on 127.0.0.1 at ")
    assert "district-q" in text and "wrong-secret-5b" not in json.dumps(body)
    assert "What to do first: check that the SIS's OneRoster API answers" in text


def test_the_webhook_says_why_a_run_stopped(
    canvas: str, tmp_path: Path, hook: tuple[str, list[dict[str, object]]]
) -> None:
    """A run Canvas stops (the token refused): exit 2, and the text gives the reason and what
    to do first; the token is never in it."""
    url, received = hook
    result = sync(tmp_path, canvas, PAIRED, "--notify-url", f"{url}/ok", token="wrong-token-9")
    assert result.returncode == 2
    (body,) = received
    said, to_do, _counts = str(body["text"]).splitlines()
    assert re.match(r"canvas-observers stopped run 1 on 127\.0\.0\.1 at .*: Canvas refused", said)
    assert to_do.startswith("What to do first: fix what stopped it")
    assert "wrong-token-9" not in json.dumps(body)
