"""The pure coverage audit: roster students against Canvas's links, who made each link, and
the accounts this tool created that observe nobody."""

from __future__ import annotations

import io
import zipfile

from canvas_observers.audit.findings import BY_PERSON, BY_SIS, BY_TOOL, Finding, audit
from canvas_observers.canvas.models import CanvasUser
from canvas_observers.roster.model import RosterRow, RowProblem
from canvas_observers.store.history import CreatedAccount, OwnedLink
from canvas_observers.sync.snapshot import CanvasSnapshot, parse_snapshot


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
        "guardians_without_email": 0,
        "unlisted_observers": 3,
        "idle_accounts": 1,
        "managed_logins": 0,
        "lost_observer_enrollments": 0,
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


def no_email(line: int, student: str, first: str, guardian_id: str | None = None) -> RowProblem:
    return RowProblem(
        line,
        "no email",
        student,
        "",
        observer_first_name=first,
        observer_last_name="Family",
        guardian_id=guardian_id,
        no_email=True,
    )


def test_guardians_without_email_are_listed_by_name_not_rejected() -> None:
    """Each guardian the SIS has no email for, once per student, named with their student
    (found in Canvas or not); another rejected row is no such guardian; a student nobody
    observes whose only SIS guardian has no email says so, naming them."""
    problems = [
        no_email(9, "S6", "Rosa"),
        no_email(10, "S6", "Rosa"),  # the same guardian again (a duplicated row)
        no_email(11, "S2", "Ann", "G-2"),
        no_email(12, "S9", "Eve"),  # a student Canvas does not have
        RowProblem(13, "observer_email has no '@'", "S3", "bad"),
    ]
    result = audit(ROWS, district(), owned=OWNED, created=CREATED, no_email=problems)
    found = [
        (f.student_id, f.canvas_student_id, f.student_name, f.observer_name, f.observer)
        for f in result.guardians_without_email
    ]
    assert found == [
        ("S6", 6, "Kid 6", "Rosa Family", ""),
        ("S2", 2, "Kid 2", "Ann Family", ""),
        ("S9", None, "", "Eve Family", ""),
    ]
    assert "the SIS has no email for Rosa Family" in result.guardians_without_email[0].detail
    assert result.totals["guardians_without_email"] == 3
    (s6,) = result.unobserved_without_guardian
    assert (
        s6.detail == "the SIS lists Rosa Family for this student, with no email: add it in the SIS"
    )
    plain = audit(ROWS, district(), owned=OWNED, created=CREATED)
    assert plain.unobserved_without_guardian[0].detail.startswith("the SIS lists no guardian")


ENROLLMENTS = (
    "canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,"
    "section_id,status,canvas_associated_user_id,associated_user_id,created_by_sis,"
    "base_role_type,limit_section_privileges,canvas_enrollment_id\n"
)


def enrollment(course: int, user: int, role: str, status: str, associated: str = "") -> str:
    base = "StudentEnrollment" if role == "student" else "ObserverEnrollment"
    return f"{course},C{course},{user},,{role},,,,{status},{associated},,false,{base},false,1\n"


