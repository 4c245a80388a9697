"""A new user's first minutes: `--help` in groups and in the order of use, and tables that fit
an 80-column terminal and turn into plain lines in a pipe or cron's mail (docs/cli.md,
"Reading the help" and "Tables, pipes and cron mail").

The CLI runs as a subprocess, as an admin or cron runs it: stdout a pipe, and COLUMNS unset
unless a test sets it.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from rich.console import Console

from canvas_observers.cli import main
from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.report.tables import Column, Listing, print_listing
from canvas_observers.store import Journal

ORDER = [
    "sync",
    "runs",
    "show",
    "audit",
    "letters",
    "undo",
    "export-sis",
    "forget-guardian",
    "config",
    "demo",
    "fake-canvas",
    "fake-oneroster",
]
SYNC_GROUPS = [
    "Canvas",
    "Pairing",
    "Who is eligible",
    "Roster file (ROSTER)",
    "OneRoster and SDS rosters, files or API",
    "OneRoster API, instead of a ROSTER file",
    "Removing links the SIS has ended",
    "Report, journal and alerts",
    "Logging",
    "Other options",
]
# Every box-drawing character (U+2500-U+257F): rich's tables, rules and panels are drawn with
# them, and a mail client in a proportional font turns them into noise.
BOX = re.compile("[\u2500-\u257f]")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
URL = "https://school.instructure.com"
LONG_EMAIL = "maria-fernanda.garcia-lopez@springfield-unified.example.edu"
LONG_DETAIL = (
    "Canvas answered 500 Internal Server Error three times over two minutes; the next run "
    "tries this guardian again, and nothing was created or paired for this row"
)
AT = "2024-09-02T02:00:05+00:00"
ROSTER = "/srv/sis/exports/nightly/guardians-2024-09-01.csv"


def cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``canvas-observers ARGS`` as cron runs it: stdout a pipe, no COLUMNS, colour and the
    terminal not forced; ``env`` on top."""
    unset = {"COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "CANVAS_URL"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
        check=False,
        cwd=cwd,
    )


def long_flags(command: click.Command) -> list[str]:
    return [
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in param.opts
        if opt.startswith("--")
    ]


def sections(help_text: str) -> dict[str, list[str]]:
    """Heading -> the flags (or command names) defined under it, in order."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in help_text.splitlines():
        heading = re.fullmatch(r"(\S.*):", line)
        if heading:
            current = heading.group(1)
            found[current] = []
            continue
        entry = re.match(r"  (?:-\w, )?(--[\w-]+|[a-z][\w-]*)(?=\s|$)", line)
        if entry and current:
            found[current].append(entry.group(1))
    return found


# -- --help ------------------------------------------------------------------------------------


def test_top_level_help_lists_commands_in_the_order_of_use() -> None:
    """`canvas-observers --help`: the working commands in the order an admin meets them, then
    the demo and the fakes under "Try it"."""
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    listed = sections(result.stdout)
    assert listed["Commands"] + listed["Try it"] == ORDER
    assert listed["Try it"] == ["demo", "fake-canvas", "fake-oneroster"]
    assert sorted(ORDER) == sorted(main.commands)  # a new command must be placed too


@pytest.mark.parametrize("command", [*ORDER, "config check"])
def test_no_doubled_percent_and_help_fits_80_columns(command: str) -> None:
    """No `%%` (a percent sign escaped for a formatter that is not used) in any command's help,
    and the help fits an 80-column mail or terminal."""
    result = cli(*command.split(), "--help")
    assert result.returncode == 0, result.stderr
    assert "%%" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def test_sync_help_shows_its_groups_and_every_option_once() -> None:
    """`sync --help` has its groups in order, every option exactly once, and only --config and
    --help left under "Other options"."""
    result = cli("sync", "--help")
    assert result.returncode == 0, result.stderr
    groups = sections(result.stdout)
    assert [title for title in groups if title in SYNC_GROUPS] == SYNC_GROUPS
    shown = [flag for title in SYNC_GROUPS for flag in groups[title]]
    assert sorted(shown) == sorted([*long_flags(main.commands["sync"]), "--help"])
    assert groups["Other options"] == ["--config", "--help"]
    assert groups["Pairing"][0] == "--dry-run"
    assert "5% of the links" in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", ["audit", "show", "export-sis"])
def test_other_long_helps_are_grouped_too(command: str) -> None:
    """audit, show and export-sis group their options; every one shows once."""
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    groups = sections(result.stdout)
    shown = [flag for title, flags in groups.items() if title != "Usage" for flag in flags]
    shown = [flag for flag in shown if flag.startswith("--")]
    assert sorted(shown) == sorted([*long_flags(main.commands[command]), "--help"])
    assert groups["Other options"] == ["--config", "--help"]
    assert len(groups) >= 3


# -- tables ------------------------------------------------------------------------------------


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal with a stopped run (removals held) and a finished one with long values."""
    path = tmp_path / "journal.sqlite3"
    with Journal.open(path) as j:
        first = j.start_run(
            canvas_url=URL,
            settings={},
            roster=ROSTER,
            dry_run=True,
            started_at="2024-09-01T02:00:00+00:00",
        )
        j.finish_run(
            first,
            ended_at="2024-09-01T02:01:00+00:00",
            state="stopped",
            totals={"would_create": 3},
            api_calls={"GET": 4},
            stop_reason="Canvas refused the token (401): make a new one and set CANVAS_TOKEN",
        )
        run = j.start_run(
            canvas_url=URL,
            settings={"pairing": "code", "concurrency": 16, "remove_ended": True},
            roster=ROSTER,
            dry_run=False,
            started_at="2024-09-02T02:00:00+00:00",
        )
        runs = j.for_run(run, canvas_url=URL)
        runs.record_row(RowResult(2, "S100200300", LONG_EMAIL, Outcome.CREATED, "", 11, 21), at=AT)
        runs.record_row(RowResult(3, "S100200301", LONG_EMAIL, Outcome.FAILED, LONG_DETAIL), at=AT)
        runs.record_action(ActionRecord("create_user", 2, "2024-09-02T02:00:05+00:00", "ok", 21))
        runs.record_action(
            ActionRecord(
                "pair_code", 3, "2024-09-02T02:00:06+00:00", "failed", None, 12, LONG_DETAIL
            )
        )
        j.finish_run(
            run,
            ended_at="2024-09-02T02:03:05+00:00",
            state="complete",
            totals={"created": 1, "failed": 1},
            api_calls={"GET": 14, "POST": 3},
        )
    return path


