"""`canvas-observers runs` and `show`: listing and showing runs from the journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import canvas_observers
from canvas_observers.cli.runs import runs, show
from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.store import Journal

URL = "https://school.instructure.com"
T0 = "2024-09-01T02:00:00+00:00"
T1 = "2024-09-01T02:03:05+00:00"


def _invoke(command: object, args: list[str], **env: str) -> Result:
    # A wide terminal so rich never folds the words the tests look for.
    runner = CliRunner(env={"COLUMNS": "200", **env})
    return runner.invoke(command, args)  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A journal with one finished run (2) over one interrupted run (1)."""
    path = tmp_path / "j.sqlite3"
    src = str(Path(canvas_observers.__file__).resolve().parent.parent)
    # Run 1 is started by a process that then dies: a genuinely interrupted run.
    script = (
        "import sys, os\n"
        "from canvas_observers.store import Journal\n"
        "j = Journal.open(sys.argv[1])\n"
        f"j.start_run(canvas_url={URL!r}, settings={{}}, roster='crashed.csv',"
        f" dry_run=True, started_at={T0!r})\n"
        "os._exit(0)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path)],
        env={**os.environ, "PYTHONPATH": src},
        check=True,
    )
    with Journal.open(path) as j:
        run = j.start_run(
            canvas_url=URL,
            settings={"pairing": "code", "concurrency": 8},
            roster="[bold]nightly[/bold].csv",
            dry_run=False,
            started_at=T0,
        )
        j.for_run(run, canvas_url=URL).record_row(
            RowResult(2, "100", "ann@x.org", Outcome.CREATED, "", 11, 21, "Sam Ray", "Ann Ray"),
            at=T1,
        )
        j.for_run(run, canvas_url=URL).record_row(
            RowResult(3, "101", "bob@x.org", Outcome.PAIRED, "", 12, 22), at=T1
        )
        j.for_run(run, canvas_url=URL).record_row(
            RowResult(4, "102", "[red]eve[/red]@x.org", Outcome.FAILED, "HTTP 500"), at=T1
        )
        j.for_run(run, canvas_url=URL).record_action(
            ActionRecord("create_user", 2, T0, "ok", 21, None, "new account")
        )
        j.for_run(run, canvas_url=URL).record_action(ActionRecord("pair_code", 2, T1, "ok", 21, 11))
        j.for_run(run, canvas_url=URL).record_action(
            ActionRecord("pair_code", 3, T1, "unknown", 22, 12)
        )
        j.finish_run(
            run,
            ended_at=T1,
            state="complete",
            totals={"created": 1, "paired": 1, "failed": 1, "already_paired": 0},
            api_calls={"GET": 14, "POST": 3},
        )
    return path


