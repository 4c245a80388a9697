"""Serving the fake over real loopback HTTP, and the `canvas-observers fake-canvas` command."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from canvas_observers.cli import fake as fake_cli
from canvas_observers.cli import main
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import bind, running_server, serve

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
def test_refuses_a_non_loopback_host(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-loopback --host is a usage error (exit 2) naming --allow-remote; nothing serves."""
    served: list[object] = []
    monkeypatch.setattr(fake_cli, "serve", lambda app, **kw: served.append(kw))
    result = CliRunner().invoke(main, ["fake-canvas", "--host", host])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output
    assert served == []


def test_allow_remote_lets_a_non_loopback_host_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --allow-remote the command serves on the host asked for."""
    served: list[dict[str, object]] = []
    monkeypatch.setattr(fake_cli, "serve", lambda app, **kw: served.append(kw))
    args = ["fake-canvas", "--host", "0.0.0.0", "--allow-remote"]  # noqa: S104
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert served == [{"host": "0.0.0.0", "port": 8900, "files_port": 8901}]  # noqa: S104


def test_demo_start_writes_roster_and_maps_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--scenario demo` writes the roster and prints how to sync; every flag reaches the app."""
    apps: list[FakeCanvasApp] = []
    served: list[dict[str, object]] = []

    def fake_serve(app: FakeCanvasApp, **kw: object) -> None:
        apps.append(app)
        served.append(kw)

    monkeypatch.setattr(fake_cli, "serve", fake_serve)
    roster = tmp_path / "roster.csv"
    args = [
        "fake-canvas", "--port", "9123", "--admin-token", "s3cret", "--latency-ms", "5",
        "--no-throttle", "--throttle-status", "403", "--request-cost", "0.5",
        "--fault-rate", "0.1", "--lost-response-rate", "0.2", "--seed", "42",
        "--forbidden-status", "403", "--scenario", "demo", "--roster-out", str(roster),
        "--report-seconds", "0.5", "--files-port", "9200",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9123" in result.output
    assert "s3cret" in result.output
    assert str(roster.resolve()) in result.output
    assert (
        f"CANVAS_URL=http://127.0.0.1:9123 CANVAS_TOKEN=s3cret canvas-observers sync {roster}"
        in (result.output)
    )
    (app,) = apps
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
    assert served == [{"host": "127.0.0.1", "port": 9123, "files_port": 9200}]
    assert "http://127.0.0.1:9200" in result.output


def test_empty_scenario_writes_no_roster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default empty scenario serves an empty district and writes no file."""
    apps: list[FakeCanvasApp] = []
    monkeypatch.setattr(fake_cli, "serve", lambda app, **kw: apps.append(app))
    roster = tmp_path / "roster.csv"
    result = CliRunner().invoke(main, ["fake-canvas", "--roster-out", str(roster)])
    assert result.exit_code == 0, result.output
    assert not roster.exists()
    assert "fake-admin-token" in result.output
    assert len(apps[0].fake.state.users) == 1  # only the admin


def test_generated_scenario_serves_the_seeded_district(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--scenario generated --rows N --seed S` serves the district whose roster it writes."""
    apps: list[FakeCanvasApp] = []
    monkeypatch.setattr(fake_cli, "serve", lambda app, **kw: apps.append(app))
    rosters = []
    for name, seed in (("a.csv", 3), ("b.csv", 3), ("c.csv", 4)):
        roster = tmp_path / name
        args = ["fake-canvas", "--scenario", "generated", "--rows", "30", "--seed", str(seed)]
        result = CliRunner().invoke(main, [*args, "--roster-out", str(roster)])
        assert result.exit_code == 0, result.output
        assert "Generated (30 rows, seed" in result.output
        rosters.append(roster.read_text(encoding="utf-8"))
    assert rosters[0] == rosters[1] != rosters[2]
    lines = rosters[0].splitlines()
    assert lines[0] == "student_id,observer_email,observer_first_name,observer_last_name"
    assert len(lines) == 31
    state = apps[0].fake.state
    sis_ids = set(state.logins_by_sis_id)
    known = [line.split(",")[0] for line in lines[1:] if line.split(",")[0] in sis_ids]
    assert len(known) >= 25  # all but the few rows broken on purpose name a served student
    assert apps[0].fake.config.seed == 3


def test_rows_is_bounded() -> None:
    """`--rows` refuses 0 and more than 100,000 rows (usage error, exit 2)."""
    for rows in ("0", "100001"):
        result = CliRunner().invoke(
            main, ["fake-canvas", "--scenario", "generated", "--rows", rows]
        )
        assert result.exit_code == 2, result.output


@pytest.mark.parametrize(
    "args",
    [["--port", "65535"], ["--port", "9000", "--files-port", "9000"]],
)
def test_files_port_needs_a_port_of_its_own(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--files-port defaults to --port + 1 and must differ from it (usage error, exit 2)."""
    monkeypatch.setattr(fake_cli, "serve", lambda app, **kw: None)
    result = CliRunner().invoke(main, ["fake-canvas", *args])
    assert result.exit_code == 2
    assert "--files-port" in result.output


def test_a_taken_port_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a port cannot be bound the command says so (exit 1), without a traceback."""

    def taken(app: object, **kw: object) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(fake_cli, "serve", taken)
    result = CliRunner().invoke(main, ["fake-canvas", "--port", "9300"])
    assert result.exit_code == 1
    assert "cannot listen on 127.0.0.1 ports 9300 and 9301" in result.output
    assert "Traceback" not in result.output


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
