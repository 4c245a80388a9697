"""Which links to remove, decided purely on Canvas accounts: links the SIS has ended, and pairs
a person put on the do-not-pair list.

Rules (docs/cli.md, "Removing links"):

* a link is (the observer's Canvas id, the student's Canvas id). What tonight's roster lists is
  the set of links its rows resolve to, whatever email or id text resolved them, plus, for a
  valid row that does not resolve tonight, the link its source's last complete run resolved it
  to (listing.py). Only a row missing from the roster counts toward absence;
* only links **owned by this run's source** (the journal shows this tool made them for it, on
  this Canvas) are removed for the SIS's sake: at once when the SIS marks the link, guardian or
  student ending (``tobedeleted``), or when the link has been absent from ``grace_runs``
  consecutive complete real runs of the source (this one included; runs whose removals were
  held are skipped, runs from before the link was made or restored do not count);
* a link that the latest complete run of **another source** lists is never removed: it
  becomes that source's;
* a pair on the do-not-pair list that is linked in Canvas is removed whoever made the link;
* a run whose roster has fewer than 90% of the valid rows of its source's recent runs (the
  median of the last five whole ones) is **held**: it removes nothing for the SIS's sake and
  does not count, and it never becomes the baseline later runs are compared with, unless
  forced (the do-not-pair list's removals go on: a person named each pair);
* nothing is removed when the rule-based removals would exceed ``max_removals`` (by default the
  larger of 10 and 5% of the owned links), unless forced: the run then stops with nothing
  written.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from canvas_observers.store.history import Link, OwnedLink, SourceRun
from canvas_observers.sync.rules import Found
from canvas_observers.sync.snapshot import CanvasSnapshot

MIN_MAX_REMOVALS = 10
MAX_REMOVALS_SHARE = 0.05
TRUNCATED_SHARE = 0.9
MEDIAN_RUNS = 5  # the whole runs of a source the truncation check compares with

Pair = tuple[str, str]  # roster_pair(student id, email): what the do-not-pair list names


@dataclass(frozen=True, slots=True)
class Removal:
    """One link to remove, why, and the student and guardian it stands for."""

    observer_id: int
    student_id: int
    reason: str
    roster_student_id: str
    roster_email: str
    excluded: bool = False  # asked for by the do-not-pair list (not held by the removal limit)
    cause: str = "absent"  # absent | ended | excluded
    student_name: str = ""
    guardian_name: str = ""

    @property
    def link(self) -> Link:
        return (self.observer_id, self.student_id)


@dataclass(frozen=True, slots=True)
class Pending:
    """An owned link the roster no longer lists, not removed yet: ``runs_left`` more runs of
    its source that do not list it, and it goes (0: it would go tonight, but the run is held)."""

    observer_id: int
    student_id: int
    roster_student_id: str
    roster_email: str
    runs_left: int
    student_name: str = ""
    guardian_name: str = ""

    def sentence(self) -> str:
        who = (
            f"student {self.roster_student_id}, guardian {self.roster_email} "
            f"(Canvas ids {self.student_id}/{self.observer_id})"
        )
        if self.runs_left == 0:
            return f"would have been removed tonight, but the run is held: {who}"
        runs = "run" if self.runs_left == 1 else "runs"
        return f"will be removed after {self.runs_left} more {runs} without it: {who}"


@dataclass(frozen=True, slots=True)
class RemovalPlan:
    removals: tuple[Removal, ...] = ()
    stop: str | None = None  # why nothing may be removed (the removal limit), if so
    forced: bool = False  # --force-removals let a stop or a hold through
    held: str | None = None  # why this run's removals are held (a truncated roster)
    pending: tuple[Pending, ...] = ()
    moves: tuple[tuple[Link, str], ...] = ()  # owned links another source's roster lists
    first_run: bool = False  # the source has no earlier complete run: counting starts now
    baseline: bool = False  # a held run forced through: the source's new baseline


def default_max_removals(owned: int) -> int:
    return max(MIN_MAX_REMOVALS, math.ceil(MAX_REMOVALS_SHARE * owned))


def plan_removals(
    *,
    snapshot: CanvasSnapshot,
    source: str,
    owned: Sequence[OwnedLink],
    listed: Collection[Link],
    valid_rows: int,
    ended: Mapping[Pair, str],
    excluded: Mapping[Pair, str],
    history: Sequence[SourceRun],
    others: Mapping[str, Collection[Link]],
    grace_runs: int,
    max_removals: int | None = None,
    force: bool = False,
    remove_ended: bool = True,
) -> RemovalPlan:
    """The removals for this run of ``source``, the links pending, and any hold or stop.

    ``history`` is the source's earlier complete real runs, newest first; ``others`` the links
    every other source's latest complete run listed.
    """
    if not remove_ended:
        return RemovalPlan()  # the do-not-pair list then only keeps its pairs from being linked
    removals: dict[Link, Removal] = {}
    for (student_key, email), reason in excluded.items():
        for pair in _linked(snapshot, student_key, email):
            removals[pair] = Removal(
                *pair,
                f"on the do-not-pair list: {reason}" if reason else "on the do-not-pair list",
                student_key,
                email,
                excluded=True,
                cause="excluded",
                student_name=_canvas_name(snapshot, pair[1]),
                guardian_name=_canvas_name(snapshot, pair[0]),
            )
    present = set(listed)
    ended_links = {
        pair: reason
        for (student_key, email), reason in ended.items()
        for pair in _linked(snapshot, student_key, email)
    }
    mine = [link for link in owned if link.source == source]
    pending: list[Pending] = []
    moves: list[tuple[Link, str]] = []
    for link in mine:
        key = link.link
        if key in removals or link.student_id not in snapshot.observees.get(link.observer_id, ()):
            continue  # already going, or no longer linked in Canvas
        if key in present:
            continue
        lister = next((name for name, links in sorted(others.items()) if key in links), None)
        if lister is not None:
            moves.append((key, lister))  # another source's roster lists it: now that source's
            continue
        student, email = _names(link, snapshot)
        kid, adult = _people(link, snapshot)
        if key in ended_links:
            why = f"the SIS ended it ({ended_links[key]})"
            removals[key] = Removal(
                *key, why, student, email, cause="ended", student_name=kid, guardian_name=adult
            )
            continue
        left = _runs_left(link, history, grace_runs)
        if left == 0:
            runs = "this run" if grace_runs == 1 else f"{grace_runs} runs in a row"
            why = f"absent from the roster for {runs}"
            removals[key] = Removal(
                *key, why, student, email, student_name=kid, guardian_name=adult
            )
        else:
            pending.append(
                Pending(*key, student, email, left, student_name=kid, guardian_name=adult)
            )
    held = _held(valid_rows, history)
    ordered = tuple(sorted(removals.values(), key=lambda r: (r.roster_email, r.roster_student_id)))
    first = not any(not run.held for run in history)
    if held is not None and not force:
        # The roster's truncation says nothing about the do-not-pair list: a person named each
        # of its pairs (a court order must not wait for the SIS export to be fixed).
        named = tuple(r for r in ordered if r.excluded)
        late = tuple(
            Pending(
                *r.link,
                r.roster_student_id,
                r.roster_email,
                0,
                student_name=r.student_name,
                guardian_name=r.guardian_name,
            )
            for r in ordered
            if not r.excluded
        )
        return RemovalPlan(
            named, held=held, pending=(*late, *pending), moves=tuple(moves), first_run=first
        )
    ruled = [r for r in ordered if not r.excluded]
    limit = default_max_removals(len(mine)) if max_removals is None else max_removals
    stop = None
    if len(ruled) > limit:
        stop = (
            f"{len(ruled)} links would be removed, more than --max-removals {limit} "
            f"({len(mine)} links are this roster's); check the roster, then run again with "
            "--force-removals if they really ended"
        )
        if not force:
            return RemovalPlan(
                stop=stop, pending=tuple(pending), moves=tuple(moves), first_run=first
            )
    forced_over = stop if stop is not None else held
    return RemovalPlan(
        ordered,
        stop=forced_over,
        forced=forced_over is not None,
        pending=tuple(pending),
        moves=tuple(moves),
        first_run=first,
        baseline=held is not None,
    )


def _runs_left(link: OwnedLink, history: Sequence[SourceRun], grace_runs: int) -> int:
    """How many more runs must not list the link before it goes (0: it goes tonight), this run
    (which does not list it) counted. The earlier runs that count are the source's complete
    ones since the link was made or restored that read Canvas whole; held runs and runs that
    recorded no links are skipped, and a run that listed it ends the count."""
    needed = grace_runs - 1  # earlier runs, besides this one
    absent = 0
    for run in history:
        if absent >= needed or run.run_id <= link.run_id:
            break
        if run.held or run.listed is None:
            continue  # held, or recorded before runs kept their links: neither counts nor breaks
        if link.link in run.listed:
            break
        if run.whole:  # a run of look-ups only may miss a link, so it never counts as absence
            absent += 1
    return max(needed - absent, 0)


def whole_runs(history: Sequence[SourceRun]) -> list[SourceRun]:
    """The source's runs the truncation check compares with: not held, from its latest baseline
    on, the newest ``MEDIAN_RUNS``."""
    whole: list[SourceRun] = []
    for run in history:
        if run.held:
            continue
        whole.append(run)
        if run.baseline or len(whole) == MEDIAN_RUNS:
            break
    return whole


def _held(valid_rows: int, history: Sequence[SourceRun]) -> str | None:
    whole = whole_runs(history)
    if not whole:
        return None
    median = statistics.median(run.valid_rows for run in whole)
    if valid_rows >= TRUNCATED_SHARE * median:
        return None
    runs = "run" if len(whole) == 1 else f"{len(whole)} runs"
    return (
        f"the roster has {valid_rows} valid rows, fewer than 90% of the {median:g} of this "
        f"roster's last {runs} (median): a truncated export must not unpair anyone, so no link "
        "was removed tonight (pairings went on); check the export, or, if the roster really "
        "shrank, run with --force-removals to make it the new baseline"
    )


def _names(link: OwnedLink, snapshot: CanvasSnapshot) -> tuple[str, str]:
    """The student and guardian as the roster named them, or as Canvas does when the journal
    has no roster text for the link (never blanks)."""
    student, email = link.roster_student_id, link.roster_email
    if not student:
        user = snapshot.users.get(link.student_id)
        student = (user.sis_user_id or user.login_id or user.name) if user else ""
        student = student or f"Canvas user {link.student_id}"
    if not email:
        user = snapshot.users.get(link.observer_id)
        email = (user.login_id or user.email or user.name) if user else ""
        email = email or f"Canvas user {link.observer_id}"
    return student, email


def _people(link: OwnedLink, snapshot: CanvasSnapshot) -> tuple[str, str]:
    """The student's and guardian's names for a removal row: the student's as Canvas gives it
    now (as every row's), else as the journal remembers it; the guardian's as the roster last
    gave it (the journal), else as Canvas does."""
    return (
        _canvas_name(snapshot, link.student_id) or link.student_name,
        link.guardian_name or _canvas_name(snapshot, link.observer_id),
    )


def _canvas_name(snapshot: CanvasSnapshot, user_id: int) -> str:
    user = snapshot.users.get(user_id)
    return user.name if user is not None else ""


def _linked(snapshot: CanvasSnapshot, student_key: str, email: str) -> list[Link]:
    """The Canvas links between the student and the guardian a do-not-pair entry (or an SIS
    ending) names: every account that has the email as its login or email (a court order
    names a person)."""
    student = snapshot.student(student_key)
    students = [student.user.id] if isinstance(student, Found) else []
    observers = snapshot.accounts_with(email)
    return [
        (observer, kid)
        for observer in sorted(observers)
        for kid in students
        if kid in snapshot.observees.get(observer, ())
    ]
