"""The matching rules and row decisions: exact matching, table-tested without Canvas."""

from __future__ import annotations

import pytest

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.rules import (
    AlreadyPaired,
    Ambiguous,
    Found,
    Missing,
    ObserverState,
    Pair,
    Skip,
    can_get_pairing_code,
    excluded_detail,
    linked_student,
    matches_student_id,
    not_enrolled,
    plan_row,
    resolve_observer,
    resolve_student,
    roster_conflicts,
    suspended_account,
)


def user(
    uid: int, sis: str | None = None, login: str | None = None, email: str | None = None
) -> CanvasUser:
    return CanvasUser(id=uid, name=f"User {uid}", sis_user_id=sis, login_id=login, email=email)


def row(student: str = "100", email: str = "pat@example.org") -> RosterRow:
    return RosterRow(
        line=2,
        student_id=student,
        observer_email=email,
        observer_first_name="Pat",
        observer_last_name="Lee",
    )


S100 = user(1, sis="100", login="s100@school.org")
S1001 = user(2, sis="1001", login="s1001@school.org")
S1002 = user(3, sis="1002")


@pytest.mark.parametrize(
    ("candidates", "student_id", "expected"),
    [
        ([S100, S1001, S1002], "100", Found(S100)),  # substring hits are not matches
        ([S1001, S1002], "100", Missing()),
        ([user(4, sis="ab-7")], "AB-7", Missing()),  # SIS ids are case-sensitive
        ([S100, S100], "100", Found(S100)),  # the same user twice is one user
        (
            [user(5, sis="100"), user(6, sis="100")],
            "100",
            Ambiguous((user(5, sis="100"), user(6, sis="100"))),
        ),
        ([S100], "S100@School.org", Found(S100)),  # logins are case-insensitive
        ([user(7, email="kid@home.org")], "kid@home.org", Found(user(7, email="kid@home.org"))),
        # a login match wins over an email match on another account
        (
            [user(8, login="kid@home.org"), user(9, email="kid@home.org")],
            "kid@home.org",
            Found(user(8, login="kid@home.org")),
        ),
        (
            [user(10, email="k@h.org"), user(11, email="K@H.org")],
            "k@h.org",
            Ambiguous((user(10, email="k@h.org"), user(11, email="K@H.org"))),
        ),
    ],
)
def test_resolve_student(candidates: list[CanvasUser], student_id: str, expected: object) -> None:
    """Only exact identifier matches count; two distinct exact matches are ambiguous."""
    assert resolve_student(candidates, student_id) == expected


def test_resolve_observer_login_then_email() -> None:
    """A guardian is matched by login first, then email, case-insensitively, never by name."""
    by_login = user(20, login="pat@example.org")
    by_email = user(21, email="PAT@example.org")
    named = CanvasUser(id=22, name="pat@example.org")
    assert resolve_observer([by_email, by_login], "Pat@Example.org") == Found(by_login)
    assert resolve_observer([by_email], "pat@example.org") == Found(by_email, by_contact_email=True)
    assert resolve_observer([named], "pat@example.org") == Missing()
    assert resolve_observer([user(30, login="pat@example.org.uk")], "pat@example.org") == Missing()


def test_linked_student_needs_an_exact_identifier() -> None:
    """The already-paired shortcut trusts only an exact SIS id or login on the observee list."""
    assert linked_student([S1001, S100], row("100")) == S100
    assert linked_student([S1001], row("100")) is None
    assert linked_student([S100], row("s100@SCHOOL.org")) == S100
    # an email-only match is not enough for the shortcut
    assert linked_student([user(9, email="kid@home.org")], row("kid@home.org")) is None


@pytest.mark.parametrize(
    ("student", "observer", "outcome"),
    [
        (Missing(), ObserverState(Missing()), Outcome.STUDENT_NOT_FOUND),
        (Ambiguous((S100, S1001)), ObserverState(Missing()), Outcome.STUDENT_AMBIGUOUS),
        (Found(S100), ObserverState(Ambiguous((user(40), user(41)))), Outcome.OBSERVER_AMBIGUOUS),
    ],
)
def test_plan_row_skips(student: object, observer: ObserverState, outcome: Outcome) -> None:
    """Rows that cannot be paired safely end with the matching outcome."""
    action = plan_row(row(), student, observer, method="code")  # type: ignore[arg-type]
    assert isinstance(action, Skip)
    assert action.outcome is outcome


def test_matches_student_id_by_login_or_email_else_by_sis_id() -> None:
    """A login-style id matches the login or the email, case and spaces aside; any other id
    matches the SIS id exactly, and an account without one never."""
    kid = user(5, sis="S5", login="Kid@School.org", email="kid.mail@home.org")
    assert matches_student_id(kid, " kid@school.ORG ")
    assert matches_student_id(kid, "KID.MAIL@home.org")
    assert not matches_student_id(kid, "other@school.org")
    assert matches_student_id(kid, "S5")
    assert not matches_student_id(kid, "s5")
    assert not matches_student_id(user(7), "S5")


CONTACT = CanvasUser(id=9, name="Sam Other", login_id="sam@other.org", email="pat@example.org")
NO_LOGIN = CanvasUser(id=10, name="Sam Other", email="pat@example.org")
MISMATCH = (
    "pat@example.org is the contact email of Canvas user {id} 'Sam Other'{login}; the roster "
    "names Pat Lee. Nothing was written: fix the email in the SIS, or the name in Canvas if it "
    "is the same person (--trust-contact-email pairs by contact email whatever the name)"
)


