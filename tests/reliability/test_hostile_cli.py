"""Hostile and broken rosters through the real CLI (`canvas-observers sync`), against a fake
Canvas over loopback HTTP: each case gets its exact message and exit code, never a traceback,
and a roster that cannot be read sends nothing at all to Canvas. The reader-level battery is in
tests/roster/test_hostile_input.py; this one checks what a user sees and what Canvas receives.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

from .conftest import invoke

TOKEN = "hostile-cli-token"
NEEDS = (
    "The roster needs the columns student_id, observer_email, observer_first_name, "
    "observer_last_name."
)
SAVE_UTF8 = 'save it as UTF-8 ("CSV UTF-8")'
GOOD = "S1,good@example.org,Good,Row\n"
STUDENTS = [f"S{n}" for n in range(1, 13)] + ["-7", "+5"]


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """A fake Canvas on loopback with enrolled students S1..S12, '-7' and '+5'."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False))
    state = app.fake.state
    course = state.add_course("Grade 5")
    for sis in STUDENTS:
        uid = state.add_user(
            f"Kid {sis}", login_id=f"kid{sis.strip('+-')}@kids.test", sis_user_id=sis
        )
        state.enroll(uid, course)
    with running_server(app) as url:
        yield app, url


def sync(url: str, roster: Path, tmp_path: Path, *extra: str) -> Result:
    return invoke(
        [
            "sync", str(roster), "--canvas-url", url,
            "--state", str(tmp_path / "journal.sqlite3"), *extra,
        ],
        env={"CANVAS_TOKEN": TOKEN, "COLUMNS": "200"},
    )  # fmt: skip


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def requests_sent(app: FakeCanvasApp) -> int:
    return sum(app.fake.stats.by_method.values())


FATAL = [
    pytest.param(b"", "{src}: the file is empty; expected a header row. " + NEEDS, id="empty"),
    pytest.param(
        HEADER.encode(),
        "{src}: the file has a header but no data rows; nothing to do. "
        "Check that the SIS export is complete.",
        id="header-only",
    ),
    pytest.param(
        b"student_id,guardian_email,observer_first_name,observer_last_name\nS1,a@b.co,A,B\n",
        "{src}:1 (observer_email): the header has no column observer_email (found: "
        "'student_id', 'guardian_email', 'observer_first_name', 'observer_last_name'). "
        + NEEDS
        + " To map the SIS's own headers: --column observer_email=guardian_email",
        id="missing-column",
    ),
    pytest.param(
        b"student_id;observer_email;observer_first_name;observer_last_name\nS1;a@b.co;A;B\n",
        "{src}:1: the file is semicolon-separated, not comma-separated; pass --delimiter ';'",
        id="semicolon",
    ),
    pytest.param(
        b"student_id\tobserver_email\tobserver_first_name\tobserver_last_name\nS1\ta@b.co\tA\tB\n",
        "{src}:1: the file is tab-separated, not comma-separated; pass --delimiter tab",
        id="tab",
    ),
    pytest.param(
        (HEADER + "S1,jose@example.org,José,Muñoz\n").encode("latin-1"),
        "{src}:2: the file is not UTF-8: byte 0xE9 at column 24 cannot be decoded; "
        f"{SAVE_UTF8} or pass --encoding cp1252",
        id="latin-1",
    ),
    pytest.param(
        codecs.BOM_UTF16_LE + (HEADER + GOOD).encode("utf-16-le"),
        "{src}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
        f"{SAVE_UTF8} or pass --encoding utf-16",
        id="utf-16",
    ),
    pytest.param(
        bytes(range(256)) * 4,
        "{src}: this is not a text CSV file (it contains binary data such as NUL bytes); "
        "check that you picked the roster export",
        id="binary",
    ),
]


