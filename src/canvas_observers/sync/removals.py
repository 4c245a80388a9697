"""Which links to remove, decided purely: links the SIS has ended, and pairs a person put on
the do-not-pair list.

Rules (docs/cli.md, "Removing links"):

* only **owned** links (the journal shows this tool made them, on this Canvas) are removed for
  the SIS's sake: at once when the SIS marks the link, guardian or student ending
  (``tobedeleted``), or when the pair has been absent from the roster for ``grace_runs``
  consecutive complete real runs of the same roster source, this one included;
* a pair on the do-not-pair list that is linked in Canvas is removed whoever made the link;
* safety stops, unless forced: nothing is removed when the rule-based removals would exceed
  ``max_removals`` (by default the larger of 10 and 5% of the owned links), or when the roster
  has fewer than 90% of the valid rows of the last complete run (a truncated export must never
  unpair a district). Removals the do-not-pair list asks for do not count toward the limit (a
  person named each pair), but a stop holds them too: the run then writes nothing at all.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from canvas_observers.roster.model import roster_pair
from canvas_observers.store.history import OwnedLink, RosterSeen
from canvas_observers.sync.rules import Found
from canvas_observers.sync.snapshot import CanvasSnapshot

MIN_MAX_REMOVALS = 10
MAX_REMOVALS_SHARE = 0.05
TRUNCATED_SHARE = 0.9

Pair = tuple[str, str]  # roster_pair(student id, email)


@dataclass(frozen=True, slots=True)
class Removal:
    """One link to remove, why, and the roster pair it stands for."""

    observer_id: int
    student_id: int
    reason: str
    roster_student_id: str
    roster_email: str
    excluded: bool = False  # asked for by the do-not-pair list (not held by safety stops)


@dataclass(frozen=True, slots=True)
class RemovalPlan:
    removals: tuple[Removal, ...] = ()
    stop: str | None = None  # why nothing may be removed (a safety stop), if so
    forced: bool = False  # --force-removals let a safety stop through


def default_max_removals(owned: int) -> int:
    return max(MIN_MAX_REMOVALS, math.ceil(MAX_REMOVALS_SHARE * owned))


def plan_removals(
    *,
    snapshot: CanvasSnapshot,
    owned: Sequence[OwnedLink],
    roster_pairs: Collection[Pair],
    valid_rows: int,
    ended: Mapping[Pair, str],
    excluded: Mapping[Pair, str],
    history: Sequence[RosterSeen],
    grace_runs: int,
    max_removals: int | None = None,
    force: bool = False,
) -> RemovalPlan:
    """The removals for this run, or a safety stop (then nothing is removed)."""
    removals: dict[tuple[int, int], Removal] = {}
    for (student_key, email), reason in excluded.items():
        for observer_id, student_id in _linked(snapshot, student_key, email):
            removals[(observer_id, student_id)] = Removal(
                observer_id,
                student_id,
                f"on the do-not-pair list: {reason}" if reason else "on the do-not-pair list",
                student_key,
                email,
                excluded=True,
            )
    present = set(roster_pairs)
    for link in owned:
        key = (link.observer_id, link.student_id)
        if key in removals or link.student_id not in snapshot.observees.get(link.observer_id, ()):
            continue  # already going, or no longer linked in Canvas
        why = _why_ended(link.pair, present, ended, history, grace_runs)
        if why is not None:
            removals[key] = Removal(
                link.observer_id, link.student_id, why, link.roster_student_id, link.roster_email
            )
    ruled = [r for r in removals.values() if not r.excluded]
    stop = _safety_stop(
        ruled, owned=len(owned), valid_rows=valid_rows, history=history, max_removals=max_removals
    )
    ordered = tuple(sorted(removals.values(), key=lambda r: (r.roster_email, r.roster_student_id)))
    if stop is not None and not force:
        return RemovalPlan(stop=stop)
    return RemovalPlan(ordered, stop=stop, forced=stop is not None)


def _linked(snapshot: CanvasSnapshot, student_key: str, email: str) -> list[tuple[int, int]]:
    """The Canvas links between the student and the guardian a do-not-pair entry names: every
    account that has the email as its login or email (a court order names a person)."""
    student = snapshot.student(student_key)
    students = [student.user.id] if isinstance(student, Found) else []
    observers = snapshot.accounts_with(email)
    return [
        (observer, kid)
        for observer in sorted(observers)
        for kid in students
        if kid in snapshot.observees.get(observer, ())
    ]


def _why_ended(
    pair: Pair,
    present: set[Pair],
    ended: Mapping[Pair, str],
    history: Sequence[RosterSeen],
    grace_runs: int,
) -> str | None:
    if pair in ended:
        return f"the SIS ended it ({ended[pair]})"
    if pair in present:
        return None
    earlier = list(history[: max(grace_runs - 1, 0)])
    if len(earlier) < grace_runs - 1 or any(pair in seen.pairs for seen in earlier):
        return None
    runs = "run" if grace_runs == 1 else f"{grace_runs} runs in a row"
    return f"absent from the roster for {runs}"


def _safety_stop(
    ruled: Sequence[Removal],
    *,
    owned: int,
    valid_rows: int,
    history: Sequence[RosterSeen],
    max_removals: int | None,
) -> str | None:
    if not ruled:
        return None
    limit = default_max_removals(owned) if max_removals is None else max_removals
    if len(ruled) > limit:
        return (
            f"{len(ruled)} links would be removed, more than --max-removals {limit} "
            f"({owned} links are this tool's); check the roster, then run again with "
            "--force-removals if they really ended"
        )
    if history and valid_rows < TRUNCATED_SHARE * history[0].valid_rows:
        return (
            f"the roster has {valid_rows} valid rows, fewer than 90% of the "
            f"{history[0].valid_rows} of the last complete run (run {history[0].run_id}): a "
            "truncated export must not unpair anyone; check it, or run with --force-removals"
        )
    return None


def pairs_of(rows: Sequence[tuple[str, str]]) -> set[Pair]:
    """Roster rows' (student id, email) as compared across runs."""
    return {roster_pair(student, email) for student, email in rows}
