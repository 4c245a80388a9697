"""Which links the journal says this tool owns (``owned_links``): the links removals may ever
touch for the SIS's sake, so a link must be owned only when this tool really made it.

Owned: a pairing (or a create with a pairing code) that Canvas answered, or whose lost answer a
look-up found done, in a real run on this Canvas; until a removal. Not owned: an attempt that
failed, one whose answer was lost and never found done, anything in a dry run, anything on
another Canvas.
"""

from __future__ import annotations

from pathlib import Path

from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.store import Journal

URL = "https://school.instructure.com"
OTHER_URL = "https://other-district.instructure.com"
T0 = "2026-12-01T02:00:00+00:00"
Link = tuple[int, int]


def start(
    journal: Journal, *, source: str = "nightly", dry_run: bool = False, url: str = URL
) -> int:
    return journal.start_run(
        canvas_url=url,
        settings={},
        roster="guardians.csv",
        dry_run=dry_run,
        started_at=T0,
        source=source,
    )


def finish(journal: Journal, run: int) -> None:
    journal.finish_run(run, ended_at=T0, state="complete", totals={}, api_calls={})


def write(
    journal: Journal,
    run: int,
    kind: str,
    result: str,
    link: Link,
    *,
    line: int = 2,
    url: str = URL,
    student_id: str = "S1",
    email: str = "pat@home.test",
    names: tuple[str, str] = ("", ""),
) -> None:
    """One row of the run (when ``line``), naming the student and the guardian when ``names``
    does, and one write about ``link`` with its result."""
    recorder = journal.for_run(run, canvas_url=url)
    if line:
        outcome = Outcome.PAIRED if result in ("ok", "recovered") else Outcome.FAILED
        row = RowResult(line, student_id, email, outcome, "", link[1], link[0], *names)
        recorder.record_row(row, at=T0)
    recorder.record_action(
        ActionRecord(kind, line, T0, result, canvas_observer_id=link[0], canvas_student_id=link[1])
    )


def owned(journal: Journal, url: str = URL) -> dict[Link, tuple[str | None, int]]:
    """Owned link -> (owning source, run that made it)."""
    return {x.link: (x.source, x.run_id) for x in journal.owned_links(canvas_url=url)}


def test_only_a_pairing_canvas_made_is_owned(tmp_path: Path) -> None:
    """Pairings answered ok or found done after a lost answer are owned; a failed attempt, or a
    lost one never found done, is not: the link may be a parent's own, made later."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = start(journal)
        write(journal, run, "pair_direct", "ok", (11, 1), line=2)
        write(journal, run, "pair_code", "recovered", (12, 2), line=3)
        write(journal, run, "create_user", "ok", (13, 3), line=4)  # created with the code
        write(journal, run, "pair_direct", "failed", (14, 4), line=5)
        write(journal, run, "pair_code", "failed", (15, 5), line=6)
        write(journal, run, "pair_direct", "unknown", (16, 6), line=7)
        write(journal, run, "create_user", "unknown", (17, 7), line=8)
        write(journal, run, "create_user", "failed", (18, 8), line=9)
        # a lost answer that the look-up then found not done
        write(journal, run, "pair_code", "unknown", (19, 9), line=10)
        write(journal, run, "pair_code", "failed", (19, 9), line=0)
        finish(journal, run)
        assert owned(journal) == {
            (11, 1): ("nightly", run),
            (12, 2): ("nightly", run),
            (13, 3): ("nightly", run),
        }


def test_a_failed_attempt_on_a_later_night_does_not_make_a_link_owned(tmp_path: Path) -> None:
    """Failed and unknown attempts over several nights never add up to ownership."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        for result in ("failed", "unknown", "failed"):
            run = start(journal)
            write(journal, run, "pair_direct", result, (11, 1))
            finish(journal, run)
        assert owned(journal) == {}


def test_a_dry_run_owns_nothing(tmp_path: Path) -> None:
    """A dry run writes nothing, so nothing it records (even as ok) is owned."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = start(journal, dry_run=True)
        write(journal, run, "pair_direct", "ok", (11, 1))
        write(journal, run, "create_user", "ok", (12, 2), line=3)
        finish(journal, run)
        assert owned(journal) == {}
        real = start(journal)
        write(journal, real, "pair_direct", "ok", (13, 3))
        finish(journal, real)
        assert owned(journal) == {(13, 3): ("nightly", real)}


def test_a_link_made_on_another_canvas_is_not_owned_here(tmp_path: Path) -> None:
    """Canvas ids belong to one Canvas: user 11 there is not user 11 here. Each Canvas owns
    only the links made on it, even with the same ids."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        here = start(journal)
        write(journal, here, "pair_direct", "ok", (11, 1))
        finish(journal, here)
        there = start(journal, url=OTHER_URL)
        write(journal, there, "pair_direct", "ok", (12, 2), url=OTHER_URL)
        write(journal, there, "pair_direct", "ok", (11, 1), url=OTHER_URL, line=3)
        write(journal, there, "remove_link", "ok", (11, 1), url=OTHER_URL, line=0)
        finish(journal, there)
        assert owned(journal) == {(11, 1): ("nightly", here)}
        assert owned(journal, OTHER_URL) == {(12, 2): ("nightly", there)}
        assert owned(journal, "https://third.instructure.com") == {}


