"""What the journal knows across runs: the links this tool made and which roster source owns
each, the accounts it created, the Canvas links each run's roster listed, and the guardians it
follows by their SIS guardian id.

Everything here is keyed on Canvas ids and named roster sources, never on the text of a roster
row: when the SIS changes an email and the people stay the same, nothing here changes
(docs/cli.md, "Removing links").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath

from canvas_observers.roster.model import roster_pair

Link = tuple[int, int]  # (observer's Canvas id, student's Canvas id)


@dataclass(frozen=True, slots=True)
class OwnedLink:
    """A link this tool made and has not removed: Canvas ids, the roster text that last named
    it, and the roster source that owns it."""

    observer_id: int
    student_id: int
    roster_student_id: str
    roster_email: str
    run_id: int  # the run that made, restored or took it over: absence counts after it
    source: str | None = None  # the owning source; None: made before sources were recorded
    legacy: str = ""  # for a link with no source: the roster string of the run that made it
    # Who it was for, by name, as the row that last named it knew them ('' when not known:
    # rows recorded before names were kept).
    student_name: str = ""
    guardian_name: str = ""

    @property
    def pair(self) -> tuple[str, str]:
        return roster_pair(self.roster_student_id, self.roster_email)

    @property
    def link(self) -> Link:
        return (self.observer_id, self.student_id)


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """An account this tool created, with the guardian email of the row it was created for."""

    observer_id: int
    roster_email: str
    run_id: int


@dataclass(frozen=True, slots=True)
class SourceRun:
    """One earlier complete real run of a source, as the removal rules see it."""

    run_id: int
    valid_rows: int
    held: bool  # its removals were held (a truncated roster): left out of counts and medians
    baseline: bool  # --force-removals made it the source's new baseline
    listed: frozenset[Link] | None  # the links its roster listed; None: not recorded
    whole: bool = True  # read Canvas whole: a link it did not list was absent from its roster


@dataclass(frozen=True, slots=True)
class ListedRow:
    """One Canvas link a run's roster listed, with the roster text of the row that did."""

    student_key: str
    guardian_email: str
    guardian_id: str | None
    observer_id: int
    student_id: int

    @property
    def link(self) -> Link:
        return (self.observer_id, self.student_id)


def owned_links(conn: sqlite3.Connection, *, canvas_url: str) -> list[OwnedLink]:
    """The links this tool made on this Canvas and has not removed since, each with its owner.

    A link is owned when the last write the journal records for the pair (in real runs)
    made it (a pairing, or a create with a pairing code, answered or recovered), not when
    it removed it. Its owner is the source of the run that made it (an `undo` run belongs to
    the source of the run it undid), or the source it moved to since (``link_owners``). The
    roster text is the last a row of this tool gave it, kept across a removal and a restore,
    with the names that row gave the people.
    """
    cur = conn.execute(
        "SELECT a.run_id, a.kind, a.canvas_observer_id, a.canvas_student_id,"
        " r.student_id, r.observer_email, u.source, u.roster, v.roster,"
        " r.student_name, r.guardian_name"
        " FROM actions a JOIN runs u ON u.id = a.run_id"
        " LEFT JOIN runs v ON v.id = u.undoes"
        " LEFT JOIN rows r ON r.run_id = a.run_id AND r.line = a.line AND a.line > 0"
        " WHERE u.canvas_url = ? AND u.dry_run = 0"
        " AND a.canvas_observer_id IS NOT NULL AND a.canvas_student_id IS NOT NULL"
        " AND ((a.kind IN ('pair_code', 'pair_direct', 'create_user')"
        "       AND a.result IN ('ok', 'recovered'))"
        "   OR (a.kind = 'remove_link' AND a.result IN ('ok', 'gone')))"
        " ORDER BY a.id",
        (canvas_url,),
    )
    owned: dict[Link, OwnedLink] = {}
    names: dict[Link, tuple[str, str, str, str]] = {}
    for row in cur:
        run_id, kind, observer, student, roster_student, roster_email, source, roster, undone = row[
            :9
        ]
        student_name, guardian_name = row[9:]
        pair = (observer, student)
        if roster_student and roster_email:
            names[pair] = (roster_student, roster_email, student_name, guardian_name)
        if kind == "remove_link":
            owned.pop(pair, None)
            continue
        known = names.get(pair, ("", "", "", ""))
        owned[pair] = OwnedLink(
            observer_id=observer,
            student_id=student,
            roster_student_id=known[0],
            roster_email=known[1],
            run_id=run_id,
            source=source,
            legacy="" if source is not None else (undone or roster),
            student_name=known[2],
            guardian_name=known[3],
        )
    moved = conn.execute(
        "SELECT observer_id, student_id, source, run_id FROM link_owners WHERE canvas_url = ?",
        (canvas_url,),
    )
    for observer, student, source, run_id in moved:
        link = owned.get((observer, student))
        if link is not None and run_id >= link.run_id:
            owned[(observer, student)] = OwnedLink(
                observer,
                student,
                link.roster_student_id,
                link.roster_email,
                run_id,
                source=source,
                student_name=link.student_name,
                guardian_name=link.guardian_name,
            )
    return list(owned.values())


