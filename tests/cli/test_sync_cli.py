"""`canvas-observers sync` end to end: real loopback HTTP, exit codes, report, log, journal."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "cli-test-token-7f3a9c"  # distinctive, so a leak would be found by a plain search


@pytest.fixture
def server() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas over real loopback HTTP with two enrolled students and one unenrolled."""
    app = create_app(FakeConfig(admin_token=TOKEN))
    state = app.fake.state
    course = state.add_course("C")
    for sis in ("100", "1001"):
        state.enroll(
            state.add_user(f"Kid {sis}", login_id=f"k{sis}@kids.test", sis_user_id=sis), course
        )
    state.add_user("Kid 300", login_id="k300@kids.test", sis_user_id="300")
    with running_server(app) as url:
        yield app, url


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command, as a Canvas admin runs it (no terminal: plain log lines)."""
    full_env = {**os.environ, "CANVAS_TOKEN": TOKEN, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def sync_cli(
    path: Path, url: str, state: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`canvas-observers sync PATH --canvas-url URL --state STATE EXTRA...`."""
    return run_cli("sync", str(path), "--canvas-url", url, "--state", str(state), *extra, env=env)


def roster(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_all_paired_exits_0_and_rerun_writes_nothing(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Every row paired: exit 0, a JSON report, a journal; the re-run writes nothing."""
    app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n1001,pat@home.test,Pat,Lee\n")
    state = tmp_path / "j.sqlite3"
    first = sync_cli(path, url, state, "--report", str(tmp_path / "r1.json"))
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "r1.json").read_text())
    assert [r["outcome"] for r in report["rows"]] == ["created", "paired"]
    assert report["run"]["totals"]["created"] == 1
    writes = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    second = sync_cli(path, url, state, "--report", str(tmp_path / "r2.csv"))
    assert second.returncode == 0, second.stderr
    assert sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE")) == writes
    csv_text = (tmp_path / "r2.csv").read_text(encoding="utf-8-sig")
    assert csv_text.count("already_paired") == 2
    runs = run_cli("runs", "--state", str(tmp_path / "j.sqlite3"))
    assert runs.returncode == 0
    assert runs.stdout.count("complete") == 2


def test_rows_needing_attention_exit_1(server: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """Unknown, unenrolled and invalid rows are listed; the good row still pairs; exit 1."""
    _app, url = server
    path = roster(
        tmp_path,
        "100,pat@home.test,Pat,Lee\n999,x@home.test,X,Y\n300,z@home.test,Z,Z\n100,bad-email,A,B\n",
    )
    result = sync_cli(path, url, tmp_path / "j")
    assert result.returncode == 1, result.stderr
    for text in ("student_not_found", "not_enrolled", "invalid_row", "created"):
        assert text in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_guardian_with_no_email_exits_0_and_every_row_names_people(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A guardian the SIS has no email for is no_email, not invalid_row: the run exits 0, the
    summary and the log name the guardian; the JSON report and `show --json` name the student
    as Canvas does and the guardian as the roster does; `--fail-on no_email` makes it exit 1."""
    app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n1001,,Ana,Ng\n")
    state, report, log = tmp_path / "j.sqlite3", tmp_path / "r.json", tmp_path / "sync.log"
    result = sync_cli(path, url, state, "--report", str(report), "--log-file", str(log))
    assert result.returncode == 0, result.stdout + result.stderr
    # counted in the summary and said in its sentence; not listed as needing attention
    assert "no_email" in result.stdout and "no row needs your attention" in result.stdout
    assert "1 guardian has no email in the SIS" in " ".join(result.stdout.split())
    rows = json.loads(report.read_text())["rows"]
    named = [(r["outcome"], r["student_id"], r["student_name"], r["guardian_name"]) for r in rows]
    assert named == [("created", "100", "Kid 100", "Pat Lee"), ("no_email", "1001", "", "Ana Ng")]
    assert rows[1]["observer_email"] == ""
    text = log.read_text()
    assert "Pat Lee (pat@home.test) paired with Kid 100 (100) (account created)" in text
    assert "guardian Ana Ng (no email), student 1001: no_email" in text
    shown = run_cli("show", "1", "--state", str(state), "--json")
    assert shown.returncode == 0, shown.stderr
    assert [r for r in json.loads(shown.stdout)["rows"]] == rows
    table = run_cli("show", "1", "--state", str(state), env={"COLUMNS": "250"})
    assert "Kid 100 (100)" in table.stdout and "Pat Lee (pat@home.test)" in table.stdout
    strict = sync_cli(path, url, state, "--fail-on", "no_email")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "Ana Ng (no email)" in strict.stdout  # listed once --fail-on counts it
    assert app.fake.state.user_by_login("pat@home.test") is not None


def test_a_malformed_email_is_still_an_invalid_row(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """An email that is given but unusable is a fault of the row: invalid_row, exit 1."""
    _app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n1001,ana@,Ana,Ng\n")
    result = sync_cli(path, url, tmp_path / "j", "--report", str(tmp_path / "r.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [(r["outcome"], r["guardian_name"]) for r in rows] == [
        ("created", "Pat Lee"),
        ("invalid_row", "Ana Ng"),
    ]


def test_dry_run_writes_nothing(server: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """--dry-run reports would_create and sends no write to Canvas."""
    app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n")
    result = sync_cli(path, url, tmp_path / "j", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would_create" in result.stdout
    assert sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE")) == 0


def test_log_file_and_report_are_private_and_token_free(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--log-file and --report are created 0600, and neither holds the token (DEBUG logging)."""
    _app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n")
    log, report = tmp_path / "sync.log", tmp_path / "r.csv"
    result = sync_cli(
        path,
        url,
        tmp_path / "j",
        "--log-level",
        "debug",
        "--log-file",
        str(log),
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    for file in (log, report, tmp_path / "j"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        assert TOKEN not in file.read_bytes().decode("utf-8", "replace")
    assert TOKEN not in result.stdout + result.stderr
    assert "users/self" in log.read_text()  # DEBUG did log the requests


def test_rejected_token_exits_2_with_one_line(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A token Canvas refuses stops the run before any row: exit 2 and one clear line."""
    _app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n")
    result = sync_cli(path, url, tmp_path / "j", env={"CANVAS_TOKEN": "wrong-token"})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "token" in errors[0].lower()
    assert "Traceback" not in result.stderr


def test_missing_url_and_token_are_usage_errors(tmp_path: Path) -> None:
    """No Canvas URL or no token: exit 2 with a message saying what to set."""
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n")
    env = {k: v for k, v in os.environ.items() if k not in {"CANVAS_URL", "CANVAS_TOKEN"}}
    result = subprocess.run(
        [sys.executable, "-m", "canvas_observers", "sync", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "CANVAS_URL" in result.stderr
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "canvas_observers",
            "sync",
            str(path),
            "--canvas-url",
            "https://canvas.example.edu",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "CANVAS_TOKEN" in result.stderr


def test_ctrl_c_stops_gracefully_and_reports_every_row(tmp_path: Path) -> None:
    """SIGINT mid-run: rows in hand finish, the rest are reported, exit 2, run `stopped`."""
    from canvas_observers.fake_canvas.scenarios import generate_district

    app = create_app(FakeConfig(admin_token=TOKEN, latency_ms=150))
    path = tmp_path / "roster.csv"
    path.write_text(generate_district(app.fake.state, rows=120, seed=3), encoding="utf-8")
    report = tmp_path / "r.json"
    with running_server(app) as url:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "canvas_observers",
                "sync",
                str(path),
                "--canvas-url",
                url,
                "--state",
                str(tmp_path / "j"),
                "--report",
                str(report),
                "--log-file",
                str(tmp_path / "sync.log"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CANVAS_TOKEN": TOKEN},
        )
        assert process.stderr is not None
        for line in process.stderr:  # wait until the run is under way
            if "progress:" in line:
                break
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "Stopping (Ctrl-C): finishing the rows in hand" in stderr
    assert "error: the run stopped: interrupted (Ctrl-C)" in stderr
    assert "Traceback" not in stdout + stderr
    rows = json.loads(report.read_text())["rows"]
    assert len({r["line"] for r in rows}) == len(rows)
    not_processed = [r for r in rows if r["outcome"] == "not_processed"]
    assert not_processed, "the run stopped before the end, and says which rows it left"
    assert all(r["detail"].startswith("the run stopped: interrupted") for r in not_processed)
    assert not [r for r in rows if r["outcome"] == "failed" and "interrupted" in r["detail"]]
    log = (tmp_path / "sync.log").read_text()  # one line for them all, not a warning each
    assert f"{len(not_processed)} roster rows were not processed: the run stopped" in log
    assert ": not_processed:" not in log
    runs = run_cli("runs", "--state", str(tmp_path / "j"))
    assert "stopped" in runs.stdout


@pytest.mark.parametrize(
    ("signum", "named"),
    [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")],
    ids=["SIGTERM", "Ctrl-C"],
)
def test_a_stop_signal_ends_the_wait_for_the_report(
    tmp_path: Path, signum: signal.Signals, named: str
) -> None:
    """SIGTERM or Ctrl-C while the run waits for Canvas's report (one of 60 s here): the run
    stops long before the report would end, exit 2, the signal named, nothing written."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=60.0))
    state = app.fake.state
    kid = state.add_user("Kid", login_id="kid@s.test", sis_user_id="S1")
    state.enroll(kid, state.add_course("C"))
    path = roster(tmp_path, "S1,pat@home.test,Pat,Lee\n")
    command = [sys.executable, "-m", "canvas_observers", "sync", str(path), "--canvas-state"]
    with running_server(app) as url:
        process = subprocess.Popen(
            [*command, "report", "--canvas-url", url, "--state", str(tmp_path / "j")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CANVAS_TOKEN": TOKEN},
        )
        try:
            assert process.stderr is not None
            for line in process.stderr:  # wait until the run waits for the report
                if "provisioning report" in line and "started" in line:
                    break
            sent = time.monotonic()
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=50)
            elapsed = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 2, stderr
    assert f"interrupted ({named}) while waiting for Canvas's provisioning report" in stderr
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"  # the report would take 60 s
    assert "Traceback" not in stdout + stderr
    assert app.fake.stats.by_method["POST"] == 1  # the report's start: nothing was written


def test_report_folder_is_made_before_any_write(
    server: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A --report whose folder cannot be made is refused up front (exit 2), before Canvas is
    touched."""
    app, url = server
    path = roster(tmp_path, "100,pat@home.test,Pat,Lee\n")
    (tmp_path / "blocker").write_text("a file where the folder should be")
    result = sync_cli(path, url, tmp_path / "j", "--report", str(tmp_path / "blocker" / "r.json"))
    assert result.returncode == 2
    assert "cannot create the folder" in result.stderr
    assert sum(app.fake.stats.by_method.values()) == 0
