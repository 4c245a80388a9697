"""Shared helpers for the reliability tests: syncs over real loopback HTTP, the real CLI,
and checks of the fake Canvas's final state (duplicates, unasked links) from its state dump.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.retry import RetryPolicy
from canvas_observers.cli import main
from canvas_observers.core.outcomes import RowResult
from canvas_observers.roster.model import Roster
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync

# Small waits: real sleeps stay short where stamina's test mode is not on (subprocesses).
FAST_RETRY = RetryPolicy(attempts=6, timeout=20.0, wait_initial=0.01, wait_max=0.05)


@pytest.fixture(autouse=True)
def _no_retry_sleeps(no_retry_sleeps: None) -> None:
    """Retries never sleep in-process, each keeping its policy's attempt limit
    (tests/conftest.py); subprocesses use FAST_RETRY's short waits."""


async def sync_over_http(
    base_url: str,
    token: str,
    roster: Roster,
    *,
    journal: Journal | None = None,
    on_result: Callable[[RowResult], None] | None = None,
    **options: Any,
) -> RunResult:
    """One sync over real HTTP to ``base_url`` (a `running_server` fake)."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = CanvasClient(http, base_url=base_url, token=token, retry=FAST_RETRY)
        return await run_sync(
            roster,
            client=client,
            options=SyncOptions(**options),
            canvas_url=base_url,
            journal=journal,
            on_result=on_result,
        )


# --- the fake's final state -------------------------------------------------------------


def fold(value: str | None) -> str:
    return (value or "").strip().lower()


def active_logins(user: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in user["logins"] if p["workflow_state"] == "active"]


@dataclass(frozen=True)
class Canvas:
    """A `/__fake__/state` dump with the questions the reliability checks ask of it."""

    dump: Mapping[str, Any]

    @property
    def users(self) -> dict[int, Mapping[str, Any]]:
        return {u["id"]: u for u in self.dump["users"] if u["workflow_state"] != "deleted"}

    def live_links(self) -> set[tuple[int, int]]:
        return {
            (k["observer_id"], k["student_id"])
            for k in self.dump["observer_links"]
            if k["workflow_state"] == "active"
        }

    def login_of(self, user_id: int) -> str:
        logins = active_logins(self.users[user_id])
        return fold(logins[0]["unique_id"]) if logins else f"#{user_id}"

    def sis_of(self, user_id: int) -> str:
        for login in active_logins(self.users[user_id]):
            if login["sis_user_id"]:
                return str(login["sis_user_id"])
        return self.login_of(user_id)

    def links_by_identity(self) -> set[tuple[str, str]]:
        """Live links as (observer login, student SIS id): comparable across two districts."""
        return {(self.login_of(o), self.sis_of(s)) for o, s in self.live_links()}

    def accounts_for(self, email: str) -> set[int]:
        """Every live user whose login or email channel is ``email`` (case-insensitively)."""
        key = fold(email)
        return {
            uid
            for uid, u in self.users.items()
            if any(fold(p["unique_id"]) == key for p in active_logins(u))
            or any(fold(e) == key for e in u.get("emails", []))
        }

    def assert_no_duplicate_accounts(self, emails: set[str]) -> None:
        """No two live logins equal case-insensitively; no guardian email on two accounts."""
        logins = [fold(p["unique_id"]) for u in self.users.values() for p in active_logins(u)]
        assert len(logins) == len(set(logins)), "two live logins differ only by case"
        for email in emails:
            assert len(self.accounts_for(email)) <= 1, f"{email} has two accounts"


def fetch_state(base_url: str) -> Canvas:
    """The fake's whole district over its side door."""
    return Canvas(httpx.get(f"{base_url}/__fake__/state", timeout=10.0).json())


def asked_pairs(roster: Roster) -> set[tuple[str, str]]:
    """(guardian email, student id) for every valid roster row, both case-folded for email."""
    return {(fold(r.observer_email), r.student_id) for r in roster.rows}


# --- the real CLI ---------------------------------------------------------------------------


def invoke(
    args: list[str], *, env: Mapping[str, str] | None = None, input: bytes | None = None
) -> Result:
    """Run ``canvas-observers ARGS`` in-process; stdout and stderr kept apart."""
    runner = CliRunner()
    return runner.invoke(main, args, env=dict(env or {}), input=input, catch_exceptions=True)


def cli_command() -> list[str]:
    """The installed console script, or ``python -m canvas_observers`` beside this Python."""
    script = Path(sys.executable).with_name("canvas-observers")
    return [str(script)] if script.exists() else [sys.executable, "-m", "canvas_observers"]


def free_port() -> int:
    """A loopback port nothing listens on now: a Canvas URL that is refused. (A fake Canvas is
    started on --port 0 and asked for its ports instead: ``start_fake_canvas``.)"""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeProcess:
    """A `canvas-observers fake-canvas` subprocess on a loopback port."""

    process: subprocess.Popen[bytes]
    base_url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


LISTENING = "listening: "  # the fake's machine-readable line (cli/fake.py LISTENING_PREFIX)


def fake_listening(out: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The URLs and ports a `fake-canvas --port 0` subprocess printed on the line that starts
    with LISTENING, its stdout going to the file ``out`` (it binds before printing)."""
    deadline = time.monotonic() + 120  # a hung start-up fails the test instead of hanging it
    while process.poll() is None and time.monotonic() < deadline:
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.startswith(LISTENING):
                found: dict[str, Any] = json.loads(line.removeprefix(LISTENING))
                return found
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else b""
    raise RuntimeError(f"fake-canvas gave no ports: {stderr!r}")


def start_fake_canvas(args: list[str], cwd: Path) -> FakeProcess:
    """Start `fake-canvas --port 0 ARGS` and read the ports it got from its listening line
    (asking the fake, rather than guessing a free port that something may take meanwhile)."""
    out = cwd / "fake-canvas.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [*cli_command(), "fake-canvas", "--port", "0", *args],
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.PIPE,
        )
    try:
        found = fake_listening(out, process)
    except BaseException:
        FakeProcess(process, "").stop()
        raise
    return FakeProcess(process, str(found["url"]))


def cli_env(base_url: str, token: str) -> dict[str, str]:
    """Environment for a `sync` subprocess: Canvas URL and token, no terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANVAS_")}
    env.update({"CANVAS_URL": base_url, "CANVAS_TOKEN": token, "COLUMNS": "200"})
    return env
