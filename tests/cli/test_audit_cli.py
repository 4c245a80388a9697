"""`canvas-observers audit` through the real CLI on a fake Canvas over loopback: every section
of the report, who made each link, and that Canvas is only read."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "audit-test-token"
REPORT_START = "POST /api/v1/accounts/:account_id/reports/:report"
SYNCED = "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in range(1, 5)) + (
    "S7,g7@home.test,Gee,Family7\n"
)
# What the SIS says at the audit: S3's guardian dropped, S5's newly listed.
AUDITED = "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in (1, 2, 4, 5, 7))


def user_id(app: FakeCanvasApp, *, sis: str = "", login: str = "") -> int:
    state = app.fake.state
    user = state.user_by_sis_id(sis) if sis else state.user_by_login(login)
    assert user is not None
    return user.id


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[FakeCanvasApp, str]]:
    """Enrolled students S1..S6; this tool syncs S1..S4 (and S7, not in Canvas); a parent
    links themself to S1, an SIS import links a guardian to S2; then g4 is unlinked from S4."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(1, 7):
        state.enroll(
            state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}"), course
        )
    with running_server(app) as url:
        synced = run(tmp_path, url, SYNCED, "sync", "--pairing", "direct")
        assert synced.returncode == 1, synced.stderr  # S7 is student_not_found
        parent = state.add_user("Own Choice", login_id="own@home.test")
        state.link(parent, user_id(app, sis="S1"))
        imported = state.add_user("Sis Guardian", login_id="sisg@home.test")
        state.link(imported, user_id(app, sis="S2"), created_by_sis=True)
        assert state.unlink(user_id(app, login="g4@home.test"), user_id(app, sis="S4"))
        yield app, url


