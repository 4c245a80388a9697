"""Crash: the real `canvas-observers sync` killed with SIGKILL mid-run, then run again.

Both the fake Canvas and the sync are subprocesses (the fake with latency, so the run lasts a
while). The kill point is chosen per seed as a number of writes Canvas has received, so it
always lands inside the run. Afterwards: the Canvas state equals a clean run's on an identical
district, no duplicate accounts, and `runs` shows the killed run as interrupted and the re-run
as complete.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from canvas_observers.fake_canvas import FakeConfig, FakeState, create_app
from canvas_observers.fake_canvas.scenarios import generate_district
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.store.journal import Journal
from tests.wiring import roster_of

from .conftest import (
    asked_pairs,
    cli_command,
    cli_env,
    fetch_state,
    fold,
    invoke,
    start_fake_canvas,
    sync_over_http,
)

ROWS = 120
DISTRICT_SEED = 5
TOKEN = "crash-test-admin-token"


def writes(base_url: str) -> int:
    by_method = httpx.get(f"{base_url}/__fake__/stats", timeout=5).json()["by_method"]
    return sum(by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))


@pytest.fixture(scope="module")
def clean_result() -> tuple[set[tuple[str, str]], set[str], int]:
    """A clean run on an identical district: its links, its logins and its write count."""
    import asyncio

    state = FakeState(TOKEN)
    generate_district(state, rows=ROWS, seed=DISTRICT_SEED)
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False), state)
    with running_server(app) as url:
        csv_text = generate_district(FakeState(), rows=ROWS, seed=DISTRICT_SEED)
        asyncio.run(sync_over_http(url, TOKEN, roster_of(csv_text)))
        canvas = fetch_state(url)
        total = writes(url)
    return canvas.links_by_identity(), {canvas.login_of(u) for u in canvas.users}, total


def sync_args(roster: Path, state: Path) -> list[str]:
    return [*cli_command(), "sync", str(roster), "--state", str(state), "--log-level", "warning"]


def crash_and_recover(
    seed: int, tmp_path: Path, clean: tuple[set[tuple[str, str]], set[str], int]
) -> None:
    expected_links, expected_logins, total_writes = clean
    roster = tmp_path / "roster.csv"
    fake = start_fake_canvas(
        [
            "--scenario", "generated", "--rows", str(ROWS), "--seed", str(DISTRICT_SEED),
            "--roster-out", str(roster), "--latency-ms", "15", "--admin-token", TOKEN,
        ],
        cwd=tmp_path,
    )  # fmt: skip
    try:
        before = fetch_state(fake.base_url)
        state = tmp_path / "journal.sqlite3"
        env = cli_env(fake.base_url, TOKEN)
        kill_after = random.Random(seed).randint(1, total_writes * 2 // 3)
        victim = subprocess.Popen(
            sync_args(roster, state), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while writes(fake.base_url) < kill_after and victim.poll() is None:
            assert time.monotonic() < deadline, "the sync made no progress"
            time.sleep(0.005)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        assert victim.returncode == -signal.SIGKILL, "the run finished before the kill point"

        rerun = subprocess.run(
            sync_args(roster, state), env=env, capture_output=True, timeout=300, check=False
        )
        assert b"Traceback" not in rerun.stdout + rerun.stderr
        assert rerun.returncode in (0, 1), rerun.stderr.decode()
        canvas = fetch_state(fake.base_url)
    finally:
        fake.stop()

    # The Canvas state is the clean run's: same links, same accounts, nothing doubled.
    rows = roster_of(roster.read_text(encoding="utf-8"))
    canvas.assert_no_duplicate_accounts({fold(r.observer_email) for r in rows.rows})
    assert canvas.links_by_identity() == expected_links
    assert {canvas.login_of(u) for u in canvas.users} == expected_logins
    assert canvas.links_by_identity() - before.links_by_identity() <= asked_pairs(rows)

    # The journal: the killed run is interrupted, the re-run complete, with every row.
    with Journal.open(state) as journal:
        runs = sorted(journal.list_runs(), key=lambda r: r.id)
        assert [r.state for r in runs] == ["interrupted", "complete"]
        assert len(journal.run_rows(runs[1].id)) == len(rows.rows) + len(rows.problems)
        assert "failed" not in {r.outcome.value for r in journal.run_rows(runs[1].id)}
    listing = invoke(["runs", "--state", str(state)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    lines = {  # not a terminal: a line per run, "id 3 · started … · state complete · …"
        line.split(" · ")[0].removeprefix("id "): line
        for line in listing.stdout.splitlines()
        if line.startswith("id ")
    }
    assert "interrupted" in lines[str(runs[0].id)]
    assert "complete" in lines[str(runs[1].id)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_then_rerun_leaves_canvas_right(
    seed: int, tmp_path: Path, clean_result: tuple[set[tuple[str, str]], set[str], int]
) -> None:
    """SIGKILL at a seeded point, then a re-run: Canvas as after a clean run, journal says so."""
    crash_and_recover(seed, tmp_path, clean_result)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(10, 30))
def test_sigkill_soak(
    seed: int, tmp_path: Path, clean_result: tuple[set[tuple[str, str]], set[str], int]
) -> None:
    """Soak: twenty more kill points."""
    crash_and_recover(seed, tmp_path, clean_result)
