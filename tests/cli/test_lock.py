"""One run at a time per Canvas, with real processes: a second `sync` on the same journal is
refused while the first runs, naming it; a lock file a killed run left is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.cli.lock import lock_path
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "lock-test-token-0b7e"
STUDENTS = 12


@pytest.fixture
def slow_canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas answering every request after 150 ms: a sync of 12 rows takes seconds."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, latency_ms=150))
    state = app.fake.state
    course = state.add_course("C")
    for n in range(STUDENTS):
        state.enroll(
            state.add_user(f"Kid {n}", login_id=f"k{n}@s.test", sis_user_id=f"S{n}"), course
        )
    with running_server(app) as url:
        yield app, url


def command(tmp_path: Path, url: str) -> list[str]:
    roster = tmp_path / "roster.csv"
    rows = "".join(f"S{n},g{n}@home.test,G,{n}\n" for n in range(STUDENTS))
    roster.write_text(HEADER + rows, encoding="utf-8")
    return [
        sys.executable, "-m", "canvas_observers", "sync", str(roster), "--canvas-url", url,
        "--state", str(tmp_path / "j.sqlite3"), "--concurrency", "1",
        "--canvas-state", "lookups", "--log-file", str(tmp_path / "sync.log"),
    ]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "CANVAS_TOKEN": TOKEN}


def test_a_second_sync_is_refused_while_the_first_runs(
    slow_canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The second run exits 2 at once naming the first (pid, host, start); the first ends
    normally and removes its lock file."""
    app, url = slow_canvas
    first = subprocess.Popen(
        command(tmp_path, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    lock = lock_path(tmp_path / "j.sqlite3")
    try:
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists(), "the first run never took the lock"
        assert lock.stat().st_mode & 0o777 == 0o600
        second = subprocess.run(
            command(tmp_path, url), capture_output=True, text=True, env=env(), timeout=60
        )
        assert first.poll() is None, "the first run ended too soon to test anything"
    finally:
        first.wait(timeout=120)
    assert second.returncode == 2, second.stderr
    message = second.stderr.strip()
    assert message.startswith("error: another run is using this Canvas's journal")
    assert f"pid {first.pid} on host {socket.gethostname()}, started " in message
    assert "one run at a time per Canvas" in message
    assert first.returncode == 0, first.stderr
    assert not lock.exists()
    assert app.fake.stats.by_method["POST"] >= STUDENTS  # the first run did its work


def test_a_lock_left_by_a_killed_run_is_taken_over(
    slow_canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A lock file naming a process that is gone: the next run takes it and says so."""
    _, url = slow_canvas
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = lock_path(tmp_path / "j.sqlite3")
    lock.write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "host": socket.gethostname(),
                "started_at": "2026-01-05T02:15:00+00:00",
            }
        )
    )
    result = subprocess.run(
        command(tmp_path, url), capture_output=True, text=True, env=env(), timeout=120
    )
    assert result.returncode == 0, result.stderr
    note = f"took over the lock of a run that ended without releasing it (pid {dead.pid} on host"
    assert note in result.stderr
    assert note in (tmp_path / "sync.log").read_text()
    assert "started 2026-01-05 02:15:00 UTC" in result.stderr
    assert not lock.exists()


@pytest.mark.parametrize("target", ["precious.txt", "made-elsewhere.txt"], ids=["file", "dangling"])
def test_a_lock_file_that_is_a_symbolic_link_is_refused(
    slow_canvas: tuple[FakeCanvasApp, str], tmp_path: Path, target: str
) -> None:
    """`<journal>.lock` is a link (to a file, or to none yet): exit 2 with one line naming it,
    before anything is sent; the file it names is neither emptied nor created."""
    app, url = slow_canvas
    victim = tmp_path / target
    if target == "precious.txt":
        victim.write_text("keep me\n")
    lock = lock_path(tmp_path / "j.sqlite3")
    lock.symlink_to(victim)
    result = subprocess.run(
        command(tmp_path, url), capture_output=True, text=True, env=env(), timeout=120
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [
        f"error: the lock file {lock} is a symbolic link; it is never written through a link "
        "(the link could point at any file): remove the link"
    ], result.stderr
    assert "Traceback" not in result.stderr
    if target == "precious.txt":
        assert victim.read_text() == "keep me\n"
    else:
        assert not victim.exists()
    assert lock.is_symlink()
    assert sum(app.fake.stats.by_method.values()) == 0