def test_lost_observer_enrollments_are_each_link_and_course_without_one() -> None:
    """From the report's enrollments: a live link whose observer has no active or pending
    observer enrollment for that student in a course the student is active or invited in.
    An inactive, deleted or missing observer enrollment counts as lost; one for another
    student does not count; a concluded or inactive student enrollment asks for none."""
    rows = [
        enrollment(100, 1, "student", "active"),
        enrollment(200, 1, "student", "invited"),
        enrollment(300, 1, "student", "concluded"),
        enrollment(400, 1, "student", "inactive"),
        enrollment(100, 2, "student", "active"),
        enrollment(100, 11, "observer", "active", "1"),  # 11 follows 1 in 100
        enrollment(200, 11, "observer", "inactive", "1"),  # ... but not in 200
        enrollment(100, 12, "observer", "active", "1"),  # 12 observes 2, not 1, in 100
        enrollment(100, 13, "observer", "invited", "1"),  # pending counts as live
        enrollment(200, 13, "observer", "active", ""),  # no associated user: not following
    ]
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as report:
        report.writestr("users.csv", "canvas_user_id,user_id,login_id,email,status\n")
        report.writestr("enrollments.csv", ENROLLMENTS + "".join(rows))
    snap = parse_snapshot(data.getvalue(), kinds=("users", "enrollments"))
    snap.observees = {11: {1}, 12: {2}, 13: {1}}
    for uid in (1, 2):
        snap.users[uid] = CanvasUser(id=uid, name=f"Kid {uid}", sis_user_id=f"S{uid}")
        snap.by_sis[f"S{uid}"] = {uid}
    for uid in (11, 12, 13):
        snap.users[uid] = CanvasUser(id=uid, name=f"G {uid}", login_id=f"g{uid}@h.test")
    result = audit([row(2, "S1", "g11@h.test")], snap, owned=[OwnedLink(11, 1, "S1", "", 1)])
    assert [
        (f.student_id, f.canvas_observer_id, f.course, f.canvas_course_id, f.made_by)
        for f in result.lost_observer_enrollments
    ] == [
        ("S1", 11, "C200", 200, BY_TOOL),
        ("S1", 13, "C200", 200, BY_PERSON),
        ("S2", 12, "C100", 100, BY_PERSON),
    ]
    first = result.lost_observer_enrollments[0]
    assert (first.student_name, first.observer_name) == ("Kid 1", "G 11")
    assert first.as_json()["course"] == "C200" and "course C200" in first.detail
    assert result.totals["lost_observer_enrollments"] == 3


def test_no_enrollments_read_means_no_lost_enrollments() -> None:
    """The district above read without an enrollments table: nothing is called lost."""
    assert audit(ROWS, district()).lost_observer_enrollments == ()


def families() -> CanvasSnapshot:
    """Kids 1..3 (S1..S3); guardians: 21 "Ana Diaz" (login ana@h.test) observes 1, and 22
    "Diaz, Ana" (login ana.d@work.test, email ana@h.test) observes nobody (pattern a); 23, made
    by this tool for bo@h.test, observes nobody while 24 (email bo@h.test) observes 2 (pattern
    b); 25 and 26, both "Cy Lee", observe 3 (pattern c); 27 "Dee Ray" shares 28's email and
    observes 3, but 28 is "Ed Ray": another person."""
    snap = CanvasSnapshot(observees={21: {1}, 24: {2}, 25: {3}, 26: {3}, 27: {3}, 28: {1}})
    for i in range(1, 4):
        snap.users[i] = CanvasUser(id=i, name=f"Kid {i}", sis_user_id=f"S{i}")
        snap.by_sis[f"S{i}"] = {i}
    accounts = [
        (21, "Ana Diaz", None, "ana@h.test", None),
        (22, "Ana Diaz", "Diaz, Ana", "ana.d@work.test", "ana@h.test"),
        (23, "Bo Ng", None, "bo@h.test", "bo@h.test"),
        (24, "Bo Ng-Smith", None, "bong", "bo@h.test"),
        (25, "Cy Lee", None, "cy@h.test", None),
        (26, "cy LEE", None, "c.lee", None),
        (27, "Dee Ray", None, "dee", "rays@h.test"),
        (28, "Ed Ray", None, "ed", "rays@h.test"),
    ]
    for uid, name, sortable, login, email in accounts:
        snap.users[uid] = CanvasUser(
            id=uid, name=name, sortable_name=sortable, login_id=login, email=email
        )
        snap.by_login.add(login, uid)
        if email:
            snap.by_email.add(email, uid)
    return snap


