"""The pure removal rules, on Canvas accounts: owned links of this source only, ended at once
or after the grace runs, never a link another source lists, the do-not-pair list whoever
made the link, held runs and the removal limit."""

from __future__ import annotations

import dataclasses

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.store.history import OwnedLink, SourceRun
from canvas_observers.sync.removals import (
    Pending,
    Removal,
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


def test_the_grace_count_counts_each_absent_run_once_and_not_the_run_that_made_it() -> None:
    """--grace-runs 3: one earlier absent run leaves one more to go; two, and it goes. The run
    that made (or took over) the link does not count toward its absence."""
    one = plan(listed=set(), owned=[owned(2)], grace_runs=3, history=[seen(6)])
    assert [(p.student_id, p.runs_left) for p in one.pending] == [(2, 1)]
    two = plan(listed=set(), owned=[owned(2)], grace_runs=3, history=[seen(6), seen(5)])
    assert [r.student_id for r in two.removals] == [2]
    made = plan(listed=set(), owned=[owned(2, run_id=5)], history=[seen(5)])
    assert made.removals == ()
    assert [(p.student_id, p.runs_left) for p in made.pending] == [(2, 1)]


def test_a_link_canvas_no_longer_has_is_neither_removed_nor_pending() -> None:
    """Guardian 12 has no link left in Canvas (and no entry at all): nothing to remove."""
    result = plan(snapshot=snapshot({11: {1}}), owned=[owned(2)], listed=set(), history=[seen(5)])
    assert result.removals == () and result.pending == ()


def test_each_owned_link_is_judged_after_one_that_moves_ends_or_is_already_going() -> None:
    """A link that moves to another source, one the SIS ended, one the do-not-pair list
    removes: the links after them are still judged."""
    moved = plan(owned=[owned(1), owned(2)], listed=set(), others={B: {link(1)}})
    assert moved.moves == ((link(1), B),)
    assert [p.student_id for p in moved.pending] == [2]
    ended = plan(owned=[owned(1), owned(2)], listed=set(), ended={("S1", "g1@h.test"): "gone"})
    assert [r.student_id for r in ended.removals] == [1]
    assert [p.student_id for p in ended.pending] == [2]
    going = plan(owned=[owned(1), owned(2)], listed=set(), excluded={("S1", "g1@h.test"): ""})
    assert [(r.student_id, r.reason) for r in going.removals] == [(1, "on the do-not-pair list")]
    assert [p.student_id for p in going.pending] == [2]


def test_removals_and_pending_links_carry_the_rosters_names() -> None:
    """What a removal or a pending link shows: the roster's student and email, the reason,
    and the people's names: the student's as Canvas gives it, the guardian's as the journal
    remembers the roster giving it (Canvas's name for the account when it remembers none)."""
    kid, adult = "Kid 2", "G 2"
    gone = plan(history=[seen(5, 1, 3)], grace_runs=1)
    assert gone.removals == (
        Removal(
            12,
            2,
            "absent from the roster for this run",
            "S2",
            "g2@h.test",
            student_name=kid,
            guardian_name=adult,
        ),
    )
    ended = plan(ended={("S2", "g2@h.test"): "tobedeleted"})
    assert ended.removals == (
        Removal(
            12,
            2,
            "the SIS ended it (tobedeleted)",
            "S2",
            "g2@h.test",
            cause="ended",
            student_name=kid,
            guardian_name=adult,
        ),
    )
    history = [seen(5, 1, 3, valid=10), seen(4, 1, 3, valid=10)]
    held = plan(history=history, valid_rows=2)
    assert held.pending == (
        Pending(12, 2, "S2", "g2@h.test", 0, student_name=kid, guardian_name=adult),
    )
    assert held.first_run is False
    remembered = dataclasses.replace(owned(2), student_name="Old Name", guardian_name="Gail Two")
    pending = plan(owned=[owned(1), remembered]).pending
    assert [(p.student_name, p.guardian_name) for p in pending] == [("Kid 2", "Gail Two")]


def test_without_the_rosters_text_canvas_names_the_link() -> None:
    """A link the journal has no roster text for: the student's SIS id, else login, else
    name; the guardian's login, else email, else name; else the Canvas id."""
    snap = snapshot({11: {1}, 12: {2}, 13: {3}, 14: {4}})
    snap.users[3] = CanvasUser(id=3, name="Kid 3", login_id="kid3@s.test")
    snap.users[13] = CanvasUser(id=13, name="G 3", email="g3@mail.test")
    snap.users[4] = CanvasUser(id=4, name="Kid 4")
    snap.users[14] = CanvasUser(id=14, name="G 4")
    del snap.users[1], snap.users[11]
    links = [OwnedLink(10 + i, i, "", "", run_id=1, source=A) for i in (1, 2, 3, 4)]
    links[0] = dataclasses.replace(links[0], student_name="Ada One")  # the journal's, no more
    result = plan(snapshot=snap, owned=links, listed=set(), history=[seen(5)])
    names = sorted((p.student_id, p.roster_student_id, p.roster_email) for p in result.removals)
    assert names == [
        (1, "Canvas user 1", "Canvas user 11"),
        (2, "S2", "g2@h.test"),
        (3, "kid3@s.test", "g3@mail.test"),
        (4, "Kid 4", "G 4"),
    ]
    # Accounts Canvas no longer lists have no name from Canvas: the journal's, else none.
    gone = next(p for p in result.removals if p.student_id == 1)
    assert (gone.student_name, gone.guardian_name) == ("Ada One", "")


def test_the_removal_limit_is_a_maximum_and_a_forced_run_says_what_it_forced() -> None:
    """As many removals as --max-removals go; one more stops the run (its pending links and
    moves kept); forced, the plan keeps the reason it was let through."""
    at_limit = plan(owned=[owned(1), owned(2)], listed=set(), history=[seen(5)], max_removals=2)
    assert len(at_limit.removals) == 2 and at_limit.stop is None and not at_limit.forced
    over = plan(
        owned=[owned(1), owned(2), owned(3)],
        listed={link(3)},
        history=[],
        grace_runs=1,
        max_removals=1,
    )
    expected = (
        "2 links would be removed, more than --max-removals 1 (3 links are this roster's); "
        "check the roster, then run again with --force-removals if they really ended"
    )
    assert over == RemovalPlan(stop=expected, first_run=True)
    stopped = plan(
        owned=[owned(1), owned(2), owned(3), owned(4)],
        snapshot=snapshot({11: {1}, 12: {2}, 13: {3}, 14: {4}}),
        listed=set(),
        history=[seen(5, 3)],
        others={B: {link(4)}},
        max_removals=1,
    )
    assert stopped.stop is not None and stopped.removals == ()
    assert [p.student_id for p in stopped.pending] == [3]
    assert stopped.moves == ((link(4), B),)
    assert stopped.first_run is False
    forced = plan(
        owned=[owned(1), owned(2)], listed=set(), history=[seen(5)], max_removals=1, force=True
    )
    assert forced.stop is not None and forced.stop.startswith("2 links would be removed")


def test_the_held_and_pending_sentences() -> None:
    """A held run says how many rows, against what median of how many runs; a pending link
    says how many more runs."""
    one = plan(history=[seen(5, 1, 3, valid=10)], valid_rows=8)
    assert one.held == (
        "the roster has 8 valid rows, fewer than 90% of the 10 of this roster's last run "
        "(median): a truncated export must not unpair anyone, so no link was removed tonight "
        "(pairings went on); check the export, or, if the roster really shrank, run with "
        "--force-removals to make it the new baseline"
    )
    two = plan(history=[seen(5, 1, 3, valid=10), seen(4, 1, 3, valid=11)], valid_rows=8)
    assert two.held is not None and "of the 10.5 of this roster's last 2 runs (median)" in (
        two.held
    )
    assert Pending(12, 2, "S2", "g2@h.test", 1).sentence() == (
        "will be removed after 1 more run without it: student S2, guardian g2@h.test "
        "(Canvas ids 2/12)"
    )
    assert (
        Pending(12, 2, "S2", "g2@h.test", 2)
        .sentence()
        .startswith("will be removed after 2 more runs without it")
    )


def test_a_do_not_pair_entry_canvas_cannot_match_removes_nothing() -> None:
    """A student Canvas does not have, or a guardian account with no link at all: nothing to
    remove. A pair that is linked goes, named as the list names it."""
    snap = snapshot({11: {1}})
    excluded = {
        ("S404", "g1@h.test"): "court order",
        ("S1", "g2@h.test"): "",
        ("S1", "g1@h.test"): "",
    }
    result = plan(snapshot=snap, owned=[], excluded=excluded)
    assert result.removals == (
        Removal(
            11,
            1,
            "on the do-not-pair list",
            "S1",
            "g1@h.test",
            excluded=True,
            cause="excluded",
            student_name="Kid 1",
            guardian_name="G 1",
        ),
    )


def test_a_held_run_keeps_the_links_that_move_to_another_source() -> None:
    history = [seen(5, 1, 3, valid=10), seen(4, 1, 3, valid=10)]
    held = plan(history=history, valid_rows=2, listed=set(), others={B: {link(1)}})
    assert held.held is not None and held.moves == ((link(1), B),)
