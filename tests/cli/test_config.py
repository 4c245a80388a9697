"""`--config FILE` and `canvas-observers config check` through the CLI: a TOML file sets the
options by their flag names, the command line wins, and a wrong file is one clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from canvas_observers.fake_canvas import FakeCanvasApp
from tests.reliability.conftest import invoke
from tests.wiring import HEADER, one_student_canvas

TOKEN = "config-test-token-c41f"


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with one enrolled student, S1."""
    with one_student_canvas(TOKEN) as served:
        yield served


def settings_folder(tmp_path: Path, url: str, extra: str = "") -> Path:
    """/etc/canvas-observers as a test has it: the token file and sync.toml side by side."""
    folder = tmp_path / "etc"
    folder.mkdir()
    token = folder / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    (folder / "sync.toml").write_text(
        f'canvas_url = "{url}"\n'
        'token_file = "token"\n'
        'pairing = "direct"\n'
        'report = "reports/last.json"\n'
        'state = "journal.sqlite3"\n'
        "concurrency = 2\n" + extra
    )
    return folder


def run(*args: str) -> Result:
    return invoke(list(args), env={"COLUMNS": "200"})


def test_sync_reads_its_options_from_the_file(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Canvas, token file, pairing, report and journal from the file (paths relative to it)."""
    app, url = canvas
    folder = settings_folder(tmp_path, url)
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n")
    result = run("sync", str(roster), "--config", str(folder / "sync.toml"))
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "reports" / "last.json").read_text())
    assert report["run"]["pairing"] == "direct"
    assert (folder / "journal.sqlite3").exists()
    assert app.fake.stats.by_method["PUT"] == 1  # the direct pairing


def test_the_command_line_wins_over_the_file(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A flag given on the command line overrides the same key in the file."""
    _, url = canvas
    folder = settings_folder(tmp_path, url)
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n")
    other = tmp_path / "other.json"
    result = run(
        "sync", str(roster), "--config", str(folder / "sync.toml"),
        "--pairing", "code", "--report", str(other), "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(other.read_text())
    assert report["run"]["pairing"] == "code"
    assert report["run"]["dry_run"] is True
    assert not (folder / "reports" / "last.json").exists()


def test_export_sis_takes_a_file_with_a_column_table(tmp_path: Path) -> None:
    """export-sis: out, delimiter and the SIS's headers as a [column] table."""
    roster = tmp_path / "sis.csv"
    roster.write_text("Student ID;Parent Email;First;Last\nS1;pat@home.test;Pat;Lee\n")
    config = tmp_path / "export.toml"
    config.write_text(
        'out = "sis-import"\ndelimiter = ";"\n[column]\nstudent_id = "Student ID"\n'
        'observer_email = "Parent Email"\nobserver_first_name = "First"\n'
        'observer_last_name = "Last"\n'
    )
    result = run("export-sis", str(roster), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "pat@home.test" in (tmp_path / "sis-import" / "users.csv").read_text()


BAD = [
    pytest.param(
        'token = "abc123"\n',
        "token: the token itself never goes in a settings file",
        id="token",
    ),
    pytest.param(
        "remove_ende = true\n",
        "remove_ende: no command has this option (did you mean remove-ended?)",
        id="unknown-key",
    ),
    pytest.param(
        'concurrency = "4"\n', "concurrency: expected a number, got string '4'", id="type"
    ),
    pytest.param("dry-run = 1\n", "dry-run: expected true or false, got number 1", id="flag-type"),
    pytest.param(
        'pairing = "magic"\n',
        "pairing: 'magic' is not one of 'code', 'direct'.",
        id="bad-value",
    ),
    pytest.param(
        'fail-on = ["failed", "bogus"]\n', "fail-on: unknown outcome bogus", id="bad-callback"
    ),
    pytest.param(
        "[audit]\nremove-ended = true\n",
        "[audit] remove-ended: not an option of `canvas-observers audit` (it is one of "
        "`canvas-observers sync`: put it above the tables)",
        id="other-command-table",
    ),
    pytest.param("pairing = \n", "not valid TOML", id="not-toml"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_wrong_file_is_one_error_naming_file_and_key(
    text: str, message: str, tmp_path: Path
) -> None:
    """sync --config and config check: exit 2, the file and key named, no traceback."""
    config = tmp_path / "sync.toml"
    config.write_text(text)
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n")
    synced = run("sync", str(roster), "--config", str(config))
    assert synced.exit_code == 2
    assert f"Error: --config {config}: {message}" in synced.stderr
    checked = run("config", "check", str(config))
    assert checked.exit_code == 2
    assert checked.stderr.startswith(f"error: {config}: {message}")
    for result in (synced, checked):
        assert "Traceback" not in result.output
        assert "abc123" not in result.output


def test_config_check_says_what_a_file_sets(tmp_path: Path) -> None:
    """A good file: exit 0 and one line per option, with its value and where it came from
    (paths made absolute), the token only as set, from the token file the file names."""
    folder = settings_folder(tmp_path, "https://school.instructure.com", "remove-ended = true\n")
    config = folder / "sync.toml"
    result = invoke(["config", "check", str(config)], env={"COLUMNS": "200", "CANVAS_URL": ""})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{config} is valid. The settings of `canvas-observers sync` with it:"
    for line in [
        f"  --canvas-url             https://school.instructure.com  (settings file {config})",
        f"  --pairing                direct  (settings file {config})",
        f"  --report                 {folder / 'reports' / 'last.json'}  (settings file {config})",
        f"  --state                  {folder / 'journal.sqlite3'}  (settings file {config})",
        f"  --concurrency            2  (settings file {config})",
        f"  --remove-ended           on  (settings file {config})",
        "  --dry-run                off  (default)",
        "  --grace-runs             2  (default)",
        f"  token                    set (from token_file in the settings file {config}: "
        f"{folder / 'token'})",
    ]:
        assert line in lines
    assert TOKEN not in result.output


def test_audit_takes_a_settings_file_too(tmp_path: Path) -> None:
    """`audit` reads --config like `sync`; a sync-only key is not used by it (and said so)."""
    good = tmp_path / "audit.toml"
    good.write_text(
        'report-timeout = 60\ncanvas_url = "https://school.instructure.com"\nremove-ended = true\n'
    )
    checked = invoke(
        ["config", "check", str(good), "--command", "audit"],
        env={
            "COLUMNS": "200",
            "CANVAS_URL": "https://school.instructure.com",
            "CANVAS_TOKEN": TOKEN,
        },
    )
    assert checked.exit_code == 0, checked.output
    assert f"  --report-timeout         60.0  (settings file {good})" in checked.stdout
    assert "Not used by `canvas-observers audit`: remove-ended" in checked.stdout


def test_the_oneroster_api_settings_go_in_a_file(tmp_path: Path) -> None:
    """The SIS API's URL, client id, secret file and token URL are settings like any other
    (token-url is a URL, not a token); the secret itself has no key."""
    config = tmp_path / "sync.toml"
    config.write_text(
        'oneroster-api = "https://sis.example.org/ims/oneroster/v1p1"\n'
        'client-id = "canvas-sync"\n'
        'client-secret-file = "sis-secret"\n'
        'token-url = "https://sis.example.org/oauth2/token"\n'
    )
    checked = run("config", "check", str(config))
    assert checked.exit_code == 1, checked.output  # no Canvas named here: a warning
    assert (
        f"  --token-url              https://sis.example.org/oauth2/token  (settings file {config})"
        in checked.stdout.splitlines()
    )
    assert (
        f"  --client-secret-file     {tmp_path / 'sis-secret'}  (settings file {config})"
        in checked.stdout.splitlines()
    )
    config.write_text('client-secret = "s3cret"\n')
    refused = run("config", "check", str(config))
    assert refused.exit_code == 2 and "s3cret" not in refused.output


SHAPED = "7~" + "Zq8Xw3Lm5Rt9Vb2Nk4Hj6Gf1Dp0Sa7Ce5Yu3"  # what a Canvas access token looks like


# id: (the file, with {t} for CANVAS_TOKEN's value and {s} for a Canvas-shaped token; what
# the error says after the file's name)
UNSEEN = {
    "canvas_token": ('canvas_token = "{t}"', "canvas_token: the token itself"),
    "api_key": ('api_key = "{t}"', "api_key: the token itself"),
    "access_token": ('access_token = "{t}"', "access_token: the token itself"),
    "apikey": ('apikey = "{t}"', "apikey: the token itself"),
    "password": ('password = "{t}"', "password: a secret never goes"),
    "client-secret": ('client_secret = "{t}"', "client_secret: a secret never goes"),
    "value-env": ('source = "{t}"', "source: holds the Canvas token"),
    "value-choice": ('pairing = "{t}"', "pairing: holds the Canvas token"),
    "value-path": ('exclude = "/srv/{t}.csv"', "exclude: holds the Canvas token"),
    "value-table": ('[column]\nstudent_id = "{t}"', "column: holds the Canvas token"),
    "value-shaped": ('source = "{s}"', "source: holds the Canvas token"),
    "token-as-file": ('token_file = "{s}"', "token_file: holds the Canvas token"),
}


@pytest.mark.parametrize(("text", "message"), UNSEEN.values(), ids=UNSEEN.keys())
def test_the_token_under_any_key_is_refused_unseen(text: str, message: str, tmp_path: Path) -> None:
    """The token (CANVAS_TOKEN's, or shaped like a Canvas token) under a key named for a
    token, key or secret, or as the value of any key: sync --config and config check exit 2
    with one error line naming the file and the key, never the value."""
    config = tmp_path / "sync.toml"
    config.write_text(text.format(t=TOKEN, s=SHAPED) + "\n")
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n")
    env = {"COLUMNS": "200", "CANVAS_TOKEN": TOKEN}
    synced = invoke(["sync", str(roster), "--config", str(config)], env=env)
    checked = invoke(["config", "check", str(config)], env=env)
    for result in (synced, checked):
        assert result.exit_code == 2
        errors = [line for line in result.stderr.splitlines() if "rror:" in line]
        assert len(errors) == 1, result.stderr
        assert f"{config}: {message}" in errors[0]
        assert TOKEN not in result.output and SHAPED not in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize("flag", ["--token-file", "token_file"])
def test_the_token_of_a_token_file_is_refused_as_a_value(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path, flag: str
) -> None:
    """The token known only from the token file (named on the command line, or by the
    settings file itself) is refused as a value too, before anything is sent."""
    app, url = canvas
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    config = tmp_path / "sync.toml"
    config.write_text(
        f'canvas_url = "{url}"\nsource = "school {TOKEN}"\n'
        + (f'token_file = "{token}"\n' if flag == "token_file" else "")
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + "S1,pat@home.test,Pat,Lee\n")
    args = ["sync", str(roster), "--config", str(config), "--state", str(tmp_path / "j")]
    if flag == "--token-file":
        args += ["--token-file", str(token)]
    result = invoke(args, env={"COLUMNS": "200", "CANVAS_TOKEN": ""})
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if "rror:" in line]
    assert len(errors) == 1, result.stderr
    assert f"--config {config}: source: holds the Canvas token" in errors[0]
    assert TOKEN not in result.output
    assert sum(app.fake.stats.by_method.values()) == 0
