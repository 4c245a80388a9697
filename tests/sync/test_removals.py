"""The pure removal rules, on Canvas accounts: owned links of this source only, ended at once
or after the grace runs, never a link another source lists, the do-not-pair list whoever
made the link, held runs and the removal limit."""

from __future__ import annotations

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.store.history import OwnedLink, SourceRun
from canvas_observers.sync.removals import (
    RemovalPlan,
    default_max_removals,
    plan_removals,
    whole_runs,
)
from canvas_observers.sync.snapshot import CanvasSnapshot

A, B = "/srv/a.csv", "/srv/b.csv"


def snapshot(links: dict[int, set[int]]) -> CanvasSnapshot:
    """Students 1..9 with SIS ids S1..S9, guardians 11..19 with logins g1..g9@h.test."""
    snap = CanvasSnapshot(observees={k: set(v) for k, v in links.items()})
    for i in range(1, 10):
        snap.users[i] = CanvasUser(id=i, name=f"Kid {i}", sis_user_id=f"S{i}")
        snap.by_sis[f"S{i}"] = {i}
        snap.users[10 + i] = CanvasUser(id=10 + i, name=f"G {i}", login_id=f"g{i}@h.test")
        snap.by_login[f"g{i}@h.test"] = {10 + i}
    return snap


def owned(i: int, source: str | None = A, run_id: int = 1) -> OwnedLink:
    return OwnedLink(10 + i, i, f"S{i}", f"g{i}@h.test", run_id=run_id, source=source)


def link(i: int) -> tuple[int, int]:
    return (10 + i, i)


def seen(run_id: int, *indexes: int, valid: int = 3, held: bool = False) -> SourceRun:
    return SourceRun(run_id, valid, held, False, frozenset(link(i) for i in indexes))


def plan(**overrides: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "snapshot": snapshot({11: {1}, 12: {2}, 13: {3}}),
        "source": A,
        "owned": [owned(1), owned(2)],
        "listed": {link(1), link(3)},
        "valid_rows": 3,
        "ended": {},
        "excluded": {},
        "history": [seen(5, 1, 2, 3)],
        "others": {},
        "grace_runs": 2,
    }
    args.update(overrides)
    return plan_removals(**args)  # type: ignore[arg-type]


def test_absent_for_the_grace_runs_goes_and_not_before() -> None:
    """Absent now but listed by the last run: pending; absent now and last run: removed."""
    kept = plan()
    assert kept.removals == ()
    assert [(p.student_id, p.runs_left) for p in kept.pending] == [(2, 1)]
    assert "after 1 more run" in kept.pending[0].sentence()
    assert "S2" in kept.pending[0].sentence() and "g2@h.test" in kept.pending[0].sentence()
    gone = plan(history=[seen(5, 1, 3)])
    assert [(r.observer_id, r.student_id) for r in gone.removals] == [link(2)]
    assert "2 runs in a row" in gone.removals[0].reason
    assert gone.removals[0].roster_email == "g2@h.test"


def test_a_link_listed_under_any_text_is_kept() -> None:
    """The link is what counts: listed tonight (whatever row text resolved it), it stays."""
    result = plan(listed={link(1), link(2)}, history=[seen(5), seen(4)])
    assert result.removals == () and result.pending == ()


def test_runs_before_the_link_was_made_or_restored_do_not_count() -> None:
    """A link made (or restored by undo) in run 6: the absent runs 4 and 5 before it do not
    count, so it is pending, not removed."""
    result = plan(owned=[owned(2, run_id=6)], listed=set(), history=[seen(5), seen(4)])
    assert result.removals == ()
    assert [p.runs_left for p in result.pending] == [1]


def test_held_runs_neither_count_nor_break_the_grace_count() -> None:
    """Run 5 was held: skipped; run 4 did not list the link either: it goes tonight."""
    result = plan(history=[seen(5, 2, held=True), seen(4, 1, 3)])
    assert [r.student_id for r in result.removals] == [2]


def test_runs_that_recorded_no_links_are_no_evidence() -> None:
    """Runs from before links were recorded (listed None): the link is kept, pending."""
    old = SourceRun(5, 3, False, False, None)
    result = plan(history=[old])
    assert result.removals == ()
    assert [p.runs_left for p in result.pending] == [1]


def test_only_this_sources_links_are_removed() -> None:
    """Another source's link, and a link from before sources (no owner), are never touched."""
    result = plan(
        owned=[owned(2, source=B), owned(3, source=None)],
        listed=set(),
        history=[seen(5), seen(4)],
    )
    assert result.removals == () and result.pending == ()


def test_a_link_another_source_lists_is_kept_and_moves_to_it() -> None:
    result = plan(history=[seen(5, 1, 3)], others={B: frozenset({link(2)})})
    assert result.removals == ()
    assert result.moves == ((link(2), B),)


