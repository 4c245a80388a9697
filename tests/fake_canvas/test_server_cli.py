"""Serving the fake over real loopback HTTP, and the `canvas-observers fake-canvas` command."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from canvas_observers.cli import fake as fake_cli
from canvas_observers.cli import main
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import bind, port_of, running_server, serve
from tests.reliability.conftest import LISTENING, fake_listening


@dataclass
class Served:
    """What the command handed to uvicorn: the app, the host and the two ports it bound."""

    app: FakeCanvasApp
    host: str
    port: int
    files_port: int


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Served]:
    """Stand in for serving (``serve_on``): record what would be served, release the ports."""
    calls: list[Served] = []

    def record(app: FakeCanvasApp, host: str, canvas: socket.socket, files: socket.socket) -> None:
        calls.append(Served(app, host, port_of(canvas), port_of(files)))
        canvas.close()
        files.close()

    monkeypatch.setattr(fake_cli, "serve_on", record)
    return calls


def listening(output: str) -> dict[str, object]:
    """The command's machine-readable line: the URLs and ports it listens on."""
    assert fake_cli.LISTENING_PREFIX == LISTENING  # what the tests that start it look for
    (line,) = [x for x in output.splitlines() if x.startswith(LISTENING)]
    found: dict[str, object] = json.loads(line.removeprefix(LISTENING))
    return found


OPTIONS = (
    "--host",
    "--port",
    "--admin-token",
    "--latency-ms",
    "--throttle",
    "--no-throttle",
    "--throttle-status",
    "--request-cost",
    "--fault-rate",
    "--lost-response-rate",
    "--seed",
    "--scenario",
    "--forbidden-status",
    "--roster-out",
    "--rows",
    "--allow-remote",
    "--admin-permissions",
    "--files-port",
    "--report-seconds",
)


def test_running_server_serves_over_loopback_and_stops() -> None:
    """The background server answers real HTTP on 127.0.0.1 and is gone after the block."""
    app = create_app(FakeConfig())
    token = app.fake.config.admin_token
    with running_server(app) as url:
        assert url.startswith("http://127.0.0.1:")
        r = httpx.get(f"{url}/api/v1/accounts/self", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json()["id"] == 1
        assert "X-Request-Cost" in r.headers
        assert httpx.get(f"{url}/__fake__/stats").json()["by_method"] == {"GET": 1}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/accounts/self", timeout=2.0)


def test_help_lists_every_option() -> None:
    """`canvas-observers fake-canvas --help` documents each flag of the command."""
    result = CliRunner().invoke(main, ["fake-canvas", "--help"])
    assert result.exit_code == 0, result.output
    for option in OPTIONS:
        assert option in result.output
    for param in fake_cli.fake_canvas.params:
        assert getattr(param, "help", None), param.name


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])  # noqa: S104
def test_refuses_a_non_loopback_host(host: str, served: list[Served]) -> None:
    """A non-loopback --host is a usage error (exit 2) naming --allow-remote; nothing serves."""
    result = CliRunner().invoke(main, ["fake-canvas", "--host", host])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output
    assert served == []


def test_allow_remote_lets_a_non_loopback_host_through(served: list[Served]) -> None:
    """With --allow-remote the command serves on the host asked for."""
    args = ["fake-canvas", "--host", "0.0.0.0", "--allow-remote", "--port", "0"]  # noqa: S104
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (call,) = served
    assert call.host == "0.0.0.0"  # noqa: S104
    assert listening(result.output)["port"] == call.port != 0


def test_demo_start_writes_roster_and_maps_flags(tmp_path: Path, served: list[Served]) -> None:
    """`--scenario demo` writes the roster and prints how to sync; every flag reaches the app."""
    port, files_port = free_ports()
    roster = tmp_path / "roster.csv"
    args = [
        "fake-canvas", "--port", str(port), "--admin-token", "s3cret", "--latency-ms", "5",
        "--no-throttle", "--throttle-status", "403", "--request-cost", "0.5",
        "--fault-rate", "0.1", "--lost-response-rate", "0.2", "--seed", "42",
        "--forbidden-status", "403", "--scenario", "demo", "--roster-out", str(roster),
        "--report-seconds", "0.5", "--files-port", str(files_port),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}" in result.output
    assert "s3cret" in result.output
    assert str(roster.resolve()) in result.output
    assert (
        f"CANVAS_URL=http://127.0.0.1:{port} CANVAS_TOKEN=s3cret canvas-observers sync {roster}"
        in (result.output)
    )
    (call,) = served
    app = call.app
    assert roster.read_text(encoding="utf-8") == app.fake.demo_roster
    config = app.fake.config
    assert (config.admin_token, config.latency_ms, config.throttle) == ("s3cret", 5.0, False)
    assert (config.throttle_status, config.request_cost, config.seed) == (403, 0.5, 42)
    assert (config.fault_rate, config.lost_response_rate, config.forbidden_status) == (
        0.1,
        0.2,
        403,
    )
    assert config.report_seconds == 0.5
    assert (call.host, call.port, call.files_port) == ("127.0.0.1", port, files_port)
    assert f"http://127.0.0.1:{files_port}" in result.output
    assert listening(result.output) == {
        "url": f"http://127.0.0.1:{port}",
        "files_url": f"http://127.0.0.1:{files_port}",
        "port": port,
        "files_port": files_port,
    }


