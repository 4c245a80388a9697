"""Eligibility rules on roster columns (``--only``, ``--skip``) through the real CLI on a fake
Canvas over loopback: rows left out are ``not_eligible`` and nothing is written for them; an
unknown column stops the run before anything is sent; with ``--remove-ended`` a link made for
a pair that has become ineligible goes after the grace runs; `show` names the rules."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER, run_cli

TOKEN = "eligibility-test-token"
KIDS = 20
RULE_HEADER = HEADER.rstrip("\n") + ",Portal Access,Relationship,Contact Priority\n"


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Twenty enrolled students S0..S19."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(KIDS):
        state.enroll(
            state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}"), course
        )
    with running_server(app) as url:
        yield app, url


def row(i: int, portal: str = "Y", relationship: str = "Mother", priority: str = "1") -> str:
    return f"S{i},g{i}@home.test,Gee,Family{i},{portal},{relationship},{priority}\n"


def sync(tmp_path: Path, url: str, body: str, *extra: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"  # the same roster source every run
    roster.write_text(RULE_HEADER + body, encoding="utf-8")
    return run_cli(
        "sync",
        str(roster),
        "--canvas-url",
        url,
        "--state",
        str(tmp_path / "j.sqlite3"),
        "--pairing",
        "direct",
        *extra,
        token=TOKEN,
    )


def linked(app: FakeCanvasApp, sis: str, email: str) -> bool:
    state = app.fake.state
    student, observer = state.user_by_sis_id(sis), state.user_by_login(email)
    return student is not None and observer is not None and state.is_linked(observer.id, student.id)


def outcomes(path: Path) -> dict[str, str]:
    """Student id -> outcome, of the report's roster rows."""
    rows = json.loads(path.read_text())["rows"]
    return {str(r["student_id"]): str(r["outcome"]) for r in rows if r["line"]}


def test_rules_leave_rows_out_as_not_eligible_and_nothing_is_written_for_them(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """--only with two values and a case-insensitive --skip: the rows left out are
    not_eligible (exit 0, counted in the summary), have no account and no link; the others
    are paired; `show` names the rules the run used."""
    app, url = canvas
    body = "".join(
        [
            row(0),
            row(1, portal="n"),
            row(2, relationship="EMERGENCY contact"),
            row(3, priority="2"),
            row(4, priority="3"),
            row(5, portal="y"),  # any case
        ]
    )
    report = tmp_path / "r.json"
    result = sync(
        tmp_path,
        url,
        body,
        "--only",
        "Portal Access=Y",
        "--only",
        "contact priority=1|2",  # a column in any case
        "--skip",
        "Relationship=Emergency Contact",
        "--report",
        str(report),
    )
    assert result.returncode == 0, result.stderr
    got = outcomes(report)
    assert got == {
        "S0": "created",
        "S1": "not_eligible",
        "S2": "not_eligible",
        "S3": "created",
        "S4": "not_eligible",
        "S5": "created",
    }
    detail = {r["student_id"]: r["detail"] for r in json.loads(report.read_text())["rows"]}
    assert "--only 'Portal Access=Y'" in detail["S1"] and "'n'" in detail["S1"]
    assert "--skip 'Relationship=Emergency Contact'" in detail["S2"]
    assert json.loads(report.read_text())["run"]["totals"]["not_eligible"] == 3
    for i in (1, 2, 4):
        assert app.fake.state.user_by_login(f"g{i}@home.test") is None  # no account made
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in (0, 3, 5))
    shown = run_cli("show", "1", "--state", str(tmp_path / "j.sqlite3"), token=TOKEN)
    assert shown.returncode == 0, shown.stderr
    assert '"Portal Access=Y"' in shown.stdout
    assert '"contact priority=1|2"' in shown.stdout
    assert '"Relationship=Emergency Contact"' in shown.stdout