FAMILY_ROWS = [row(2, "S1", "ana@h.test"), row(3, "S2", "bo@h.test"), row(4, "S3", "cy@h.test")]


def test_accounts_that_look_like_one_parent_are_paired_once_each() -> None:
    """The three patterns, each pair once, both accounts named, the one the SIS points at
    first; same-named accounts sharing nothing and differently named ones sharing an email are
    not duplicates."""
    created = [CreatedAccount(23, "bo@h.test", 4)]
    found = audit(FAMILY_ROWS, families(), created=created).duplicate_accounts
    assert [
        (f.canvas_observer_id, f.canvas_other_account_id, f.canvas_student_id) for f in found
    ] == [(21, 22, None), (23, 24, 2), (25, 26, 3)]
    shared, idle, same_child = found
    assert (shared.observer, shared.observer_name) == ("ana@h.test", "Ana Diaz")
    assert (shared.other_account, shared.other_account_name) == ("ana.d@work.test", "Ana Diaz")
    assert "ana@h.test is a login or email of both" in shared.detail
    assert "The SIS points at ana@h.test (Canvas user 21): keep that one." in shared.detail
    assert "Merge with another user" in shared.detail and "never merges" in shared.detail
    assert "this tool created bo@h.test for bo@h.test (run 4)" in idle.detail
    assert "observes Kid 2 (Canvas user 2)" in idle.detail
    # bo@h.test is 23's login: the sync finds 23, so the SIS points at the idle one.
    assert "The SIS points at bo@h.test (Canvas user 23)" in idle.detail
    assert "both observe Kid 3 (Canvas user 3)" in same_child.detail
    assert (same_child.student_id, same_child.student_name) == ("S3", "Kid 3")
    assert same_child.as_json()["canvas_other_account_id"] == 26


def test_a_pair_found_twice_is_one_finding_with_both_reasons() -> None:
    """Same name, a shared email and the same child: one finding, both reasons."""
    snap = families()
    snap.observees[22] = {1}
    found = audit(FAMILY_ROWS, snap).duplicate_accounts
    pair = next(f for f in found if f.canvas_observer_id == 21)
    assert pair.canvas_other_account_id == 22
    assert "is a login or email of both" in pair.detail and "both observe Kid 1" in pair.detail
    assert (
        len([f for f in found if {f.canvas_observer_id, f.canvas_other_account_id} == {21, 22}])
        == 1
    )


def test_accounts_that_are_not_parents_are_not_duplicates() -> None:
    """Two same-named accounts sharing an address, neither observing anyone nor made by this
    tool (a teacher's two logins, say), are none of the audit's business; the SIS pointing at
    neither is said so."""
    snap = families()
    snap.observees = {25: {3}, 26: {3}}
    found = audit([], snap).duplicate_accounts
    assert [(f.canvas_observer_id, f.canvas_other_account_id) for f in found] == [(25, 26)]
    assert "The SIS points at neither" in found[0].detail


def test_staff_who_observe_students() -> None:
    """An observer with a teacher enrollment is staff, with whether the SIS gives its login as
    the guardian; a teacher who observes nobody and a parent with no staff role are not."""
    snap = district()
    snap.staff = {11: {"teacher"}, 13: {"TA", "designer"}, 14: {"teacher"}}
    found = audit(ROWS, snap, owned=OWNED).staff_observers
    assert [(f.canvas_observer_id, f.observer, f.student_id) for f in found] == [
        (11, "g1@h.test", "S1"),
        (13, "g3@h.test", "S1"),
    ]
    teacher, assistant = found
    assert teacher.detail.startswith("staff: a teacher in Canvas who observes 1 student (Kid 1")
    assert "the SIS gives this account's login or email as the guardian of each" in teacher.detail
    assert "a TA and designer in Canvas" in assistant.detail
    assert "guardian of none of them (linked by hand)" in assistant.detail
    assert (teacher.observer_name, teacher.student_name) == ("G 1", "Kid 1")
