"""Removal that remembers people, not rows: several nights through the real CLI on a fake
Canvas over loopback. Two schools' rosters on one journal, a guardian's email change (with and
without --update-guardians), a truncated export, dated file names, and undo."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER, run_cli

TOKEN = "sources-test-token"
KIDS = 40
GUARDED = HEADER.rstrip("\n") + ",guardian_id\n"


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Forty enrolled students S0..S39."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.05))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(KIDS):
        state.enroll(
            state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}"), course
        )
    with running_server(app) as url:
        yield app, url


def rows(indexes: range | list[int], email: str = "g{i}@home.test") -> str:
    return "".join(f"S{i},{email.format(i=i)},Gee,Family{i},G{i}\n" for i in indexes)


def write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GUARDED + body, encoding="utf-8")
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, token=TOKEN)


def sync(
    tmp_path: Path, url: str, roster: Path, *extra: str, report: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A nightly sync with --remove-ended."""
    return cli_sync(tmp_path, url, roster, "--remove-ended", *extra, report=report)


def links(app: FakeCanvasApp) -> set[tuple[int, int]]:
    """Every (observer, student) link in the fake Canvas."""
    state = app.fake.state
    found: set[tuple[int, int]] = set()
    for i in range(KIDS):
        student = state.user_by_sis_id(f"S{i}")
        assert student is not None
        for observer in state.users.values():
            if state.is_linked(observer.id, student.id):
                found.add((observer.id, student.id))
    return found


def linked(app: FakeCanvasApp, i: int, email: str | None = None) -> bool:
    state = app.fake.state
    student = state.user_by_sis_id(f"S{i}")
    observer = state.user_by_login(email or f"g{i}@home.test")
    return student is not None and observer is not None and state.is_linked(observer.id, student.id)


def report_rows(path: Path) -> list[dict[str, object]]:
    return list(json.loads(path.read_text())["rows"])