def test_a_link_that_is_not_owned_is_never_removed_by_the_rules() -> None:
    """S3's link (not this tool's) is absent from every roster: it stays."""
    result = plan(listed=set(), history=[seen(5, valid=0)], owned=[])
    assert result.removals == ()


def test_the_sis_ending_a_link_removes_it_at_once() -> None:
    """tobedeleted in the SIS, and no row lists it: removed without waiting for the grace."""
    result = plan(listed={link(3)}, ended={("S1", "g1@h.test"): "tobedeleted"})
    assert [(r.student_id, r.reason, r.cause) for r in result.removals] == [
        (1, "the SIS ended it (tobedeleted)", "ended")
    ]


def test_the_do_not_pair_list_removes_whoever_made_the_link() -> None:
    """A listed pair linked by someone else is removed, with the file's reason."""
    result = plan(excluded={("S3", "g3@h.test"): "court order"})
    assert [(r.observer_id, r.student_id, r.excluded, r.cause) for r in result.removals] == [
        (13, 3, True, "excluded")
    ]
    assert "court order" in result.removals[0].reason


def test_a_truncated_roster_holds_every_removal() -> None:
    """Fewer than 90% of the median of the whole runs: held, nothing removed, the removal
    that was due listed as pending (0 runs left); forced, it goes and is the new baseline."""
    history = [seen(5, 1, 3, valid=10), seen(4, 1, 3, valid=10), seen(3, 1, 3, valid=10)]
    held = plan(history=history, valid_rows=8)
    assert held.held is not None and "fewer than 90%" in held.held
    assert held.removals == ()
    assert [(p.student_id, p.runs_left) for p in held.pending] == [(2, 0)]
    forced = plan(history=history, valid_rows=8, force=True)
    assert forced.forced and forced.baseline and len(forced.removals) == 1
    assert plan(history=history, valid_rows=9).held is None


def test_the_median_skips_held_runs_and_starts_at_the_baseline() -> None:
    """Held runs leave the median; a forced baseline cuts off the runs before it."""
    runs = [
        seen(9, valid=5, held=True),
        seen(8, valid=10),
        SourceRun(7, 6, False, True, frozenset()),
        seen(6, valid=100),
    ]
    assert [r.run_id for r in whole_runs(runs)] == [8, 7]
    # median of 10 and 6 is 8 (with run 6's 100 it would be 10, and 8 rows would be held)
    assert plan(history=runs, valid_rows=8).held is None
    assert plan(history=runs, valid_rows=7).held is not None


def test_the_removal_limit_stops_unless_forced() -> None:
    many = plan(
        owned=[owned(1), owned(2)],
        listed=set(),
        history=[seen(5, valid=3)],
        max_removals=1,
    )
    assert many.stop is not None and many.removals == ()
    forced = plan(
        owned=[owned(1), owned(2)],
        listed=set(),
        history=[seen(5, valid=3)],
        max_removals=1,
        force=True,
    )
    assert forced.forced and len(forced.removals) == 2
    assert default_max_removals(0) == 10 and default_max_removals(1000) == 50


def test_a_first_run_says_so() -> None:
    assert plan(history=[]).first_run
    assert not plan().first_run


def test_a_run_of_look_ups_only_is_presence_but_never_absence() -> None:
    """Run 5 read Canvas by look-ups (a row found by login alone gives no account id): not
    listing the link there is no evidence; listing it there still breaks the count."""
    partial = SourceRun(5, 3, False, False, frozenset(), whole=False)
    assert plan(history=[partial, seen(4, 1, 3)]).removals != ()  # run 4 counts
    result = plan(history=[partial, seen(4, 1, 2, 3)])
    assert result.removals == () and [p.runs_left for p in result.pending] == [1]
    present = SourceRun(5, 3, False, False, frozenset({link(2)}), whole=False)
    assert plan(history=[present, seen(4, 1, 3)]).removals == ()


def test_without_remove_ended_nothing_is_removed() -> None:
    """A run with --exclude but not --remove-ended: the do-not-pair list only keeps its pairs
    from being linked; neither its linked pair, nor an SIS-ended link, nor a link absent for
    the grace runs is removed, and nothing is pending or held."""
    result = plan(
        remove_ended=False,
        listed=set(),
        valid_rows=1,
        history=[seen(5, valid=10), seen(4, valid=10)],
        ended={("S2", "g2@h.test"): "tobedeleted"},
        excluded={("S3", "g3@h.test"): "court order"},
    )
    assert result == RemovalPlan()


def test_a_held_run_still_removes_what_the_do_not_pair_list_names() -> None:
    """The roster is truncated: the SIS's removals wait, a court order's does not."""
    history = [seen(5, 1, 3, valid=10), seen(4, 1, 3, valid=10)]
    result = plan(history=history, valid_rows=2, excluded={("S3", "g3@h.test"): "court order"})
    assert result.held is not None
    assert [(r.student_id, r.cause) for r in result.removals] == [(3, "excluded")]
    assert [(p.student_id, p.runs_left) for p in result.pending] == [(2, 0)]
