"""Undoing a run's removals: put back exactly the links that run removed (the admin ``PUT``,
idempotent), as a run of its own in the journal, so the restored links are owned again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.errors import CanvasError, ConfigurationError
from canvas_observers.core.clock import iso_timestamp, utc_now
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.outcomes import ActionRecord, Outcome, RowResult
from canvas_observers.store.journal import Journal
from canvas_observers.sync.stopping import RunAborted, abort_reason

REMOVED = frozenset({"ok", "gone"})


class NothingToUndo(CanvasObserversError):
    """The run is unknown, was on another Canvas, or removed no link."""


def removed_by(journal: Journal, run_id: int, *, canvas_url: str) -> list[ActionRecord]:
    """The removals a run made; NothingToUndo when there are none to put back."""
    run = journal.get_run(run_id)
    if run is None:
        raise NothingToUndo(f"there is no run {run_id} in the journal")
    if run.canvas_url != canvas_url:
        raise NothingToUndo(f"run {run_id} was on {run.canvas_url}, not {canvas_url}")
    removed = [
        a
        for a in journal.run_actions(run_id)
        if a.kind == "remove_link"
        and a.result in REMOVED
        and a.canvas_observer_id is not None
        and a.canvas_student_id is not None
    ]
    if not removed:
        raise NothingToUndo(f"run {run_id} removed no link: there is nothing to undo")
    return removed


async def undo_removals(
    client: CanvasClient,
    journal: Journal,
    run_id: int,
    *,
    canvas_url: str,
    now: Callable[[], datetime] = utc_now,
) -> tuple[int, list[RowResult]]:
    """Restore each link run ``run_id`` removed; the new run's id and one result per link."""
    removed = removed_by(journal, run_id, canvas_url=canvas_url)
    undo_run = journal.start_run(
        canvas_url=canvas_url,
        settings={"undo": run_id},
        roster=f"undo of run {run_id}",
        dry_run=False,
        started_at=iso_timestamp(now()),
    )
    recorder = journal.for_run(undo_run, canvas_url=canvas_url)
    results: list[RowResult] = []
    state = "complete"
    try:
        for action in removed:
            observer, student = action.canvas_observer_id, action.canvas_student_id
            assert observer is not None and student is not None  # removed_by keeps only these
            try:
                await client.add_observee(observer, student)
            except ConfigurationError as error:
                raise RunAborted(abort_reason(error), error) from error
            except CanvasError as error:
                outcome, detail, result = Outcome.FAILED, f"not restored: {error}", "failed"
            else:
                outcome, result = Outcome.PAIRED, "ok"
                detail = f"restored: run {run_id} had removed it ({action.detail})"
            recorder.record_action(
                ActionRecord(
                    kind="pair_direct",
                    line=0,
                    at=iso_timestamp(now()),
                    result=result,
                    canvas_observer_id=observer,
                    canvas_student_id=student,
                    detail=detail,
                ),
            )
            result_row = RowResult(
                line=0,
                student_id="",
                observer_email="",
                outcome=outcome,
                detail=detail,
                canvas_student_id=student,
                canvas_observer_id=observer,
            )
            recorder.record_row(result_row, at=iso_timestamp(now()))
            results.append(result_row)
    except RunAborted:
        state = "stopped"
        raise
    finally:
        journal.finish_run(
            undo_run,
            ended_at=iso_timestamp(now()),
            state=state,
            totals={o.value: sum(r.outcome is o for r in results) for o in Outcome},
            api_calls=dict(client.counts.by_operation),
        )
    return undo_run, results
