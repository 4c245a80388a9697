"""The row's transition table (steps.py), tested without Canvas: each (step, event) pair and
the row's end or next step it leads to."""

from __future__ import annotations

from dataclasses import replace

import pytest

from canvas_observers.canvas.errors import RequestRejected
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.rules import Found, Missing, ObserverState, Pair
from canvas_observers.sync.steps import (
    WRITE_ATTEMPTS,
    AccountCreated,
    AccountFound,
    AlreadyLinked,
    CheckEnrolled,
    CheckLogins,
    CodeMade,
    End,
    Enrolled,
    EnsureAccount,
    Event,
    FetchAccount,
    FindAccount,
    FindLink,
    FindSisHolder,
    FindStudent,
    GetCode,
    Lost,
    NotEnrolled,
    NotThere,
    Paired,
    Raise,
    Read,
    Recorded,
    RecordPrediction,
    Refused,
    Rejected,
    RowContext,
    SendPairing,
    SisIdTaken,
    Step,
    Suspended,
    Taken,
    start,
    transition,
)


def then(step: Step | End | Raise, event: Event, ctx: RowContext) -> Step | End | Raise:
    """``transition`` from a step an earlier transition returned (it must be a step)."""
    assert not isinstance(step, End | Raise), step
    return transition(step, event, ctx)


STUDENT = CanvasUser(id=10, name="Sam Lee", sis_user_id="100", login_id="sam@school.test")
GUARDIAN = CanvasUser(id=20, name="Pat Lee", login_id="pat@home.test")
CODE = PairingCode(user_id=10, code="ab12CD", expires_at="", workflow_state="active")
ROW = RosterRow(2, "100", "pat@home.test", "Pat", "Lee")
CODES = RowContext(ROW, method="code")
DIRECT = RowContext(ROW, method="direct")


def sending(attempt: int = 1, *, created: bool = False) -> SendPairing:
    return SendPairing(STUDENT, CODE, GUARDIAN, attempt, created)


def test_a_student_already_linked_ends_the_row_before_any_look_up() -> None:
    """A row whose student is in the guardian's observee list is already paired, no step."""
    state = ObserverState(Found(GUARDIAN), (STUDENT,))
    assert start(CODES, state, created=False) == End(Outcome.ALREADY_PAIRED, student=STUDENT)
    assert start(CODES, ObserverState(Missing()), created=True) == FindStudent(True)


def test_a_skip_decided_by_the_rules_ends_the_row() -> None:
    """A student Canvas does not have ends the row student_not_found, with nothing written."""
    end = transition(FindStudent(False), Read(Missing(), ObserverState(Missing())), CODES)
    assert isinstance(end, End) and end.outcome is Outcome.STUDENT_NOT_FOUND


def test_a_new_guardian_starts_with_a_pairing_code_or_the_account() -> None:
    """Pairing by code asks for a code first; direct pairing goes straight to the account."""
    read = Read(Found(STUDENT), ObserverState(Missing()))
    assert transition(FindStudent(False), read, CODES) == GetCode(STUDENT, 1, False)
    assert transition(FindStudent(False), read, DIRECT) == EnsureAccount(STUDENT, None, 1, False)
    assert transition(GetCode(STUDENT, 1, False), CodeMade(CODE), CODES) == EnsureAccount(
        STUDENT, CODE, 1, False
    )


def test_an_existing_login_is_fetched_before_any_write() -> None:
    """A login that exists but whose account is not fetched is fetched first (it may be the
    student's own), unless a dry run only predicted it."""
    state = ObserverState(Missing(), login_exists=True)
    fetch = transition(FindStudent(False), Read(Found(STUDENT), state), CODES)
    assert fetch == FetchAccount(Found(STUDENT), False)
    known = ObserverState(Found(GUARDIAN), login_exists=True, logins_known=True)
    assert transition(fetch, Read(Found(STUDENT), known), CODES) == GetCode(STUDENT, 1, False)
    predicted = Read(Found(STUDENT), state, predicted=True)
    assert transition(FindStudent(False), predicted, CODES) == GetCode(STUDENT, 1, False)


def test_an_account_not_found_by_an_active_login_has_its_logins_read_first() -> None:
    """An existing account found by SIS id, by `sis_login_id:` or by contact email (not by a
    search hit on an active login) has its logins read before any write: all suspended is a
    conflict naming the login, one active goes on to the pairing."""
    unknown = ObserverState(Found(GUARDIAN), login_exists=True)
    check = transition(FindStudent(False), Read(Found(STUDENT), unknown), CODES)
    assert check == CheckLogins(Found(STUDENT), False)
    fetch = FetchAccount(Found(STUDENT), False)
    assert transition(fetch, Read(Found(STUDENT), unknown), CODES) == check
    active = replace(unknown, logins_known=True)
    assert transition(check, Read(Found(STUDENT), active), CODES) == GetCode(STUDENT, 1, False)
    suspended = replace(active, suspended="pat@home.test")
    end = transition(check, Read(Found(STUDENT), suspended), CODES)
    assert isinstance(end, End) and end.outcome is Outcome.CONFLICT
    assert "only a suspended login (pat@home.test)" in end.detail


