"""Hostile and broken rosters: each gets a specific message, never a traceback.

Fatal cases assert the whole ``str(RosterError)`` the CLI prints after ``error: ``; row cases
assert the row's reason and that the good rows around it still run.
"""

from __future__ import annotations

import codecs
import io

import pytest

from canvas_observers.roster import Roster, RosterError, read_roster
from tests.wiring import HEADER

GOOD = "S9,good@example.org,Good,Row\n"
NEEDS = (
    "The roster needs the columns student_id, observer_email, observer_first_name, "
    "observer_last_name."
)
SAVE_UTF8 = 'save it as UTF-8 ("CSV UTF-8")'


def read(data: bytes, *, encoding: str = "utf-8") -> Roster:
    return read_roster(io.BytesIO(data), source="roster.csv", encoding=encoding)


FATAL_CASES = [
    pytest.param(b"", f"roster.csv: the file is empty; expected a header row. {NEEDS}", id="empty"),
    pytest.param(
        b"\r\n\n   \n",
        f"roster.csv: the file is empty; expected a header row. {NEEDS}",
        id="only-blank-lines",
    ),
    pytest.param(
        HEADER.encode(),
        "roster.csv: the file has a header but no data rows; nothing to do. "
        "Check that the SIS export is complete.",
        id="header-only",
    ),
    pytest.param(
        (HEADER + "\n,,,\n\r\n").encode(),
        "roster.csv: the file has a header but no data rows; nothing to do. "
        "Check that the SIS export is complete.",
        id="header-and-blank-lines",
    ),
    pytest.param(
        b"student_id,guardian_email,observer_first_name,observer_last_name\nS1,a@b.co,A,B\n",
        "roster.csv:1 (observer_email): the header has no column observer_email (found: "
        "'student_id', 'guardian_email', 'observer_first_name', 'observer_last_name'). "
        + NEEDS
        + " To map the SIS's own headers: --column observer_email=guardian_email",
        id="missing-column-named-and-found-listed",
    ),
    pytest.param(
        b"Student ID,Email\nS1,a@b.co\n",
        "roster.csv:1 (student_id): the header has no columns student_id, observer_email, "
        "observer_first_name, observer_last_name (found: 'Student ID', 'Email'). "
        + NEEDS
        + " To map the SIS's own headers: --column 'student_id=Student ID' "
        "--column observer_email=Email",
        id="all-columns-missing",
    ),
    pytest.param(
        b"student_id;observer_email;observer_first_name;observer_last_name\nS1;a@b.co;A;B\n",
        "roster.csv:1: the file is semicolon-separated, not comma-separated; pass --delimiter ';'",
        id="semicolon-separated",
    ),
    pytest.param(
        b"student_id\tobserver_email\tobserver_first_name\tobserver_last_name\nS1\ta@b.co\tA\tB\n",
        "roster.csv:1: the file is tab-separated, not comma-separated; pass --delimiter tab",
        id="tab-separated",
    ),
    pytest.param(
        (HEADER + "S1,jose@example.org,José,Muñoz\n").encode("latin-1"),
        "roster.csv:2: the file is not UTF-8: byte 0xE9 at column 24 cannot be decoded; "
        f"{SAVE_UTF8} or pass --encoding cp1252",
        id="latin-1",
    ),
    pytest.param(
        (HEADER + GOOD + "S1,ob@example.org,Seán,O’Brien\n").encode("cp1252"),
        "roster.csv:3: the file is not UTF-8: byte 0xE1 at column 21 cannot be decoded; "
        f"{SAVE_UTF8} or pass --encoding cp1252",
        id="windows-1252-first-bad-byte-is-a-letter",
    ),
    pytest.param(
        (HEADER + "S1,jose@example.org,José,Mu\u0081oz\n").encode("latin-1"),
        "roster.csv:2: the file is not UTF-8: byte 0xE9 at column 24 cannot be decoded; "
        f"{SAVE_UTF8} or pass --encoding latin-1",
        id="latin-1-with-a-byte-cp1252-lacks",
    ),
    pytest.param(
        (HEADER + "S1,ob@example.org,Sean,O’Brien\n").encode("cp1252"),
        "roster.csv:2: the file is not UTF-8: byte 0x92 at column 25 cannot be decoded; "
        f"{SAVE_UTF8} or pass --encoding cp1252",
        id="windows-1252-smart-quote",
    ),
    pytest.param(
        codecs.BOM_UTF16_LE + (HEADER + GOOD).encode("utf-16-le"),
        "roster.csv: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
        f"{SAVE_UTF8} or pass --encoding utf-16",
        id="utf-16-le-bom",
    ),
    pytest.param(
        codecs.BOM_UTF16_BE + (HEADER + GOOD).encode("utf-16-be"),
        "roster.csv: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
        f"{SAVE_UTF8} or pass --encoding utf-16",
        id="utf-16-be-bom",
    ),
    pytest.param(
        (HEADER + GOOD).encode("utf-16-le"),
        "roster.csv: the file looks like UTF-16 without a byte-order mark; "
        f"{SAVE_UTF8} or pass --encoding utf-16-le",
        id="utf-16-le-no-bom",
    ),
    pytest.param(
        (HEADER + GOOD).encode("utf-16-be"),
        "roster.csv: the file looks like UTF-16 without a byte-order mark; "
        f"{SAVE_UTF8} or pass --encoding utf-16-be",
        id="utf-16-be-no-bom",
    ),
    pytest.param(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00",
        "roster.csv: this is not a text CSV file (it contains binary data such as NUL bytes); "
        "check that you picked the roster export",
        id="binary-png",
    ),
    pytest.param(
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml",
        "roster.csv: the file is a zip archive, but neither an Excel workbook (.xlsx) nor a "
        "OneRoster or SDS export (it holds no users.csv); check that you picked the roster "
        "export",
        id="zip-not-a-workbook",
    ),
    pytest.param(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00",
        "roster.csv: the file is an old Excel workbook (.xls), which cannot be read directly; "
        'open it in Excel and save it as "Excel Workbook (.xlsx)" or "CSV UTF-8 (Comma '
        'delimited)"',
        id="xls",
    ),
    pytest.param(
        (HEADER + GOOD + 'S2,"bob@example.org,Bob,Roe\n' + GOOD * 3).encode(),
        "roster.csv:3: a quoted field that starts on this line never ends (an unmatched double "
        'quote "), so every later row would be lost; fix the quote and run again',
        id="unmatched-quote",
    ),
    pytest.param(
        b"student_id,observer_email,observer_first_name,observer_last_name,Observer_Email\n"
        + GOOD.encode(),
        "roster.csv:1 (observer_email): the column 'observer_email' appears twice in the header "
        "(columns 2 and 5); keep one",
        id="duplicate-required-column",
    ),
    pytest.param(
        b'student_id,"observer_email"x,observer_first_name,observer_last_name\n' + GOOD.encode(),
        "roster.csv:1: the header row has broken quoting (',' expected after '\"')",
        id="broken-header-quoting",
    ),
]


