"""What a run shows while it runs, through the CLI: rows done, rows needing attention so far and
an ETA (a bar on a terminal, log lines otherwise), "planning" in a dry run, and `--quiet`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "progress-test-token-2e8b"
ROWS = 12


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Enrolled students S0..S10 (S11 does not exist), 20 ms per request."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, latency_ms=20))
    state = app.fake.state
    course = state.add_course("C")
    for n in range(ROWS - 1):
        state.enroll(
            state.add_user(f"Kid {n}", login_id=f"k{n}@s.test", sis_user_id=f"S{n}"), course
        )
    with running_server(app) as url:
        yield app, url


def sync(tmp_path: Path, url: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "".join(f"S{n},g{n}@home.test,G,{n}\n" for n in range(ROWS)))
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", "sync", str(roster), "--canvas-url", url,
         "--state", str(tmp_path / "j.sqlite3"), "--concurrency", "1", *extra],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": TOKEN, "COLUMNS": "160", **env},
        timeout=120,
        check=False,
    )  # fmt: skip


def test_log_lines_count_attention_and_give_an_eta(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Without a terminal: each line has rows done, rows needing attention and the time left."""
    _, url = canvas
    result = sync(tmp_path, url)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "progress:" in line]
    assert len(lines) == ROWS
    assert re.search(r"progress: 5 of 12 rows done, \d need attention, about \d+ s left", lines[4])
    assert lines[-1].endswith("progress: 12 of 12 rows done, 1 need attention")


def test_a_dry_run_says_planning(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """A dry run's progress says it is planning, on a terminal and in log lines."""
    _, url = canvas
    lines = sync(tmp_path, url, "--dry-run").stderr
    assert "12 of 12 rows done (planning: a dry run, nothing is written), 1 need attention" in lines
    terminal = sync(tmp_path, url, "--dry-run", TTY_COMPATIBLE="1")
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.stdout)
    assert "planning (1 need attention)" in shown
    assert "12/12" in shown and "ETA" in shown


def test_a_bar_on_a_terminal_counts_attention(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """On a terminal the bar says pairing, the rows needing attention and the ETA."""
    _, url = canvas
    result = sync(tmp_path, url, TTY_COMPATIBLE="1")
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stdout)
    assert "pairing (1 need attention)" in shown and "ETA" in shown
    assert "progress:" not in result.stderr


def test_quiet_prints_only_problems_and_the_summary(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--quiet: no progress and no info lines; the summary with the row needing attention."""
    _, url = canvas
    log = tmp_path / "sync.log"
    result = sync(tmp_path, url, "--quiet", "--log-file", str(log))
    assert result.returncode == 1
    assert result.stderr == ""
    assert "student_not_found" in result.stdout and "S11" in result.stdout
    assert "Journal:" not in result.stdout
    assert "run 1 ended: complete" in log.read_text()  # the log file keeps the run log
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o644)
    warned = sync(tmp_path, url, "-q", "--token-file", str(token_file), "--dry-run")
    assert warned.stderr.startswith(f"warning: {token_file} can be read by other users")
