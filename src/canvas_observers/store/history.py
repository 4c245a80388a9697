"""What the journal knows across runs: the links this tool made and still owns, the accounts
it created, and the roster pairs earlier runs read (for removing links the SIS has ended, after
a grace of runs)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import roster_pair

NOT_ROSTER = frozenset(
    {Outcome.INVALID_ROW.value, Outcome.REMOVED.value, Outcome.WOULD_REMOVE.value}
)
"""Outcomes of report rows that are not valid roster rows (rejected rows, removals)."""


@dataclass(frozen=True, slots=True)
class OwnedLink:
    """A link this tool made and has not removed: Canvas ids and the roster row behind it."""

    observer_id: int
    student_id: int
    roster_student_id: str
    roster_email: str
    run_id: int

    @property
    def pair(self) -> tuple[str, str]:
        return roster_pair(self.roster_student_id, self.roster_email)


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """An account this tool created, with the guardian email of the row it was created for."""

    observer_id: int
    roster_email: str
    run_id: int


@dataclass(frozen=True, slots=True)
class RosterSeen:
    """The valid (student, guardian) pairs one earlier complete run read."""

    run_id: int
    pairs: frozenset[tuple[str, str]]
    valid_rows: int


def owned_links(conn: sqlite3.Connection, *, canvas_url: str) -> list[OwnedLink]:
    """The links this tool made on this Canvas and has not removed since.

    A link is owned when the last write the journal records for the pair (in real runs)
    made it (a pairing, or a create with a pairing code, answered or recovered), not when
    it removed it. Each carries the roster row that made it (student id and email), which
    is how later rosters are matched against it.
    """
    cur = conn.execute(
        "SELECT a.run_id, a.kind, a.canvas_observer_id, a.canvas_student_id,"
        " r.student_id, r.observer_email"
        " FROM actions a JOIN runs u ON u.id = a.run_id"
        " LEFT JOIN rows r ON r.run_id = a.run_id AND r.line = a.line AND a.line > 0"
        " WHERE u.canvas_url = ? AND u.dry_run = 0"
        " AND a.canvas_observer_id IS NOT NULL AND a.canvas_student_id IS NOT NULL"
        " AND ((a.kind IN ('pair_code', 'pair_direct', 'create_user')"
        "       AND a.result IN ('ok', 'recovered'))"
        "   OR (a.kind = 'remove_link' AND a.result IN ('ok', 'gone')))"
        " ORDER BY a.id",
        (canvas_url,),
    )
    owned: dict[tuple[int, int], OwnedLink] = {}
    for run_id, kind, observer, student, roster_student, roster_email in cur:
        pair = (observer, student)
        if kind == "remove_link":
            owned.pop(pair, None)
            continue
        before = owned.get(pair)
        owned[pair] = OwnedLink(
            observer_id=observer,
            student_id=student,
            roster_student_id=roster_student or (before.roster_student_id if before else ""),
            roster_email=roster_email or (before.roster_email if before else ""),
            run_id=run_id,
        )
    return list(owned.values())


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


def roster_history(
    conn: sqlite3.Connection, *, canvas_url: str, roster: str, before_run: int, limit: int
) -> list[RosterSeen]:
    """The (student id, lower-cased email) pairs of the latest complete real runs of this
    roster source before ``before_run``, newest first, with their valid row counts."""
    runs = conn.execute(
        "SELECT id FROM runs WHERE canvas_url = ? AND roster = ? AND dry_run = 0"
        " AND state = 'complete' AND id < ? ORDER BY id DESC LIMIT ?",
        (canvas_url, roster, before_run, limit),
    ).fetchall()
    seen: list[RosterSeen] = []
    for (run_id,) in runs:
        rows = conn.execute(
            "SELECT student_id, observer_email, outcome FROM rows WHERE run_id = ?",
            (run_id,),
        ).fetchall()
        valid = [(sid, email) for sid, email, outcome in rows if outcome not in NOT_ROSTER]
        seen.append(
            RosterSeen(
                run_id=run_id,
                pairs=frozenset(roster_pair(sid, email) for sid, email in valid),
                valid_rows=len(valid),
            )
        )
    return seen
