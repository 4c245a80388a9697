"""Security guarantees through the real CLI: the token never written anywhere (not even when
Canvas echoes it), the token never sent off the Canvas origin or in clear text to a remote
host, private files created 0600 in private folders, no file written through a link."""

from __future__ import annotations

import importlib
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.cli import common
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, FakeState, create_app
from canvas_observers.fake_canvas.scenarios import generate_district
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import run_sync
from tests.wiring import HEADER, roster_of

from .conftest import cli_command, cli_env, invoke

# Distinctive, and with no substring that would appear by chance in any output.
TOKEN = "7~SECRETtoken-Qx9Zr4Wm2Lk8Jh5Vb3Np6"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A typical umask, under which files are world-readable unless created otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def all_bytes(*places: Path) -> dict[str, bytes]:
    """Every file under the given files and folders, by name."""
    found: dict[str, bytes] = {}
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in files:
            found[str(path)] = path.read_bytes()
    return found


def district(tmp_path: Path, **knobs: Any) -> tuple[FakeCanvasApp, Path]:
    state = FakeState(TOKEN)
    roster = tmp_path / "roster.csv"
    roster.write_text(generate_district(state, rows=60, seed=4), encoding="utf-8")
    return create_app(FakeConfig(admin_token=TOKEN, throttle=False, **knobs), state), roster


def test_token_never_written_anywhere(tmp_path: Path, umask_022: None) -> None:
    """DEBUG logging, a log file, JSON and CSV reports, the journal (every SQLite file), and a
    run with faults and a revoked-token stop: the token appears in none of them."""
    app, roster = district(tmp_path, fault_rate=0.1, lost_response_rate=0.1, seed=2)
    out = tmp_path / "out"
    out.mkdir()
    token_file = out / "token"  # kept apart from the searched files below
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    state, log = tmp_path / "state" / "journal.sqlite3", tmp_path / "logs" / "sync.log"
    outputs: list[str] = []
    with running_server(app) as url:
        for extra in (
            ["--report", str(tmp_path / "r.json")],
            ["--report", str(tmp_path / "r.csv")],
        ):
            result = invoke(
                [
                    "sync", str(roster), "--canvas-url", url, "--token-file", str(token_file),
                    "--state", str(state), "--log-level", "debug", "--log-file", str(log), *extra,
                ],
            )  # fmt: skip
            assert result.exit_code in (0, 1), result.output
            outputs += [result.stdout, result.stderr]
        del app.fake.state.tokens[TOKEN]  # a refused token must not be echoed either
        result = invoke(
            ["sync", str(roster), "--canvas-url", url, "--state", str(state),
             "--log-level", "debug", "--log-file", str(log)],
            env={"CANVAS_TOKEN": TOKEN},
        )  # fmt: skip
        assert result.exit_code == 2
        outputs += [result.stdout, result.stderr]
        shown = invoke(["show", "1", "--state", str(state), "--json"])
        listed = invoke(["runs", "--state", str(state)])
        outputs += [shown.stdout, shown.stderr, listed.stdout, listed.stderr]
    files = all_bytes(tmp_path / "r.json", tmp_path / "r.csv", log, state.parent)
    assert len(files) >= 4
    assert b"DEBUG" in files[str(log)]  # the log really was at debug level
    assert any(b"canvas GET" in data for data in files.values())  # requests were logged
    for name, data in files.items():
        assert TOKEN.encode() not in data, name
        assert TOKEN.encode("utf-16-le") not in data, name
    for text in outputs:
        assert TOKEN not in text
    assert app.fake.stats.faults > 0  # the error paths ran too


