"""The pure coverage audit: roster students against Canvas's links, who made each link, and
the accounts this tool created that observe nobody."""

from __future__ import annotations

from canvas_observers.audit.findings import BY_PERSON, BY_SIS, BY_TOOL, Finding, audit
from canvas_observers.canvas.models import CanvasUser
from canvas_observers.roster.model import RosterRow
from canvas_observers.store.history import CreatedAccount, OwnedLink
from canvas_observers.sync.snapshot import CanvasSnapshot


def district() -> CanvasSnapshot:
    """Students 1..6 (S1..S6, 4 not enrolled), two accounts with S7; guardians 11..16 with
    logins g1..g6@h.test; 12 observes 2 (listed), 11 observes 1 (tool), 13 observes 1 (SIS),
    15 observes 2 (a parent), 16 observes 5 (tool, S5 not in the roster)."""
    snap = CanvasSnapshot(
        observees={11: {1}, 12: {2}, 13: {1}, 15: {2}, 16: {5}},
        sis_links={(13, 1)},
        enrolled={1, 2, 3, 5, 6},
    )
    for i in range(1, 7):
        snap.users[i] = CanvasUser(id=i, name=f"Kid {i}", sis_user_id=f"S{i}")
        snap.by_sis[f"S{i}"] = {i}
        snap.users[10 + i] = CanvasUser(id=10 + i, name=f"G {i}", login_id=f"g{i}@h.test")
        snap.by_login[f"g{i}@h.test"] = {10 + i}
    for uid in (7, 8):
        snap.users[uid] = CanvasUser(id=uid, name="Twin", sis_user_id="S7")
    snap.by_sis["S7"] = {7, 8}
    return snap


def row(line: int, student: str, email: str) -> RosterRow:
    return RosterRow(line, student, email, "G", "Family")


ROWS = [
    row(2, "S1", "G1@h.test"),
    row(3, "S2", "g2@h.test"),
    row(4, "S3", "g3@h.test"),
    row(5, "S4", "new@h.test"),
    row(6, "S7", "g7@h.test"),
    row(7, "S9", "g9@h.test"),
    row(8, "S1", "g1@h.test"),  # the same guardian again: one guardian
]
OWNED = [OwnedLink(11, 1, "S1", "g1@h.test", 1), OwnedLink(16, 5, "S5", "g6@h.test", 1)]
CREATED = [
    CreatedAccount(11, "g1@h.test", 1),  # observes someone: not idle
    CreatedAccount(14, "g4@h.test", 2),  # observes nobody, no longer in the roster
    CreatedAccount(99, "gone@h.test", 2),  # not in Canvas any more: not reported
]


def pick(findings: tuple[Finding, ...]) -> list[tuple[str, int | None, str, str]]:
    return [(f.student_id, f.canvas_observer_id, f.observer, f.made_by) for f in findings]


def test_each_section_holds_what_it_says() -> None:
    """Not found (missing, ambiguous), unobserved with and without an SIS guardian, unlisted
    links with who made them, and idle accounts the tool created."""
    result = audit(ROWS, district(), owned=OWNED, created=CREATED)
    assert [(f.student_id, f.detail.split(" ")[0]) for f in result.students_not_found] == [
        ("S7", "several"),
        ("S9", "no"),
    ]
    assert pick(result.unobserved_with_guardian) == [
        ("S3", None, "g3@h.test", ""),
        ("S4", None, "new@h.test", ""),
    ]
    exists, missing = result.unobserved_with_guardian
    assert "account exists but is not linked" in exists.detail
    assert "no Canvas account for the guardian" in missing.detail
    assert "--pairing direct" in missing.detail  # S4 has no live enrollment
    assert pick(result.unobserved_without_guardian) == [("S6", None, "", "")]
    assert pick(result.unlisted_observers) == [
        ("S1", 13, "g3@h.test", BY_SIS),
        ("S2", 15, "g5@h.test", BY_PERSON),
        ("S5", 16, "g6@h.test", BY_TOOL),
    ]
    assert "not in the roster" in result.unlisted_observers[2].detail
    assert "--remove-ended" in result.unlisted_observers[2].detail
    assert "the SIS lists g1@h.test" in result.unlisted_observers[0].detail
    assert pick(result.idle_accounts) == [("", 14, "g4@h.test", BY_TOOL)]
    assert "no longer lists" in result.idle_accounts[0].detail


