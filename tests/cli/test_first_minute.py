"""The first minute with the tool, through the real CLI: a wrong URL, port or scheme, a token
pasted with its header, an Excel roster, a pipe into `head`: each ends at once with one line
that says what to change, and a refused URL leaves no journal behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp
from tests.reliability.conftest import free_port
from tests.wiring import HEADER, one_student_canvas

TOKEN = "first-minute-token-51c2"


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with one enrolled student, S1."""
    with one_student_canvas(TOKEN) as served:
        yield served


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No CANVAS_* from the caller; the default journal goes under tmp_path."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_")}
    return {**base, "CANVAS_TOKEN": TOKEN, "XDG_STATE_HOME": str(tmp_path / "state"), **extra}


def cli(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env=env(tmp_path, **extra),
        timeout=120,
        check=False,
    )


def roster(tmp_path: Path, body: str = "S1,pat@home.test,Pat,Lee\n") -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if "rror:" in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_connection_refused_fails_at_once_with_the_cause(tmp_path: Path) -> None:
    """Nothing listens on the port: exit 2 in a few seconds (no retries), the cause named."""
    port = free_port()
    started = time.monotonic()
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", f"http://127.0.0.1:{port}"
    )
    assert result.returncode == 2
    assert time.monotonic() - started < 10
    line = error_line(result)
    assert line.startswith("error: the run stopped: Canvas is unreachable")
    assert f"connection refused by 127.0.0.1:{port}" in line
    assert "retrying" not in result.stderr


def test_https_to_a_plain_http_server_says_so_at_once(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """https:// to a server speaking plain HTTP: the TLS mismatch in the one error line."""
    _, url = canvas
    port = url.rsplit(":", 1)[1]
    started = time.monotonic()
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", f"https://127.0.0.1:{port}"
    )
    assert result.returncode == 2
    assert time.monotonic() - started < 10
    assert f"127.0.0.1:{port} answers in plain HTTP, not https" in error_line(result)


@pytest.mark.parametrize(
    "pasted",
    [
        "https://school.example.edu/api/v1",
        "https://school.example.edu/courses/13",
        "https://School.example.edu/login/canvas?x=1",
    ],
)
def test_a_url_from_the_browser_gets_the_sites_root(pasted: str, tmp_path: Path) -> None:
    """A page's URL is refused with the root to use instead; no journal is created."""
    result = cli(tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", pasted)
    assert result.returncode == 2
    assert error_line(result) == (
        f"error: {pasted} is a page of Canvas, not the site; use the site's root: "
        "https://school.example.edu"
    )
    assert not (tmp_path / "state").exists()


def test_plain_http_is_refused_naming_the_flag_and_leaves_no_journal(tmp_path: Path) -> None:
    """http:// to a remote host: the message names --allow-insecure-http; no journal file."""
    state = tmp_path / "j.sqlite3"
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", "http://canvas.example.edu",
        "--state", str(state),
    )  # fmt: skip
    assert result.returncode == 2
    assert "pass --allow-insecure-http" in error_line(result)
    assert not state.exists()
    assert not (tmp_path / "state").exists()


