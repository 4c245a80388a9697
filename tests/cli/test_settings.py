"""One settings file for every command, through the CLI against the fake Canvas on loopback:
the nightly sync's file also serves `runs`, `show`, `audit`, `undo`, `export-sis` and
`forget-guardian`; a Canvas URL and a token from the environment and the file, one each, stop
before anything is sent; `config check` says where each setting came from; `--column` adds
to the file's `[column]` table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from canvas_observers.fake_canvas import FakeCanvasApp
from tests.reliability.conftest import invoke
from tests.wiring import HEADER, one_student_canvas

TOKEN = "settings-test-token-5d21"
NO_ENV = {"COLUMNS": "200", "CANVAS_URL": "", "CANVAS_TOKEN": ""}


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with one enrolled student, S1."""
    with one_student_canvas(TOKEN) as served:
        yield served


@pytest.fixture
def other_canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A second fake Canvas: where a leftover CANVAS_URL points."""
    with one_student_canvas("other-canvas-token-77a0") as served:
        yield served


def settings(tmp_path: Path, url: str, extra: str = "") -> Path:
    """/etc/canvas-observers as an admin has it: the token file and one settings file."""
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "token").write_text(TOKEN)
    (folder / "token").chmod(0o600)
    config = folder / "canvas-observers.toml"
    config.write_text(
        f'canvas_url = "{url}"\n'
        'token_file = "token"\n'
        'state = "journal.sqlite3"\n'
        'report = "last.json"\n'
        'pairing = "direct"\n'
        'out = "sis-import"\n'
        "limit = 10\n"
        "[audit]\n"
        'report = "audit.json"\n' + extra
    )
    return config


def roster(tmp_path: Path, header: str = HEADER) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(header + "S1,pat@home.test,Pat,Lee\n")
    return path


def run(*args: str, **env: str) -> Result:
    return invoke(list(args), env={**NO_ENV, **env})


def requests(app: FakeCanvasApp) -> int:
    return sum(app.fake.stats.by_method.values())


def test_one_file_serves_every_command(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """The sync's file: `runs` and `show` read its journal, `audit` its Canvas, token and
    journal (writing its own report, not the sync's), `undo` and `forget-guardian` its
    journal, `export-sis` its `out`; each ignores the keys it has no option for."""
    _, url = canvas
    config = settings(tmp_path, url)
    folder = config.parent
    synced = run("sync", str(roster(tmp_path)), "--config", str(config))
    assert synced.exit_code == 0, synced.output
    assert json.loads((folder / "last.json").read_text())["run"]["pairing"] == "direct"

    listed = run("runs", "--config", str(config))
    assert listed.exit_code == 0, listed.output
    assert f"Runs in {folder / 'journal.sqlite3'}" in listed.stdout

    shown = run("show", "1", "--config", str(config))
    assert shown.exit_code == 0, shown.output
    assert "pat@home.test" in shown.stdout
    latest = run("show", "last", "--config", str(config))
    assert latest.exit_code == 0, latest.output
    assert latest.stdout == shown.stdout  # the one run is the last one

    sync_report = (folder / "last.json").read_text()
    audited = run("audit", str(roster(tmp_path)), "--config", str(config))
    assert audited.exit_code == 0, audited.output
    assert "Report written to" in audited.stdout
    assert json.loads((folder / "audit.json").read_text())  # the audit's own report
    assert (folder / "last.json").read_text() == sync_report  # the sync's left alone
    assert "No journal at" not in audited.stdout  # the sync's journal was read

    undone = run("undo", "1", "--config", str(config))
    assert undone.exit_code == 2
    assert "no journal at" not in undone.stderr
    assert "run 1" in undone.stderr  # refused for what the run did, not for a missing journal

    forgot = run("forget-guardian", "G-9", "--config", str(config))
    assert forgot.exit_code == 2
    assert "no Canvas account is remembered for guardian G-9" in forgot.stderr

    exported = run("export-sis", str(roster(tmp_path)), "--config", str(config))
    assert exported.exit_code == 0, exported.output
    assert "pat@home.test" in (folder / "sis-import" / "users.csv").read_text()


def test_a_misspelt_key_is_still_an_error_for_every_command(tmp_path: Path) -> None:
    """A key no command knows stops `runs` too, naming the closest key."""
    config = settings(tmp_path, "https://school.instructure.com", "")
    config.write_text(config.read_text().replace("limit = 10", "limt = 10"))
    result = run("runs", "--config", str(config))
    assert result.exit_code == 2
    assert f"--config {config}: limt: no command has this option (did you mean limit?)" in (
        result.stderr
    )


@pytest.mark.parametrize("leftover", ["CANVAS_URL", "CANVAS_TOKEN"])
def test_a_canvas_and_token_from_two_places_stop_before_anything_is_sent(
    canvas: tuple[FakeCanvasApp, str],
    other_canvas: tuple[FakeCanvasApp, str],
    tmp_path: Path,
    leftover: str,
) -> None:
    """A leftover CANVAS_URL (another Canvas) with the file's token file, or a leftover
    CANVAS_TOKEN with the file's Canvas: sync, audit and undo exit 2 naming both sources and
    the file, never the token; neither Canvas gets a request, no journal is made."""
    app, url = canvas
    other, other_url = other_canvas
    config = settings(tmp_path, url)
    env = {"CANVAS_URL": other_url} if leftover == "CANVAS_URL" else {"CANVAS_TOKEN": "stale"}
    for args in (
        ["sync", str(roster(tmp_path)), "--config", str(config)],
        ["audit", str(roster(tmp_path)), "--config", str(config)],
        ["undo", "1", "--config", str(config)],
    ):
        result = run(*args, **env)
        assert result.exit_code == 2, result.output
        url_from = (
            "the environment variable CANVAS_URL"
            if leftover == "CANVAS_URL"
            else f"canvas_url in the settings file {config}"
        )
        token_from = (
            f"token_file in the settings file {config}"
            if leftover == "CANVAS_URL"
            else "the environment variable CANVAS_TOKEN"
        )
        assert (
            f"the Canvas URL comes from {url_from} but its token from {token_from}: nothing "
            "was sent"
        ) in " ".join(result.stderr.split())
        assert f"unset {leftover}" in result.stderr
        assert TOKEN not in result.output and "stale" not in result.output
    assert requests(app) == 0 and requests(other) == 0
    assert not (config.parent / "journal.sqlite3").exists()


def test_flags_combine_with_either_source(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--canvas-url on the command line with the file's token file is deliberate: it runs."""
    app, url = canvas
    config = settings(tmp_path, "https://school.instructure.com")
    result = run(
        "sync", str(roster(tmp_path)), "--config", str(config), "--canvas-url", url,
        CANVAS_URL="https://stale.example.edu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert app.fake.stats.by_method["PUT"] == 1


def test_the_environment_wins_over_the_file_for_both_and_says_so(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """CANVAS_URL and CANVAS_TOKEN both set: they are used, not the file's canvas_url and
    token_file, and one note says so."""
    app, url = canvas
    config = settings(tmp_path, "https://school.instructure.com")
    (config.parent / "token").write_text("not-the-token")
    result = run(
        "sync", str(roster(tmp_path)), "--config", str(config), CANVAS_URL=url, CANVAS_TOKEN=TOKEN
    )
    assert result.exit_code == 0, result.output
    assert (
        f"note: using CANVAS_URL instead of canvas_url and CANVAS_TOKEN instead of token_file "
        f"of the settings file {config}"
    ) in " ".join(result.stderr.split())
    assert app.fake.stats.by_method["PUT"] == 1


def test_config_check_says_where_each_setting_comes_from(tmp_path: Path) -> None:
    """A flag, the environment, the file (with its path, and its table), the default; the
    token only as set and from where, never its value."""
    config = settings(tmp_path, "https://school.instructure.com")
    result = run(
        "config", "check", str(config), "--command", "audit", "--", "--report-timeout", "90",
        CANVAS_URL="https://school.instructure.com",
        CANVAS_TOKEN=TOKEN,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for line in [
        "  --canvas-url             https://school.instructure.com  "
        "(environment variable CANVAS_URL)",
        "  --report-timeout         90.0  (command line)",
        f"  --report                 {config.parent / 'audit.json'}  "
        f"(settings file {config}, [audit] report)",
        f"  --state                  {config.parent / 'journal.sqlite3'}  (settings file {config})",
        "  --encoding               utf-8  (default)",
        "  token                    set (from the environment variable CANVAS_TOKEN)",
        "Not used by `canvas-observers audit`: limit, out, pairing, report",
    ]:
        assert line in lines, result.stdout
    assert TOKEN not in result.output


@pytest.mark.parametrize(
    ("mode", "code", "message"),
    [
        (0o600, 0, ""),
        (0o640, 1, "warning: the token file {t} can be read by other users of this machine; "
         "run: chmod 600 {t}"),
        (None, 2, "error: the token file {t} (token_file in the settings file {c}) does not exist"),
    ],
    ids=["private", "group-readable", "missing"],
)  # fmt: skip
def test_config_check_checks_the_token_file(
    tmp_path: Path, mode: int | None, code: int, message: str
) -> None:
    """The token file is there, readable and private, or `config check` says what to do."""
    config = settings(tmp_path, "https://school.instructure.com")
    token = config.parent / "token"
    if mode is None:
        token.unlink()
    else:
        token.chmod(mode)
    result = run("config", "check", str(config))
    assert result.exit_code == code, result.output
    if message:
        assert message.format(t=token, c=config) in result.stderr
    else:
        assert result.stderr == ""
    assert TOKEN not in result.output


def test_config_check_refuses_a_canvas_and_token_from_two_places(tmp_path: Path) -> None:
    config = settings(tmp_path, "https://school.instructure.com")
    result = run("config", "check", str(config), "--command", "undo", CANVAS_URL="https://x.test")
    assert result.exit_code == 2
    assert "error: the Canvas URL comes from the environment variable CANVAS_URL" in result.stderr


def test_a_column_flag_adds_to_the_files_column_table(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The file maps the SIS's headers; a --column for one of them (the SIS renamed it) wins
    for that column and keeps the others. Without the file's, the roster would not read."""
    app, url = canvas
    config = settings(
        tmp_path,
        url,
        '[column]\nstudent_id = "Student ID"\nobserver_email = "Parent Email"\n'
        'observer_first_name = "First"\nobserver_last_name = "Last"\n',
    )
    path = roster(tmp_path, "Student ID,Guardian E-mail,First,Last\n")
    result = run(
        "sync", str(path), "--config", str(config), "--column", "observer_email=Guardian E-mail"
    )
    assert result.exit_code == 0, result.output
    assert app.fake.stats.by_method["PUT"] == 1
    checked = run("config", "check", str(config), "--", "--column", "guardian_id=GID")
    assert (
        "  --column                 student_id=Student ID, observer_email=Parent Email, "
        "observer_first_name=First, observer_last_name=Last, guardian_id=GID  (command line)"
    ) in checked.stdout.splitlines()
