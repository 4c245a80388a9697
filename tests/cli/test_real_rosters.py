"""Rosters as SIS exports really arrive, through the real CLI against the fake Canvas on
loopback: a UTF-8 file with a few lines in cp1252, names garbled by a wrong encoding
(mojibake), and Excel workbooks (.xlsx) read directly, sheets, float ids and formulas."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER, run_cli

TOKEN = "real-rosters-token-7d2e"
STUDENTS = ("S1", "S2", "S3", "00042")


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with four enrolled students (SIS ids in STUDENTS)."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    course = state.add_course("C")
    for sis_id in STUDENTS:
        kid = state.add_user(f"Kid {sis_id}", login_id=f"kid{sis_id}@s.test", sis_user_id=sis_id)
        state.enroll(kid, course)
    with running_server(app) as url:
        yield app, url


def sync(
    path: Path, url: str, tmp_path: Path, *extra: str
) -> tuple[int, dict[int, dict[str, str]]]:
    """`sync PATH` with a JSON report; (exit code, the report's rows by line)."""
    report = tmp_path / "report.json"
    result = run_cli(
        "sync", str(path), "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"),
        "--report", str(report), *extra, token=TOKEN,
    )  # fmt: skip
    assert "Traceback" not in result.stdout + result.stderr
    assert report.exists(), result.stderr
    rows = json.loads(report.read_text(encoding="utf-8"))["rows"]
    return result.returncode, {row["line"]: row for row in rows}


def names(app: FakeCanvasApp) -> set[str]:
    """The names of every account the sync created (all but the admin and the students)."""
    state = app.fake.state
    return {
        user.name
        for user_id, user in state.users.items()
        if user_id != state.admin_id and not user.name.startswith("Kid ")
    }


# -- encodings --------------------------------------------------------------------------------


