"""`canvas-observers letters` through the real CLI on a fake Canvas over loopback: one letter
per (student, guardian) without email, the codes in the PDF's text equal to the CSV's, the
same codes on a re-run within the week and new ones after expiry, and a parent who signs up
with a code from the PDF observing that child only, as the next sync sees."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from canvas_observers.report.letters import LANGUAGES, spelled
from tests.wiring import HEADER

TOKEN = "letters-test-token"
# Rosa has no email and two children (S1, S2); S1 has a second guardian without email, Tom;
# S3 has left (no enrollment); S4's guardian has an email: the sync's, not the letters'.
ROSTER = "S1,,Rosa,Pérez\nS2,,Rosa,Pérez\nS1,,Tom,Pérez\nS3,,Lea,Gone\nS4,g4@home.test,Gee,Four\n"
CODE_LINE = re.compile(r"^([A-Za-z0-9]{6})$", re.MULTILINE)


@pytest.fixture
def district() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Kid 1, Kid 2 and Kid 4 enrolled; Kid 3 in Canvas with no enrollment."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(1, 5):
        user = state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}")
        if i != 3:
            state.enroll(user, course)
    with running_server(app) as url:
        yield app, url


def run(
    tmp_path: Path, url: str, command: str, *args: str, roster_text: str = HEADER + ROSTER
) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "canvas_observers", command, str(roster), "--canvas-url", url,
         "--state", str(tmp_path / "j.sqlite3"), *args],
        capture_output=True, text=True, env={**os.environ, "CANVAS_TOKEN": TOKEN},
        timeout=120, check=False,
    )  # fmt: skip


def letters(tmp_path: Path, url: str, *args: str) -> tuple[list[dict[str, str]], list[str]]:
    """Run `letters` (exit 1: Kid 3 has no letter); the CSV's rows and the PDF's pages."""
    done = run(
        tmp_path, url, "letters", "--out", str(tmp_path / "l.pdf"), "--csv",
        str(tmp_path / "c.csv"), "--school-name", "Lincoln School", *args,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not_enrolled: Lea Gone for Kid 3" in done.stdout
    assert "weasyprint" not in done.stderr and "fontTools" not in done.stderr  # no PDF chatter
    return outputs(tmp_path)


def outputs(tmp_path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The CSV's rows and the PDF's pages' text of the last run."""
    text = (tmp_path / "c.csv").read_text(encoding="utf-8-sig")
    pdf = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "l.pdf"), "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    pages = [p for p in pdf.stdout.split("\f") if p.strip()]
    return list(csv.DictReader(io.StringIO(text))), pages


def code_on(page: str) -> str:
    """The page's code: the six-character line that the page also spells out below it (a
    wrapped line of the spelling, such as "number", is six characters too)."""
    lines = "\n".join(line.strip() for line in page.splitlines())
    flat = " ".join(page.split())
    (code,) = [
        c for c in CODE_LINE.findall(lines) if any(spelled(c, lang) in flat for lang in LANGUAGES)
    ]
    return str(code)


def by_letter(rows: list[dict[str, str]]) -> dict[tuple[str, str], str]:
    return {(r["student_id"], r["guardian_name"]): r["code"] for r in rows}


def register(url: str, code: str, email: str) -> httpx.Response:
    """What the "Parent of a Canvas user?" form sends, with no token."""
    form = {
        "user[name]": "Rosa Pérez",
        "pseudonym[unique_id]": email,
        "pseudonym[password]": "a long passphrase",
        "user[initial_enrollment_type]": "observer",
        "pairing_code[code]": code,
    }
    return httpx.post(f"{url}/users", data=form, timeout=30)