def test_empty_scenario_writes_no_roster(tmp_path: Path, served: list[Served]) -> None:
    """The default empty scenario serves an empty district and writes no file."""
    roster = tmp_path / "roster.csv"
    result = CliRunner().invoke(main, ["fake-canvas", "--port", "0", "--roster-out", str(roster)])
    assert result.exit_code == 0, result.output
    assert not roster.exists()
    assert "fake-admin-token" in result.output
    assert len(served[0].app.fake.state.users) == 1  # only the admin


def test_generated_scenario_serves_the_seeded_district(
    tmp_path: Path, served: list[Served]
) -> None:
    """`--scenario generated --rows N --seed S` serves the district whose roster it writes."""
    rosters = []
    for name, seed in (("a.csv", 3), ("b.csv", 3), ("c.csv", 4)):
        roster = tmp_path / name
        args = ["fake-canvas", "--port", "0", "--scenario", "generated", "--rows", "30"]
        args += ["--seed", str(seed)]
        result = CliRunner().invoke(main, [*args, "--roster-out", str(roster)])
        assert result.exit_code == 0, result.output
        assert "Generated (30 rows, seed" in result.output
        rosters.append(roster.read_text(encoding="utf-8"))
    assert rosters[0] == rosters[1] != rosters[2]
    lines = rosters[0].splitlines()
    assert lines[0] == "student_id,observer_email,observer_first_name,observer_last_name"
    assert len(lines) == 31
    state = served[0].app.fake.state
    sis_ids = set(state.logins_by_sis_id)
    known = [line.split(",")[0] for line in lines[1:] if line.split(",")[0] in sis_ids]
    assert len(known) >= 25  # all but the few rows broken on purpose name a served student
    assert served[0].app.fake.config.seed == 3


def test_rows_is_bounded() -> None:
    """`--rows` refuses 0 and more than 100,000 rows (usage error, exit 2)."""
    for rows in ("0", "100001"):
        result = CliRunner().invoke(
            main, ["fake-canvas", "--scenario", "generated", "--rows", rows]
        )
        assert result.exit_code == 2, result.output


def free_ports() -> tuple[int, int]:
    """Two ports free now (for a test that gives --port and --files-port itself)."""
    with socket.socket() as one, socket.socket() as two:
        one.bind(("127.0.0.1", 0))
        two.bind(("127.0.0.1", 0))
        return port_of(one), port_of(two)


def test_files_port_needs_a_port_of_its_own(served: list[Served]) -> None:
    """--files-port must differ from --port (usage error, exit 2); nothing is served."""
    result = CliRunner().invoke(main, ["fake-canvas", "--port", "9000", "--files-port", "9000"])
    assert result.exit_code == 2
    assert "--files-port" in result.output
    assert served == []


def test_the_files_origin_gets_a_free_port_whatever_port_plus_one_holds(
    served: list[Served],
) -> None:
    """--port P with P + 1 taken: the files origin gets another, free port (no "P + 1" guess),
    and the machine-readable line says which; --port 65535 works too."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        taken = port_of(holder)
        result = CliRunner().invoke(main, ["fake-canvas", "--port", str(taken - 1)])
        if result.exit_code == 1 and "Address already in use" in result.output:
            pytest.skip(f"port {taken - 1} is in use by something else")  # P itself: not ours
        assert result.exit_code == 0, result.output
        assert served[-1].port == taken - 1
        assert served[-1].files_port not in (taken, taken - 1)
        assert listening(result.output)["files_port"] == served[-1].files_port
    finally:
        holder.close()


def test_port_0_serves_on_the_ports_it_prints(tmp_path: Path) -> None:
    """`fake-canvas --port 0` as a subprocess: the machine-readable line gives both ports, and
    the fake answers there (the API on one, the side door too)."""
    out = tmp_path / "out.txt"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "canvas_observers", "fake-canvas", "--port", "0"],
            stdout=sink,
            stderr=subprocess.PIPE,
        )
    try:
        found = fake_listening(out, process)
        assert found["url"] == f"http://127.0.0.1:{found['port']}"
        assert found["files_url"] == f"http://127.0.0.1:{found['files_port']}"
        assert found["port"] != found["files_port"]
        stats = httpx.get(f"{found['url']}/__fake__/stats", timeout=10)
        assert stats.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_taken_port_is_one_error_line(tmp_path: Path) -> None:
    """The real command on a port something listens on: exit 1 and only the error, naming the
    host and port (no traceback, no half-printed start-up)."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        taken = port_of(holder)
        for args in (["--port", str(taken)], ["--port", "0", "--files-port", str(taken)]):
            result = subprocess.run(
                [sys.executable, "-m", "canvas_observers", "fake-canvas", *args],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 1
            assert result.stdout == ""
            assert result.stderr == (
                f"Error: cannot listen on 127.0.0.1 port {taken}: Address already in use\n"
            )
    finally:
        holder.close()


def test_serve_refuses_a_taken_canvas_or_files_port() -> None:
    """serve() binds both ports before serving: either one taken is an OSError at once."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    try:
        app = create_app(FakeConfig())
        with pytest.raises(OSError):
            serve(app, port=taken)
        with pytest.raises(OSError):
            serve(app, port=taken - 1 if taken > 1024 else taken + 1, files_port=taken)
        assert app.fake.config.files_origin == "http://127.0.0.2:8901"  # untouched
    finally:
        holder.close()


def test_the_fake_binds_sockets_that_get_tcp_nodelay() -> None:
    """The fake's sockets name IPPROTO_TCP, which is what makes asyncio set TCP_NODELAY on
    their connections (without it each answer waits ~40 ms for the client's delayed ACK)."""
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
