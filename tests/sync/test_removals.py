"""The pure removal rules: owned links only, ended at once or after the grace runs, the
do-not-pair list whoever made the link, and the safety stops."""

from __future__ import annotations

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.store.history import OwnedLink, RosterSeen
from canvas_observers.sync.removals import default_max_removals, plan_removals
from canvas_observers.sync.snapshot import CanvasSnapshot


def snapshot(links: dict[int, set[int]]) -> CanvasSnapshot:
    """Students 1..9 with SIS ids S1..S9, guardians 11..19 with logins g1..g9@h.test."""
    snap = CanvasSnapshot(observees={k: set(v) for k, v in links.items()})
    for i in range(1, 10):
        snap.users[i] = CanvasUser(id=i, name=f"Kid {i}", sis_user_id=f"S{i}")
        snap.by_sis[f"S{i}"] = {i}
        snap.users[10 + i] = CanvasUser(id=10 + i, name=f"G {i}", login_id=f"g{i}@h.test")
        snap.by_login[f"g{i}@h.test"] = {10 + i}
    return snap


def owned(i: int) -> OwnedLink:
    return OwnedLink(10 + i, i, f"S{i}", f"g{i}@h.test", run_id=1)


def seen(run_id: int, *indexes: int, valid: int | None = None) -> RosterSeen:
    pairs = frozenset((f"S{i}", f"g{i}@h.test") for i in indexes)
    return RosterSeen(run_id, pairs, len(pairs) if valid is None else valid)


def plan(**overrides: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "snapshot": snapshot({11: {1}, 12: {2}, 13: {3}}),
        "owned": [owned(1), owned(2)],
        "roster_pairs": {("S1", "g1@h.test"), ("S3", "g3@h.test")},
        "valid_rows": 2,
        "ended": {},
        "excluded": {},
        "history": [seen(5, 1, 2, 3, valid=2)],
        "grace_runs": 2,
    }
    args.update(overrides)
    return plan_removals(**args)  # type: ignore[arg-type]


def test_absent_for_the_grace_runs_goes_and_not_before() -> None:
    """Absent now but present in the last run: kept; absent now and last run: removed."""
    assert plan().removals == ()
    gone = plan(history=[seen(5, 1, 3, valid=2)])
    assert [(r.observer_id, r.student_id) for r in gone.removals] == [(12, 2)]
    assert "2 runs in a row" in gone.removals[0].reason


def test_a_link_that_is_not_owned_is_never_removed_by_the_rules() -> None:
    """S3's link (not this tool's) is absent from every roster: it stays."""
    result = plan(roster_pairs=set(), history=[seen(5, valid=0)], owned=[])
    assert result.removals == ()


def test_the_sis_ending_a_link_removes_it_at_once() -> None:
    """tobedeleted in the SIS: removed even while still in the roster."""
    result = plan(ended={("S1", "g1@h.test"): "tobedeleted"})
    assert [(r.student_id, r.reason) for r in result.removals] == [
        (1, "the SIS ended it (tobedeleted)")
    ]


def test_the_do_not_pair_list_removes_whoever_made_the_link() -> None:
    """A listed pair linked by someone else is removed, with the file's reason."""
    result = plan(excluded={("S3", "g3@h.test"): "court order"})
    assert [(r.observer_id, r.student_id, r.excluded) for r in result.removals] == [(13, 3, True)]
    assert "court order" in result.removals[0].reason


def test_safety_stops_remove_nothing_unless_forced() -> None:
    """Too many removals, or a truncated roster: a stop and no removal; forced, all go."""
    many = plan(
        owned=[owned(1), owned(2)], roster_pairs=set(), history=[seen(5, valid=0)], max_removals=1
    )
    assert many.stop is not None and many.removals == ()
    truncated = plan(history=[seen(5, 1, 3, valid=10)], valid_rows=2)
    assert truncated.stop is not None and "fewer than 90%" in truncated.stop
    forced = plan(history=[seen(5, 1, 3, valid=10)], valid_rows=2, force=True)
    assert forced.forced and len(forced.removals) == 1
    assert default_max_removals(0) == 10 and default_max_removals(1000) == 50
