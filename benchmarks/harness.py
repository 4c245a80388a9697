"""Benchmark plumbing: the fake Canvas in its own process, measured child processes, and the
fake's request counters turned into call kinds. Used by ``bench.py``; not part of the package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
ADMIN_TOKEN = "fake-admin-token"  # the fake's well-known default admin token
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRITE_METHODS = ("POST", "PUT", "DELETE")

# Canvas route template (as the fake counts it) -> the kind of call, for the table. "reports":
# starting a provisioning report and polling it; the file's download is not under /api/ and the
# fake counts only its files-store hop (`file_downloads`), so bench.py adds the sync's own count.
KINDS: Mapping[str, str] = {
    "POST /api/v1/accounts/:account_id/users": "creates",
    "POST /api/v1/accounts/:account_id/reports/:report": "reports",
    "GET /api/v1/accounts/:account_id/reports/:report": "reports",
    "GET /api/v1/accounts/:account_id/reports/:report/:id": "reports",
    "POST /api/v1/users/:user_id/observer_pairing_codes": "codes",
    "POST /api/v1/users/:user_id/observees": "pairings",
    "PUT /api/v1/users/:user_id/observees/:observee_id": "pairings",
}

LISTENING = "listening: "  # the fake's machine-readable line (cli/fake.py LISTENING_PREFIX)
KIND_NAMES = ("lookups", "reports", "creates", "codes", "pairings", "other")
REPORT_START = "POST /api/v1/accounts/:account_id/reports/"


def cli_command(*args: str) -> list[str]:
    """`canvas-observers ARGS` from this venv (the console script, else `python -m`)."""
    script = BIN / "canvas-observers"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "canvas_observers", *args]


def kind_of(route: str) -> str:
    if route in KINDS:
        return KINDS[route]
    return "lookups" if route.startswith("GET ") else "other"


@dataclass(frozen=True)
class Calls:
    """What the fake saw between two snapshots of `GET /__fake__/stats`."""

    by_kind: dict[str, int]
    by_method: dict[str, int]
    throttled: int
    report_starts: int = 0  # POSTs that start a report: reads, not writes to the district
    file_downloads: int = 0  # report files the fake's files store handed out (not /api/)

    @property
    def total(self) -> int:
        """Requests that reached Canvas's app (throttled ones are refused before it)."""
        return sum(self.by_method.values())

    @property
    def writes(self) -> int:
        """Writes to the district: POST/PUT/DELETE, but not the POST that starts a report."""
        return sum(self.by_method.get(m, 0) for m in WRITE_METHODS) - self.report_starts

    def with_file_hops(self, hops: int) -> Calls:
        """These calls plus a report download's hops (GETs outside /api/, which the fake's
        method and route counts leave out), counted as "reports"."""
        if not hops:
            return self
        by_kind = {**self.by_kind, "reports": self.by_kind.get("reports", 0) + hops}
        by_method = {**self.by_method, "GET": self.by_method.get("GET", 0) + hops}
        return replace(self, by_kind=by_kind, by_method=by_method)

    @classmethod
    def between(cls, before: Mapping[str, Any], after: Mapping[str, Any]) -> Calls:
        def diff(key: str) -> Counter[str]:
            out = Counter(after[key])
            out.subtract(before[key])
            return +out

        kinds: Counter[str] = Counter()
        for route, n in diff("by_route").items():
            kinds[kind_of(route)] += n
        methods = diff("by_method")
        # Requests that reached the app but matched no route (none expected) count as "other".
        kinds["other"] += sum(methods.values()) - sum(kinds.values())
        by_kind = {k: kinds.get(k, 0) for k in KIND_NAMES}
        starts = sum(n for route, n in diff("by_route").items() if route.startswith(REPORT_START))
        files = int(after.get("file_downloads", 0)) - int(before.get("file_downloads", 0))
        throttled = int(after["throttled"]) - int(before["throttled"])
        return cls(by_kind, dict(methods), throttled, starts, files)


