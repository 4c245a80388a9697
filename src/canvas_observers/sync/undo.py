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
EXCLUDED_PREFIX = "on the do-not-pair list"  # the reason of a do-not-pair removal


class NothingToUndo(CanvasObserversError):
    """The run is unknown, was on another Canvas, was undone already, or removed no link that
    undo may put back."""


def _for_the_sis(action: ActionRecord) -> bool:
    """A removal made for the SIS's sake (absent, ended), not for the do-not-pair list
    (journals from before the cause was recorded say so in the reason)."""
    if action.cause:
        return action.cause != "excluded"
    return not action.detail.startswith(EXCLUDED_PREFIX)


def removed_by(
    journal: Journal, run_id: int, *, canvas_url: str
) -> tuple[list[ActionRecord], list[ActionRecord]]:
    """The removals a run made that undo puts back, and those it never does (the do-not-pair
    list's); NothingToUndo when there is nothing to put back."""
    run = journal.get_run(run_id)
    if run is None:
        raise NothingToUndo(f"there is no run {run_id} in the journal")
    if run.canvas_url != canvas_url:
        raise NothingToUndo(f"run {run_id} was on {run.canvas_url}, not {canvas_url}")
    earlier = journal.undone_by(run_id)
    if earlier is not None:
        raise NothingToUndo(
            f"run {run_id} was undone already, by run {earlier}: its links are back "
            "(`canvas-observers show "
            f"{earlier}` lists them)"
        )
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
    restore = [a for a in removed if _for_the_sis(a)]
    kept = [a for a in removed if not _for_the_sis(a)]
    if not restore:
        raise NothingToUndo(
            f"run {run_id} removed only links on the do-not-pair list, which undo never puts "
            "back (a person named each pair); take the pair off the list and pair it by hand "
            "if that is really meant"
        )
    return restore, kept


def _names(journal: Journal, run_id: int) -> dict[tuple[int, int], RowResult]:
    """The removal rows of a run by (observer, student): who each link was for."""
    return {
        (r.canvas_observer_id, r.canvas_student_id): r
        for r in journal.run_rows(run_id)
        if r.outcome is Outcome.REMOVED
        and r.canvas_observer_id is not None
        and r.canvas_student_id is not None
    }


def _tonight(
    journal: Journal, action: ActionRecord, *, canvas_url: str, source: str | None, grace: int
) -> str:
    """Whether tonight's `sync --remove-ended` would remove the restored link again."""
    link = (action.canvas_observer_id, action.canvas_student_id)
    if action.cause == "ended" or action.detail.startswith("the SIS ended it"):
        return (
            "if the SIS still marks this link ending, the next sync --remove-ended removes it "
            "again; change it in the SIS first"
        )
    if source is None:
        return "no roster source owns it: no sync removes it"
    listed = {
        row.link
        for row in journal.latest_listing(canvas_url=canvas_url, source=source, before_run=2**62)
    }
    if link in listed:
        return f"the latest roster of {source} lists it: it stays"
    if grace <= 1:
        return (
            f"the latest roster of {source} does not list it: the next sync --remove-ended of "
            f"{source} removes it again unless the SIS lists it by then"
        )
    return (
        f"the latest roster of {source} does not list it: a sync --remove-ended of {source} "
        f"removes it again once {grace} runs in a row are without it, unless the SIS lists it "
        "again before"
    )


async def undo_removals(
    client: CanvasClient,
    journal: Journal,
    run_id: int,
    *,
    canvas_url: str,
    now: Callable[[], datetime] = utc_now,
) -> tuple[int, list[RowResult]]:
    """Restore each link run ``run_id`` removed for the SIS's sake; the new run's id and one
    result per link (do-not-pair removals are listed as ``excluded``, not restored)."""
    restore, kept = removed_by(journal, run_id, canvas_url=canvas_url)
    removed_run = journal.get_run(run_id)
    assert removed_run is not None  # removed_by checked it
    source = removed_run.source
    grace = removed_run.settings.get("grace_runs", 2)
    grace = grace if isinstance(grace, int) else 2
    names = _names(journal, run_id)
    undo_run = journal.start_run(
        canvas_url=canvas_url,
        settings={"undo": run_id},
        roster=f"undo of run {run_id}",
        dry_run=False,
        started_at=iso_timestamp(now()),
        source=source,
        undoes=run_id,
        keep_source=True,
    )
    recorder = journal.for_run(undo_run, canvas_url=canvas_url)
    results: list[RowResult] = []
    state = "complete"

    def named(observer: int, student: int, outcome: Outcome, detail: str) -> RowResult:
        """The undo's row for a link, naming the student and guardian (by id and by name) as
        the removal row of the undone run did."""
        row = names.get((observer, student))
        return RowResult(
            line=0,
            student_id=row.student_id if row else "",
            observer_email=row.observer_email if row else "",
            outcome=outcome,
            detail=detail,
            canvas_student_id=student,
            canvas_observer_id=observer,
            student_name=row.student_name if row else "",
            guardian_name=row.guardian_name if row else "",
        )

    try:
        for action in kept:
            observer, student = action.canvas_observer_id, action.canvas_student_id
            assert observer is not None and student is not None  # removed_by keeps only these
            result_row = named(
                observer,
                student,
                Outcome.EXCLUDED,
                f"not restored: it was removed for the do-not-pair list ({action.detail}); "
                "undo never puts such a link back",
            )
            recorder.record_row(result_row, at=iso_timestamp(now()))
            results.append(result_row)
        for action in restore:
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
                later = _tonight(journal, action, canvas_url=canvas_url, source=source, grace=grace)
                detail = f"restored: run {run_id} had removed it ({action.detail}); {later}"
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
            result_row = named(observer, student, outcome, detail)
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