def test_one_journal_per_canvas_whatever_the_spelling(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Host case and a trailing slash make no second journal: both runs are in one file."""
    _, url = canvas
    port = url.rsplit(":", 1)[1]
    path = roster(tmp_path)
    for spelling in (f"http://localhost:{port}/", f"http://LocalHost:{port}"):
        result = cli(tmp_path, "sync", str(path), "--canvas-url", spelling)
        assert result.returncode == 0, result.stderr
    folder = tmp_path / "state" / "canvas-observers"
    journals = sorted(p.name for p in folder.glob("*.sqlite3"))
    assert journals == [f"localhost_{port}.sqlite3"]
    runs = cli(tmp_path, "runs", "--canvas-url", f"HTTP://localhost:{port}/")
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count("complete") == 2


@pytest.mark.parametrize("flag", ["--state", "--report"])
def test_state_and_report_treat_a_missing_folder_alike(
    flag: str, canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--state and --report in a folder that does not exist: both create it, owner-only; a
    folder that cannot be made stops both alike, before anything is sent."""
    app, url = canvas
    target = tmp_path / "new" / "deeper" / "out.json"
    result = cli(tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", url, flag, str(target))
    assert result.returncode == 0, result.stderr
    assert target.exists()
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    sent = sum(app.fake.stats.by_method.values())
    (tmp_path / "blocker").write_text("a file, not a folder")
    target = tmp_path / "blocker" / "out.json"
    result = cli(tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", url, flag, str(target))
    assert result.returncode == 2
    assert f"{flag} {target}: cannot create the folder {target.parent}" in result.stderr
    assert sum(app.fake.stats.by_method.values()) == sent


def test_a_bearer_token_file_gets_a_hint(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """A token file holding the whole header value: exit 2, told to drop 'Bearer '."""
    app, url = canvas
    token_file = tmp_path / "token"
    token_file.write_text(f"Bearer {TOKEN}\n")
    token_file.chmod(0o600)
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", url,
        "--token-file", str(token_file),
    )  # fmt: skip
    assert result.returncode == 2
    assert "starts with 'Bearer ': give the token alone" in result.stderr
    assert TOKEN not in result.stderr
    assert sum(app.fake.stats.by_method.values()) == 0


def test_log_level_in_upper_case(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """--log-level WARNING works like warning."""
    _, url = canvas
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", url, "--log-level", "WARNING"
    )
    assert result.returncode == 0, result.stderr
    assert "progress:" not in result.stderr


def test_an_excel_roster_with_smart_quotes_gets_the_cp1252_hint(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Seán O’Brien saved by Excel on Windows: the hint says cp1252, and cp1252 reads it."""
    app, url = canvas
    path = tmp_path / "roster.csv"
    path.write_bytes((HEADER + "S1,ob@home.test,Seán,O’Brien\n").encode("cp1252"))
    result = cli(tmp_path, "sync", str(path), "--canvas-url", url)
    assert result.returncode == 2
    assert error_line(result).endswith("or pass --encoding cp1252")
    result = cli(tmp_path, "sync", str(path), "--canvas-url", url, "--encoding", "cp1252")
    assert result.returncode == 0, result.stderr
    user = app.fake.state.user_by_login("ob@home.test")
    assert user is not None and user.name == "Seán O’Brien"


@pytest.mark.parametrize(("port_open", "code"), [(True, 0), (False, 2)])
def test_a_closed_pipe_keeps_the_exit_code(
    port_open: bool, code: int, canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """`sync ... 2>&1 | head` with the reader gone at once: the exit code is the run's."""
    _, url = canvas
    target = url if port_open else f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "canvas_observers", "sync", str(roster(tmp_path)),
         "--canvas-url", target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env(tmp_path),
    )  # fmt: skip
    assert process.stdout is not None
    process.stdout.close()
    assert process.wait(timeout=120) == code


@pytest.mark.parametrize(
    ("where", "token", "said"),
    [
        ("env", "tök€n-9c1f-value", "CANVAS_TOKEN has a character that cannot be sent "
         "(character 2 is not ASCII)"),
        ("env", "9c1f-value\u00a0pasted", "CANVAS_TOKEN has a character that cannot be sent "
         "(character 11 is not ASCII)"),
        ("file", "tök€n-9c1f-value", "has a character that cannot be sent "
         "(character 2 is not ASCII)"),
        ("file", "9c1f-value with-space", "has a character that cannot be sent "
         "(character 11 is a space or a control character)"),
        ("file", b"\xff\xfe9c1f-value", "is not text (not UTF-8)"),
    ],
    ids=["env-non-ascii", "env-nbsp", "file-non-ascii", "file-space", "file-not-utf8"],
)  # fmt: skip
def test_a_token_no_header_can_carry_is_one_line_that_never_shows_it(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path, where: str, token: str | bytes, said: str
) -> None:
    """A token with a character an HTTP header cannot carry (a pasted €, a non-breaking space,
    a space) or a token file that is not UTF-8: exit 2, one error line saying where the token
    came from and what is wrong, never the token, no traceback, nothing sent."""
    app, url = canvas
    args = ["sync", str(roster(tmp_path)), "--canvas-url", url]
    if where == "env":
        assert isinstance(token, str)
        result = cli(tmp_path, *args, CANVAS_TOKEN=token)
    else:
        token_file = tmp_path / "token"
        if isinstance(token, bytes):
            token_file.write_bytes(token)
        else:
            token_file.write_text(token, encoding="utf-8")
        token_file.chmod(0o600)
        result = cli(tmp_path, *args, "--token-file", str(token_file))
        said = f"--token-file {token_file} {said}"
    assert result.returncode == 2
    assert said in error_line(result)
    assert "9c1f-value" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert sum(app.fake.stats.by_method.values()) == 0


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://", "has no host name"),
        ("https://exa mple.com/T0SECRET", "has a space or a control character"),
        ("ftp://x.test/T0SECRET", "must be an https:// URL (http only to this machine)"),
        ("http://hooks.example.com/T0SECRET", "must be an https:// URL"),
        ("https://[::1/T0SECRET", "is not a URL"),
        ("https://exa%20mple.com/T0SECRET", "has a host name that is not valid"),
        ("https://hooks.example.com:99999/T0SECRET", "has a port that is not a number"),
    ],
)
def test_a_malformed_notify_url_is_one_line_that_never_shows_it(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path, url: str, said: str
) -> None:
    """--notify-url that is no usable https URL: exit 2 before anything is read or sent, one
    error line naming the flag and what is wrong, never the URL (a webhook URL is a secret:
    whoever has it can post to the channel), no traceback."""
    app, canvas_url = canvas
    result = cli(
        tmp_path, "sync", str(roster(tmp_path)), "--canvas-url", canvas_url, "--notify-url", url
    )
    assert result.returncode == 2
    line = error_line(result)
    assert "--notify-url" in line and said in line
    assert "T0SECRET" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert sum(app.fake.stats.by_method.values()) == 0
    assert not (tmp_path / "state").exists()  # no journal either