@pytest.mark.parametrize(("data", "message"), FATAL)
def test_unreadable_roster_stops_before_any_request(
    data: bytes, message: str, canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A file that cannot be a roster: its exact one-line message, exit 2, nothing sent."""
    app, url = canvas
    roster = tmp_path / "roster.csv"
    roster.write_bytes(data)
    result = sync(url, roster, tmp_path)
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message.format(src=roster.name)}\n"
    assert result.stdout == ""
    assert requests_sent(app) == 0


def test_missing_path_and_directory(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """A path that does not exist, and a directory: a one-line message each, exit 2."""
    app, url = canvas
    missing = tmp_path / "nope.csv"
    result = sync(url, missing, tmp_path)
    no_traceback(result)
    assert (result.exit_code, result.stderr) == (2, f"error: {missing}: no such file or folder\n")
    folder = tmp_path / "exports"
    folder.mkdir()
    result = sync(url, folder, tmp_path)
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {folder}: is a folder with neither users.csv (OneRoster) nor relationships.csv "
        "(SDS); give the roster CSV file, or the folder of a OneRoster or SDS export\n"
    )
    assert requests_sent(app) == 0


@pytest.mark.parametrize(
    ("encoding", "flag"),
    [("latin-1", "latin-1"), ("utf-16", "utf-16"), ("cp1252", "cp1252")],
)
def test_other_encodings_work_with_the_flag(
    encoding: str, flag: str, canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """With --encoding, a Latin-1/UTF-16/cp1252 roster runs and the accented name survives."""
    app, url = canvas
    roster = tmp_path / "roster.csv"
    roster.write_bytes((HEADER + "S1,jose@example.org,José,Muñoz\n").encode(encoding))
    result = sync(url, roster, tmp_path, "--encoding", flag)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    user = app.fake.state.user_by_login("jose@example.org")
    assert user is not None
    assert user.name == "José Muñoz"


LONG = "A" * 255
TOO_LONG = "B" * 256
MESSY = (
    "\ufeff" + HEADER.replace("\n", "\r\n")
    + "S1,ann@example.org,Ann,Lee\r\n"  # 2 created
    + "\r\n"  # 3 blank: skipped silently
    + 'S2,"bob@example.org","Robert, Jr.","Smith\r\nJones"\r\n'  # 4-5 comma and newline quoted
    + "S1,ann@example.org,Ann,Lee\r\n"  # 6 duplicate of line 2
    + "S3,not-an-email,Bad,Email\r\n"  # 7
    + "S4,two@@example.org,Bad,Email\r\n"  # 8
    + "S5,cara@example,Cara,Dot\r\n"  # 9
    + "S6,cara@example.org,,NoFirst\r\n"  # 10
    + "S7,dan@example.org,Dan,\r\n"  # 11
    + f"S8,long@example.org,{LONG},Long\r\n"  # 12 exactly Canvas's 255: fine
    + f"S9,toolong@example.org,{TOO_LONG},X\r\n"  # 13
    + "S10,wang@example.org,王,小明\r\n"  # 14
    + "S11,emoji@example.org,Zoë 😀,Ωmega\r\n"  # 15
    + "S12,ivan@example.org,Иван,Петров\r\n"  # 16
    + "ZZ404,nobody@example.org,No,Student\r\n"  # 17
)  # fmt: skip


def test_messy_roster_bad_rows_reported_good_rows_run(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """BOM, CRLF, blank lines, quoting, duplicates, bad emails, missing/long/non-Latin/emoji
    names in one file: bad rows are reported with their reason and skipped, the rest pair."""
    app, url = canvas
    roster = tmp_path / "roster.csv"
    roster.write_bytes(MESSY.encode("utf-8"))
    report = tmp_path / "report.json"
    result = sync(url, roster, tmp_path, "--report", str(report))
    no_traceback(result)
    assert result.exit_code == 1, result.output
    rows = {r["line"]: r for r in json.loads(report.read_text(encoding="utf-8"))["rows"]}
    outcomes = {line: r["outcome"] for line, r in rows.items()}
    assert outcomes == {
        2: "created", 4: "created",
        7: "invalid_row", 8: "invalid_row", 9: "invalid_row", 10: "invalid_row",
        11: "invalid_row", 12: "created", 13: "invalid_row", 14: "created", 15: "created",
        16: "created", 17: "student_not_found",
    }  # fmt: skip
    reasons = {line: r["detail"] for line, r in rows.items() if r["outcome"] == "invalid_row"}
    assert "observer_email 'not-an-email' has no '@'" in reasons[7]
    assert "observer_email 'two@@example.org' has more than one '@'" in reasons[8]
    assert "observer_email 'cara@example' has no dot in the domain 'example'" in reasons[9]
    assert "observer_first_name is missing" in reasons[10]
    assert "observer_last_name is missing" in reasons[11]
    assert "observer_first_name is 256 characters long; Canvas allows at most 255" in reasons[13]
    assert all(reasons[line].startswith(f"{roster.name}:{line}: ") for line in reasons)
    assert "6" in rows[2]["detail"]  # the duplicate is noted on the row that was kept
    names = {u.name for u in app.fake.state.users.values()}
    assert {
        "Ann Lee", "Robert, Jr. Smith Jones", f"{LONG} Long", "王 小明", "Zoë 😀 Ωmega",
        "Иван Петров",
    } <= names  # fmt: skip
    for bad in ("not-an-email", "two@@example.org", "cara@example", "dan@example.org"):
        assert app.fake.state.user_by_login(bad) is None
    assert app.fake.state.user_by_login("cara@example.org") is None
    assert app.fake.state.user_by_login("toolong@example.org") is None


def test_hundred_thousand_rows_dry_run(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """A 100,000-row roster is read whole: every bad row reported, the good ones planned.

    One row in 5,000 is good (20 guardians, so the dry run stays quick); the others have a bad
    email. The report holds all 100,000 rows with the right outcome; nothing is written.
    """
    app, url = canvas
    roster = tmp_path / "big.csv"
    with roster.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for n in range(100_000):
            email = f"g{n}@example.org" if n % 5000 == 0 else f"g{n}.example.org"
            f.write(f"S{n % 12 + 1},{email},G,{n}\n")
    report = tmp_path / "big.json"
    result = sync(
        url, roster, tmp_path, "--dry-run", "--report", str(report), "--log-level", "error"
    )
    no_traceback(result)
    assert result.exit_code == 1, result.output[-2000:]
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["run"]["rows_read"] == 100_000
    outcomes = [r["outcome"] for r in data["rows"]]
    assert len(outcomes) == 100_000
    assert outcomes.count("would_create") == 20
    assert outcomes.count("invalid_row") == 99_980
    last = max(data["rows"], key=lambda r: r["line"])
    assert (last["line"], last["outcome"]) == (100_001, "invalid_row")
    writes = sum(app.fake.stats.by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))
    assert writes == 0


FORMULAS = (
    '-7,=calc@example.org,=HYPERLINK("http://x"),@Doe\n'  # 2 created
    "+5,+plus@example.org,+Plus,-Minus\n"  # 3 created
    "=2+3,-dash@example.org,A,B\n"  # 4 student_not_found
    "@SUM(A1),at@example.org,A,B\n"  # 5 invalid or not found: never a formula in the report
)


def test_csv_report_neutralises_formulas_end_to_end(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Values starting with =, +, - or @ go into the CSV report prefixed with ', never bare."""
    app, url = canvas
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + FORMULAS, encoding="utf-8")
    report = tmp_path / "report.csv"
    result = sync(url, roster, tmp_path, "--report", str(report))
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert app.fake.state.user_by_login("=calc@example.org") is not None  # really ran
    text = report.read_text(encoding="utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    for value in ("-7", "=calc@example.org", "+5", "+plus@example.org", "=2+3", "@SUM(A1)"):
        assert f"'{value}" in cells
