"""The journal's memory of people, not rows: roster sources, ownership and its moves, what each
run listed, guardians followed by id, and journals from before sources (migration 0004)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.store import Journal
from canvas_observers.store.history import ListedRow, names_source
from canvas_observers.store.migrations import MIGRATIONS, apply_migrations

URL = "https://school.instructure.com"
T0 = "2026-12-01T02:00:00+00:00"


def _run(journal: Journal, roster: str, *, source: str | None = None, **more: object) -> int:
    run = journal.start_run(
        canvas_url=URL,
        settings={},
        roster=roster,
        dry_run=False,
        started_at=T0,
        source=source,
        **more,  # type: ignore[arg-type]
    )
    return run


def _pair(
    journal: Journal, run: int, line: int, student: str, email: str, link: tuple[int, int]
) -> None:
    recorder = journal.for_run(run, canvas_url=URL)
    recorder.record_row(
        RowResult(line, student, email, Outcome.PAIRED, "", link[1], link[0]), at=T0
    )
    recorder.record_action(
        ActionRecord(
            "pair_direct", line, T0, "ok", canvas_observer_id=link[0], canvas_student_id=link[1]
        )
    )


def _finish(journal: Journal, run: int) -> None:
    journal.finish_run(run, ended_at=T0, state="complete", totals={}, api_calls={})


def test_a_link_belongs_to_the_source_of_the_run_that_made_it(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        a = _run(journal, "a.csv", source="/srv/a.csv")
        _pair(journal, a, 2, "S1", "g1@h.test", (11, 1))
        _finish(journal, a)
        b = _run(journal, "b.csv", source="/srv/b.csv")
        _pair(journal, b, 2, "S2", "g2@h.test", (12, 2))
        _finish(journal, b)
        owners = {link.link: link.source for link in journal.owned_links(canvas_url=URL)}
        assert owners == {(11, 1): "/srv/a.csv", (12, 2): "/srv/b.csv"}
        later = _run(journal, "a.csv", source="/srv/a.csv")
        journal.move_owner(canvas_url=URL, link=(11, 1), source="/srv/b.csv", run_id=later)
        owners = {link.link: link.source for link in journal.owned_links(canvas_url=URL)}
        assert owners[(11, 1)] == "/srv/b.csv"
        moved = next(x for x in journal.owned_links(canvas_url=URL) if x.link == (11, 1))
        assert moved.run_id == later and moved.roster_student_id == "S1"


def test_what_a_run_listed_is_read_back_per_source(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        a = _run(journal, "a.csv", source="A", valid_rows=2)
        journal.record_listed(a, [ListedRow("S1", "g1@h.test", "G1", 11, 1)])
        _finish(journal, a)
        b = _run(journal, "b.csv", source="B", valid_rows=1)
        journal.record_listed(b, [ListedRow("S2", "g2@h.test", None, 12, 2)])
        journal.mark_removals(b, held="truncated")
        _finish(journal, b)
        now = _run(journal, "a.csv", source="A")
        runs = journal.source_runs(canvas_url=URL, source="A", before_run=now, limit=5)
        assert [(r.run_id, r.valid_rows, r.held, r.listed) for r in runs] == [
            (a, 2, False, frozenset({(11, 1)}))
        ]
        previous = journal.latest_listing(canvas_url=URL, source="A", before_run=now)
        assert journal.carried_links(canvas_url=URL, source="A") == previous
        assert previous == [ListedRow("S1", "g1@h.test", "G1", 11, 1)]
        assert journal.other_listings(canvas_url=URL, source="A", before_run=now) == {
            "B": frozenset({(12, 2)})
        }
        assert journal.get_run(b) is not None and journal.get_run(b).held == "truncated"  # type: ignore[union-attr]


def test_guardians_are_remembered_per_source_and_forgotten(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        a = _run(journal, "a.csv", source="A")
        journal.for_run(a, canvas_url=URL).remember_guardian(guardian_id="123", canvas_id=50, at=T0)
        b = _run(journal, "b.csv", source="B")
        journal.for_run(b, canvas_url=URL + "/").remember_guardian(
            guardian_id="123", canvas_id=60, at=T0
        )
        assert journal.known_guardians(canvas_url=URL, source="A") == {"123": 50}
        assert journal.guardian_sources(canvas_url=URL, guardian_id="123") == {"A": 50, "B": 60}
        assert journal.forget_guardian(canvas_url=URL, guardian_id="123", source="A")
        assert not journal.forget_guardian(canvas_url=URL, guardian_id="123", source="A")
        assert journal.known_guardians(canvas_url=URL, source="B") == {"123": 60}


def test_a_journal_from_before_sources_is_migrated_and_adopted(tmp_path: Path) -> None:
    """Runs recorded before sources have none: their links are no source's (never removed)
    until a run whose file ends with their roster string adopts them, undo runs included."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, now=T0, migrations=MIGRATIONS[:3])
    for run_id, roster, settings in (
        (1, "guardians.csv", "{}"),
        (2, "guardians.csv", "{}"),
        (3, "undo of run 2", '{"undo": 2}'),
        (4, "other/guardians.csv", "{}"),
    ):
        conn.execute(
            "INSERT INTO runs (id, canvas_url, roster, dry_run, started_at, ended_at, state,"
            " settings, pid, host) VALUES (?, ?, ?, 0, ?, ?, 'complete', ?, 1, 'h')",
            (run_id, URL, roster, T0, T0, settings),
        )
    conn.execute(
        "INSERT INTO rows (run_id, line, student_id, observer_email, outcome, at,"
        " canvas_student_id, canvas_observer_id)"
        " VALUES (1, 2, 'S1', 'g1@h.test', 'paired', ?, 1, 11)",
        (T0,),
    )
    for run_id, kind, line, observer, student, detail in (
        (1, "pair_direct", 2, 11, 1, ""),
        (1, "pair_direct", 3, 12, 2, ""),
        (2, "remove_link", 0, 12, 2, "on the do-not-pair list: court order"),
        (3, "pair_direct", 0, 12, 2, "restored"),
        (4, "pair_direct", 2, 14, 4, ""),
    ):
        conn.execute(
            "INSERT INTO actions (run_id, kind, line, at, result, canvas_observer_id,"
            " canvas_student_id, detail) VALUES (?, ?, ?, ?, 'ok', ?, ?, ?)",
            (run_id, kind, line, T0, observer, student, detail),
        )
    conn.close()
    with Journal.open(path) as journal:
        before = {x.link: (x.source, x.legacy) for x in journal.owned_links(canvas_url=URL)}
        assert before == {
            (11, 1): (None, "guardians.csv"),
            (12, 2): (None, "guardians.csv"),  # restored by the undo of a guardians.csv run
            (14, 4): (None, "other/guardians.csv"),
        }
        assert journal.get_run(3).undoes == 2  # type: ignore[union-attr]
        assert journal.get_run(1).valid_rows == 1  # type: ignore[union-attr]
        adopted = journal.adopt_legacy(
            canvas_url=URL, source="/srv/sis/guardians.csv", location="/srv/sis/guardians.csv"
        )
        assert adopted == ["guardians.csv"]
        after = {x.link: x.source for x in journal.owned_links(canvas_url=URL)}
        assert after == {
            (11, 1): "/srv/sis/guardians.csv",
            (12, 2): "/srv/sis/guardians.csv",
            (14, 4): None,  # /srv/sis/guardians.csv does not end with other/guardians.csv
        }
        named = next(x for x in journal.owned_links(canvas_url=URL) if x.link == (11, 1))
        assert (named.roster_student_id, named.roster_email) == ("S1", "g1@h.test")
        assert journal.adopt_legacy(canvas_url=URL, source="nightly", location="/x/y.csv") == []
        assert journal.adopt_legacy(
            canvas_url=URL, source="other/guardians.csv", location="/elsewhere.csv"
        ) == ["other/guardians.csv"]