class EchoingCanvas:
    """The fake Canvas behind a front that echoes the request's token in two answers, as an
    error page or a proxy repeating the Authorization header would: creating the guardian
    ``one@`` is refused (400, a row's failure), creating ``two@`` is forbidden (403, which
    stops the run). Every other request reaches the fake as is."""

    def __init__(self, app: FakeCanvasApp) -> None:
        self.app = app
        self.echoed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        bearer = dict(scope["headers"]).get(b"authorization", b"").decode()
        echo = f"the request said: Authorization: {bearer} ({bearer.replace('~', '%7E')})"
        if scope["path"].endswith("/accounts/self/users") and b"one%40home.test" in body:
            self.echoed += 1
            rejected = {"errors": {"user": {"name": [{"type": "invalid", "message": echo}]}}}
            await JSONResponse(rejected, status_code=400)(scope, receive, send)
            return
        if scope["path"].endswith("/accounts/self/users") and b"two%40home.test" in body:
            self.echoed += 1
            refused = {"status": "unauthorized", "errors": [{"message": echo}]}
            await JSONResponse(refused, status_code=403)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def test_a_canvas_that_echoes_the_token_leaks_it_nowhere(tmp_path: Path) -> None:
    """Canvas answers with the token in its error messages (a row's 400, then a 403 that stops
    the run): the terminal, the JSON, CSV and HTML reports, the webhook, the log file,
    `show --json` and `runs`, and every byte of the journal (rows' and writes' details, the
    stop reason) hold `[REDACTED]` where Canvas's words were, never the token."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    state.enroll(
        state.add_user("Kid", login_id="kid@s.test", sis_user_id="S1"), state.add_course("C")
    )
    canvas = EchoingCanvas(app)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        HEADER + "S1,one@home.test,One,Lee\nS1,two@home.test,Two,Lee\n", encoding="utf-8"
    )
    journal, log = tmp_path / "state" / "journal.sqlite3", tmp_path / "logs" / "sync.log"
    received: list[str] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((await request.body()).decode())
        return JSONResponse({"ok": True})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command(), *args],
            capture_output=True,
            text=True,
            env=cli_env(url, TOKEN),
            timeout=120,
            check=False,
        )

    outputs: dict[str, str] = {}
    reports = [tmp_path / "reports" / f"run.{suffix}" for suffix in ("json", "csv", "html")]
    webhook = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with running_server(canvas) as url, running_server(webhook) as hook_url:
        for report in reports:
            result = cli(
                "sync", str(roster), "--state", str(journal), "--concurrency", "1",
                "--pairing", "direct", "--report", str(report), "--log-file", str(log),
                "--log-level", "debug", "--notify-url", f"{hook_url}/hook",
            )  # fmt: skip
            assert result.returncode == 2, result.stderr
            outputs[f"sync {report.suffix}"] = result.stdout + result.stderr
        for run in ("1", "2", "3"):
            shown = cli("show", run, "--state", str(journal), "--json")
            assert shown.returncode == 0, shown.stderr
            outputs[f"show {run}"] = shown.stdout + shown.stderr
        listed = cli("runs", "--state", str(journal))
        outputs["runs"] = listed.stdout + listed.stderr
    # Each run met both echoes: the row's 400 (the sync tries a refused create again), the 403.
    assert canvas.echoed >= 6
    assert len(received) == 3
    outputs.update({f"webhook {n}": body for n, body in enumerate(received)})
    files = all_bytes(*reports, log, journal.parent)
    outputs.update({name: data.decode("utf-8", "replace") for name, data in files.items()})
    assert len(files) >= 5  # three reports, the log, the journal (and its WAL, if left)
    for secret in (TOKEN, TOKEN.replace("~", "%7E")):
        for name, text in outputs.items():
            assert secret not in text, name
        for name, data in files.items():
            assert secret.encode() not in data, name
            assert secret.encode("utf-16-le") not in data, name
    # Canvas's words did reach each of them, cleaned.
    shown_run = json.loads(outputs["show 3"])
    assert "[REDACTED]" in shown_run["run"]["stop_reason"]
    assert any("[REDACTED]" in row["detail"] for row in shown_run["rows"])
    assert any("[REDACTED]" in action["detail"] for action in shown_run["actions"])
    assert "[REDACTED]" in json.loads(received[0])["stop_reason"]
    for name in (str(report) for report in reports):
        assert "[REDACTED]" in outputs[name], name
    assert "[REDACTED]" in outputs["sync .json"]
    assert b"[REDACTED]" in files[str(journal)]


def test_demo_at_debug_level_never_shows_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole `demo`, forced to DEBUG logging into a file: no output holds its token."""
    log = tmp_path / "demo.log"

    def debug_logging(_level: str, _file: Path | None, **kw: object) -> None:
        # No secrets to redact, as in the demo itself: nothing may log the token at all.
        common.setup_logging("debug", log, console=True)

    demo_module = importlib.import_module("canvas_observers.cli.demo")
    monkeypatch.setattr(demo_module, "setup_logging", debug_logging)
    out = tmp_path / "demo-output"
    result = invoke(["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output[-3000:]
    assert b"DEBUG" in log.read_bytes()
    token = FakeConfig().admin_token
    assert token not in result.stdout + result.stderr
    for name, data in all_bytes(out, log).items():
        assert token.encode() not in data, name


def test_private_files_are_created_owner_only(tmp_path: Path, umask_022: None) -> None:
    """Under umask 022, the journal (and its WAL), the reports and the log file are 0600."""
    app, roster = district(tmp_path)
    state = tmp_path / "state" / "journal.sqlite3"
    with running_server(app) as url:
        for report in ("r.json", "r.csv"):
            result = invoke(
                ["sync", str(roster), "--canvas-url", url, "--state", str(state),
                 "--report", str(tmp_path / report), "--log-file", str(tmp_path / "s.log")],
                env={"CANVAS_TOKEN": TOKEN},
            )  # fmt: skip
            assert result.exit_code in (0, 1), result.output
    private = [state, tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "s.log"]
    private += [p for p in state.parent.iterdir() if p.name.startswith(state.name + "-")]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not stat.S_IMODE(state.parent.stat().st_mode) & 0o077


def test_folders_the_tool_makes_are_owner_only_whatever_the_umask(
    tmp_path: Path, umask_022: None
) -> None:
    """Under umask 022, every folder a run makes (the journal's, the report's, the log's,
    export-sis's --out, parents included) is 0700; a folder that was there keeps its mode."""
    app, roster = district(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o755)
    kept.chmod(0o755)
    state = tmp_path / "state" / "canvas" / "journal.sqlite3"
    report = tmp_path / "reports" / "nightly" / "r.html"
    log = kept / "logs" / "cron" / "sync.log"
    with running_server(app) as url:
        result = invoke(
            ["sync", str(roster), "--canvas-url", url, "--state", str(state),
             "--report", str(report), "--log-file", str(log)],
            env={"CANVAS_TOKEN": TOKEN},
        )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    exported = invoke(["export-sis", str(roster), "--out", str(tmp_path / "sis" / "import")])
    assert exported.exit_code in (0, 1), exported.output
    made = [
        tmp_path / "state", state.parent, tmp_path / "reports", report.parent,
        kept / "logs", log.parent, tmp_path / "sis", tmp_path / "sis" / "import",
    ]  # fmt: skip
    for folder in made:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(kept.stat().st_mode) == 0o755


@pytest.mark.parametrize(
    "target", ["elsewhere.txt", "made-elsewhere.txt"], ids=["file", "dangling"]
)
def test_a_log_file_that_is_a_symbolic_link_is_refused(tmp_path: Path, target: str) -> None:
    """--log-file names a link (to a file, or to none yet): exit 2 with one line naming it,
    before anything is sent; the file it names is neither written nor created."""
    app, roster = district(tmp_path)
    victim = tmp_path / target
    if target == "elsewhere.txt":
        victim.write_text("keep me\n")
    log = tmp_path / "sync.log"
    log.symlink_to(victim)
    with running_server(app) as url:
        result = invoke(
            ["sync", str(roster), "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"),
             "--log-file", str(log)],
            env={"CANVAS_TOKEN": TOKEN},
        )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: --log-file {log} is a symbolic link; it is never written through a link (the "
        "link could point at any file): give the real file's path, or remove the link"
    ]
    if target == "elsewhere.txt":
        assert victim.read_text() == "keep me\n"
    else:
        assert not victim.exists()
    assert sum(app.fake.stats.by_method.values()) == 0


def test_a_journal_open_to_others_is_warned_about_once(tmp_path: Path) -> None:
    """A journal found with group or world permission bits: one warning line in the log (and
    on stderr) naming the file and `chmod 600`; the run goes on; a 0600 journal gets none."""
    app, roster = district(tmp_path)
    state, log = tmp_path / "j.sqlite3", tmp_path / "sync.log"
    args = ["sync", str(roster), "--state", str(state), "--log-file", str(log)]
    with running_server(app) as url:
        first = invoke([*args, "--canvas-url", url], env={"CANVAS_TOKEN": TOKEN})
        assert first.exit_code in (0, 1), first.output
        state.chmod(0o644)
        second = invoke([*args, "--canvas-url", url], env={"CANVAS_TOKEN": TOKEN})
        assert second.exit_code in (0, 1), second.output
    warnings = [line for line in log.read_text().splitlines() if "chmod 600" in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].split(" ", 2)[2] == (
        f"WARNING canvas_observers.store.journal: the journal {state} is open to other users of "
        "this machine (mode 0644), and it holds guardians' emails and Canvas ids; run: "
        f"chmod 600 {state}"
    )
    assert "chmod 600" not in first.stderr and f"chmod 600 {state}" in second.stderr


def test_token_file_readable_by_others_warns_and_works(tmp_path: Path) -> None:
    """A --token-file readable by group/others gets a chmod 600 warning; the run still works."""
    app, roster = district(tmp_path)
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN, encoding="utf-8")
    with running_server(app) as url:
        for mode, warned in ((0o644, True), (0o600, False)):
            token_file.chmod(mode)
            result = invoke(
                ["sync", str(roster), "--canvas-url", url, "--token-file", str(token_file),
                 "--state", str(tmp_path / "j.sqlite3")],
            )  # fmt: skip
            assert result.exit_code in (0, 1), result.output
            warning = (
                f"warning: {token_file} can be read by other users of this machine; "
                f"run: chmod 600 {token_file}"
            )
            assert (warning in result.stderr) is warned
    assert app.fake.stats.by_method["POST"] > 0