def move_owner(
    conn: sqlite3.Connection, *, canvas_url: str, link: Link, source: str, run_id: int
) -> None:
    """The link now belongs to ``source`` (its roster lists it; its owner's no longer does)."""
    conn.execute(
        "INSERT INTO link_owners (canvas_url, observer_id, student_id, source, run_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (canvas_url, observer_id, student_id)"
        " DO UPDATE SET source = excluded.source, run_id = excluded.run_id",
        (canvas_url, link[0], link[1], source, run_id),
    )


def created_accounts(conn: sqlite3.Connection, *, canvas_url: str) -> list[CreatedAccount]:
    """The accounts this tool created on this Canvas in real runs (a create answered, or a lost
    answer the look-up found done), each once, by its first creation."""
    cur = conn.execute(
        "SELECT a.run_id, a.canvas_observer_id, r.observer_email"
        " FROM actions a JOIN runs u ON u.id = a.run_id"
        " LEFT JOIN rows r ON r.run_id = a.run_id AND r.line = a.line AND a.line > 0"
        " WHERE u.canvas_url = ? AND u.dry_run = 0 AND a.kind = 'create_user'"
        " AND a.result IN ('ok', 'recovered') AND a.canvas_observer_id IS NOT NULL"
        " ORDER BY a.id",
        (canvas_url,),
    )
    created: dict[int, CreatedAccount] = {}
    for run_id, observer, email in cur:
        created.setdefault(observer, CreatedAccount(observer, email or "", run_id))
    return list(created.values())


def source_runs(
    conn: sqlite3.Connection, *, canvas_url: str, source: str, before_run: int, limit: int
) -> list[SourceRun]:
    """The latest complete real sync runs of this source before ``before_run``, newest first."""
    runs = conn.execute(
        "SELECT id, valid_rows, held, baseline, listed FROM runs WHERE canvas_url = ?"
        " AND source = ? AND dry_run = 0 AND state = 'complete' AND undoes IS NULL AND id < ?"
        " ORDER BY id DESC LIMIT ?",
        (canvas_url, source, before_run, limit),
    ).fetchall()
    seen: list[SourceRun] = []
    for run_id, valid_rows, held, baseline, listed in runs:
        links = _links_of(conn, run_id) if listed else None
        seen.append(
            SourceRun(run_id, valid_rows or 0, bool(held), bool(baseline), links, listed == 1)
        )
    return seen


def _links_of(conn: sqlite3.Connection, run_id: int) -> frozenset[Link]:
    cur = conn.execute("SELECT observer_id, student_id FROM listed WHERE run_id = ?", (run_id,))
    return frozenset((int(o), int(s)) for o, s in cur)