def test_a_removal_ends_ownership_and_a_later_pairing_owns_again(tmp_path: Path) -> None:
    """Removed (or found already gone), the link is no longer owned; paired again by a later
    run, it is owned again, by that run's source and from that run on. A removal that failed
    leaves it owned."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        first = start(journal, source="a")
        write(journal, first, "pair_direct", "ok", (11, 1))
        write(journal, first, "pair_direct", "ok", (12, 2), line=3)
        finish(journal, first)
        removal = start(journal, source="a")
        write(journal, removal, "remove_link", "ok", (11, 1), line=0)
        write(journal, removal, "remove_link", "gone", (12, 2), line=0)
        finish(journal, removal)
        assert owned(journal) == {}
        again = start(journal, source="b")
        write(journal, again, "pair_direct", "ok", (11, 1))
        write(journal, again, "pair_direct", "failed", (12, 2), line=3)
        finish(journal, again)
        assert owned(journal) == {(11, 1): ("b", again)}
        failed = start(journal, source="b")
        write(journal, failed, "remove_link", "failed", (11, 1), line=0)
        finish(journal, failed)
        assert owned(journal) == {(11, 1): ("b", again)}


def test_removing_a_link_the_tool_never_made_leaves_ownership_as_it_was(tmp_path: Path) -> None:
    """A do-not-pair removal of a parent's own link is journaled like any removal: the tool's
    links stay owned, and the parent's link never becomes one."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = start(journal)
        write(journal, run, "pair_direct", "ok", (11, 1))
        write(journal, run, "remove_link", "ok", (12, 2), line=0)
        finish(journal, run)
        assert owned(journal) == {(11, 1): ("nightly", run)}


def test_an_owned_link_keeps_the_roster_text_that_named_it(tmp_path: Path) -> None:
    """The student id and email of the row that made the link, and the names it gave the
    student and the guardian, stay with it through a removal and a restore by `undo` (a write
    with no row); a link no row ever named has none. Links made by a run of a source carry no
    pre-source roster string."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = start(journal)
        write(journal, run, "pair_direct", "ok", (11, 1), names=("Ada Park", "Pat Park"))
        finish(journal, run)
        removal = start(journal)
        write(journal, removal, "remove_link", "ok", (11, 1), line=0)
        finish(journal, removal)
        undo = journal.start_run(
            canvas_url=URL,
            settings={"undo": removal},
            roster=f"undo of run {removal}",
            dry_run=False,
            started_at=T0,
            source="nightly",
            undoes=removal,
        )
        write(journal, undo, "pair_direct", "ok", (11, 1), line=0)
        write(journal, undo, "pair_direct", "ok", (12, 2), line=0)
        finish(journal, undo)
        links = {x.link: x for x in journal.owned_links(canvas_url=URL)}
        assert set(links) == {(11, 1), (12, 2)}
        restored, unnamed = links[(11, 1)], links[(12, 2)]
        assert (restored.roster_student_id, restored.roster_email) == ("S1", "pat@home.test")
        assert (restored.student_name, restored.guardian_name) == ("Ada Park", "Pat Park")
        assert (restored.source, restored.run_id, restored.legacy) == ("nightly", undo, "")
        assert (unnamed.roster_student_id, unnamed.roster_email) == ("", "")
        assert (unnamed.student_name, unnamed.guardian_name) == ("", "")


def test_a_moved_link_keeps_its_roster_text_and_a_removal_still_ends_it(tmp_path: Path) -> None:
    """A link whose ownership moved to another source keeps the row's student id and email,
    and the names it gave the people; removed later, it is no one's, move or not."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = start(journal, source="a")
        write(journal, run, "pair_direct", "ok", (11, 1), names=("Ada Park", "Pat Park"))
        finish(journal, run)
        later = start(journal, source="a")
        journal.move_owner(canvas_url=URL, link=(11, 1), source="b", run_id=later)
        finish(journal, later)
        (moved,) = journal.owned_links(canvas_url=URL)
        assert (moved.source, moved.run_id) == ("b", later)
        assert (moved.roster_student_id, moved.roster_email) == ("S1", "pat@home.test")
        assert (moved.student_name, moved.guardian_name) == ("Ada Park", "Pat Park")
        removal = start(journal, source="b")
        write(journal, removal, "remove_link", "ok", (11, 1), line=0)
        finish(journal, removal)
        assert owned(journal) == {}
