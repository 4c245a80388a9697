"""The plan of a whole run, decided at once from a snapshot of Canvas: pure.

From the roster rows, the snapshot and the options to every row's outcome, in the engine's
order (guardians in roster order, each guardian's rows in line order, a new account made once
for siblings). No I/O, no clock. A dry run over a snapshot is this plan; a real run sends the
planned writes, and the engine judges each one by Canvas's answer with the same rules
(rules.py), since Canvas may have changed since the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sis_export import observer_sis_id
from canvas_observers.sync.identity import account_deleted, identity_change, predict, with_note
from canvas_observers.sync.rules import (
    AlreadyPaired,
    Found,
    ObserverState,
    Pair,
    PairingMethod,
    RowAction,
    Skip,
    dry_run_outcome,
    linked_student,
    not_enrolled,
    plan_row,
    roster_conflicts,
)
from canvas_observers.sync.snapshot import CanvasSnapshot


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """One row's decision: the action, and the outcome a dry run reports for it."""

    row: RosterRow
    action: RowAction
    outcome: Outcome
    detail: str = ""
    student: CanvasUser | None = None
    observer: CanvasUser | None = None


def plan_run(
    rows: Iterable[RosterRow],
    snapshot: CanvasSnapshot,
    *,
    method: PairingMethod,
    trust_contact_email: bool = False,
    observer_id_template: str = "{email}",
    update_guardians: bool = False,
    guardians: Mapping[str, int] | None = None,
) -> list[PlannedRow]:
    """Every row's decision, in line order; a guardian with a guardian id is found by the
    account remembered for it (``guardians``), then by its SIS id, and an email it changed is
    reported on its rows (identity.py)."""
    known = guardians or {}
    rows = sorted(rows, key=lambda r: r.line)
    conflicts = roster_conflicts(rows)
    groups: dict[str, list[RosterRow]] = {}
    planned: list[PlannedRow] = []
    for row in rows:
        if row.line in conflicts:
            skip = Skip(Outcome.CONFLICT, conflicts[row.line])
            planned.append(PlannedRow(row, skip, skip.outcome, skip.detail))
        else:
            groups.setdefault(row.email_key, []).append(row)
    for group in groups.values():
        first = group[0]
        sis_id = observer_sis_id(
            observer_id_template, email=first.observer_email, guardian_id=first.guardian_id
        )
        remembered = known.get(first.guardian_id) if first.guardian_id is not None else None
        if remembered is not None:
            found = snapshot.account(remembered)
            if found is None:
                for row in group:
                    outcome, detail = account_deleted(row, remembered)
                    planned.append(PlannedRow(row, Skip(outcome, detail), outcome, detail))
                continue
            state = found
        else:
            state = snapshot.observer(first.observer_email, sis_id)
        change = identity_change(state, first)
        owner = snapshot.login_owner(change.new_email) if change is not None else None
        note = predict(change, first, update=update_guardians, owner=owner)
        for row in group:
            decided, state = _plan_one(
                row, snapshot, state, method=method, trust_contact_email=trust_contact_email
            )
            outcome, detail = with_note(decided.outcome, decided.detail, note)
            planned.append(replace(decided, outcome=outcome, detail=detail))
    return sorted(planned, key=lambda p: p.row.line)


def _plan_one(
    row: RosterRow,
    snapshot: CanvasSnapshot,
    state: ObserverState,
    *,
    method: PairingMethod,
    trust_contact_email: bool,
) -> tuple[PlannedRow, ObserverState]:
    observer = state.user
    linked = linked_student(state.observees, row)
    if linked is not None:
        done = AlreadyPaired(linked)
        return PlannedRow(row, done, Outcome.ALREADY_PAIRED, "", linked, observer), state
    student = snapshot.student(row.student_id)
    user = student.user if isinstance(student, Found) else None
    action = plan_row(row, student, state, method=method, trust_contact_email=trust_contact_email)
    match action:
        case Skip(outcome, detail):
            return PlannedRow(row, action, outcome, detail, user, observer), state
        case AlreadyPaired(linked_user):
            return PlannedRow(row, action, Outcome.ALREADY_PAIRED, "", linked_user, observer), state
        case Pair(student=target):
            if method == "code" and snapshot.has_live_enrollment(target.id) is False:
                skip = not_enrolled()
                return PlannedRow(row, skip, skip.outcome, skip.detail, target, observer), state
            state = replace(
                state,
                observees=(*state.observees, target),
                login_exists=state.login_exists or action.create_observer,
            )
            return PlannedRow(row, action, dry_run_outcome(action), "", target, observer), state