def test_a_rule_on_a_column_the_roster_lacks_stops_before_anything_is_sent(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Exit 2, the message names the file, the column and the headers found; no request to
    Canvas at all. A rule that is not COLUMN=VALUE is a usage error too."""
    app, url = canvas
    result = sync(tmp_path, url, row(0), "--only", "Education Rights=Y")
    assert result.returncode == 2
    assert "roster.csv" in result.stderr
    assert "'Education Rights'" in result.stderr
    assert "'Portal Access'" in result.stderr  # the headers found
    assert app.fake.stats.by_method == {}
    bad = sync(tmp_path, url, row(0), "--skip", "Relationship")
    assert bad.returncode == 2
    assert "COLUMN=VALUE" in bad.stderr
    assert app.fake.stats.by_method == {}


def test_rules_from_the_settings_file(canvas: tuple[FakeCanvasApp, str], tmp_path: Path) -> None:
    """``only`` and ``skip`` in the settings file are lists, as the flags are repeatable."""
    _app, url = canvas
    config = tmp_path / "settings.toml"
    config.write_text(
        'only = ["Portal Access=Y"]\nskip = ["Relationship=Emergency Contact|Neighbour"]\n',
        encoding="utf-8",
    )
    report = tmp_path / "r.json"
    body = row(0) + row(1, portal="N") + row(2, relationship="neighbour")
    result = sync(tmp_path, url, body, "--config", str(config), "--report", str(report))
    assert result.returncode == 0, result.stderr
    assert outcomes(report) == {"S0": "created", "S1": "not_eligible", "S2": "not_eligible"}


def test_a_link_whose_pair_became_ineligible_is_removed_after_the_grace_runs(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A link the tool made; the SIS then takes S1's guardian's portal access away: kept for
    one run (grace), removed on the second; the other links stay."""
    app, url = canvas
    rule = ("--only", "Portal Access=Y", "--remove-ended")
    everyone = "".join(row(i) for i in range(KIDS))
    assert sync(tmp_path, url, everyone, *rule).returncode == 0
    assert linked(app, "S1", "g1@home.test")
    body = "".join(row(i, portal="N" if i == 1 else "Y") for i in range(KIDS))
    kept = sync(tmp_path, url, body, *rule, "--report", str(tmp_path / "k.json"))
    assert kept.returncode == 0, kept.stderr
    assert outcomes(tmp_path / "k.json")["S1"] == "not_eligible"
    assert linked(app, "S1", "g1@home.test")  # within the grace
    gone = sync(tmp_path, url, body, *rule, "--report", str(tmp_path / "g.json"))
    assert gone.returncode == 0, gone.stderr
    rows = json.loads((tmp_path / "g.json").read_text())["rows"]
    removed = [r for r in rows if r["outcome"] == "removed"]
    assert [(r["student_id"], r["observer_email"]) for r in removed] == [("S1", "g1@home.test")]
    assert not linked(app, "S1", "g1@home.test")
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in range(KIDS) if i != 1)


def test_a_truncated_roster_still_holds_removals_with_rules(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Half the export missing: held (exit 1), nothing removed, though the rows left out by
    a rule count as rows of the export; and a rule that leaves many rows out is no truncation:
    it meets the removal limit instead (exit 2, nothing removed)."""
    app, url = canvas
    everyone = "".join(row(i) for i in range(KIDS))
    assert sync(tmp_path, url, everyone).returncode == 0
    assert sync(tmp_path, url, everyone).returncode == 0
    half = "".join(row(i, portal="N" if i % 2 else "Y") for i in range(9))
    held = sync(
        tmp_path, url, half, "--only", "Portal Access=Y", "--remove-ended", "--grace-runs", "1"
    )
    assert held.returncode == 1, held.stderr
    assert "fewer than 90%" in held.stdout + held.stderr
    assert app.fake.stats.by_method.get("DELETE", 0) == 0
    many = "".join(row(i, portal="N" if i % 2 else "Y") for i in range(KIDS))
    stopped = sync(
        tmp_path,
        url,
        many,
        "--only",
        "Portal Access=Y",
        "--remove-ended",
        "--grace-runs",
        "1",
        "--max-removals",
        "3",
    )
    assert stopped.returncode == 2
    assert "more than --max-removals 3" in stopped.stderr
    assert app.fake.stats.by_method.get("DELETE", 0) == 0
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in range(KIDS))


def test_rules_on_a_oneroster_export_are_refused(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """OneRoster has fixed fields: a rule is refused with exit 2, naming the file."""
    app, url = canvas
    users = tmp_path / "users.csv"
    users.write_text(
        "sourcedId,status,role,identifier,email,givenName,familyName,agentSourcedIds\n"
        "s0,active,student,S0,k0@s.test,Kid,Zero,g0\n"
        "g0,active,parent,,g0@home.test,Gee,Family0,s0\n",
        encoding="utf-8",
    )
    result = run_cli(
        "sync",
        str(users),
        "--canvas-url",
        url,
        "--state",
        str(tmp_path / "j.sqlite3"),
        "--only",
        "Portal Access=Y",
        token=TOKEN,
    )
    assert result.returncode == 2
    assert "users.csv" in result.stderr and "OneRoster" in result.stderr
    assert app.fake.stats.by_method == {}