def test_suspended_account_after_taken_is_a_conflict_and_a_lookalike_fails_at_once() -> None:
    """After "taken" the login's account may be suspended-only (conflict); or no login has the
    email in Canvas's LOWER() spelling (a look-alike holds it): the row fails, no retry."""
    find = FindAccount(STUDENT, CODE, 1, False, lost=False)
    end = transition(find, Suspended(GUARDIAN, "pat@home.test"), CODES)
    assert isinstance(end, End) and end.outcome is Outcome.CONFLICT
    lookalike = transition(find, NotThere(), CODES)
    assert isinstance(lookalike, End) and lookalike.outcome is Outcome.FAILED
    assert "normalised" in lookalike.detail
    lost = FindAccount(STUDENT, CODE, 1, False, lost=True)
    assert transition(lost, NotThere(), CODES) == GetCode(STUDENT, 2, False)
    meanwhile = transition(lost, AccountFound(GUARDIAN, meanwhile=True), CODES)
    assert meanwhile == SendPairing(STUDENT, CODE, GUARDIAN, 1, False)
    ours = transition(lost, AccountFound(GUARDIAN), CODES)
    assert ours == SendPairing(STUDENT, CODE, GUARDIAN, 1, True)


def test_a_dry_run_predicts_and_writes_nothing() -> None:
    """A dry run checks the enrollment (codes only) and records what it would do."""
    dry_codes = RowContext(ROW, method="code", dry_run=True)
    read = Read(Found(STUDENT), ObserverState(Missing()))
    pair = Pair(STUDENT, create_observer=True, method="code")
    assert transition(FindStudent(False), read, dry_codes) == CheckEnrolled(pair, False)
    assert transition(CheckEnrolled(pair, False), Enrolled(True), dry_codes) == RecordPrediction(
        pair, False
    )
    refused = transition(CheckEnrolled(pair, False), Enrolled(False), dry_codes)
    assert isinstance(refused, End) and refused.outcome is Outcome.NOT_ENROLLED
    done = transition(RecordPrediction(pair, False), Recorded(), dry_codes)
    assert done == End(Outcome.WOULD_CREATE, student=STUDENT)
    direct = Pair(STUDENT, create_observer=True, method="direct")
    dry_direct = RowContext(ROW, method="direct", dry_run=True)
    assert transition(FindStudent(False), read, dry_direct) == RecordPrediction(direct, False)


def test_a_lost_create_is_looked_up_never_sent_again() -> None:
    """A create whose answer was lost leads to a look-up of the login, not a second create."""
    step = EnsureAccount(STUDENT, CODE, 1, False)
    assert transition(step, Lost(), CODES) == FindAccount(STUDENT, CODE, 1, False, lost=True)


def test_a_lost_create_that_was_done_reports_created() -> None:
    """A lost create found by the look-up is this run's account: its row reports created."""
    found = transition(
        FindAccount(STUDENT, CODE, 1, False, lost=True), AccountFound(GUARDIAN), CODES
    )
    assert found == sending(created=True)
    assert transition(found, Paired(), CODES) == End(Outcome.CREATED, student=STUDENT)


def test_a_taken_login_adopts_the_existing_account() -> None:
    """A login Canvas says is taken is looked up and used, as an account this run did not make."""
    step = EnsureAccount(STUDENT, CODE, 1, False)
    find = transition(step, Taken(), CODES)
    assert find == FindAccount(STUDENT, CODE, 1, False, lost=False)
    paired = then(then(find, AccountFound(GUARDIAN), CODES), Paired(), CODES)
    assert paired == End(Outcome.PAIRED, student=STUDENT)


def test_a_taken_sis_id_finds_its_holder() -> None:
    """A create refused for its SIS id alone looks up the account holding that SIS id."""
    rejected = RequestRejected("taken", status=400)
    step = EnsureAccount(STUDENT, None, 2, False)
    holder = transition(step, SisIdTaken(rejected), DIRECT)
    assert holder == FindSisHolder(STUDENT, None, 2, False, rejected)
    assert transition(holder, AccountFound(GUARDIAN), DIRECT) == SendPairing(
        STUDENT, None, GUARDIAN, 2, False
    )