def test_runs_without_journal_is_a_friendly_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runs` before any run (default journal) says so in one line, exits 0, creates nothing."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    result = _invoke(runs, ["--canvas-url", "https://school.example.edu"])
    assert result.exit_code == 0
    assert "No runs recorded yet" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.rglob("*.sqlite3"))


def test_runs_with_a_mistyped_state_path_is_an_error(tmp_path: Path) -> None:
    """`runs --state` naming a file that does not exist is most likely a typo: exit 2."""
    path = tmp_path / "none.sqlite3"
    result = _invoke(runs, ["--state", str(path)])
    assert result.exit_code == 2
    assert "no journal at" in result.output
    assert not path.exists()


def test_runs_on_empty_journal(tmp_path: Path) -> None:
    """`runs` on a journal with no runs says there are none and exits 0."""
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    result = _invoke(runs, ["--state", str(path)])
    assert result.exit_code == 0
    assert "No runs recorded yet" in result.output


def test_runs_lists_newest_first_and_shows_interrupted(state: Path) -> None:
    """`runs` shows both runs, newest first, the dead one as interrupted, with totals."""
    result = _invoke(runs, ["--state", str(state)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("[bold]nightly[/bold].csv") < out.index("crashed.csv")
    (done,) = [line for line in out.splitlines() if "nightly" in line]
    (crashed,) = [line for line in out.splitlines() if "crashed.csv" in line]
    assert "complete" in done and "3m 05s" in done and "dry run" not in done
    # new (created + paired) 2, ok (already paired) 0, attention (failed) 1: not a terminal,
    # so one plain line per run (tests/cli/test_tables_cli.py has the terminal's table)
    assert "new 2 · ok 0 · check 1" in done, done
    assert "interrupted, dry run" in crashed


def test_runs_limit(state: Path) -> None:
    """`runs --limit 1` shows only the newest run."""
    result = _invoke(runs, ["--state", str(state), "--limit", "1"])
    assert result.exit_code == 0
    assert "nightly" in result.output and "crashed.csv" not in result.output


def test_runs_uses_default_path_of_canvas_url_env(tmp_path: Path) -> None:
    """Without --state, `runs` reads the default journal of CANVAS_URL."""
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    result = _invoke(runs, [], CANVAS_URL="https://district.test", **env)
    assert result.exit_code == 0
    expected = tmp_path / "xdg" / "canvas-observers" / "district.test.sqlite3"
    assert str(expected) in result.output.replace("\n", "")


def test_runs_needs_state_or_canvas_url() -> None:
    """`runs` with neither --state nor a Canvas URL is a usage error (exit 2)."""
    result = CliRunner(env={"CANVAS_URL": None}).invoke(runs, [])
    assert result.exit_code == 2
    assert "--state" in result.output


def test_show_header_rows_and_actions_escape_markup(state: Path) -> None:
    """`show` prints settings, totals, API calls, every row and action, markup printed as-is."""
    result = _invoke(show, ["2", "--state", str(state)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[bold]nightly[/bold].csv" in out and "[red]eve[/red]@x.org" in out
    assert 'pairing="code"' in out and "concurrency=8" in out
    assert "GET 14 · POST 3" in out
    for text in ("ann@x.org", "bob@x.org", "created", "paired", "failed", "HTTP 500"):
        assert text in out
    assert "Rows (3)" in out and "Actions (3)" in out
    assert "create_user" in out and "new account" in out and "unknown" in out


def test_show_filters_by_outcome(state: Path) -> None:
    """`show --outcome created` keeps only created rows and the actions of their lines."""
    result = _invoke(show, ["2", "--state", str(state), "--outcome", "created"])
    assert result.exit_code == 0
    assert "ann@x.org" in result.output and "bob@x.org" not in result.output
    assert "Rows (1)" in result.output and "Actions (2)" in result.output


def test_show_max_rows_caps_tables_but_says_so(state: Path) -> None:
    """`show --max-rows 2` prints two rows and two actions and says how many there are."""
    result = _invoke(show, ["2", "--state", str(state), "--max-rows", "2"])
    assert result.exit_code == 0
    assert "ann@x.org" in result.output and "bob@x.org" in result.output
    assert "eve" not in result.output
    assert result.output.count("first 2 of 3") == 2  # rows and actions
    assert "unknown" not in result.output  # the third action is cut too


def test_show_json(state: Path) -> None:
    """`show --json` prints the run, its rows and actions as JSON with report row fields."""
    result = _invoke(show, ["2", "--state", str(state), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["run"]["state"] == "complete" and doc["run"]["api_calls"] == {"GET": 14, "POST": 3}
    assert [r["line"] for r in doc["rows"]] == [2, 3, 4]
    assert doc["rows"][0] == {
        "line": 2,
        "student_id": "100",
        "observer_email": "ann@x.org",
        "outcome": "created",
        "detail": "",
        "canvas_student_id": 11,
        "canvas_observer_id": 21,
        "student_name": "Sam Ray",
        "guardian_name": "Ann Ray",
    }
    assert doc["rows"][1]["student_name"] == doc["rows"][1]["guardian_name"] == ""
    assert [a["kind"] for a in doc["actions"]] == ["create_user", "pair_code", "pair_code"]


def test_show_interrupted_run(state: Path) -> None:
    """`show` of a run whose process died says interrupted."""
    result = _invoke(show, ["1", "--state", str(state), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["run"]["state"] == "interrupted"


def test_show_unknown_run_exits_2(state: Path) -> None:
    """`show` of a run id not in the journal prints to stderr and exits 2."""
    result = _invoke(show, ["42", "--state", str(state)])
    assert result.exit_code == 2
    assert "no run 42" in result.stderr
    assert result.stdout == ""


def test_show_missing_journal_exits_2(tmp_path: Path) -> None:
    """`show` with no journal file exits 2 with a message and creates nothing."""
    path = tmp_path / "none.sqlite3"
    result = _invoke(show, ["1", "--state", str(path)])
    assert result.exit_code == 2
    assert "no journal" in result.stderr
    assert not path.exists()


@pytest.mark.parametrize("command", [runs, show])
def test_corrupt_file_exits_2_without_traceback(tmp_path: Path, command: object) -> None:
    """A file that is not a journal gives one line naming it and exit 2, no traceback."""
    path = tmp_path / "bad.sqlite3"
    path.write_bytes(b"\x00garbage, not SQLite at all\n" * 100)
    args = ["--state", str(path)] if command is runs else ["1", "--state", str(path)]
    result = _invoke(command, args)
    assert result.exit_code == 2
    assert f"not a canvas-observers journal: {path}" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_foreign_database_exits_2(tmp_path: Path) -> None:
    """Another program's SQLite file is refused with exit 2."""
    import sqlite3

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    result = _invoke(runs, ["--state", str(path)])
    assert result.exit_code == 2
    assert "not a canvas-observers journal" in result.stderr


@pytest.mark.parametrize("command", [runs, show])
def test_help_for_every_option(command: object) -> None:
    """`--help` works and every option of the command has help text."""
    result = _invoke(command, ["--help"])
    assert result.exit_code == 0
    for param in command.params:  # type: ignore[attr-defined]
        if param.param_type_name == "option":
            assert param.help, param.name
            assert param.opts[0] in result.output
