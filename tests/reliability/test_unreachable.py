"""Canvas unreachable or the token revoked, through the real CLI: the run stops with one clear
line and exit code 2, and what was done before is in the journal (`show RUN --json`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import Result

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, FakeState, create_app
from canvas_observers.fake_canvas.scenarios import generate_district
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

from .conftest import free_port, invoke

TOKEN = "unreachable-test-token-7d1f"


class Server:
    """The fake in a `running_server` that a test can stop while a sync is using it."""

    def __init__(self, app: FakeCanvasApp) -> None:
        self.app = app
        self.url = ""
        self._up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        with running_server(self.app) as url:
            self.url = url
            self._up.set()
            self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        assert self._up.wait(30)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def writes(app: FakeCanvasApp) -> int:
    return sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))


@contextmanager
def when_writes_reach(app: FakeCanvasApp, count: int, action: Callable[[], None]) -> Iterator[None]:
    """Run `action` (in a watcher thread) once Canvas has received `count` writes."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if writes(app) >= count:
                action()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(30)


def district_app(tmp_path: Path) -> tuple[FakeCanvasApp, Path]:
    state = FakeState(TOKEN)
    roster = tmp_path / "roster.csv"
    roster.write_text(generate_district(state, rows=80, seed=9), encoding="utf-8")
    return create_app(FakeConfig(admin_token=TOKEN, throttle=False, latency_ms=3), state), roster


def sync(url: str, roster: Path, state: Path, *extra: str) -> Result:
    return invoke(
        ["sync", str(roster), "--canvas-url", url, "--state", str(state), *extra],
        env={"CANVAS_TOKEN": TOKEN},
    )


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def journal_json(state: Path) -> dict:  # type: ignore[type-arg]
    shown = invoke(["show", "1", "--state", str(state), "--json"])
    assert shown.exit_code == 0, shown.output
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def assert_stopped_cleanly(result: Result, reason: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: the run stopped: {reason}"), lines[0]
    assert TOKEN not in result.output


def test_nothing_listening_stops_with_exit_2(tmp_path: Path) -> None:
    """A Canvas URL where nothing listens: one line 'Canvas is unreachable', exit 2, no rows."""
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n", encoding="utf-8")
    state = tmp_path / "journal.sqlite3"
    result = sync(f"http://127.0.0.1:{free_port()}", roster, state)
    assert_stopped_cleanly(result, "Canvas is unreachable")
    document = journal_json(state)
    assert document["run"]["state"] == "stopped"
    assert document["rows"] == []


def test_server_gone_mid_run_stops_and_journal_keeps_the_work(tmp_path: Path) -> None:
    """Canvas goes away after 20 writes: exit 2 'unreachable'; the rows done are journaled."""
    app, roster = district_app(tmp_path)
    state = tmp_path / "journal.sqlite3"
    server = Server(app)
    server.start()
    try:
        with when_writes_reach(app, 20, server.stop):
            result = sync(server.url, roster, state)
    finally:
        server.stop()
    assert_stopped_cleanly(result, "Canvas is unreachable")
    document = journal_json(state)
    assert document["run"]["state"] == "stopped"
    done = [r for r in document["rows"] if r["outcome"] in ("created", "paired")]
    assert done, "the rows paired before Canvas went away are in the journal"
    # Every roster row has exactly one outcome; those the run did not reach say why.
    assert len(document["rows"]) == 80
    assert len({r["line"] for r in document["rows"]}) == 80
    stopped = [r for r in document["rows"] if r["outcome"] == "failed"]
    assert stopped
    assert all("the run stopped: Canvas is unreachable" in r["detail"] for r in stopped)
    live = {
        (k["observer_id"], k["student_id"])
        for k in app.fake.state.snapshot()["observer_links"]
        if k["workflow_state"] == "active"
    }
    # Every row the journal calls paired really is linked in Canvas.
    for row in done:
        assert (row["canvas_observer_id"], row["canvas_student_id"]) in live


def test_token_revoked_mid_run_stops_with_exit_2(tmp_path: Path) -> None:
    """The token is revoked after 20 writes: exit 2 with a token message; work so far journaled."""
    app, roster = district_app(tmp_path)
    state = tmp_path / "journal.sqlite3"

    def revoke() -> None:
        del app.fake.state.tokens[TOKEN]

    with running_server(app) as url, when_writes_reach(app, 20, revoke):
        result = sync(url, roster, state)
    assert_stopped_cleanly(result, "Canvas refused the token")
    document = journal_json(state)
    assert document["run"]["state"] == "stopped"
    assert any(r["outcome"] in ("created", "paired") for r in document["rows"])
    # The rows the run did not reach are reported as such, never as a Canvas failure of theirs.
    assert len({r["line"] for r in document["rows"]}) == len(document["rows"]) == 80
    for row in document["rows"]:
        if row["outcome"] == "failed":
            assert "the run stopped: Canvas refused the token" in row["detail"], row


def test_token_rejected_at_start_writes_nothing(tmp_path: Path) -> None:
    """A token Canvas never accepted: exit 2 before any row, and no write reached Canvas."""
    app, roster = district_app(tmp_path)
    del app.fake.state.tokens[TOKEN]
    with running_server(app) as url:
        result = sync(url, roster, tmp_path / "journal.sqlite3")
    assert_stopped_cleanly(result, "Canvas refused the token")
    assert writes(app) == 0
