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

import httpx
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


def run(tmp_path: Path, url: str, command: str, *args: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"
    roster.write_text(HEADER + ROSTER, encoding="utf-8")
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