def test_each_roster_student_shows_guardians_and_observers() -> None:
    """S1: its one SIS guardian linked (by this tool), and an SIS-made observer not listed."""
    result = audit(ROWS, district(), owned=OWNED, created=CREATED)
    s1 = result.students[0].as_json()
    assert s1["canvas_student_id"] == 1
    assert s1["guardians"] == [{"email": "g1@h.test", "canvas_observer_id": 11, "linked": True}]
    assert s1["observers"] == [
        {"canvas_observer_id": 11, "observer": "g1@h.test", "listed": True, "made_by": BY_TOOL},
        {"canvas_observer_id": 13, "observer": "g3@h.test", "listed": False, "made_by": BY_SIS},
    ]
    s3 = result.students[2]
    assert [(g.email, g.canvas_observer_id, g.linked) for g in s3.guardians] == [
        ("g3@h.test", 13, False)
    ]
    assert [s.student_id for s in result.students] == ["S1", "S2", "S3", "S4", "S7", "S9"]


def test_totals_count_every_kind() -> None:
    """Counts of the roster, Canvas and each section, and unlisted links by who made them."""
    totals = audit(ROWS, district(), owned=OWNED, created=CREATED).totals
    assert totals == {
        "students": 6,  # the roster's found in Canvas (1-4) and the enrolled ones (5, 6)
        "students_observed": 3,  # 1, 2 and 5
        "roster_students": 6,
        "roster_students_found": 4,
        "sis_guardians": 6,
        "sis_guardians_linked": 2,
        "canvas_students": 5,
        "observer_links": 5,
        "students_not_found": 2,
        "unobserved_with_guardian": 2,
        "unobserved_without_guardian": 1,
        "unlisted_observers": 3,
        "idle_accounts": 1,
        "managed_logins": 0,
        "duplicate_accounts": 0,
        "staff_observers": 0,
        "unlisted_by_this_tool": 1,
        "unlisted_by_sis_import": 1,
        "unlisted_by_person_or_parent": 1,
    }
    # Every student is observed, or unobserved with or without a guardian: the audit's picture.
    unobserved = totals["unobserved_with_guardian"] + totals["unobserved_without_guardian"]
    assert totals["students_observed"] + unobserved == totals["students"]


def test_findings_name_the_people_canvas_names() -> None:
    """The page's names: a student's and an observer's as Canvas gives them (none for a
    student Canvas does not have); the JSON fields stay FINDING_FIELDS."""
    result = audit(ROWS, district(), owned=OWNED, created=CREATED)
    unlisted = {(f.student_name, f.observer_name) for f in result.unlisted_observers}
    assert unlisted == {("Kid 1", "G 3"), ("Kid 2", "G 5"), ("Kid 5", "G 6")}
    assert [f.student_name for f in result.unobserved_with_guardian] == ["Kid 3", "Kid 4"]
    assert [f.student_name for f in result.students_not_found] == ["", ""]
    assert [f.observer_name for f in result.idle_accounts] == ["G 4"]
    assert "student_name" not in result.unlisted_observers[0].as_json()


def test_a_guardian_found_by_contact_email_counts_as_listed() -> None:
    """An observer whose account has the SIS email only as its contact address is listed, and
    without a journal a link is never said to be this tool's."""
    snap = district()
    snap.users[15] = CanvasUser(id=15, name="G 5", login_id="other-login", email="g2b@h.test")
    snap.by_email["g2b@h.test"] = {15}
    rows = [row(2, "S2", "g2@h.test"), row(3, "S2", "g2b@h.test")]
    result = audit(rows, snap)
    assert [f.student_id for f in result.unlisted_observers] == ["S1", "S1", "S5"]
    assert {f.made_by for f in result.unlisted_observers} == {BY_PERSON, BY_SIS}
    assert result.idle_accounts == ()


def test_observer_logins_with_a_managed_password_are_listed() -> None:
    """With the providers read: an observer bound to an SSO provider, and one unbound with an
    SIS id on an account with SSO, are listed (the tool's account says so); a Canvas-bound one
    and an unbound one without SIS id are not; without the providers nothing is judged."""
    snap = district()
    snap.providers = {1: "canvas", 2: "saml"}
    snap.login_providers = {12: 2, 13: 1}
    snap.users[11] = CanvasUser(id=11, name="G 1", login_id="g1@h.test", sis_user_id="G-1")
    snap.users[15] = CanvasUser(id=15, name="G 5", login_id="g5@h.test")
    managed = audit(ROWS, snap, owned=OWNED, created=CREATED).managed_logins
    assert [(f.canvas_observer_id, f.observer, f.made_by) for f in managed] == [
        (11, "g1@h.test", BY_TOOL),
        (12, "g2@h.test", ""),
    ]
    assert "bound to the saml provider (2)" in managed[1].detail
    assert "SIS id and no provider" in managed[0].detail
    snap.providers = None
    assert audit(ROWS, snap, owned=OWNED, created=CREATED).managed_logins == ()