def carried_links(conn: sqlite3.Connection, *, canvas_url: str, source: str) -> list[ListedRow]:
    """For every row text this source's complete runs ever listed a link for, the link the
    latest of them listed: what a row that does not resolve tonight keeps listed."""
    cur = conn.execute(
        "SELECT student_key, guardian_email, guardian_id, observer_id, student_id"
        " FROM last_listed WHERE canvas_url = ? AND source = ?",
        (canvas_url, source),
    )
    return [ListedRow(*values) for values in cur]


def latest_listing(
    conn: sqlite3.Connection, *, canvas_url: str, source: str, before_run: int
) -> list[ListedRow]:
    """What the latest complete real run of this source that recorded its links listed."""
    row = conn.execute(
        "SELECT id FROM runs WHERE canvas_url = ? AND source = ? AND dry_run = 0"
        " AND state = 'complete' AND undoes IS NULL AND listed > 0 AND id < ?"
        " ORDER BY id DESC LIMIT 1",
        (canvas_url, source, before_run),
    ).fetchone()
    if row is None:
        return []
    cur = conn.execute(
        "SELECT student_key, guardian_email, guardian_id, observer_id, student_id"
        " FROM listed WHERE run_id = ?",
        (row[0],),
    )
    return [ListedRow(*values) for values in cur]


def other_listings(
    conn: sqlite3.Connection, *, canvas_url: str, source: str, before_run: int
) -> dict[str, frozenset[Link]]:
    """For every other source of this Canvas, the links its latest complete real run listed
    (with those of its latest run whose removals were not held, when that is an older one)."""
    cur = conn.execute(
        "SELECT source, max(id), max(CASE WHEN held = '' THEN id END) FROM runs"
        " WHERE canvas_url = ? AND source IS NOT NULL AND source <> ? AND dry_run = 0"
        " AND state = 'complete' AND undoes IS NULL AND listed > 0 AND id < ?"
        " GROUP BY source",
        (canvas_url, source, before_run),
    ).fetchall()
    listings: dict[str, frozenset[Link]] = {}
    for other, latest, latest_whole in cur:
        links = _links_of(conn, latest)
        if latest_whole is not None and latest_whole != latest:
            links |= _links_of(conn, latest_whole)
        listings[other] = links
    return listings


LISTED_WHOLE = 1  # runs.listed: the run read Canvas whole, every row that resolved is listed
LISTED_PARTLY = 2  # runs.listed: look-ups only; a row found by login alone gave no account id