def test_a_utf8_file_with_cp1252_lines_runs_the_rest_and_names_those_lines(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Lines 3 and 5 were typed in cp1252 into an otherwise UTF-8 export: each is an
    invalid_row naming the field and what it probably says; the UTF-8 lines are created with
    their accents intact; no account has a garbled name."""
    app, url = canvas
    path = tmp_path / "roster.csv"
    path.write_bytes(
        (HEADER + "S1,zoe@home.test,Zoë,Müller\n").encode()
        + "S2,sean@home.test,Seán,O’Brien\n".encode("cp1252")
        + "S3,jose@home.test,José,Núñez\n".encode()
        + "00042,ana@home.test,Ana,Peña\n".encode("cp1252")
    )
    code, rows = sync(path, url, tmp_path)
    assert code == 1
    assert rows[2]["outcome"] == rows[4]["outcome"] == "created"
    assert rows[3]["outcome"] == rows[5]["outcome"] == "invalid_row"
    assert rows[3]["detail"].startswith(
        "roster.csv:3: this line is not UTF-8 like the rest of the file"
    )
    assert "observer_first_name has byte 0xE1 (in cp1252: 'Seán')" in rows[3]["detail"]
    assert "observer_last_name has byte 0x92 (in cp1252: 'O’Brien')" in rows[3]["detail"]
    assert "observer_last_name has byte 0xF1 (in cp1252: 'Peña')" in rows[5]["detail"]
    assert rows[3]["student_id"] == "S2" and rows[3]["observer_email"] == "sean@home.test"
    assert names(app) == {"Zoë Müller", "José Núñez"}


def test_a_file_in_cp1252_only_is_refused_whole_with_the_encoding_to_pass(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """No line is UTF-8: the whole file is refused before anything is sent (exit 2), the
    first bad byte named, as before."""
    app, url = canvas
    path = tmp_path / "roster.csv"
    path.write_bytes(
        (HEADER + "S1,ok@home.test,Ok,Fine\nS2,a@home.test,Seán,Lee\n").encode("cp1252")
    )
    result = run_cli("sync", str(path), "--canvas-url", url, token=TOKEN)
    assert result.returncode == 2
    assert (
        "roster.csv:3: the file is not UTF-8: byte 0xE1 at column 18 cannot be decoded; "
        'save it as UTF-8 ("CSV UTF-8") or pass --encoding cp1252'
    ) in result.stderr
    assert sum(app.fake.stats.by_method.values()) == 0


def test_mojibake_names_are_refused_with_the_intended_text(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A UTF-8 export read with --encoding cp1252 (and a name stored garbled in the SIS): the
    garbled rows are invalid_row naming the field and the likely name; nothing is created for
    them, and the plain-ASCII row still runs."""
    app, url = canvas
    path = tmp_path / "roster.csv"
    path.write_bytes(
        (HEADER + "S1,zoe@home.test,Zoë,Müller\nS2,pat@home.test,Pat,Lee\n").encode()
        + "S3,ase@home.test,Ã…se,Berg\n".encode()
    )
    code, rows = sync(path, url, tmp_path, "--encoding", "cp1252")
    assert code == 1
    assert rows[2]["outcome"] == rows[4]["outcome"] == "invalid_row"
    assert rows[2]["detail"].startswith(
        "roster.csv:2: observer_first_name 'ZoÃ«' looks garbled (mojibake), probably 'Zoë': "
        "correct it in the SIS"
    )
    assert (
        "observer_last_name 'MÃ¼ller' looks garbled (mojibake), probably 'Müller'"
        in (rows[2]["detail"])
    )
    assert "probably 'Åse'" in rows[4]["detail"]
    assert rows[3]["outcome"] == "created"
    assert names(app) == {"Pat Lee"}
    assert app.fake.state.user_by_login("zoe@home.test") is None


# -- Excel ------------------------------------------------------------------------------------


def workbook(
    path: Path, rows: list[list[object]], *, sheets: tuple[str, ...] = ("Sheet1",)
) -> Path:
    """An .xlsx whose sheet ``sheets[-1]`` holds ``rows`` (the others hold a note)."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = sheets[0]
    for name in sheets[1:]:
        book.create_sheet(name)
    for ws in book.worksheets[:-1]:
        ws.append(["This export was made by the SIS"])
    for row in rows:
        book.worksheets[-1].append(row)
    book.save(path)
    return path


def test_an_xlsx_roster_syncs_like_its_csv(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """An SIS export in Excel, with its own headers (--column), a float id, a zero-padded id, a
    date column the tool ignores, a blank row and a bad email: rows numbered as the
    spreadsheet's rows; created/paired; a re-run writes nothing."""
    app, url = canvas
    path = workbook(
        tmp_path / "guardians.xlsx",
        [
            ["Student ID", "Parent Email", "First", "Last", "Enrolled"],
            [1.0, "", "", "", None],  # replaced below by a float id of a real student
            ["S2", "Pat@Home.test", "Pat", "Lee", datetime.date(2024, 9, 1)],
            [],
            [42, "ana@home.test", "Ana", "Peña", None],
            ["S3", "not-an-email", "Jo", "Kim", None],
        ],
    )
    book = openpyxl.load_workbook(path)
    ws = book.active
    assert ws is not None
    ws["A2"], ws["B2"], ws["C2"], ws["D2"] = "S1", "zoe@home.test", "Zoë", "Müller"
    ws["A5"].number_format = "00000"  # 42 shown as 00042, the student's SIS id
    book.save(path)
    mapping = [
        "--column", "student_id=Student ID", "--column", "observer_email=Parent Email",
        "--column", "observer_first_name=First", "--column", "observer_last_name=Last",
    ]  # fmt: skip
    code, rows = sync(path, url, tmp_path, *mapping)
    assert code == 1
    assert {line: row["outcome"] for line, row in rows.items()} == {
        2: "created",
        3: "created",
        5: "created",
        6: "invalid_row",
    }
    assert rows[5]["student_id"] == "00042"
    assert rows[6]["detail"] == "guardians.xlsx:6: observer_email 'not-an-email' has no '@'"
    assert names(app) == {"Zoë Müller", "Pat Lee", "Ana Peña"}
    writes = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    code, rows = sync(path, url, tmp_path, *mapping)
    assert [rows[line]["outcome"] for line in (2, 3, 5)] == ["already_paired"] * 3
    assert sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE")) == writes


def test_float_ids_become_the_digits_typed(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A student id Excel stored as 42.0 (a float) is "42"; with its zero-padded format "00042"."""
    _app, url = canvas
    path = workbook(
        tmp_path / "r.xlsx", [[*HEADER.strip().split(",")], [42.0, "a@home.test", "A", "B"]]
    )
    book = openpyxl.load_workbook(path)
    ws = book.active
    assert ws is not None
    ws["A2"].number_format = "00000"
    book.save(path)
    code, rows = sync(path, url, tmp_path)
    assert code == 0
    assert rows[2]["student_id"] == "00042" and rows[2]["outcome"] == "created"


def test_sheets_by_name_and_an_unknown_sheet_lists_them(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The roster on the second sheet: the first sheet's header error says to pass --sheet and
    names the others; an unknown --sheet lists the sheets; --sheet Guardians runs."""
    app, url = canvas
    path = workbook(
        tmp_path / "r.xlsx",
        [[*HEADER.strip().split(",")], ["S1", "a@home.test", "A", "B"]],
        sheets=("Read me", "Guardians"),
    )
    result = run_cli("sync", str(path), "--canvas-url", url, token=TOKEN)
    assert result.returncode == 2
    assert (
        "(this is the first sheet, 'Read me'; the workbook also has 'Guardians': pass --sheet "
        in (result.stderr)
    )
    result = run_cli("sync", str(path), "--canvas-url", url, "--sheet", "Parents", token=TOKEN)
    assert result.returncode == 2
    assert (
        "error: r.xlsx: the workbook has no sheet 'Parents'; its sheets: 'Read me', 'Guardians'"
        in (result.stderr)
    )
    assert sum(app.fake.stats.by_method.values()) == 0
    code, rows = sync(path, url, tmp_path, "--sheet", "Guardians")
    assert code == 0 and rows[2]["outcome"] == "created"


def test_formulas_give_their_saved_values_and_a_missing_one_is_named(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A formula with no saved value (openpyxl, like other non-calculating writers, saves
    none) is named with its cell and formula; an error cell (#N/A) likewise; a --sheet given
    for a CSV is refused."""
    _app, url = canvas
    path = workbook(
        tmp_path / "r.xlsx",
        [
            [*HEADER.strip().split(","), "Notes"],
            ["S1", '=LOWER("A@HOME.TEST")', "A", "B"],
            ["S2", "b@home.test", "#N/A", "C", "#REF!"],
            ["S3", "c@home.test", "C", "D"],
        ],
    )
    book = openpyxl.load_workbook(path)
    ws = book.active
    assert ws is not None
    ws["C3"].data_type = ws["E3"].data_type = "e"
    book.save(path)
    code, rows = sync(path, url, tmp_path)
    assert code == 1
    assert rows[2]["outcome"] == rows[3]["outcome"] == "invalid_row"
    assert rows[2]["detail"] == (
        'r.xlsx:2: cell B2 is a formula (=LOWER("A@HOME.TEST")) whose value the workbook '
        "does not hold (a program that does not calculate saved it): open the workbook in "
        "Excel and save it again; so observer_email is missing"
    )
    assert rows[3]["detail"] == (
        "r.xlsx:3: cell C3 holds the spreadsheet error #N/A; so observer_first_name is missing"
    )
    assert rows[4]["outcome"] == "created"
    csv_path = tmp_path / "r.csv"
    csv_path.write_text(HEADER + "S1,a@home.test,A,B\n", encoding="utf-8")
    result = run_cli("sync", str(csv_path), "--canvas-url", url, "--sheet", "X", token=TOKEN)
    assert result.returncode == 2
    assert "--sheet 'X' is for an Excel workbook (.xlsx); this is a CSV file" in result.stderr
