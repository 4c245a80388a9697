"""The HTML report in a real browser: Debian's chromium, headless, driven over the DevTools
protocol by a small websocket client (standard library only, no browser download).

The page is opened from disk with ``#outcome=failed``; the test reads which rows the page
shows (rows with a layout box), changes the "Show rows" menu as a person would, reads them
again, and checks that the page asked for nothing but its own file and ran no roster value.

Skipped only when chromium is missing outside CI; in CI (``CI`` set) a missing chromium fails
the test, and ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report import RunInfo, write_report
from canvas_observers.roster.model import RemovalCandidate

HOSTILE = "<script>window.pwned = 1</script>"
INFO = RunInfo(
    run_id=3,
    started_at="2024-09-01T02:00:00+00:00",
    ended_at="2024-09-01T02:01:30+00:00",
    canvas_url="https://school.instructure.com",
    dry_run=False,
    pairing="code",
    duration_s=90.0,
    api_calls={"get_user": 9},
    roster="roster.csv",
    rows_read=7,
    rows_rejected=0,
    duplicates=0,
)
RESULTS = [
    RowResult(2, HOSTILE, "pat@home.test", Outcome.CREATED, "", 101, 201),
    RowResult(3, "S3", "sam@home.test", Outcome.FAILED, "502 Bad Gateway", 103),
    RowResult(4, "S4", "kim@home.test", Outcome.STUDENT_NOT_FOUND, "no exact match"),
    RowResult(5, "S5", "lee@home.test", Outcome.FAILED, "<b>timeout</b>", 105),
    RowResult(6, "S6", "ann@home.test", Outcome.ALREADY_PAIRED, "", 106, 206),
    RowResult(7, "S7", "bo@home.test", Outcome.NOT_ENROLLED, "no live enrollment", 107),
    RowResult(0, "S8", "old@home.test", Outcome.REMOVED, "the SIS ended it", 108, 208),
]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",  # any free port; chromium writes it to DevToolsActivePort
)
VISIBLE = (
    "Array.from(document.querySelectorAll('tr[data-outcome]'))"
    ".filter(row => row.getClientRects().length > 0).map(row => row.dataset.outcome)"
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class DevTools:
    """The DevTools protocol over one websocket (RFC 6455 text frames, client-masked)."""

    def __init__(self, ws_url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(ws_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the handshake")
            head += chunk
        head, self.pending = head.split(b"\r\n\r\n", 1)
        assert head.split(b"\r\n")[0].split()[1] == b"101", head
        self.last_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        self.sock.close()

    def _read(self, size: int) -> bytes:
        while len(self.pending) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.pending += chunk
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def _send(self, text: str) -> None:
        payload = text.encode()
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _message(self) -> dict[str, Any]:
        data = b""
        while True:
            first, second = self._read(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._read(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if second & 0x80 else b""
            payload = self._read(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = first & 0x0F
            if opcode == 8:
                raise ConnectionError("DevTools closed the connection")
            if opcode in (0, 1, 2):
                data += payload
                if first & 0x80:
                    message: dict[str, Any] = json.loads(data)
                    return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        self._send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = self._message()
            if message.get("id") == self.last_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """A headless chromium with a fresh profile, and a DevTools connection to its page."""
    binary = find_chromium()
    if binary is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail("chromium is missing in CI (.ci/run installs it: apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")
    profile = tmp_path / "profile"
    log = (tmp_path / "chromium.log").open("w")
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        tools = DevTools(_page_socket(profile, process))
        try:
            yield tools
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()


def _page_socket(profile: Path, process: subprocess.Popen[bytes]) -> str:
    """The page target's websocket, once chromium says which port it listens on."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"chromium exited with {process.returncode}"
        active = profile / "DevToolsActivePort"
        lines = active.read_text().split() if active.exists() else []
        if lines:
            with urllib.request.urlopen(f"http://127.0.0.1:{lines[0]}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                url: str = pages[0]["webSocketDebuggerUrl"]
                return url
        time.sleep(0.1)
    raise AssertionError("chromium did not open its DevTools port within 60 s")


def open_page(tools: DevTools, url: str) -> None:
    """Navigate and wait until the page (and its inline script) has loaded."""
    tools.call("Network.enable")
    tools.call("Page.enable")
    tools.call("Page.navigate", url=url)
    for _ in range(300):
        if tools.evaluate("document.readyState") == "complete" and tools.evaluate(
            "location.href"
        ).startswith("file:"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not load within 30 s")


def choose(tools: DevTools, value: str) -> None:
    """Pick an entry of the "Show rows" menu as a person would (the change event fires)."""
    tools.evaluate(
        "(() => { const s = document.getElementById('outcome-filter');"
        f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change')); }})()"
    )


def test_the_outcome_filter_shows_only_the_chosen_rows(browser: DevTools, tmp_path: Path) -> None:
    """Preset by #outcome=failed, then changed in the menu: the page shows exactly the rows of
    the chosen outcome; it loads nothing but its own file; a <script> student id stays text."""
    path = tmp_path / "run.html"
    candidates = [RemovalCandidate("S9", "end@home.test", "tobedeleted", "users.csv", 9)]
    write_report(path, INFO, RESULTS, removal_candidates=candidates)
    open_page(browser, path.as_uri() + "#outcome=failed")

    assert browser.evaluate(VISIBLE) == ["failed", "failed"]
    assert browser.evaluate("document.getElementById('shown').textContent") == ("2 of 7 rows shown")
    choose(browser, "student_not_found")
    assert browser.evaluate(VISIBLE) == ["student_not_found"]
    choose(browser, "attention")
    assert browser.evaluate(VISIBLE) == ["failed", "student_not_found", "failed", "not_enrolled"]
    choose(browser, "removed")
    assert browser.evaluate(VISIBLE) == ["removed"]
    choose(browser, "")
    assert sorted(browser.evaluate(VISIBLE)) == sorted(r.outcome.value for r in RESULTS)

    assert browser.evaluate("typeof window.pwned") == "undefined"
    assert HOSTILE in browser.evaluate("document.body.innerText")
    assert browser.evaluate("document.scripts.length") == 1
    requested = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(url.startswith("file:") for url in requested), requested
