"""One run at a time per Canvas, with real processes: a second `sync` on the same Canvas is
refused while the first runs, naming it, whichever journal either writes (another file, a
symbolic link to the same one); a holder file a killed run left is taken over; a new journal
for a Canvas that has one is warned about."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from canvas_observers.canvas.net import canonical_url
from canvas_observers.cli.lock import holder_path, lock_path
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.store import Journal
from tests.wiring import HEADER

TOKEN = "lock-test-token-0b7e"
STUDENTS = 12


@pytest.fixture
def slow_canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas answering every request after 150 ms: a sync of 12 rows takes seconds."""
    yield from district(latency_ms=150)


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """The same district answering at once."""
    yield from district(latency_ms=0)


def district(latency_ms: int) -> Iterator[tuple[FakeCanvasApp, str]]:
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, latency_ms=latency_ms))
    state = app.fake.state
    course = state.add_course("C")
    for n in range(STUDENTS):
        state.enroll(
            state.add_user(f"Kid {n}", login_id=f"k{n}@s.test", sis_user_id=f"S{n}"), course
        )
    with running_server(app) as url:
        yield app, url


def command(tmp_path: Path, url: str, journal: str = "j.sqlite3") -> list[str]:
    roster = tmp_path / "roster.csv"
    rows = "".join(f"S{n},g{n}@home.test,G,{n}\n" for n in range(STUDENTS))
    roster.write_text(HEADER + rows, encoding="utf-8")
    return [
        sys.executable, "-m", "canvas_observers", "sync", str(roster), "--canvas-url", url,
        "--state", str(tmp_path / journal), "--concurrency", "1",
        "--canvas-state", "lookups", "--log-file", str(tmp_path / "sync.log"),
    ]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "CANVAS_TOKEN": TOKEN}


def the_lock(url: str) -> Path:
    """The lock of the fake at ``url``, in this test's state folder (tests/conftest.py)."""
    return lock_path(canonical_url(httpx.URL(url)))


@pytest.mark.parametrize("journal", ["j.sqlite3", "other.sqlite3", "link.sqlite3"])
def test_a_second_sync_is_refused_while_the_first_runs(
    slow_canvas: tuple[FakeCanvasApp, str], tmp_path: Path, journal: str
) -> None:
    """Whatever journal the second run names (the first's, another file, a symbolic link to
    the first's), it exits 2 at once naming the first (pid, host, start, journal) and writes
    nothing; the first ends normally and removes its holder file."""
    app, url = slow_canvas
    (tmp_path / "link.sqlite3").symlink_to(tmp_path / "j.sqlite3")
    first = subprocess.Popen(
        command(tmp_path, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env()
    )
    holder = holder_path(the_lock(url))
    try:
        deadline = time.monotonic() + 60
        while not (holder.exists() and holder.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.exists(), "the first run never took the lock"
        assert holder.stat().st_mode & 0o777 == 0o600
        assert the_lock(url).stat().st_mode & 0o777 == 0o600
        second = subprocess.run(
            command(tmp_path, url, journal), capture_output=True, text=True, env=env(), timeout=60
        )
        assert first.poll() is None, "the first run ended too soon to test anything"
    finally:
        first.wait(timeout=120)
    assert second.returncode == 2, second.stderr
    message = second.stderr.strip()
    assert message.startswith(f"error: another run is using {canonical_url(httpx.URL(url))} (")
    assert f"pid {first.pid} on host {socket.gethostname()}, started " in message
    assert f"`sync` with the journal {tmp_path / 'j.sqlite3'}" in message
    assert "one run at a time per Canvas: wait for it to end, or stop it" in message
    assert second.stdout == ""
    assert first.returncode == 0, first.stderr
    assert not holder.exists()
    assert not (tmp_path / "other.sqlite3").exists()
    with Journal.open(tmp_path / "j.sqlite3") as written:
        assert len(written.list_runs(limit=10)) == 1  # the first's run only
    assert app.fake.stats.by_method["POST"] >= STUDENTS  # the first run did its work


def test_a_new_journal_for_a_canvas_that_has_one_is_warned_about(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A second journal for one Canvas: its first run warns that the first journal's links
    are not its to remove; its next run, and the first journal's runs, do not warn."""
    _, url = canvas
    runs = {}
    for name, journal in [("a1", "a.sqlite3"), ("b1", "b.sqlite3"), ("b2", "b.sqlite3")]:
        runs[name] = subprocess.run(
            [*command(tmp_path, url, journal), "--dry-run"],
            capture_output=True, text=True, env=env(), timeout=120,
        )  # fmt: skip
        assert runs[name].returncode == 0, runs[name].stderr
    warning = (
        f"{canonical_url(httpx.URL(url))} already has the journal {tmp_path / 'a.sqlite3'}: "
        f"this run starts a new journal, {tmp_path / 'b.sqlite3'}, and links made under the "
        "other are not this one's to remove"
    )
    assert warning in runs["b1"].stderr
    assert warning in (tmp_path / "sync.log").read_text()
    assert "already has the journal" not in runs["a1"].stderr + runs["b2"].stderr


def test_a_lock_left_by_a_killed_run_is_taken_over(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A holder file naming a process that is gone: the next run takes the lock and says so."""
    _, url = canvas
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = holder_path(the_lock(url))
    lock.parent.mkdir(parents=True)
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
@pytest.mark.parametrize("which", ["lock", "holder"])
def test_a_lock_file_that_is_a_symbolic_link_is_refused(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path, target: str, which: str
) -> None:
    """The Canvas's lock file, or its holder file, is a link (to a file, or to none yet):
    exit 2 with one line naming it, before anything is sent; the file it names is neither
    emptied nor created."""
    app, url = canvas
    victim = tmp_path / target
    if target == "precious.txt":
        victim.write_text("keep me\n")
    lock = the_lock(url) if which == "lock" else holder_path(the_lock(url))
    lock.parent.mkdir(parents=True)
    lock.symlink_to(victim)
    result = subprocess.run(
        command(tmp_path, url), capture_output=True, text=True, env=env(), timeout=120
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    what = "the lock file" if which == "lock" else "the lock's holder file"
    assert errors == [
        f"error: {what} {lock} is a symbolic link; it is never written through a link "
        "(the link could point at any file): remove the link"
    ], result.stderr
    assert "Traceback" not in result.stderr
    if target == "precious.txt":
        assert victim.read_text() == "keep me\n"
    else:
        assert not victim.exists()
    assert lock.is_symlink()
    assert sum(app.fake.stats.by_method.values()) == 0