def test_which_old_roster_strings_name_a_source() -> None:
    assert names_source(
        "guardians.csv", source="/srv/sis/guardians.csv", location="/srv/sis/guardians.csv"
    )
    assert names_source("./sis/guardians.csv", source="x", location="/srv/sis/guardians.csv")
    assert names_source("nightly", source="nightly", location="/srv/a.csv")
    assert not names_source("guardians.csv", source="x", location="/srv/sis/my-guardians.csv")
    assert not names_source("/old/guardians.csv", source="x", location="/srv/guardians.csv")
    assert names_source(
        "https://sis.example.org/ims/oneroster/v1p1",
        source="https://sis.example.org/ims/oneroster/v1p1",
        location="https://sis.example.org/ims/oneroster/v1p1",
    )
    assert not names_source("guardians.csv", source="x", location="https://sis/guardians.csv")
    assert not names_source("https://sis/guardians.csv", source="x", location="/srv/guardians.csv")
    # a URL is never a file's tail, even where a path's parts would end with its own
    assert not names_source(
        "https://x/g.csv", source="/a/https:/x/g.csv", location="/a/https:/x/g.csv"
    )
    assert not names_source("guardians.csv", source="x", location="")  # no file to end with
    assert names_source("sis\\guardians.csv", source="x", location="D:\\srv\\sis\\guardians.csv")
    assert names_source("./guardians.csv", source="x", location="/srv/sis/guardians.csv")
    # on a POSIX path a backslash is part of a file name, not a separator
    assert not names_source("sis\\guardians.csv", source="x", location="/srv/sis/guardians.csv")
    assert not names_source(".", source="x", location="/srv/sis/guardians.csv")  # no file named
    assert not names_source(
        "/srv/sis/guardians.csv", source="x", location="/x/srv/sis/guardians.csv"
    )


