"""Which links tonight's roster lists: resolved rows by the link they resolve to, unresolved
rows by the link their source's previous run had for them, missing rows by none."""

from __future__ import annotations

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.roster.model import RosterRow
from canvas_observers.store.history import ListedRow
from canvas_observers.sync.listing import listing, resolved_links


def row(line: int, student: str, email: str, guardian_id: str | None = None) -> RosterRow:
    return RosterRow(line, student, email, "Pat", "Lee", guardian_id=guardian_id)


PREVIOUS = [
    ListedRow("S1", "pat@h.test", "G1", 11, 1),
    ListedRow("S2", "sam@h.test", None, 12, 2),
    ListedRow("S3", "kim@h.test", "G3", 13, 3),
]


def test_a_resolved_row_lists_the_link_it_resolves_to_whatever_its_text() -> None:
    """S1's guardian has a new email tonight, and resolves to the same account: listed."""
    rows = [row(2, "S1", "new@h.test", "G1")]
    assert [r.link for r in listing(rows, [{2: (11, 1)}], PREVIOUS)] == [(11, 1)]


def test_an_unresolved_row_keeps_its_previous_link_by_text_or_guardian_id() -> None:
    """S2 did not resolve tonight (same text): its previous link stays listed; S3's guardian
    has a new email and did not resolve: found by the guardian id; a row missing from the
    roster lists nothing."""
    rows = [row(2, "S2", "SAM@h.test"), row(3, "S3", "other@h.test", "G3")]
    listed = listing(rows, [{}], PREVIOUS)
    assert sorted(r.link for r in listed) == [(12, 2), (13, 3)]
    assert (11, 1) not in {r.link for r in listed}
    assert {r.guardian_email for r in listed} == {"sam@h.test", "other@h.test"}


def test_a_resolved_row_lists_tonights_link_not_the_previous_one() -> None:
    """S1's row resolves tonight to another guardian account than last run's: tonight's link is
    listed, under the row's own text (the email lower-cased), and the previous one is not."""
    rows = [row(2, "S1", "Pat@H.test", "G1")]
    listed = listing(rows, [{}, {2: (21, 1)}], PREVIOUS)
    assert listed == [ListedRow("S1", "pat@h.test", "G1", 21, 1)]


def test_a_new_row_that_does_not_resolve_lists_nothing() -> None:
    """A row no earlier run listed, with or without a guardian id, that does not resolve
    tonight has no link to keep."""
    rows = [row(2, "S7", "new@h.test"), row(3, "S8", "other@h.test", "G8")]
    assert listing(rows, [{}], PREVIOUS) == []


def test_a_guardian_id_new_to_the_row_keeps_its_link_by_text() -> None:
    """S2's row carries a guardian id tonight (last run's had none) and does not resolve: its
    link is still found by its student and email."""
    rows = [row(2, "S2", "sam@h.test", "G2")]
    assert [r.link for r in listing(rows, [{}], PREVIOUS)] == [(12, 2)]


def test_a_row_on_the_do_not_pair_list_lists_nothing() -> None:
    """Only the excluded row: the rows after it are listed as usual."""
    rows = [row(2, "S1", "pat@h.test", "G1"), row(3, "S2", "sam@h.test")]
    listed = listing(rows, [{2: (11, 1)}], PREVIOUS, skip=[2])
    assert [r.link for r in listed] == [(12, 2)]


def test_only_results_that_name_both_accounts_as_the_rows_resolve_it() -> None:
    results = [
        RowResult(2, "S1", "pat@h.test", Outcome.ALREADY_PAIRED, "", 1, 11),
        RowResult(3, "S2", "sam@h.test", Outcome.OBSERVER_MISMATCH, "", 2, 12),
        RowResult(4, "S3", "kim@h.test", Outcome.PAIRED, "", 3, None),
        RowResult(0, "S4", "lee@h.test", Outcome.REMOVED, "", 4, 14),
        RowResult(0, "S5", "ash@h.test", Outcome.PAIRED, "", 5, 15),  # not a roster row
        RowResult(1, "S6", "kit@h.test", Outcome.CREATED, "", 6, 16),  # the first line is one
    ]
    assert resolved_links(results) == {2: (11, 1), 1: (16, 6)}
