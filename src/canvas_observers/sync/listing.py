"""Which Canvas links tonight's roster lists: pure.

A row lists the link (observer's Canvas id, student's Canvas id) it resolves to, whatever
email or id text resolved it: a guardian found under a new email by their guardian id lists
the same link as before. A valid row that does not resolve tonight (student not found,
ambiguous, a mismatch, a conflict, a failure, a deleted account) lists the link its source's
last complete run resolved it to, found by the row's student and email or its student and
guardian id: only a row missing from the roster stops listing a link (docs/cli.md,
"Removing links").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.roster.model import RosterRow, roster_pair
from canvas_observers.store.history import Link, ListedRow

RESOLVED = frozenset(
    {
        Outcome.CREATED,
        Outcome.PAIRED,
        Outcome.ALREADY_PAIRED,
        Outcome.GUARDIAN_EMAIL_CHANGED,
        Outcome.GUARDIAN_UPDATED,
        Outcome.WOULD_PAIR,
        Outcome.NOT_ENROLLED,
    }
)
"""Outcomes of a row whose student and guardian are both known Canvas accounts."""


def resolved_links(results: Iterable[RowResult]) -> dict[int, Link]:
    """Line -> the link a row's result resolved it to (both Canvas ids known, an outcome that
    names the two accounts as the row's student and guardian)."""
    links: dict[int, Link] = {}
    for r in results:
        if (
            r.line > 0
            and r.outcome in RESOLVED
            and r.canvas_observer_id is not None
            and r.canvas_student_id is not None
        ):
            links[r.line] = (r.canvas_observer_id, r.canvas_student_id)
    return links


def listing(
    rows: Sequence[RosterRow],
    resolved: Iterable[Mapping[int, Link]],
    previous: Sequence[ListedRow],
    *,
    skip: Iterable[int] = (),
) -> list[ListedRow]:
    """The links tonight's rows list: each resolved link of a row (from every ``resolved``
    map: the snapshot's plan and the engine's results may both know one), else the link the
    previous listing had for the row. Lines in ``skip`` (on the do-not-pair list) list none."""
    maps = list(resolved)
    skipped = set(skip)
    by_pair: dict[tuple[str, str], list[ListedRow]] = {}
    by_guardian: dict[tuple[str, str], list[ListedRow]] = {}
    for old in previous:
        by_pair.setdefault((old.student_key, old.guardian_email), []).append(old)
        if old.guardian_id:
            by_guardian.setdefault((old.student_key, old.guardian_id), []).append(old)
    listed: list[ListedRow] = []
    for row in rows:
        if row.line in skipped:
            continue
        student_key, email = roster_pair(row.student_id, row.observer_email)
        links = {m[row.line] for m in maps if row.line in m}
        if not links:
            earlier = by_pair.get((student_key, email), [])
            if not earlier and row.guardian_id:
                earlier = by_guardian.get((student_key, row.guardian_id), [])
            links = {old.link for old in earlier}
        listed.extend(
            ListedRow(student_key, email, row.guardian_id, observer, student)
            for observer, student in sorted(links)
        )
    return listed
