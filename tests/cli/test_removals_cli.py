"""Removing links the SIS has ended, through the real CLI on a fake Canvas over loopback:
owned links only and after the grace runs, never a parent-made link; safety stops that remove
nothing; `undo`; the do-not-pair list."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.fake_canvas.server import running_server
from tests.wiring import HEADER, run_cli

TOKEN = "removals-test-token"
KIDS = 20


@pytest.fixture
def canvas() -> Iterator[tuple[FakeCanvasApp, str]]:
    """Twenty enrolled students S0..S19, and a parent who paired with S0 by themself."""
    app = create_app(FakeConfig(admin_token=TOKEN, throttle=False, report_seconds=0.1))
    state = app.fake.state
    course = state.add_course("C")
    for i in range(KIDS):
        state.enroll(
            state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}"), course
        )
    parent = state.add_user("Own Choice", login_id="own@home.test")
    state.link(parent, state.user_by_sis_id("S0").id)  # type: ignore[union-attr]
    with running_server(app) as url:
        yield app, url


def rows(indexes: range | list[int]) -> str:
    return "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in indexes)


def sync(tmp_path: Path, url: str, body: str, *extra: str) -> subprocess.CompletedProcess[str]:
    roster = tmp_path / "roster.csv"  # the same roster source every run
    roster.write_text(HEADER + body, encoding="utf-8")
    return cli(
        "sync", str(roster), "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"), *extra
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, token=TOKEN)


def linked(app: FakeCanvasApp, sis: str, email: str) -> bool:
    state = app.fake.state
    student, observer = state.user_by_sis_id(sis), state.user_by_login(email)
    return student is not None and observer is not None and state.is_linked(observer.id, student.id)


def report_rows(path: Path) -> list[dict[str, object]]:
    return list(json.loads(path.read_text())["rows"])


def test_a_custody_change_removes_the_owned_link_after_the_grace_runs(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """S1's guardian leaves the roster: kept for one run, removed on the second; the link a
    parent made with S0 (not in the roster) is never touched; a dry run lists the removal."""
    app, url = canvas
    first = sync(tmp_path, url, rows(range(KIDS)), "--remove-ended", "--pairing", "direct")
    assert first.returncode == 0, first.stderr
    assert linked(app, "S1", "g1@home.test")
    without = rows([i for i in range(KIDS) if i != 1])
    kept = sync(tmp_path, url, without, "--remove-ended", "--pairing", "direct")
    assert kept.returncode == 0, kept.stderr
    assert linked(app, "S1", "g1@home.test")  # absent once: within the grace
    sync(
        tmp_path, url, without, "--remove-ended", "--dry-run", "--report", str(tmp_path / "d.json")
    )
    assert [r for r in report_rows(tmp_path / "d.json") if r["outcome"] == "would_remove"] != []
    assert linked(app, "S1", "g1@home.test")
    gone = sync(
        tmp_path,
        url,
        without,
        "--remove-ended",
        "--pairing",
        "direct",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert gone.returncode == 0, gone.stderr
    removed = [r for r in report_rows(tmp_path / "r.json") if r["outcome"] == "removed"]
    assert [(r["student_id"], r["observer_email"]) for r in removed] == [("S1", "g1@home.test")]
    assert "absent from the roster for 2 runs in a row" in str(removed[0]["detail"])
    assert not linked(app, "S1", "g1@home.test")
    assert linked(app, "S0", "own@home.test")  # a parent's own link is never removed
    again = sync(tmp_path, url, without, "--remove-ended", "--pairing", "direct")
    assert again.returncode == 0 and "removed" not in again.stdout.split("Totals")[-1]


def test_a_truncated_roster_is_held_nothing_removed_and_the_pairings_go_on(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """Half the roster missing: the run is held (exit 1, the 90% rule named), no link is
    removed, and the rows it does list are still paired."""
    app, url = canvas
    assert sync(tmp_path, url, rows(range(KIDS - 1)), "--pairing", "direct").returncode == 0
    assert sync(tmp_path, url, rows(range(KIDS - 1)), "--pairing", "direct").returncode == 0
    deletes = app.fake.stats.by_method.get("DELETE", 0)
    half = sync(
        tmp_path,
        url,
        rows([*range(9), KIDS - 1]),
        "--remove-ended",
        "--grace-runs",
        "1",
        "--pairing",
        "direct",
    )
    assert half.returncode == 1, half.stderr
    assert "fewer than 90%" in half.stdout + half.stderr
    assert app.fake.stats.by_method.get("DELETE", 0) == deletes
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in range(KIDS - 1))
    assert linked(app, f"S{KIDS - 1}", f"g{KIDS - 1}@home.test")  # the new row was paired


def test_a_mass_removal_stops_unless_forced_and_undo_restores_it(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """More removals than --max-removals: exit 2, nothing removed; --force-removals removes
    them and says so in the report; `undo RUN` puts exactly those back."""
    app, url = canvas
    assert sync(tmp_path, url, rows(range(KIDS)), "--pairing", "direct").returncode == 0
    kept = rows(range(2, KIDS))  # 18 of 20 rows: not below the 90% line
    args = ("--remove-ended", "--grace-runs", "1", "--max-removals", "1", "--pairing", "direct")
    stopped = sync(tmp_path, url, kept, *args)
    assert stopped.returncode == 2
    assert "more than --max-removals 1" in stopped.stderr
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in range(2))
    forced = sync(
        tmp_path, url, kept, *args, "--force-removals", "--report", str(tmp_path / "f.json")
    )
    assert forced.returncode == 0, forced.stderr
    report = json.loads((tmp_path / "f.json").read_text())
    assert "more than --max-removals 1" in report["run"]["removals_forced"]
    assert not any(linked(app, f"S{i}", f"g{i}@home.test") for i in range(2))
    run_id = report["run"]["run_id"]
    restored = cli("undo", str(run_id), "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"))
    assert restored.returncode == 0, restored.stderr
    assert all(linked(app, f"S{i}", f"g{i}@home.test") for i in range(2))
    nothing = cli("undo", "1", "--canvas-url", url, "--state", str(tmp_path / "j.sqlite3"))
    assert nothing.returncode == 2
    assert "removed no link" in nothing.stderr


def test_the_do_not_pair_list_removes_a_link_whoever_made_it(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A listed pair is never linked (excluded) and, with --remove-ended, a listed pair that a
    parent linked themself is removed at once, with the reason from the file."""
    app, url = canvas
    exclude = tmp_path / "exclude.csv"
    exclude.write_text(
        "student_id,observer_email,reason\nS0,own@home.test,court order 2026-114\n"
        "S2,g2@home.test,custody\n",
        encoding="utf-8",
    )
    result = sync(
        tmp_path,
        url,
        rows(range(KIDS)),
        "--remove-ended",
        "--exclude",
        str(exclude),
        "--pairing",
        "direct",
        "--report",
        str(tmp_path / "x.json"),
    )
    assert result.returncode == 0, result.stderr
    by_outcome = {(r["student_id"], r["outcome"]) for r in report_rows(tmp_path / "x.json")}
    assert ("S2", "excluded") in by_outcome
    assert ("S0", "removed") in by_outcome
    assert not linked(app, "S0", "own@home.test")
    assert not linked(app, "S2", "g2@home.test")
    assert "court order 2026-114" in (tmp_path / "x.json").read_text()


def test_a_bad_do_not_pair_list_stops_before_any_write(
    canvas: tuple[FakeCanvasApp, str], tmp_path: Path
) -> None:
    """A list with a bad email: exit 2 naming the file, line and field; nothing sent."""
    app, url = canvas
    exclude = tmp_path / "exclude.csv"
    exclude.write_text("student_id,observer_email\nS0,not-an-email\n", encoding="utf-8")
    result = sync(tmp_path, url, rows(range(3)), "--exclude", str(exclude))
    assert result.returncode == 2
    assert "exclude.csv:2 (observer_email)" in result.stderr
    assert app.fake.stats.by_method == {}
