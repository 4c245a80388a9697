"""Observer enrollments that went missing, through the real CLI on a fake Canvas over loopback.

A link makes Canvas enroll the observer in each of the student's courses; an enrollment
import can make those enrollments inactive or deleted afterwards (staged here with Canvas's
own enrollment API, as an admin would). The audit lists each such link and course; Canvas
enrolls the observer again only when a link is made or restored, so a PUT on the live link
changes nothing, and removing the link lets the next sync make it again, with its
enrollments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.cli.test_audit_cli import TOKEN, run, user_id

ROSTER = "S1,g1@home.test,Gee,Family1\nS2,g2@home.test,Gee,Family2\n"


@pytest.fixture
def district(tmp_path: Path) -> Iterator[tuple[FakeCanvasApp, str, dict[str, int]]]:
    """S1 in Algebra and Biology, S2 in Algebra (and concluded in Chemistry); this tool
    pairs g1 with S1 and g2 with S2, so Canvas enrolls g1 twice and g2 once."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    courses = {name: state.add_course(name, sis_course_id=name.upper()[:3]) for name in "ABC"}
    s1 = state.add_user("Kid One", login_id="k1@s.test", sis_user_id="S1")
    s2 = state.add_user("Kid Two", login_id="k2@s.test", sis_user_id="S2")
    state.enroll(s1, courses["A"])
    state.enroll(s1, courses["B"])
    state.enroll(s2, courses["A"])
    state.enroll(s2, courses["C"], state="completed")
    with running_server(app) as url:
        synced = run(tmp_path, url, ROSTER, "sync", "--pairing", "direct")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        yield app, url, courses


def observer_enrollment(app: FakeCanvasApp, observer: int, course: int) -> int:
    (found,) = [
        e.id
        for e in app.fake.state.user_enrollments(observer)
        if e.type == "ObserverEnrollment" and e.course_id == course
    ]
    return found


def canvas(url: str, method: str, path: str, **params: str) -> httpx.Response:
    response = httpx.request(
        method,
        f"{url}/api/v1{path}",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


def lost(tmp_path: Path, url: str, name: str = "audit.json") -> list[dict[str, object]]:
    out = tmp_path / name
    result = run(tmp_path, url, ROSTER, "audit", "--report", str(out))
    assert result.returncode == 0, result.stderr
    found: list[dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))[
        "lost_observer_enrollments"
    ]
    return found


def test_lost_enrollments_are_listed_and_a_new_link_restores_them(
    district: tuple[FakeCanvasApp, str, dict[str, int]], tmp_path: Path
) -> None:
    """Nothing lost: nothing listed. g1's Biology enrollment made inactive and g2's Algebra
    one deleted: both listed (student, guardian, course, who made the link). A PUT on the live
    link leaves them lost, as on Canvas; removing g2's link and running sync again brings
    g2's back, and g1's stays listed until its link is made again too."""
    app, url, courses = district
    g1, g2 = user_id(app, login="g1@home.test"), user_id(app, login="g2@home.test")
    s1, s2 = user_id(app, sis="S1"), user_id(app, sis="S2")
    assert lost(tmp_path, url) == []

    biology = observer_enrollment(app, g1, courses["B"])
    canvas(url, "DELETE", f"/courses/{courses['B']}/enrollments/{biology}", task="inactivate")
    algebra = observer_enrollment(app, g2, courses["A"])
    canvas(url, "DELETE", f"/courses/{courses['A']}/enrollments/{algebra}", task="delete")

    found = lost(tmp_path, url)
    assert [
        (f["student_id"], f["observer"], f["course"], f["canvas_course_id"], f["made_by"])
        for f in found
    ] == [
        ("S1", "g1@home.test", "B", courses["B"], "this tool"),
        ("S2", "g2@home.test", "A", courses["A"], "this tool"),
    ]
    assert "remove the link" in str(found[0]["detail"])

    canvas(url, "PUT", f"/users/{g1}/observees/{s1}")  # the live link: nothing is redone
    assert len(lost(tmp_path, url)) == 2

    canvas(url, "DELETE", f"/users/{g2}/observees/{s2}")
    resynced = run(tmp_path, url, ROSTER, "sync", "--pairing", "direct")
    assert resynced.returncode == 0, resynced.stdout + resynced.stderr
    assert [(f["student_id"], f["course"]) for f in lost(tmp_path, url)] == [("S1", "B")]
    assert app.fake.state.enrollments[algebra].state == "active"  # the same enrollment back

    canvas(url, "DELETE", f"/users/{g1}/observees/{s1}")
    canvas(url, "PUT", f"/users/{g1}/observees/{s1}")
    assert lost(tmp_path, url) == []
    assert app.fake.state.enrollments[biology].state == "active"


def test_the_html_and_csv_name_the_people_and_the_course(
    district: tuple[FakeCanvasApp, str, dict[str, int]], tmp_path: Path
) -> None:
    """The HTML section shows the student's and the guardian's names and the course; the CSV
    row carries the course's SIS id and Canvas id."""
    app, url, courses = district
    g1 = user_id(app, login="g1@home.test")
    biology = observer_enrollment(app, g1, courses["B"])
    canvas(url, "DELETE", f"/courses/{courses['B']}/enrollments/{biology}", task="delete")
    page = tmp_path / "audit.html"
    assert run(tmp_path, url, ROSTER, "audit", "--report", str(page)).returncode == 0
    html = page.read_text(encoding="utf-8")
    section = html[html.index('<section id="lost_observer_enrollments">') :]
    section = section[: section.index("</section>")]
    assert "Kid One" in section and "Gee Family1" in section
    assert f"course B (Canvas id {courses['B']})" in section
    table = tmp_path / "audit.csv"
    assert run(tmp_path, url, ROSTER, "audit", "--report", str(table)).returncode == 0
    rows = [r for r in table.read_text(encoding="utf-8-sig").splitlines() if "lost_" in r]
    assert len(rows) == 1 and rows[0].endswith(f",B,{courses['B']},,")  # no other account