def test_what_earlier_runs_of_a_source_were_read_back_whole(tmp_path: Path) -> None:
    """Each earlier run as the removal rules see it: its valid rows (none recorded: 0), held or
    not, a baseline or not, the links it listed (None: not recorded), and whether it read
    Canvas whole or by look-ups only."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        old = _run(journal, "a.csv", source="A")
        _finish(journal, old)
        part = _run(journal, "a.csv", source="A", valid_rows=4)
        journal.record_listed(part, [ListedRow("S1", "g1@h.test", None, 11, 1)], whole=False)
        journal.mark_removals(part, baseline=True)
        _finish(journal, part)
        held = _run(journal, "a.csv", source="A", valid_rows=1)
        journal.record_listed(held, [])
        journal.mark_removals(held, held="truncated")
        _finish(journal, held)
        now = _run(journal, "a.csv", source="A")
        runs = journal.source_runs(canvas_url=URL, source="A", before_run=now, limit=5)
        assert [(r.run_id, r.valid_rows, r.held, r.baseline, r.listed, r.whole) for r in runs] == [
            (held, 1, True, False, frozenset(), True),
            (part, 4, False, True, frozenset({(11, 1)}), False),
            (old, 0, False, False, None, False),
        ]


def test_another_sources_held_run_adds_the_links_of_its_last_whole_one(tmp_path: Path) -> None:
    """B's latest run was held (a truncated export): the links of B's latest run that was not
    held still count as B's, with the held run's own; once B runs whole again, only that."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        whole = _run(journal, "b.csv", source="B")
        journal.record_listed(whole, [ListedRow("S2", "g2@h.test", None, 12, 2)])
        _finish(journal, whole)
        held = _run(journal, "b.csv", source="B")
        journal.record_listed(held, [ListedRow("S3", "g3@h.test", None, 13, 3)])
        journal.mark_removals(held, held="truncated")
        _finish(journal, held)
        now = _run(journal, "a.csv", source="A")
        assert journal.other_listings(canvas_url=URL, source="A", before_run=now) == {
            "B": frozenset({(12, 2), (13, 3)})
        }
        again = _run(journal, "b.csv", source="B")
        journal.record_listed(again, [ListedRow("S4", "g4@h.test", None, 14, 4)])
        _finish(journal, again)
        later = _run(journal, "a.csv", source="A")
        assert journal.other_listings(canvas_url=URL, source="A", before_run=later) == {
            "B": frozenset({(14, 4)})
        }