def run(tmp_path: Path, url: str, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / f"{args[0]}.csv"
    roster.write_text(HEADER + body, encoding="utf-8")
    env = {**os.environ, "CANVAS_TOKEN": TOKEN}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "canvas_observers",
            args[0],
            str(roster),
            "--canvas-url",
            url,
            "--state",
            str(tmp_path / "j.sqlite3"),
            *args[1:],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def by_student(section: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {f["student_id"]: f for f in section}


def test_each_finding_is_in_its_section_with_who_made_it(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Tool-made, parent-made and SIS-made links; students nobody observes with and without
    an SIS guardian; a roster student not in Canvas; a created account observing nobody."""
    app, url = district
    out = tmp_path / "audit.json"
    result = run(tmp_path, url, AUDITED, "audit", "--report", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    report = json.loads(out.read_text(encoding="utf-8"))
    s1 = next(s for s in report["students"] if s["student_id"] == "S1")
    assert {(o["observer"], o["listed"], o["made_by"]) for o in s1["observers"]} == {
        ("g1@home.test", True, "this tool"),
        ("own@home.test", False, "a person or the parent"),
    }
    unlisted = {
        (f["student_id"], f["observer"], f["made_by"]) for f in report["unlisted_observers"]
    }
    assert unlisted == {
        ("S1", "own@home.test", "a person or the parent"),
        ("S2", "sisg@home.test", "an SIS import"),
        ("S3", "g3@home.test", "this tool"),  # the SIS dropped S3's guardian
    }
    with_guardian = by_student(report["unobserved_with_guardian"])
    assert set(with_guardian) == {"S4", "S5"}
    assert "account exists but is not linked" in str(with_guardian["S4"]["detail"])
    assert "no Canvas account for the guardian" in str(with_guardian["S5"]["detail"])
    assert set(by_student(report["unobserved_without_guardian"])) == {"S6"}
    assert [f["student_id"] for f in report["students_not_found"]] == ["S7"]
    idle = report["idle_accounts"]
    assert [(f["observer"], f["made_by"]) for f in idle] == [("g4@home.test", "this tool")]
    assert idle[0]["canvas_observer_id"] == user_id(app, login="g4@home.test")
    totals = report["audit"]["totals"]
    assert (totals["unlisted_observers"], totals["unlisted_by_this_tool"]) == (3, 1)
    assert "Students nobody observes, with no guardian in the SIS (1)" in result.stdout


def test_the_audit_only_reads_canvas(district: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """During the audit Canvas sees the report's start and GETs, nothing else; no link
    changes; the CSV report has one formula-guarded row per finding."""
    app, url = district
    stats = app.fake.stats
    routes, methods = Counter(stats.by_route), Counter(stats.by_method)
    links = {k: v.workflow_state for k, v in app.fake.state.links.items()}
    out = tmp_path / "audit.csv"
    result = run(tmp_path, url, AUDITED, "audit", "--report", str(out))
    assert result.returncode == 0, result.stderr
    sent = Counter(stats.by_route) - routes
    assert sent[REPORT_START] == 1
    assert all(route.startswith("GET ") for route in sent if route != REPORT_START), sent
    assert (Counter(stats.by_method) - methods).keys() <= {"GET", "POST"}
    assert (Counter(stats.by_method) - methods)["POST"] == 1
    assert {r.report_type for r in app.fake.state.reports.values()} == {"provisioning_csv"}
    assert {k: v.workflow_state for k, v in app.fake.state.links.items()} == links
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {r["kind"] for r in rows} == {
        "student_not_found",
        "unobserved_with_guardian",
        "unobserved_without_guardian",
        "unlisted_observer",
        "idle_account",
    }
    assert len(rows) == 1 + 2 + 1 + 3 + 1


def test_a_bad_token_exits_2_with_one_error_line(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A token Canvas refuses: exit 2, one `error:` line and no traceback, no report."""
    _app, url = district
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + AUDITED, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "canvas_observers",
            "audit",
            str(roster),
            "--canvas-url",
            url,
            "--state",
            str(tmp_path / "j.sqlite3"),
            "--report",
            str(tmp_path / "a.json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CANVAS_TOKEN": "not-the-token"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "refused the token" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.json").exists()


def test_sigterm_ends_the_audit_s_wait_for_the_report(tmp_path: Path) -> None:
    """SIGTERM while the audit waits for Canvas's report (one of 60 s here): it stops within
    seconds, exit 2, the signal named."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=60.0))
    roster = tmp_path / "audit.csv"
    roster.write_text(HEADER + "S1,g1@home.test,Gee,Family\n", encoding="utf-8")
    with running_server(app) as url:
        command = [sys.executable, "-m", "canvas_observers", "audit", str(roster)]
        process = subprocess.Popen(
            [*command, "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CANVAS_TOKEN": TOKEN},
        )
        try:
            assert process.stderr is not None
            for line in process.stderr:  # wait until the audit waits for the report
                if "provisioning report" in line and "started" in line:
                    break
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=50)
            elapsed = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 2, stderr
    assert "the audit stopped: interrupted (SIGTERM) while waiting" in stderr
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"  # the report would take 60 s
    assert "Traceback" not in stdout + stderr


def test_a_guardian_without_email_is_listed_not_rejected(
    district: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A guardian the SIS has no email for is no rejected row: the report counts only the
    malformed row as rejected, lists the guardian by name with their student, and S6 (nobody
    observes them) is said to have that guardian, with no email."""
    app, url = district
    out = tmp_path / "audit.json"
    body = AUDITED + "S6,,Rosa,Family6\nS1,not-an-email,Bad,Row\n"
    result = run(tmp_path, url, body, "audit", "--report", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["audit"]["rows_rejected"] == 1
    (rosa,) = report["guardians_without_email"]
    assert (rosa["student_id"], rosa["canvas_student_id"]) == ("S6", user_id(app, sis="S6"))
    assert "the SIS has no email for Rosa Family6" in str(rosa["detail"])
    assert report["audit"]["totals"]["guardians_without_email"] == 1
    s6 = by_student(report["unobserved_without_guardian"])["S6"]
    assert "the SIS lists Rosa Family6 for this student, with no email" in str(s6["detail"])
    assert "Guardians the SIS has no email for (1)" in result.stdout
    page = tmp_path / "audit.html"
    assert run(tmp_path, url, body, "audit", "--report", str(page)).returncode == 0
    text = page.read_text(encoding="utf-8")
    assert '<span class="name">Rosa Family6</span><span class="sub">no email</span>' in text
    assert '<th scope="row">roster rows rejected</th><td>1</td>' in text
