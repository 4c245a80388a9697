"""The HTML report through the real CLI over loopback: `sync --report run.html` and
`show RUN --html FILE` (the page's filter in a real browser: tests/report/test_html_browser.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "html-report-token-91c4"
HOSTILE = "<script>window.pwned=1</script>"
ROWS = f"100,pat@home.test,Pat,Lee\n300,sam@home.test,Sam,Lee\n{HOSTILE},kim@home.test,Kim,Lee\n"


@pytest.fixture
def canvas() -> Iterator[str]:
    """Student 100 enrolled, 300 not enrolled; the hostile id does not exist."""
    app: FakeCanvasApp = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    state.enroll(
        state.add_user("Kid", login_id="k100@s.test", sis_user_id="100"), state.add_course("C")
    )
    state.add_user("Kid 3", login_id="k300@s.test", sis_user_id="300")
    with running_server(app) as url:
        yield url


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": TOKEN, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def sync(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + ROWS, encoding="utf-8")
    state = str(tmp_path / "j.sqlite3")
    return cli("sync", str(roster), "--canvas-url", url, "--state", state, *extra)


def test_sync_writes_a_private_escaped_page(canvas: str, tmp_path: Path) -> None:
    """`--report run.html`: the page, 0600, the hostile id as text, Canvas ids linked."""
    report = tmp_path / "run.html"
    result = sync(tmp_path, canvas, "--report", str(report))
    assert result.returncode == 1, result.stderr
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert HOSTILE not in page and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert page.count("<script") == 1
    assert f'href="{canvas}/users/' in page
    assert page.index('data-outcome="student_not_found"') < page.index('data-outcome="created"')
    assert TOKEN not in page


def test_show_html_writes_the_page_of_a_past_run(canvas: str, tmp_path: Path) -> None:
    """`show 1 --html FILE` writes the run's page; with --needs-attention only those rows."""
    sync(tmp_path, canvas)
    state = str(tmp_path / "j.sqlite3")
    out = tmp_path / "past.html"
    result = cli("show", "1", "--state", state, "--html", str(out))
    assert result.returncode == 0, result.stderr
    assert f"HTML report written to {out}" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = out.read_text(encoding="utf-8")
    assert "canvas-observers run 1" in page and "row by row (--canvas-state auto)" in page
    for outcome in ("created", "not_enrolled", "student_not_found"):
        assert f'data-outcome="{outcome}"' in page
    assert HOSTILE not in page
    cli("show", "1", "--state", state, "--html", str(out), "--needs-attention")
    page = out.read_text(encoding="utf-8")
    # The run's --fail-on (the default) counts student_not_found, not not_enrolled.
    assert 'data-outcome="created"' not in page and 'data-outcome="not_enrolled"' not in page
    assert 'data-outcome="student_not_found"' in page


def test_show_html_to_a_missing_folder_is_one_line(canvas: str, tmp_path: Path) -> None:
    """A page that cannot be written: one error line, exit 2."""
    sync(tmp_path, canvas)
    out = tmp_path / "missing" / "past.html"
    result = cli("show", "1", "--state", str(tmp_path / "j.sqlite3"), "--html", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot write") and "Traceback" not in result.stderr


def test_report_name_must_pick_a_format(canvas: str, tmp_path: Path) -> None:
    """An unknown extension is refused before the run, naming .html among the choices."""
    result = sync(tmp_path, canvas, "--report", str(tmp_path / "run.txt"))
    assert result.returncode == 2 and ".json, .csv or .html" in result.stderr


def test_times_are_in_the_canvas_accounts_zone_and_show_renders_the_same(
    canvas: str, tmp_path: Path
) -> None:
    """No --time-zone: the page's times are in the account's default_time_zone (the fake's is
    Canvas's own default, America/Denver), kept with the run, so `show --html` later gives the
    same times; --time-zone (an IANA or a Rails name) wins for either."""
    report = tmp_path / "run.html"
    sync(tmp_path, canvas, "--report", str(report))
    page = report.read_text(encoding="utf-8")
    assert "Times are America/Denver, from Canvas." in page
    state = str(tmp_path / "j.sqlite3")
    out = tmp_path / "past.html"
    assert cli("show", "1", "--state", state, "--html", str(out)).returncode == 0
    shown = out.read_text(encoding="utf-8")
    assert "Times are America/Denver, from Canvas." in shown
    when = page.split('<p class="when" id="when">', 1)[1].split(" and took", 1)[0]
    assert when in shown and ("MDT" in when or "MST" in when)
    result = cli(
        "show",
        "1",
        "--state",
        state,
        "--html",
        str(out),
        "--time-zone",
        "Eastern Time (US & Canada)",
    )
    assert result.returncode == 0, result.stderr
    assert "Times are America/New_York, set for this tool." in out.read_text(encoding="utf-8")
    sync(tmp_path, canvas, "--report", str(report), "--time-zone", "Europe/Paris")
    assert "Times are Europe/Paris, set for this tool." in report.read_text(encoding="utf-8")


def test_a_time_zone_that_is_none_is_one_error_naming_the_setting(
    canvas: str, tmp_path: Path
) -> None:
    """A bad --time-zone, or time_zone in a settings file: exit 2 before anything is done,
    naming the flag or the file and key, and what a zone looks like."""
    result = sync(tmp_path, canvas, "--time-zone", "Mars/Olympus")
    assert result.returncode == 2 and "--time-zone" in result.stderr
    assert "'Mars/Olympus' is not a time zone: give an IANA name" in result.stderr
    settings = tmp_path / "sync.toml"
    settings.write_text('time_zone = "Central Time"\n', encoding="utf-8")
    result = sync(tmp_path, canvas, "--config", str(settings))
    assert result.returncode == 2, result.stderr
    assert f"{settings}: time_zone: 'Central Time' is not a time zone" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "j.sqlite3").exists()


def test_the_page_counts_what_the_runs_fail_on_counted(canvas: str, tmp_path: Path) -> None:
    """`sync --fail-on ... --report run.html` lists not_enrolled under "Needs your attention"
    when the run's --fail-on names it, and `show 1 --html` later gives the same page from the
    journal's set; a run with the default set lists it under "Waiting or for your
    information", and its sentence counts only student_not_found, as its exit code did."""
    report = tmp_path / "run.html"
    wide = sync(
        tmp_path, canvas, "--fail-on", "not_enrolled,student_not_found", "--report", str(report)
    )
    assert wide.returncode == 1, wide.stderr
    state = str(tmp_path / "j.sqlite3")
    out = tmp_path / "past.html"
    assert cli("show", "1", "--state", state, "--html", str(out)).returncode == 0
    for page in (report.read_text(encoding="utf-8"), out.read_text(encoding="utf-8")):
        attention = page.split('id="row-table"', 1)[1].split("</table>", 1)[0]
        assert 'data-outcome="not_enrolled"' in attention, page
        assert 'id="waiting"' not in page
        assert "2 rows need your attention, 1 of them will fix itself" in page
    (tmp_path / "j.sqlite3").unlink()
    default = sync(tmp_path, canvas, "--report", str(report))
    assert default.returncode == 1, default.stderr
    assert cli("show", "1", "--state", state, "--html", str(out)).returncode == 0
    for page in (report.read_text(encoding="utf-8"), out.read_text(encoding="utf-8")):
        waiting = page.split('id="waiting-table"', 1)[1].split("</table>", 1)[0]
        assert 'data-outcome="not_enrolled"' in waiting
        assert "1 row needs your attention; 1 student is not enrolled yet." in page