def test_plain_http_to_a_remote_host_is_refused_unless_allowed(tmp_path: Path) -> None:
    """http:// to a non-loopback address: exit 2 and nothing sent; --allow-insecure-http runs.

    0.0.0.0 is not a loopback address by name (so the rule applies), yet on Linux a connection
    to it reaches this machine, so the allowed case runs without leaving it.
    """
    app, roster = district(tmp_path)
    with running_server(app) as url:
        port = url.rsplit(":", 1)[1]
        remote = f"http://0.0.0.0:{port}"
        args = ["sync", str(roster), "--canvas-url", remote, "--state", str(tmp_path / "j.db")]
        refused = invoke(args, env={"CANVAS_TOKEN": TOKEN})
        assert refused.exit_code == 2
        assert refused.stderr.startswith(
            "error: refusing http:// to 0.0.0.0: the token would travel in clear text"
        ), refused.stderr
        assert sum(app.fake.stats.by_method.values()) == 0
        allowed = invoke([*args, "--allow-insecure-http"], env={"CANVAS_TOKEN": TOKEN})
        assert allowed.exit_code in (0, 1), allowed.output
        assert app.fake.stats.by_method["POST"] > 0


async def test_sync_refuses_a_link_header_to_another_host() -> None:
    """Canvas's Link header pointing at another host stops the run; the token never goes there."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    kid = state.add_user("Kid", login_id="kid@kids.test", sis_user_id="S1")
    state.enroll(kid, state.add_course("C"))
    inner = httpx.ASGITransport(app=app)
    hosts: list[str] = []

    async def evil_proxy(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        response = await inner.handle_async_request(request)
        if request.url.path.endswith("/users") and request.method == "GET":
            await response.aread()
            response.headers["Link"] = (
                '<https://evil.test/api/v1/accounts/self/users?page=2>; rel="next"'
            )
        return response

    roster = roster_of(HEADER + "S1,pat@home.test,Pat,Lee\n")
    async with httpx.AsyncClient(transport=httpx.MockTransport(evil_proxy)) as http:
        client = CanvasClient(http, base_url="http://127.0.0.1", token=TOKEN)
        report = await run_sync(
            roster, client=client, options=SyncOptions(), canvas_url="http://127.0.0.1"
        )
    assert report.aborted is not None
    assert report.aborted is not None
    assert "pagination link leaves the Canvas origin" in report.aborted
    assert set(hosts) == {"127.0.0.1"}
    assert state.user_by_login("pat@home.test") is None  # nothing written on a partial search