@pytest.mark.parametrize(("data", "message"), FATAL_CASES)
def test_fatal_inputs_give_exact_message(data: bytes, message: str) -> None:
    """A file that cannot be a roster raises RosterError with exactly this message."""
    with pytest.raises(RosterError) as info:
        read(data)
    assert str(info.value) == message


def test_unknown_encoding_is_a_roster_error() -> None:
    """An --encoding Python does not know is a RosterError naming it, not a LookupError."""
    with pytest.raises(RosterError, match="unknown encoding 'klingon'"):
        read((HEADER + GOOD).encode(), encoding="klingon")


def test_decode_error_line_is_right_deep_in_a_large_file() -> None:
    """A bad byte far past the first chunk is reported on its own physical line."""
    body = GOOD * 20_000  # ~600 KB, many read chunks
    data = (HEADER + body).encode() + b"S1,x@example.org,Caf\xe9,X\n"
    with pytest.raises(RosterError) as info:
        read(data)
    assert info.value.line == 20_002


def test_binary_file_is_refused_even_when_passed_latin1() -> None:
    """Latin-1 decodes any byte, so binary sniffing still refuses a PNG under --encoding."""
    with pytest.raises(RosterError, match="not a text CSV file"):
        read(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", encoding="latin-1")


def test_utf16_refused_under_latin1_with_hint() -> None:
    """A UTF-16 file read as Latin-1 is still recognised and the hint names utf-16."""
    with pytest.raises(RosterError, match=r"pass --encoding utf-16$"):
        read((HEADER + GOOD).encode("utf-16"), encoding="latin-1")


def row_case(body: str) -> Roster:
    """Read HEADER + a good row + ``body`` + a good row."""
    return read((HEADER + GOOD + body + GOOD.replace("S9", "S10")).encode("utf-8"))


ROW_CASES = [
    pytest.param("S1,,Jane,Doe\n", "observer_email", "observer_email is missing", id="no-email"),
    pytest.param(
        "S1,jane.example.org,Jane,Doe\n",
        "observer_email",
        "observer_email 'jane.example.org' has no '@'",
        id="email-no-at",
    ),
    pytest.param(
        "S1,jane@@example.org,Jane,Doe\n",
        "observer_email",
        "observer_email 'jane@@example.org' has more than one '@'",
        id="email-two-at",
    ),
    pytest.param(
        "S1,jane doe@example.org,Jane,Doe\n",
        "observer_email",
        "observer_email 'jane doe@example.org' contains spaces",
        id="email-inner-space",
    ),
    pytest.param(
        "S1,jane@localhost,Jane,Doe\n",
        "observer_email",
        "observer_email 'jane@localhost' has no dot in the domain 'localhost'",
        id="email-no-dot",
    ),
    pytest.param(
        "S1,jane@example.org.,Jane,Doe\n",
        "observer_email",
        "observer_email 'jane@example.org.' ends with a dot",
        id="email-trailing-dot",
    ),
    pytest.param(
        "S1," + "j" * 65 + "@example.org,Jane,Doe\n",
        "observer_email",
        "has more than 64 characters before the '@'",
        id="email-local-too-long",
    ),
    pytest.param(
        "S1,jane@" + "d" * 250 + ".org,Jane,Doe\n",
        "observer_email",
        "is longer than 100 characters, the longest login Canvas accepts",
        id="email-too-long",
    ),
    pytest.param(
        "S1,jane\x01@example.org,Jane,Doe\n",
        "observer_email",
        r"observer_email 'jane\x01@example.org' contains control or invisible characters",
        id="email-control-char",
    ),
    pytest.param(",jane@example.org,Jane,Doe\n", "student_id", "student_id is missing", id="no-id"),
    pytest.param(
        "S 1,jane@example.org,Jane,Doe\n",
        "student_id",
        "student_id 'S 1' contains spaces",
        id="id-inner-space",
    ),
    pytest.param(
        "S1,jane@example.org,,Doe\n",
        "observer_first_name",
        "observer_first_name is missing",
        id="no-first-name",
    ),
    pytest.param(
        "S1,jane@example.org,Jane,   \n",
        "observer_last_name",
        "observer_last_name is missing",
        id="blank-last-name",
    ),
    pytest.param(
        "S1,jane@example.org,Jane\n",
        "observer_last_name",
        "observer_last_name is missing",
        id="short-row-missing-last-name",
    ),
    pytest.param(
        "S1,jane@example.org," + "A" * 256 + ",Doe\n",
        "observer_first_name",
        "observer_first_name is 256 characters long; Canvas allows at most 255",
        id="long-first-name",
    ),
    pytest.param(
        "S1,jane@example.org,Jane,Doe\x00Smith\n",
        "observer_last_name",
        r"observer_last_name 'Doe\x00Smith' contains control characters",
        id="nul-in-name",
    ),
    pytest.param(
        "S1,jane@example.org,\x1b[31mJane,Doe\n",
        "observer_first_name",
        r"observer_first_name '\x1b[31mJane' contains control characters",
        id="terminal-escape-in-name",
    ),
    pytest.param(
        'S1,"jane@example.org"x,Jane,Doe\n',
        "",
        "broken quoting (',' expected after '\"'); fix the double quotes in this row",
        id="broken-quoting",
    ),
]


@pytest.mark.parametrize(("body", "field", "reason"), ROW_CASES)
def test_bad_rows_are_skipped_and_good_rows_run(body: str, field: str, reason: str) -> None:
    """A bad row becomes a RowProblem on its line with a specific reason; neighbours run."""
    roster = row_case(body)
    assert [r.student_id for r in roster.rows] == ["S9", "S10"]
    assert [r.line for r in roster.rows] == [2, 4]
    (problem,) = roster.problems
    assert problem.line == 3
    assert problem.field == field
    assert problem.source == "roster.csv"
    assert reason in problem.reason


VALID_ROW_CASES = [
    pytest.param("S1,jane@example.org,Jane,Doe", ("Jane", "Doe"), id="plain"),
    pytest.param("S1,jane@example.org," + "A" * 255 + ",Doe", ("A" * 255, "Doe"), id="name-255"),
    pytest.param("S1,li@example.cn,小龙,李", ("小龙", "李"), id="chinese"),
    pytest.param("S1,o@example.ru,Ольга,Иванова", ("Ольга", "Иванова"), id="cyrillic"),
    pytest.param("S1,a@example.sa,محمد,العلي", ("محمد", "العلي"), id="arabic"),
    pytest.param("S1,n@example.in,नेहा,शर्मा", ("नेहा", "शर्मा"), id="devanagari-combining"),
    pytest.param("S1,e@example.org,Zoë 🌈,O'Brien-Ñúñez", ("Zoë 🌈", "O'Brien-Ñúñez"), id="emoji"),
    pytest.param(
        "S1,f@example.org,👨‍👩‍👧 Family,Doe", ("👨‍👩‍👧 Family", "Doe"), id="emoji-zwj-sequence"
    ),
    pytest.param('S1,t@example.org,"Jane\tMary",Doe', ("Jane Mary", "Doe"), id="tab-collapsed"),
    pytest.param(
        "S1,b@example.org,[bold]Jane,=cmd|' /C calc'!A0",
        ("[bold]Jane", "=cmd|' /C calc'!A0"),
        id="markup-and-formula-kept",
    ),
]


@pytest.mark.parametrize(("line", "names"), VALID_ROW_CASES)
def test_unusual_but_valid_rows_are_accepted(line: str, names: tuple[str, str]) -> None:
    """Non-Latin scripts, emoji, 255-character names and odd punctuation are valid names."""
    roster = read((HEADER + line + "\n").encode("utf-8"))
    assert roster.problems == ()
    (row,) = roster.rows
    assert (row.observer_first_name, row.observer_last_name) == names


def test_hundred_thousand_rows() -> None:
    """A 100,000-row file reads fully, with bad rows, duplicates and BOM/CRLF counted right."""
    n = 100_000
    parts = ["\ufeff", HEADER.replace("\n", "\r\n")]
    for i in range(n):
        if i % 1000 == 999:
            parts.append(f"S{i},broken-email,First{i},Last{i}\r\n")
        elif i % 1000 == 500:
            parts.append(f"S{i - 1},g{i - 1}@example.org,First{i - 1},Last{i - 1}\r\n")
        else:
            parts.append(f"S{i},g{i}@example.org,First{i},Last{i}\r\n")
    roster = read("".join(parts).encode("utf-8"))
    assert len(roster.problems) == 100
    assert roster.duplicates == 100
    assert len(roster.rows) == n - 200
    assert roster.rows[-1].line == n  # the last generated row (i = 99999) is broken
    assert roster.problems[0].line == 1001
    assert roster.rows[499].notes == ("duplicate of this row on line 502",)