def test_one_letter_per_student_and_guardian_with_the_pdf_s_codes_in_the_csv(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Siblings get a letter each, two guardians of a child get two; no page for Kid 3."""
    _, url = district
    rows, pages = letters(tmp_path, url)
    assert sorted(by_letter(rows)) == [
        ("S1", "Rosa Pérez"),
        ("S1", "Tom Pérez"),
        ("S2", "Rosa Pérez"),
    ]
    assert len(pages) == 3
    for row, page in zip(rows, pages, strict=True):
        assert code_on(page) == row["code"]
        assert row["student_name"] in page and row["guardian_name"] in page
        assert "Lincoln School" in page and url in page
    assert not any("Kid 3" in page or "Kid 4" in page for page in pages)
    assert len({r["code"] for r in rows}) == 3
    for name in ("l.pdf", "c.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600


def test_a_rerun_reprints_until_a_parent_signs_up_then_only_that_child_is_observed(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Same codes within the week; a sign-up with Kid 2's code links Kid 2 only, the sync
    sees that link, and the next letters run gives Kid 2's guardian a new code."""
    app, url = district
    first, pages = letters(tmp_path, url)
    again, _ = letters(tmp_path, url)
    assert by_letter(again) == by_letter(first)
    (kid2,) = [p for p in pages if "Kid 2" in p]
    answer = register(url, code_on(kid2), "rosa@home.test")
    assert answer.status_code == 200, answer.text
    state = app.fake.state
    parent = state.user_by_login("rosa@home.test")
    student = state.user_by_sis_id("S2")
    assert parent is not None and student is not None
    assert state.observees_of[parent.id] == {student.id}
    assert register(url, code_on(kid2), "other@home.test").status_code == 400  # used up
    # The next sync finds the link the parent made as already there.
    report = tmp_path / "sync.json"
    synced = run(tmp_path, url, "sync", "--report", str(report))
    assert synced.returncode in (0, 1), synced.stderr
    rows = json.loads(report.read_text())["rows"]
    assert [r["outcome"] for r in rows if r["student_id"] == "S4"] == ["created"]
    after, _ = letters(tmp_path, url)
    changed = {k for k, v in by_letter(after).items() if by_letter(first)[k] != v}
    assert changed == {("S2", "Rosa Pérez")}


def test_codes_past_their_week_are_refused_and_replaced(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Codes issued with the fake's clock eight days back are expired today: refused by the
    sign-up, and the next run issues new ones."""
    _, url = district
    httpx.post(f"{url}/__fake__/clock", json={"offset_seconds": -8 * 86400}, timeout=30)
    old, _ = letters(tmp_path, url)
    httpx.post(f"{url}/__fake__/clock", json={"offset_seconds": 0}, timeout=30)
    answer = register(url, old[0]["code"], "late@home.test")
    assert answer.status_code == 400
    assert answer.json()["errors"]["pairing_code"]["code"][0]["type"] == "invalid"
    new, pages = letters(tmp_path, url)
    assert not set(by_letter(new).values()) & set(by_letter(old).values())
    assert [code_on(p) for p in pages] == [r["code"] for r in new]


def test_a_guardian_with_email_gets_a_letter_only_with_all(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--all adds the roster's guardians who have an email."""
    _, url = district
    rows, _ = letters(tmp_path, url, "--all", "--language", "es")
    assert ("S4", "Gee Four") in by_letter(rows)
    assert {r["language"] for r in rows} == {"es"}


def files(tmp_path: Path) -> tuple[str, ...]:
    return ("--out", str(tmp_path / "l.pdf"), "--csv", str(tmp_path / "c.csv"))


def test_without_observer_writes_to_every_guardian_of_the_unobserved_students_only(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """From the provisioning report: Kid 4 is observed (no letter, though its guardian has no
    email); Kid 2's guardian has an email but nobody observes Kid 2 (a letter); Kid 5's only
    row has a bad email (one letter to "the parent or guardian"); Kid 3 is not enrolled."""
    app, url = district
    state = app.fake.state
    kid4, kid5 = (
        state.user_by_sis_id("S4"),
        state.add_user("Kid 5", login_id="k5@s.test", sis_user_id="S5"),
    )
    assert kid4 is not None
    state.enroll(kid5, state.add_course("D"))
    state.link(state.add_user("Someone", login_id="someone@home.test"), kid4.id)
    roster = HEADER + (
        "S1,,Rosa,Pérez\nS2,b2@home.test,Bea,Two\nS3,,Lea,Gone\nS4,,Gus,Four\n"
        "S5,not-an-email,Vic,Five\n"
    )
    done = run(tmp_path, url, "letters", "--without-observer", *files(tmp_path),
               roster_text=roster)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not_enrolled: Lea Gone for Kid 3" in done.stdout
    assert "letter: the parent or guardian for Kid 5 (S5), a new code" in done.stdout
    rows, pages = outputs(tmp_path)
    assert list(by_letter(rows)) == [("S1", "Rosa Pérez"), ("S2", "Bea Two"), ("S5", "")]
    assert [code_on(p) for p in pages] == [r["code"] for r in rows]
    assert "To the parent or guardian of Kid 5," in " ".join(pages[2].split())
    assert "Dear Bea Two," in pages[1]
    assert not any("Kid 4" in page for page in pages)
    both = run(tmp_path, url, "letters", "--without-observer", "--all", *files(tmp_path))
    assert both.returncode == 2 and "--all and --without-observer" in both.stderr


LANGUAGE_ROSTER = (
    HEADER.rstrip("\n")
    + ",Home Language,School\n"
    + (
        "S1,,Rosa,Pérez,Español,Lincoln Elementary\n"
        "S2,,Rosa,Pérez,Klingon,Washington Middle\n"
        "S1,,Tom,Pérez,,\n"
        "S4,,Gee,Four,Klingon,\n"
    )
)


def test_roster_columns_choose_each_letter_s_language_and_school(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Español picks the Spanish template; Klingon and a blank get --language (en), with one
    note naming the value and its lines; a blank school gets --school-name."""
    _, url = district
    done = run(
        tmp_path, url, "letters", *files(tmp_path), "--school-name", "Lincoln District",
        "--language-column", "home language", "--school-column", "School",
        roster_text=LANGUAGE_ROSTER,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "note: home language 'Klingon' (lines 3, 5) is not a language with a letter template "
        "(en, es); those letters are in en"
    ) in " ".join(done.stdout.split())
    rows, pages = outputs(tmp_path)
    assert [(r["student_id"], r["language"], r["school"]) for r in rows] == [
        ("S1", "es", "Lincoln Elementary"),
        ("S2", "en", "Washington Middle"),
        ("S1", "en", "Lincoln District"),
        ("S4", "en", "Lincoln District"),
    ]
    assert "Estimada familia de Rosa Pérez" in pages[0] and "Lincoln Elementary" in pages[0]
    assert "Dear Rosa Pérez," in pages[1] and "Washington Middle" in pages[1]
    assert [code_on(p) for p in pages] == [r["code"] for r in rows]


def test_a_language_column_the_roster_lacks_stops_before_canvas(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The file and the missing column are named; no letter, no code asked for."""
    app, url = district
    done = run(tmp_path, url, "letters", *files(tmp_path), "--language-column", "Idioma",
               roster_text=LANGUAGE_ROSTER)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "roster.csv:1 (Idioma): the header has no column 'Idioma'" in done.stderr
    assert "'Home Language'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "l.pdf").exists()
    assert not any("pairing_code" in route for route in app.fake.stats.by_route)


def test_an_excel_roster_s_language_column_is_read(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The workbook reader keeps the asked column as the CSV reader does."""
    _, url = district
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for line in LANGUAGE_ROSTER.splitlines():
        sheet.append(line.split(","))
    book.save(tmp_path / "roster.xlsx")
    done = subprocess.run(
        [sys.executable, "-m", "canvas_observers", "letters", str(tmp_path / "roster.xlsx"),
         "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"), *files(tmp_path),
         "--language-column", "Home Language"],
        capture_output=True, text=True, env={**os.environ, "CANVAS_TOKEN": TOKEN},
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows, _ = outputs(tmp_path)
    assert [r["language"] for r in rows] == ["es", "en", "en", "en"]


def test_after_a_sign_up_with_a_code_from_the_pdf_the_audit_sees_the_student_observed(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Gee Four signs up with the roster's email and Kid 4's code; Rosa (no email in the SIS)
    with Kid 2's. The audit then counts both students observed, Kid 4 by the guardian the SIS
    lists, Kid 2 by an observer the SIS does not list, made by the parent."""
    app, url = district
    report = tmp_path / "audit.json"

    def audit() -> dict[str, Any]:
        done = run(tmp_path, url, "audit", "--report", str(report))
        assert done.returncode == 0, done.stdout + done.stderr
        found: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
        return found

    before = audit()
    assert [f["student_id"] for f in before["unobserved_with_guardian"]] == ["S4"]
    assert "S2" in {f["student_id"] for f in before["unobserved_without_guardian"]}
    _, pages = letters(tmp_path, url, "--all")
    (kid4,) = [p for p in pages if "Kid 4" in p]
    (kid2,) = [p for p in pages if "Kid 2" in p]
    assert register(url, code_on(kid4), "g4@home.test").status_code == 200
    assert register(url, code_on(kid2), "rosa@home.test").status_code == 200
    after = audit()
    totals, was = after["audit"]["totals"], before["audit"]["totals"]
    assert totals["students_observed"] == was["students_observed"] + 2
    assert after["unobserved_with_guardian"] == []
    assert "S2" not in {f["student_id"] for f in after["unobserved_without_guardian"]}
    gee = app.fake.state.user_by_login("g4@home.test")
    assert gee is not None
    (s4,) = [s for s in after["students"] if s["student_id"] == "S4"]
    assert s4["guardians"] == [
        {"email": "g4@home.test", "canvas_observer_id": gee.id, "linked": True}
    ]
    assert [(o["observer"], o["listed"], o["made_by"]) for o in s4["observers"]] == [
        ("g4@home.test", True, "a person or the parent")
    ]
    assert [
        (f["student_id"], f["observer"], f["made_by"]) for f in after["unlisted_observers"]
    ] == [("S2", "rosa@home.test", "a person or the parent")]