def test_two_schools_on_one_journal_never_remove_each_others_links(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """School A lists S0..S19, school B S20..S39, nightly, each with --remove-ended and
    --grace-runs 1; A drops S0. Only S0's link goes; B's links stay every night."""
    app, url = canvas
    a = write(tmp_path / "a" / "guardians.csv", rows(range(20)))
    b = write(tmp_path / "b" / "guardians.csv", rows(range(20, 40)))
    for night in range(3):
        if night == 1:
            write(a, rows(range(1, 20)))
        ra = sync(tmp_path, url, a, "--grace-runs", "1")
        rb = sync(tmp_path, url, b, "--grace-runs", "1")
        assert ra.returncode == 0, ra.stdout + ra.stderr
        assert rb.returncode == 0, rb.stdout + rb.stderr
        assert all(linked(app, i) for i in range(20, 40)), f"night {night}"
        assert all(linked(app, i) for i in range(1, 20)), f"night {night}"
    assert not linked(app, 0)
    assert "removed" not in rb.stdout.split("outcome")[-1]


def test_an_email_change_keeps_the_link_and_the_account_under_the_default_template(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """G3's email changes in the SIS (same guardian id): every night the link stays, the rows
    say guardian_email_changed, and no second account is made."""
    app, url = canvas
    roster = write(tmp_path / "guardians.csv", rows(range(10)))
    assert sync(tmp_path, url, roster).returncode == 0
    before = links(app)
    accounts = len(app.fake.state.users)
    changed = rows(range(10)).replace("g3@home.test", "new3@home.test")
    write(roster, changed)
    for night in range(3):
        result = sync(tmp_path, url, roster, report=f"n{night}.json")
        assert result.returncode == 1, result.stdout + result.stderr  # a human should know
        assert links(app) == before, f"night {night}"
        outcomes = {r["student_id"]: r["outcome"] for r in report_rows(tmp_path / f"n{night}.json")}
        assert outcomes["S3"] == "guardian_email_changed"
        assert "removed" not in outcomes.values()
        assert "removal_pending" not in outcomes.values()
    assert len(app.fake.state.users) == accounts  # no second account
    assert app.fake.state.user_by_login("new3@home.test") is None


def test_an_email_change_with_update_guardians_changes_the_login_and_keeps_the_link(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    app, url = canvas
    roster = write(tmp_path / "guardians.csv", rows(range(10)))
    assert sync(tmp_path, url, roster).returncode == 0
    before = links(app)
    accounts = len(app.fake.state.users)
    write(roster, rows(range(10)).replace("g3@home.test", "new3@home.test"))
    for night in range(3):
        result = sync(tmp_path, url, roster, "--update-guardians", report=f"u{night}.json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert links(app) == before, f"night {night}"
        outcomes = {r["student_id"]: r["outcome"] for r in report_rows(tmp_path / f"u{night}.json")}
        assert outcomes["S3"] == ("guardian_updated" if night == 0 else "already_paired")
    assert len(app.fake.state.users) == accounts
    assert linked(app, 3, "new3@home.test")


def test_a_truncated_export_is_held_every_night_until_whole_or_forced(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """The same file holds 75% of its rows for three nights: nothing removed, exit 1 each
    night; whole again, nothing removed either; truncated once more and forced, the missing
    links go."""
    app, url = canvas
    roster = write(tmp_path / "guardians.csv", rows(range(KIDS)))
    for _ in range(2):
        assert sync(tmp_path, url, roster).returncode == 0
    whole = links(app)
    assert len(whole) == KIDS
    write(roster, rows(range(30)))
    for night in range(3):
        result = sync(tmp_path, url, roster, report=f"t{night}.json")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "removals held" in result.stdout.lower()
        assert links(app) == whole, f"night {night}"
        report = json.loads((tmp_path / f"t{night}.json").read_text())
        assert "fewer than 90%" in report["run"]["removals_held"]
        shown = cli(
            "show", str(report["run"]["run_id"]), "--json", "--state", str(tmp_path / "j.sqlite3")
        )
        assert "fewer than 90%" in json.loads(shown.stdout)["run"]["removals_held"]
    write(roster, rows(range(KIDS)))
    assert sync(tmp_path, url, roster).returncode == 0
    assert links(app) == whole
    shows = cli("runs", "--state", str(tmp_path / "j.sqlite3"))
    assert "removals held: the roster has 30 valid rows" in shows.stdout
    write(roster, rows(range(30)))
    assert sync(tmp_path, url, roster).returncode == 1  # held again
    forced = sync(tmp_path, url, roster, "--force-removals")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert all(linked(app, i) for i in range(KIDS))  # absent one counted run of 2: pending
    again = sync(tmp_path, url, roster)  # the forced run is the new baseline: not held
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(linked(app, i) for i in range(30))
    assert not any(linked(app, i) for i in range(30, KIDS))


def test_dated_file_names_with_one_source_remove_ended_links(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """guardians-2026-12-08.csv, -09, -10 with --source district: S5 dropped on the 9th is
    removed on the 10th (grace 2); without --source each file is a first run that says so."""
    app, url = canvas
    first = write(tmp_path / "guardians-2026-12-08.csv", rows(range(10)))
    start = sync(tmp_path, url, first, "--source", "district")
    assert start.returncode == 0, start.stderr
    assert "removal counting starts now" in start.stderr
    for day in ("09", "10"):
        dated = write(
            tmp_path / f"guardians-2026-12-{day}.csv", rows([i for i in range(10) if i != 5])
        )
        result = sync(tmp_path, url, dated, "--source", "district", report=f"d{day}.json")
        assert result.returncode == 0, result.stdout + result.stderr
        if day == "09":
            assert linked(app, 5)
            pending = [
                r for r in report_rows(tmp_path / "d09.json") if r["outcome"] == "removal_pending"
            ]
            assert [r["student_id"] for r in pending] == ["S5"]
            assert "after 1 more run" in str(pending[0]["detail"])
    assert not linked(app, 5)
    removed = [r for r in report_rows(tmp_path / "d10.json") if r["outcome"] == "removed"]
    assert [(r["student_id"], r["observer_email"]) for r in removed] == [("S5", "g5@home.test")]
    assert removed[0]["canvas_student_id"] and removed[0]["canvas_observer_id"]
    lone = write(tmp_path / "guardians-2026-12-11.csv", rows(range(9)))
    alone = sync(tmp_path, url, lone)
    assert "removal counting starts now" in alone.stderr and "--source" in alone.stderr
    assert linked(app, 9)  # another source's link: never this one's to remove


def test_undo_never_restores_a_do_not_pair_removal_and_restored_links_stay_while_listed(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """One run removes S1's link (a court order on the do-not-pair list) and S2's (absent):
    undo restores S2's only, names S1's as not restored, and refuses a second undo. S2's
    restored link, listed again by the roster, is kept by the nights after."""
    app, url = canvas
    roster = write(tmp_path / "guardians.csv", rows(range(10)))
    assert sync(tmp_path, url, roster).returncode == 0
    exclude = tmp_path / "exclude.csv"
    exclude.write_text(
        "student_id,observer_email,reason\nS1,g1@home.test,court order 2026-114\n",
        encoding="utf-8",
    )
    write(roster, rows([i for i in range(10) if i != 2]))
    both = sync(
        tmp_path, url, roster, "--grace-runs", "1", "--exclude", str(exclude), report="x.json"
    )
    assert both.returncode == 0, both.stdout + both.stderr
    assert not linked(app, 1) and not linked(app, 2)
    run_id = json.loads((tmp_path / "x.json").read_text())["run"]["run_id"]
    state = ("--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"))
    undone = cli("undo", str(run_id), *state)
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert linked(app, 2) and not linked(app, 1)
    assert "do-not-pair" in undone.stdout and "S2" in undone.stdout
    assert "Kid 2 (S2)" in undone.stdout and "Gee Family2 (g2@home.test)" in undone.stdout
    # The detail may wrap in its cell, however long the roster's path: read it unwrapped.
    assert "does not list it" in " ".join(re.sub(r"[│┃]", " ", undone.stdout).split())
    twice = cli("undo", str(run_id), *state)
    assert twice.returncode == 2 and "undone already" in twice.stderr
    write(roster, rows([i for i in range(10) if i != 1]))  # the SIS lists S2 again
    for _ in range(3):
        night = sync(tmp_path, url, roster, "--grace-runs", "1", "--exclude", str(exclude))
        assert night.returncode == 0, night.stdout + night.stderr
        assert linked(app, 2) and not linked(app, 1)


@pytest.mark.parametrize("canvas_state", ["report", "lookups"])
def test_a_deleted_guardian_account_is_never_replaced_until_forgotten(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path, canvas_state: str
) -> None:
    """G3's account is deleted in Canvas: the next runs make no new account for guardian id
    G3 (guardian_account_deleted, exit 1); after `forget-guardian G3` one is made again."""
    app, url = canvas
    roster = write(tmp_path / "guardians.csv", rows(range(5)))
    args = ("--canvas-state", canvas_state)
    assert cli_sync(tmp_path, url, roster, *args).returncode == 0
    gone = app.fake.state.user_by_login("g3@home.test")
    assert gone is not None
    app.fake.state.delete_user(gone.id)
    for night in range(2):
        result = cli_sync(tmp_path, url, roster, *args, report=f"g{night}.json")
        assert result.returncode == 1, result.stdout + result.stderr
        outcomes = {r["student_id"]: r for r in report_rows(tmp_path / f"g{night}.json")}
        assert outcomes["S3"]["outcome"] == "guardian_account_deleted"
        assert "forget-guardian G3" in str(outcomes["S3"]["detail"])
        assert app.fake.state.user_by_login("g3@home.test") is None
    state = ("--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"))
    unknown = cli("forget-guardian", "G99", *state)
    assert unknown.returncode == 2 and "G99" in unknown.stderr
    # A person gives the guardian an account by hand (Canvas keeps the deleted login's SIS
    # id taken, so the tool could not make one with the template's), then forgets the old one.
    by_hand = app.fake.state.add_user("Gee Family3", login_id="g3@home.test")
    forgot = cli("forget-guardian", "G3", *state)
    assert forgot.returncode == 0, forgot.stderr
    assert f"Canvas user {gone.id}" in forgot.stdout
    again = cli_sync(tmp_path, url, roster, *args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert linked(app, 3)
    assert app.fake.state.user_by_login("g3@home.test") is not None
    assert app.fake.state.user_by_login("g3@home.test").id == by_hand  # type: ignore[union-attr]


def cli_sync(
    tmp_path: Path, url: str, roster: Path, *extra: str, report: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A sync without --remove-ended (guardian memory works in every run)."""
    more = ("--report", str(tmp_path / report)) if report else ()
    return cli(
        "sync",
        str(roster),
        "--canvas-url",
        url,
        "--state",
        str(tmp_path / "j.sqlite3"),
        "--pairing",
        "direct",
        *more,
        *extra,
    )