def test_a_run_is_undone_by_its_first_complete_undo_run(tmp_path: Path) -> None:
    """An undo run that did not complete does not count; the first complete one does."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = _run(journal, "a.csv", source="A")
        _finish(journal, run)
        assert journal.undone_by(run) is None
        _run(journal, "undo", source="A", undoes=run)  # still running: not an undo yet
        assert journal.undone_by(run) is None
        first = _run(journal, "undo", source="A", undoes=run)
        _finish(journal, first)
        second = _run(journal, "undo", source="A", undoes=run)
        _finish(journal, second)
        assert journal.undone_by(run) == first
        assert journal.undone_by(first) is None


def test_a_listing_that_cannot_be_recorded_leaves_nothing_half_written(tmp_path: Path) -> None:
    """A row the journal refuses (no student key) undoes the rows before it and the run's
    mark; the error is the database's, and the journal takes the next write as usual."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        run = _run(journal, "a.csv", source="A")
        good = ListedRow("S1", "g1@h.test", None, 11, 1)
        bad = ListedRow(None, "g2@h.test", None, 12, 2)  # type: ignore[arg-type]
        with pytest.raises(sqlite3.IntegrityError):
            journal.record_listed(run, [good, bad])
        _finish(journal, run)
        later = _run(journal, "a.csv", source="A")
        assert journal.latest_listing(canvas_url=URL, source="A", before_run=later) == []
        journal.record_listed(later, [good])
        _finish(journal, later)
        assert journal.latest_listing(canvas_url=URL, source="A", before_run=later + 1) == [good]


def test_a_run_without_a_source_records_its_listing_but_no_row_memory(tmp_path: Path) -> None:
    """A run with no source (a journal's runs from before sources) has no source to remember a
    row text's link under: its listing is kept, the per-row memory is not written."""
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal:
        run = _run(journal, "old.csv", keep_source=True)
        assert journal.get_run(run).source is None  # type: ignore[union-attr]
        journal.record_listed(run, [ListedRow("S1", "g1@h.test", None, 11, 1)])
        _finish(journal, run)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM listed").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM last_listed").fetchone() == (0,)
    finally:
        conn.close()


def test_an_adoption_refused_halfway_changes_no_run(tmp_path: Path) -> None:
    """adopt_legacy moves a legacy roster's undo runs, then its runs, in one transaction: when
    the second update is refused, the first is rolled back, the database's own error comes
    out, and the journal takes the next write."""
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal:
        first = _run(journal, "guardians.csv", keep_source=True)
        _finish(journal, first)
        undo = _run(journal, "undo of run 1", undoes=first, keep_source=True)
        _finish(journal, undo)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE OF source ON runs WHEN OLD.undoes IS NULL"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.close()
    with Journal.open(path) as journal:
        with pytest.raises(sqlite3.IntegrityError, match="refused"):
            journal.adopt_legacy(
                canvas_url=URL, source="/srv/guardians.csv", location="/srv/guardians.csv"
            )
        assert journal.get_run(undo).source is None  # type: ignore[union-attr]
        assert journal.get_run(first).source is None  # type: ignore[union-attr]
        later = _run(journal, "guardians.csv", source="/srv/guardians.csv")
        _finish(journal, later)
        assert journal.get_run(later).state == "complete"  # type: ignore[union-attr]