def test_an_account_created_with_the_code_ends_created() -> None:
    """A new account, linked by its own create, ends the row created; the flag is spent."""
    pairing = transition(EnsureAccount(STUDENT, CODE, 1, False), AccountCreated(GUARDIAN), CODES)
    assert pairing == sending(created=True)
    end = transition(pairing, AlreadyLinked(), CODES)
    assert end == End(Outcome.CREATED, student=STUDENT, created=False)
    assert transition(sending(), AlreadyLinked(), CODES) == End(
        Outcome.ALREADY_PAIRED, student=STUDENT
    )


def test_the_students_own_account_is_a_conflict_and_nothing_is_sent() -> None:
    """An account found after "taken" that is the student's own ends the row a conflict,
    reported without the guardian's account id."""
    step = FindAccount(STUDENT, CODE, 1, False, lost=False)
    end = transition(step, AccountFound(STUDENT), CODES)
    assert isinstance(end, End)
    assert (end.outcome, end.observer, end.student) == (Outcome.CONFLICT, False, STUDENT)


def test_a_lost_pairing_is_looked_up_never_sent_again() -> None:
    """A pairing whose answer was lost leads to listing the observees, not a second pairing."""
    look = transition(sending(created=True), Lost(), CODES)
    assert look == FindLink(STUDENT, CODE, GUARDIAN, 1, True)
    assert transition(look, Paired(), CODES) == End(Outcome.CREATED, student=STUDENT)


def test_a_write_proved_not_done_is_tried_again_with_a_fresh_code() -> None:
    """A pairing proved not made starts the next try from a new pairing code."""
    look = FindLink(STUDENT, CODE, GUARDIAN, 1, True)
    assert transition(look, NotThere(), CODES) == GetCode(STUDENT, 2, True)
    direct = FindLink(STUDENT, None, GUARDIAN, 3, False)
    assert transition(direct, NotThere(), DIRECT) == EnsureAccount(STUDENT, None, 4, False)


def test_retries_stop_at_write_attempts() -> None:
    """Pairings proved not made are tried WRITE_ATTEMPTS times, then the row fails for the
    next run; a create never found fails the same way."""
    step: object = GetCode(STUDENT, 1, False)
    tries = 0
    while isinstance(step, GetCode):
        tries += 1
        ensure = transition(step, CodeMade(CODE), CODES)
        pairing = then(ensure, AccountFound(GUARDIAN), CODES)
        look = then(pairing, Lost(), CODES)
        step = then(look, NotThere(), CODES)
    assert tries == WRITE_ATTEMPTS
    assert isinstance(step, End) and step.outcome is Outcome.FAILED
    assert f"after {WRITE_ATTEMPTS} tries" in step.detail
    last = FindAccount(STUDENT, CODE, WRITE_ATTEMPTS, False, lost=True)
    failed = transition(last, NotThere(), CODES)
    assert isinstance(failed, End) and failed.outcome is Outcome.FAILED
    assert f"could not be created in {WRITE_ATTEMPTS} tries" in failed.detail


def test_a_rejected_write_is_tried_again_then_raised() -> None:
    """Canvas rejecting a write (a code expired) tries again, and on the last try the row
    fails with Canvas's error."""
    rejected = RequestRejected("invalid code", status=400)
    assert transition(sending(1), Rejected(rejected), CODES) == GetCode(STUDENT, 2, False)
    step = EnsureAccount(STUDENT, CODE, WRITE_ATTEMPTS, True)
    assert transition(step, Rejected(rejected), CODES) == Raise(rejected, True)


def test_a_refusal_ends_only_that_row() -> None:
    """A pairing Canvas refuses fails that row with Canvas's words; nothing is tried again."""
    end = transition(sending(created=True), Refused("Canvas refused the pairing: 404"), CODES)
    assert end == End(
        Outcome.FAILED, "Canvas refused the pairing: 404", student=STUDENT, created=True
    )


def test_a_student_without_enrollment_keeps_the_unreported_creation() -> None:
    """No pairing code for the student: the row is not_enrolled and a creation not yet
    reported passes to the guardian's next row."""
    end = transition(GetCode(STUDENT, 2, True), NotEnrolled(), CODES)
    assert isinstance(end, End)
    assert (end.outcome, end.created) == (Outcome.NOT_ENROLLED, True)


def test_an_event_a_step_cannot_end_with_is_an_error() -> None:
    """A (step, event) pair not in the table is a bug, never a silent outcome."""
    with pytest.raises(ValueError, match="no transition from GetCode on Paired"):
        transition(GetCode(STUDENT, 1, False), Paired(), CODES)
