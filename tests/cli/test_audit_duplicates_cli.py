"""`canvas-observers audit` through the real CLI on a fake Canvas over loopback: accounts that
look like one parent (the three ways it happens), staff who observe students, and none of
either made up in the demo district."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.scenarios import TEACHER_PARENT_LOGIN, build_demo
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER

TOKEN = "audit-dupes-token"


def run(tmp_path: Path, url: str, roster_text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command of the CLI on ``roster_text`` (a whole roster CSV) with one journal."""
    roster = tmp_path / f"{args[0]}.csv"
    roster.write_text(roster_text, encoding="utf-8")
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
        env={**os.environ, "CANVAS_TOKEN": TOKEN},
        timeout=300,
        check=False,
    )


def fake() -> FakeCanvasApp:
    return create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))


def by_login(app: FakeCanvasApp, login: str) -> int:
    user = app.fake.state.user_by_login(login)
    assert user is not None
    return user.id


def test_the_demo_district_has_one_staff_parent_and_no_duplicates(tmp_path: Path) -> None:
    """After a sync of the demo district: no pair of accounts is called one parent, and the
    teacher whose login the roster gives as her children's guardian is the one staff
    observer, paired (not a second account) and given by the SIS for each child."""
    app = fake()
    roster = build_demo(app.fake.state)
    with running_server(app) as url:
        synced = run(tmp_path, url, roster, "sync", "--pairing", "direct")
        assert synced.returncode in (0, 1), synced.stderr  # the demo's bad rows are failures
        out = tmp_path / "audit.json"
        result = run(tmp_path, url, roster, "audit", "--report", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["duplicate_accounts"] == []
    teacher = by_login(app, TEACHER_PARENT_LOGIN)
    [staff] = report["staff_observers"]
    assert (staff["canvas_observer_id"], staff["observer"]) == (teacher, TEACHER_PARENT_LOGIN)
    assert staff["kind"] == "staff_observer"
    assert staff["detail"].startswith("staff: a teacher in Canvas who observes")
    assert "the SIS gives this account's login or email as the guardian of each" in staff["detail"]
    assert report["audit"]["totals"]["staff_observers"] == 1
    assert "Staff who observe students (1)" in result.stdout


SYNCED = "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in range(1, 4)) + (
    "S5,teach@school.test,Tea,Cher\n"
)


def test_three_ways_one_parent_has_two_accounts(tmp_path: Path) -> None:
    """Planted after a sync: (a) a parent's own account shares its email with an imported
    account of the same name; (b) the account this tool made for g2 lost its link while the
    parent's pairing-code account (g2's email as its contact) observes S2; (c) two accounts
    with one name observe S3. A counsellor (a TA) observes S4 by hand; a teacher is the
    roster's guardian of S5. Each is found once, in the JSON, CSV and HTML, with both accounts
    and the one the SIS points at; nothing else is called a duplicate."""
    app = fake()
    state = app.fake.state
    course = state.add_course("C")
    kids = {
        i: state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}")
        for i in range(1, 6)
    }
    for kid in kids.values():
        state.enroll(kid, course)
    teacher = state.add_user("Tea Cher", login_id="teach@school.test")
    state.enroll(teacher, course, type="TeacherEnrollment")
    counsellor = state.add_user("Con Sell", login_id="cs@school.test")
    state.enroll(counsellor, course, type="TaEnrollment")
    with running_server(app) as url:
        synced = run(tmp_path, url, HEADER + SYNCED, "sync", "--pairing", "direct")
        assert synced.returncode == 0, synced.stderr
        # (a) "Pat Doe" links themself to S1; an import made "Doe, Pat" with that email.
        pat = state.add_user("Pat Doe", login_id="pat@home.test")
        state.link(pat, kids[1])
        state.add_user("Pat Doe", login_id="pdoe", email="PAT@home.test", sortable_name="Doe, Pat")
        # (b) g2's account made by the sync loses its link; the parent's own account has it.
        made = by_login(app, "g2@home.test")
        assert state.unlink(made, kids[2])
        own = state.add_user("Gee Family2", login_id="gee.family", email="g2@home.test")
        state.link(own, kids[2])
        # (c) a second "Gee Family3" observes S3 beside the one this tool made.
        twin = state.add_user("Family3, Gee", login_id="gee3.other")
        state.link(twin, kids[3])
        state.link(counsellor, kids[4])
        reports = {}
        for suffix in ("json", "csv", "html"):
            out = tmp_path / f"audit.{suffix}"
            done = run(tmp_path, url, HEADER + SYNCED, "audit", "--report", str(out))
            assert done.returncode == 0, done.stderr
            reports[suffix] = out.read_text(encoding="utf-8")
    report = json.loads(reports["json"])
    pairs = {
        (f["canvas_observer_id"], f["canvas_other_account_id"]): f
        for f in report["duplicate_accounts"]
    }
    g3 = by_login(app, "g3@home.test")
    pdoe = by_login(app, "pdoe")
    assert set(pairs) == {(pat, pdoe), (made, own), (g3, twin)}
    a, b, c = pairs[(pat, pdoe)], pairs[(made, own)], pairs[(g3, twin)]
    assert (a["observer"], a["other_account"]) == ("pat@home.test", "pdoe")
    assert "pat@home.test is a login or email of both" in a["detail"]
    assert "The SIS points at neither" in a["detail"]  # the roster gives g1 for S1
    assert b["student_id"] == "S2"
    assert (
        "it observes nobody, while gee.family, which has that email, observes Kid 2"
        in (b["detail"])
    )
    assert f"The SIS points at g2@home.test (Canvas user {made}): keep that one." in b["detail"]
    assert c["student_id"] == "S3" and "both observe Kid 3" in c["detail"]
    assert f"The SIS points at g3@home.test (Canvas user {g3})" in c["detail"]
    assert all("Merge with another user" in f["detail"] for f in pairs.values())
    staff = {f["canvas_observer_id"]: f for f in report["staff_observers"]}
    assert set(staff) == {teacher, counsellor}
    assert "a teacher in Canvas" in staff[teacher]["detail"]
    assert "as the guardian of each" in staff[teacher]["detail"]
    assert "a TA in Canvas" in staff[counsellor]["detail"]
    assert "(linked by hand)" in staff[counsellor]["detail"]
    rows = list(csv.DictReader(io.StringIO(reports["csv"].lstrip("\ufeff"))))
    dupes = [r for r in rows if r["kind"] == "duplicate_account"]
    assert {(r["canvas_observer_id"], r["canvas_other_account_id"]) for r in dupes} == {
        (str(x), str(y)) for x, y in pairs
    }
    assert len([r for r in rows if r["kind"] == "staff_observer"]) == 2
    html = reports["html"]
    assert "Accounts that look like one parent (merge by hand, if they are) (3)" in html
    assert f"/users/{own}" in html and f"/users/{made}" in html
    assert "Gee Family2" in html and "Staff who observe students (2)" in html