@pytest.mark.parametrize(
    ("the_row", "student", "observer", "detail"),
    [
        (row(), Missing(), ObserverState(Missing()), "no Canvas user has the SIS id '100'"),
        (
            row("Kid@School.org"),
            Missing(),
            ObserverState(Missing()),
            "no Canvas user has the login or email 'Kid@School.org'",
        ),
        (
            row(),
            Ambiguous((S100, S1001)),
            ObserverState(Missing()),
            "2 Canvas users match '100' exactly (ids 1, 2)",
        ),
        (
            row(),
            Found(S100),
            ObserverState(Ambiguous((user(40), user(41)))),
            "2 Canvas users match 'pat@example.org' (ids 40, 41)",
        ),
        (
            row("100", "S100@school.org"),
            Found(S100),
            ObserverState(Missing()),
            "the guardian email 'S100@school.org' is the student's own login or email",
        ),
        (
            row(),
            Found(S100),
            ObserverState(Found(S100)),
            "the guardian email 'pat@example.org' leads to the student's own Canvas account (1); "
            "a student cannot observe themself",
        ),
        (
            row(),
            Found(S100),
            ObserverState(Found(CONTACT, by_contact_email=True)),
            MISMATCH.format(id=9, login=", login sam@other.org"),
        ),
        (
            row(),
            Found(S100),
            ObserverState(Found(NO_LOGIN, by_contact_email=True)),
            MISMATCH.format(id=10, login=""),
        ),
    ],
)
def test_a_skipped_row_says_why_and_names_the_accounts(
    the_row: RosterRow, student: object, observer: ObserverState, detail: str
) -> None:
    """The detail an admin reads for each skip: what was looked for, which accounts matched.
    A contact email alone is not trusted unless asked (``trust_contact_email`` is off)."""
    action = plan_row(the_row, student, observer, method="code")  # type: ignore[arg-type]
    assert isinstance(action, Skip)
    assert action.detail == detail


def test_the_details_of_a_row_not_enrolled_and_of_an_excluded_pair() -> None:
    assert not_enrolled() == Skip(
        Outcome.NOT_ENROLLED,
        "no live student enrollment, so Canvas gives no pairing code; the next run tries again "
        "(--pairing direct needs no enrollment)",
    )
    assert excluded_detail("court order") == "on the do-not-pair list: court order; never linked"
    assert excluded_detail("") == "on the do-not-pair list; never linked"


def test_plan_row_conflict_when_guardian_is_the_student() -> None:
    """A guardian email that is the student's own login or email is a conflict, never a pair."""
    kid = user(50, sis="777", login="kid@school.org", email="kid@home.org")
    for email in ("kid@school.org", "KID@home.org"):
        action = plan_row(row("777", email), Found(kid), ObserverState(Missing()), method="code")
        assert isinstance(action, Skip)
        assert action.outcome is Outcome.CONFLICT
    action = plan_row(row("777", "x@y.org"), Found(kid), ObserverState(Found(kid)), method="direct")
    assert isinstance(action, Skip)
    assert action.outcome is Outcome.CONFLICT


def test_plan_row_pairs_and_creates() -> None:
    """A found student is paired; the account is created only when the guardian has none."""
    assert plan_row(row(), Found(S100), ObserverState(Missing()), method="code") == Pair(
        S100, create_observer=True, method="code"
    )
    existing = ObserverState(Missing(), (), login_exists=True)
    assert plan_row(row(), Found(S100), existing, method="direct") == Pair(
        S100, create_observer=False, method="direct"
    )
    linked = ObserverState(Found(user(60)), (S100,))
    assert plan_row(row(), Found(S100), linked, method="code") == AlreadyPaired(S100)


def test_can_get_pairing_code_mirrors_has_student_enrollment() -> None:
    """Invited, active and completed student enrollments allow codes; inactive ones do not.

    A listed enrollment shown as ``deleted`` (its course or section is deleted) still counts:
    the list asks for live own states only, and Canvas's check ignores the course.
    """
    assert can_get_pairing_code([("StudentEnrollment", "active")])
    assert can_get_pairing_code([("StudentEnrollment", "completed")])
    assert can_get_pairing_code([("TeacherEnrollment", "active"), ("StudentEnrollment", "invited")])
    assert not can_get_pairing_code([("StudentEnrollment", "inactive")])
    assert can_get_pairing_code([("StudentEnrollment", "deleted")])
    assert not can_get_pairing_code([("StudentEnrollment", "rejected")])
    assert not can_get_pairing_code([("TeacherEnrollment", "active")])
    assert not can_get_pairing_code([])
    assert can_get_pairing_code([("StudentViewEnrollment", "active")])  # the test student


def test_roster_conflicts_email_used_as_student_and_guardian() -> None:
    """An email the roster uses both as a student login and a guardian email pairs no one."""
    rows = [
        RosterRow(2, "100", "kid@home.test", "A", "B"),
        RosterRow(3, "KID@home.test", "pat@home.test", "P", "L"),
        RosterRow(4, "200", "pat2@home.test", "P", "L"),
    ]
    conflicts = roster_conflicts(rows)
    assert conflicts == {
        2: "'kid@home.test' is used in the roster both as a student's login and as a guardian's "
        "email",
        3: "'KID@home.test' is used in the roster both as a student's login and as a guardian's "
        "email",
    }


def test_a_guardian_with_only_a_suspended_login_is_told_what_to_do_in_full() -> None:
    """The conflict's detail is what the admin reads: the account, the login, why nothing is
    made, and the two ways out, word for word."""
    skip = suspended_account(CanvasUser(41, "Pat Lee"), "pat@home.test")
    assert skip.outcome is Outcome.CONFLICT
    assert skip.detail == (
        "the guardian's Canvas account 41 'Pat Lee' has only a suspended login "
        "(pat@home.test): it cannot sign in, and Canvas keeps its login id taken, so no second "
        "account is made; reactivate the login in Canvas (or give the guardian another email "
        "in the SIS) and the next run pairs them"
    )
