"""A roster as the SIS exports it, through the CLI: its own headers mapped with `--column`,
its own separator with `--delimiter`, and the errors that say which flags to pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from canvas_observers.fake_canvas import FakeCanvasApp
from tests.reliability.conftest import invoke
from tests.wiring import one_student_canvas

TOKEN = "sis-headers-token-9a3d"
SIS_HEADER = "Student ID;Parent Email;Parent First Name;Parent Last Name\n"
MAPPING = [
    "--column", "student_id=Student ID", "--column", "observer_email=Parent Email",
    "--column", "observer_first_name=Parent First Name",
    "--column", "OBSERVER_LAST_NAME = Parent Last Name",
]  # fmt: skip


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with one enrolled student, S1."""
    with one_student_canvas(TOKEN) as served:
        yield served


def sync(url: str, roster: Path, tmp_path: Path, *extra: str) -> Result:
    return invoke(
        ["sync", str(roster), "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"), *extra],
        env={"CANVAS_TOKEN": TOKEN, "COLUMNS": "200"},
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sis-export.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_sis_headers_and_semicolons_run_once_mapped(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Each missing flag is named in turn; with --delimiter and --column the row pairs."""
    app, url = canvas
    roster = write(tmp_path, SIS_HEADER + "S1;pat@home.test;Pat;Lee\n")
    first = sync(url, roster, tmp_path)
    assert first.exit_code == 2
    assert first.stderr == (
        "error: sis-export.csv:1: the file is semicolon-separated, not comma-separated; "
        "pass --delimiter ';'\n"
    )
    second = sync(url, roster, tmp_path, "--delimiter", ";")
    assert second.exit_code == 2
    assert "(found: 'Student ID', 'Parent Email', 'Parent First Name', 'Parent Last Name')" in (
        second.stderr
    )
    assert second.stderr.rstrip().endswith(
        "To map the SIS's own headers: --column 'student_id=Student ID' "
        "--column 'observer_email=Parent Email' --column 'observer_first_name=Parent First Name' "
        "--column 'observer_last_name=Parent Last Name'"
    )
    assert sum(app.fake.stats.by_method.values()) == 0
    third = sync(url, roster, tmp_path, "--delimiter", ";", *MAPPING)
    assert third.exit_code == 0, third.output
    user = app.fake.state.user_by_login("pat@home.test")
    assert user is not None and user.name == "Pat Lee"


@pytest.mark.parametrize("tab", ["tab", "\\t", "TAB"])
def test_export_sis_reads_a_tab_separated_export(tab: str, tmp_path: Path) -> None:
    """export-sis takes the same flags; a tab is written `\\t` or `tab`."""
    roster = write(tmp_path, SIS_HEADER.replace(";", "\t") + "S1\tpat@home.test\tPat\tLee\n")
    result = invoke(
        ["export-sis", str(roster), "--out", str(tmp_path / "out"), "--delimiter", tab, *MAPPING]
    )
    assert result.exit_code == 0, result.output
    assert "pat@home.test" in (tmp_path / "out" / "users.csv").read_text()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--column", "parent=Parent Email"], "'parent' is not a roster column"),
        (["--column", "student_id"], "'student_id' is not NAME=HEADER"),
        (["--delimiter", "|"], "'|' is not a separator the reader knows: use , ; or tab"),
    ],
)
def test_bad_flag_values_are_usage_errors(flags: list[str], message: str, tmp_path: Path) -> None:
    """A --column or --delimiter value the reader cannot use: exit 2 before anything else."""
    roster = write(tmp_path, SIS_HEADER)
    result = invoke(["sync", str(roster), "--canvas-url", "https://x.test", *flags])
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_mapped_header_that_is_not_there_is_named(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--column naming a header the file lacks: the error quotes the flag and the headers."""
    _, url = canvas
    roster = write(tmp_path, SIS_HEADER + "S1;pat@home.test;Pat;Lee\n")
    flags = [*MAPPING[:2], "--column", "observer_email=Guardian Email", *MAPPING[4:]]
    result = sync(url, roster, tmp_path, "--delimiter", ";", *flags)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: sis-export.csv:1 (observer_email): the header has no column 'Guardian Email' "
        "(given as --column 'observer_email=Guardian Email'; found: 'Student ID', "
    )