def _lines(text: str) -> list[str]:
    return ANSI.sub("", text).splitlines()


@pytest.mark.parametrize("args", [["runs"], ["show", "2"], ["show", "last", "--needs-attention"]])
def test_piped_tables_are_plain_lines_of_80_columns(journal: Path, args: list[str]) -> None:
    """Piped, as into cron's mail: no box drawing, no line over 80 characters, one line (and
    its indented continuation) per row with labelled fields."""
    # The journal named as cron's line would name it, relative to the folder cron starts in
    # (a path longer than a line would stand whole on a line of its own).
    result = cli(*args, "--state", journal.name, cwd=journal.parent)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not BOX.search(out), out
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 80, out
    records = [line for line in out.splitlines() if line and not line.startswith(" ")]
    if args[0] == "runs":
        by_id = [line for line in records if line.startswith("id ")]
        assert len(by_id) == 2
        assert by_id[0].startswith("id 2 · started 2024-09-02 02:00 · took 3m 05s")
        assert "state stopped, dry run" in by_id[1]
        assert ROSTER in out  # a path is never broken across lines
    else:
        rows = [line for line in records if line.startswith("line ")]
        assert rows and all("·" in line for line in rows)
        assert LONG_EMAIL in out
        flat = " ".join(out.split())
        assert f"outcome failed · detail {LONG_DETAIL}" in flat


@pytest.mark.parametrize(
    ("args", "values"),
    [
        (["runs"], ("stopped", "complete", "2024-09-02", "3m05s", "refused")),
        (["show", "2"], ("S100200301", "created", "failed", "create_user", "pair_code")),
    ],
)
def test_tables_fit_an_80_column_terminal(
    journal: Path, args: list[str], values: tuple[str, ...]
) -> None:
    """On a terminal 80 columns wide the tables are drawn and fit: no line is longer, and no
    value is cut short (folded inside its column instead)."""
    result = cli(*args, "--state", str(journal), COLUMNS="80", TTY_COMPATIBLE="1")
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert BOX.search(result.stdout)  # a table, not the plain lines
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert "…" not in result.stdout
    cells = "".join("".join(lines).split())
    for value in values:
        assert value in cells


def test_a_listing_folds_to_80_columns_and_cuts_nothing() -> None:
    """A wide listing on an 80-column terminal: every line fits, every value is all there."""
    listing = Listing(
        "Rows (2)",
        (
            Column("line", justify="right", wrap=False),
            Column("student"),
            Column("observer email"),
            Column("outcome", wrap=False),
            Column("detail"),
            Column("canvas ids\nstudent/\nobserver"),
        ),
        caption="first 2 of 9000: see --outcome, --max-rows 0 or --json",
    )
    listing.add_row("12345", "S100200300", LONG_EMAIL, "observer_mismatch", LONG_DETAIL, "11/21")
    listing.add_row("12346", "S100200301", LONG_EMAIL, "created", "", "11/22")
    console = Console(width=80, file=io.StringIO(), record=True, force_terminal=True)
    print_listing(console, listing)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "".join(lines)
    joined = "".join("".join(lines).split())
    for value in ("observer_mismatch", "S100200300", "11/22", "first2of9000"):
        assert value in joined
    # the email folds inside its column, in pieces
    assert "maria-fernanda" in joined and "springfield-unified.example.edu" in joined


def test_plain_lines_keep_labels_with_values_and_long_words_whole() -> None:
    """Off a terminal: a label never ends a line without its value, a word longer than the
    width (a path) stands whole on its own line, the rest fits the width."""
    long_path = "/srv/" + "x" * 90 + "/roster.csv"
    listing = Listing("Runs", (Column("id"), Column("roster"), Column("detail")))
    listing.add_row("7", long_path, LONG_DETAIL)
    console = Console(width=80, file=io.StringIO(), record=True, force_terminal=False)
    print_listing(console, listing)
    lines = console.export_text().splitlines()
    assert lines[:2] == ["", "Runs"]
    assert lines[2] == "id 7 ·"
    assert lines[3] == "    roster " + long_path + " ·"
    assert all(len(line) <= 80 for line in lines if long_path not in line)
    assert not any(line.rstrip().endswith((" detail", " roster ·")) for line in lines)
    assert (
        " ".join(" ".join(lines[2:]).split()) == f"id 7 · roster {long_path} · detail {LONG_DETAIL}"
    )