def record_listed(
    conn: sqlite3.Connection, run_id: int, rows: Iterable[ListedRow], *, whole: bool = True
) -> None:
    """Record the links a run's roster listed (one transaction), and how completely; each
    row text's link becomes the one its source last listed for it."""
    rows = list(rows)
    run = conn.execute("SELECT canvas_url, source FROM runs WHERE id = ?", (run_id,)).fetchone()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if run is not None and run[1] is not None:
            conn.executemany(
                "INSERT INTO last_listed (canvas_url, source, student_key, guardian_email,"
                " guardian_id, observer_id, student_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (canvas_url, source, student_key, guardian_email) DO UPDATE SET"
                " guardian_id = excluded.guardian_id, observer_id = excluded.observer_id,"
                " student_id = excluded.student_id, run_id = excluded.run_id",
                [
                    (
                        run[0],
                        run[1],
                        r.student_key,
                        r.guardian_email,
                        r.guardian_id,
                        *r.link,
                        run_id,
                    )
                    for r in rows
                ],
            )
        conn.executemany(
            "INSERT INTO listed (run_id, student_key, guardian_email, guardian_id, observer_id,"
            " student_id) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, r.student_key, r.guardian_email, r.guardian_id, *r.link) for r in rows],
        )
        conn.execute(
            "UPDATE runs SET listed = ? WHERE id = ?",
            (LISTED_WHOLE if whole else LISTED_PARTLY, run_id),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# -- sources recorded before sources existed ------------------------------------------------


def legacy_sources(conn: sqlite3.Connection, *, canvas_url: str) -> list[str]:
    """The roster strings of earlier sync runs that no source has adopted yet."""
    cur = conn.execute(
        "SELECT DISTINCT roster FROM runs WHERE canvas_url = ? AND source IS NULL"
        " AND undoes IS NULL AND dry_run = 0 ORDER BY roster",
        (canvas_url,),
    )
    return [roster for (roster,) in cur]


def names_source(legacy: str, *, source: str, location: str) -> bool:
    """Whether a roster string recorded before sources existed names this source: the same
    name, or a path the source's file (its resolved ``location``) ends with, e.g.
    ``guardians.csv`` typed in cron's folder for ``/srv/sis/guardians.csv``."""
    if legacy == source or (location and legacy == location):
        return True
    if not location or "://" in legacy or "://" in location:
        return False
    flavour: type[PurePath] = PureWindowsPath if "\\" in location else PurePosixPath
    tail = [p for p in flavour(legacy).parts if p not in (".", "")]
    parts = list(flavour(location).parts)
    if not tail or flavour(legacy).is_absolute():
        return False
    return parts[-len(tail) :] == tail


def adopt_legacy(
    conn: sqlite3.Connection, *, canvas_url: str, source: str, location: str
) -> list[str]:
    """Make the earlier runs whose roster string names this source (``names_source``) runs of
    it, their `undo` runs too; the links they made are then this source's. The names adopted."""
    adopted = [
        legacy
        for legacy in legacy_sources(conn, canvas_url=canvas_url)
        if names_source(legacy, source=source, location=location)
    ]
    for legacy in adopted:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "UPDATE runs SET source = ? WHERE canvas_url = ? AND source IS NULL AND undoes IN"
                " (SELECT id FROM runs WHERE canvas_url = ? AND roster = ? AND source IS NULL"
                "  AND undoes IS NULL)",
                (source, canvas_url, canvas_url, legacy),
            )
            conn.execute(
                "UPDATE runs SET source = ? WHERE canvas_url = ? AND source IS NULL"
                " AND undoes IS NULL AND roster = ?",
                (source, canvas_url, legacy),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return adopted


# -- guardians followed by their SIS guardian id --------------------------------------------


def known_guardians(conn: sqlite3.Connection, *, canvas_url: str, source: str) -> dict[str, int]:
    """Guardian id -> the Canvas account a row with that id last resolved to, for one source."""
    cur = conn.execute(
        "SELECT guardian_id, canvas_id FROM guardians WHERE canvas_url = ? AND source = ?",
        (canvas_url, source),
    )
    return {guardian_id: int(canvas_id) for guardian_id, canvas_id in cur}


def remember_guardian(
    conn: sqlite3.Connection,
    *,
    canvas_url: str,
    source: str,
    guardian_id: str,
    canvas_id: int,
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO guardians (canvas_url, source, guardian_id, canvas_id, learned_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (canvas_url, source, guardian_id)"
        " DO UPDATE SET canvas_id = excluded.canvas_id, learned_at = excluded.learned_at",
        (canvas_url, source, guardian_id, canvas_id, at),
    )


def guardian_sources(
    conn: sqlite3.Connection, *, canvas_url: str, guardian_id: str
) -> dict[str, int]:
    """Source -> the account remembered for this guardian id, for every source that has one."""
    cur = conn.execute(
        "SELECT source, canvas_id FROM guardians WHERE canvas_url = ? AND guardian_id = ?",
        (canvas_url, guardian_id),
    )
    return {source: int(canvas_id) for source, canvas_id in cur}


def forget_guardian(
    conn: sqlite3.Connection, *, canvas_url: str, guardian_id: str, source: str
) -> bool:
    """Drop what is remembered of this guardian id for this source; False if nothing was."""
    cur = conn.execute(
        "DELETE FROM guardians WHERE canvas_url = ? AND source = ? AND guardian_id = ?",
        (canvas_url, source, guardian_id),
    )
    return cur.rowcount > 0


def undone_by(conn: sqlite3.Connection, run_id: int) -> int | None:
    """The complete `undo` run that already undid ``run_id``, if any."""
    row = conn.execute(
        "SELECT id FROM runs WHERE undoes = ? AND state = 'complete' ORDER BY id LIMIT 1",
        (run_id,),
    ).fetchone()
    return None if row is None else int(row[0])