@dataclass
class FakeServer:
    """A `canvas-observers fake-canvas` process serving a generated district."""

    url: str
    roster: Path
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"{self.url}/__fake__/stats").json()
        return data

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get(f"{self.url}/__fake__/state").json()
        return data

    def configure(self, **knobs: Any) -> None:
        self.http.post(f"{self.url}/__fake__/config", json=knobs).raise_for_status()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def fake_server(
    workdir: Path,
    *,
    rows: int,
    seed: int,
    latency_ms: float,
    request_cost: float,
    throttle: bool = True,
    report_seconds: float | None = None,
    name: str = "fake",
) -> Iterator[FakeServer]:
    """Start a fresh fake Canvas with the seeded district on a free port; stop it after.

    It is started on ``--port 0`` and asked which ports it got (its ``listening:`` line), so no
    guessed port can be taken meanwhile; its files origin (report downloads) gets a free port
    of its own. ``report_seconds``: the fake's ``--report-seconds`` (None: the fake's
    default)."""
    roster = workdir / f"{name}-roster.csv"
    log = workdir / f"{name}.log"
    args = [
        *cli_command("fake-canvas"),
        *("--port", "0"),
        *("--scenario", "generated", "--rows", str(rows)),
        *("--seed", str(seed), "--roster-out", str(roster)),
        *("--latency-ms", str(latency_ms), "--request-cost", str(request_cost)),
        "--throttle" if throttle else "--no-throttle",
    ]
    if report_seconds is not None:
        args += ["--report-seconds", str(report_seconds)]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    server = FakeServer("", roster, process, log)
    try:
        url = _listening_url(log, process, timeout=60.0 + rows / 1000)
    except BaseException:
        _stop(server)
        raise
    if url is None:
        _stop(server)
        raise RuntimeError(f"the fake Canvas did not start; see {log}")
    server = replace(server, url=url)
    try:
        yield server
    finally:
        _stop(server)


def _listening_url(log: Path, process: subprocess.Popen[bytes], *, timeout: float) -> str | None:
    """The fake's URL from the line it prints once its ports are bound and listening."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(LISTENING):
                return str(json.loads(line.removeprefix(LISTENING))["url"])
        time.sleep(0.1)
    return None


def _stop(server: FakeServer) -> None:
    server.http.close()
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@dataclass(frozen=True)
class Measured:
    """A finished child process: exit code, wall seconds, peak RSS and CPU seconds."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    output: str


# Runs ARGS in a fork of this small interpreter and writes "exit_code maxrss_kb cpu_s" of that
# child to the file named first. Measuring through it keeps our own size out of the figure:
# subprocess starts children with vfork, and Linux records the mm's peak at exec
# (exec_mmap -> setmax_mm_hiwater_rss), so a vforked child's ru_maxrss is at least its
# parent's peak RSS (a 430 MB parent made `python -c pass` report 435 MB). A real fork of a
# bare `python -I -S` carries only its ~10 MB, below any measured program's own peak.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} "
              f"{usage.ru_utime + usage.ru_stime}")
"""


def run_measured(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run a command; its own peak RSS and CPU time come from wait4's rusage for that child,
    reaped by a small launcher (see _LAUNCHER) so that this process's size is not in it."""
    with tempfile.TemporaryDirectory(prefix="measured-") as tmp:
        figures = Path(tmp) / "rusage"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(figures), *args],
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        wall = time.perf_counter() - started
        if not figures.exists():
            raise RuntimeError(f"could not run {args[0]}:\n{done.stdout.decode(errors='replace')}")
        code, maxrss_kb, cpu = figures.read_text().split()
    return Measured(
        returncode=int(code),
        wall_s=wall,
        peak_rss_mb=int(maxrss_kb) / 1024,  # kilobytes on Linux
        cpu_s=float(cpu),
        output=done.stdout.decode("utf-8", "replace"),
    )
