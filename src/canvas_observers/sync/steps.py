"""The life of one roster row: a table of steps and the events that end them. Pure: no I/O.

Each step is a value. The engine executes it against Canvas (writes.py), which turns Canvas's
answer into an event; ``transition`` maps (step, event) to the next step, or to the row's end:
``End`` (its outcome) or ``Raise`` (an error the engine reports as the row's failure, and which
may stop the run). The engine only runs the loop ``step -> execute -> event -> next step``.

===================  ==========================  ==============================================
step                 event                       next
===================  ==========================  ==============================================
(start)              the student already linked  End already_paired
FindStudent          Read                        rules.plan_row decides: End (a skip, already
                                                 paired) | FetchAccount | CheckLogins | the
                                                 first try: GetCode (codes) or EnsureAccount
                                                 (direct); in a dry run CheckEnrolled or
                                                 RecordPrediction
FetchAccount         Read                        rules.plan_row again: End | CheckLogins |
                                                 the first try
CheckLogins          Read                        rules.plan_row again: End (conflict for an
                                                 account whose logins are all suspended) |
                                                 the first try
CheckEnrolled        Enrolled(no) / Enrolled     End not_enrolled / RecordPrediction (dry run)
RecordPrediction     Recorded                    End would_create / would_pair
GetCode              NotEnrolled / CodeMade      End not_enrolled / EnsureAccount
EnsureAccount        AccountFound                SendPairing, or End conflict when it is the
                     AccountCreated              student's own account
                     Taken / Lost                FindAccount: looked up, never sent again
                     SisIdTaken                  FindSisHolder
                     Rejected                    try again | Raise on the last try
FindAccount          AccountFound                SendPairing (or End conflict)
                     Suspended                   End conflict: its logins are all suspended
                     NotThere                    after "taken": End failed (a look-alike login
                                                 id holds it); after a lost create: try again |
                                                 End failed on the last try
                     Rejected                    try again | Raise on the last try
FindSisHolder        AccountFound / Rejected     SendPairing (or End conflict) / as above
                     Suspended                   End conflict
SendPairing          Paired / AlreadyLinked      End created, paired or already_paired
                     Lost                        FindLink: looked up, never sent again
                     Refused                     End failed (this row only)
                     Rejected                    try again | Raise on the last try
FindLink             Paired                      End created or paired
                     NotThere                    try again | End failed on the last try
===================  ==========================  ==============================================

"Try again" starts the pairing over (a fresh pairing code, the account as now known) and is
counted: a row makes at most ``WRITE_ATTEMPTS`` tries. Every step carries ``created``: this run
created the guardian's account and no row has reported it yet. The first row that pairs (or
finds paired) the account reports ``created``, and the flag travels to the guardian's next row
in the ``End`` (or ``Raise``) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from canvas_observers.canvas.errors import RequestRejected
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.rules import (
    AlreadyPaired,
    Found,
    ObserverState,
    Pair,
    PairingMethod,
    Resolution,
    RowAction,
    Skip,
    dry_run_outcome,
    linked_student,
    not_enrolled,
    plan_row,
    self_pairing,
    suspended_account,
)

WRITE_ATTEMPTS = 4
"""Tries per row at the create-and-pair steps. Another try follows only a write Canvas confirmed
not done: a lost create whose login does not exist, a pairing absent from the observee list, a
code Canvas refused as invalid (it expired between the two calls). With one write in ten lost
or refused, four tries leave about one row in ten thousand undone for the next run."""


LOOKALIKE_LOGIN = (
    "Canvas says the guardian's email is taken as a login, but no login has it in this "
    "spelling: another login is the same id once Canvas compares it normalised (letter case "
    "folded, e.g. ß as ss; compatibility forms and spaces evened out); no account was made. "
    "Find that login in Canvas: if it is this guardian's, change its login id to the roster's "
    "email, else fix the email in the SIS"
)


@dataclass(frozen=True, slots=True)
class RowContext:
    """What a row's transitions go by: the row and the options that decide it."""

    row: RosterRow
    method: PairingMethod
    trust_contact_email: bool = False
    dry_run: bool = False


# --- the steps ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindStudent:
    """Look the row's student up (shared between rows and workers)."""

    created: bool


@dataclass(frozen=True, slots=True)
class FetchAccount:
    """The guardian's login exists but its account is not fetched: fetch it before any write
    (or a dry run's prediction), since it may be the student's own account."""

    student: Resolution
    created: bool


@dataclass(frozen=True, slots=True)
class CheckLogins:
    """The guardian's existing account would get a write, and whether it can sign in is not
    known (it was not found by an active login): read its logins first, since an account
    whose logins are all suspended is a conflict, never paired."""

    student: Resolution
    created: bool


@dataclass(frozen=True, slots=True)
class CheckEnrolled:
    """A dry run with pairing codes: would Canvas give one (a live student enrollment)?"""

    pair: Pair
    created: bool


@dataclass(frozen=True, slots=True)
class RecordPrediction:
    """A dry run: the guardian's next rows see the account and the link this row would make."""

    pair: Pair
    created: bool


@dataclass(frozen=True, slots=True)
class GetCode:
    """Ask Canvas for the student's pairing code (unless the student is known unenrolled)."""

    student: CanvasUser
    attempt: int
    created: bool


@dataclass(frozen=True, slots=True)
class EnsureAccount:
    """The guardian's account: known, fetched by login, or created (with the code, if any)."""

    student: CanvasUser
    code: PairingCode | None
    attempt: int
    created: bool


@dataclass(frozen=True, slots=True)
class FindAccount:
    """Look the login up after Canvas said "taken" or lost the create's answer (``lost``)."""

    student: CanvasUser
    code: PairingCode | None
    attempt: int
    created: bool
    lost: bool


@dataclass(frozen=True, slots=True)
class FindSisHolder:
    """The new login's SIS id is in use (``rejected``, Canvas's answer): find its account."""

    student: CanvasUser
    code: PairingCode | None
    attempt: int
    created: bool
    rejected: RequestRejected


@dataclass(frozen=True, slots=True)
class SendPairing:
    """Under the guardian account's lock: pair, unless the two are linked already."""

    student: CanvasUser
    code: PairingCode | None
    observer: CanvasUser
    attempt: int
    created: bool


@dataclass(frozen=True, slots=True)
class FindLink:
    """The pairing's answer was lost: list the guardian's observees to see if it was made."""

    student: CanvasUser
    code: PairingCode | None
    observer: CanvasUser
    attempt: int
    created: bool


Step = (
    FindStudent
    | FetchAccount
    | CheckLogins
    | CheckEnrolled
    | RecordPrediction
    | GetCode
    | EnsureAccount
    | FindAccount
    | FindSisHolder
    | SendPairing
    | FindLink
)
WriteStep = GetCode | EnsureAccount | FindAccount | FindSisHolder | SendPairing | FindLink


# --- the row's end --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class End:
    """The row's outcome. ``observer``: the result names the guardian's account as now known;
    ``created``: the account this run created is still unreported (for the next row)."""

    outcome: Outcome
    detail: str = ""
    student: CanvasUser | None = None
    observer: bool = True
    created: bool = False


@dataclass(frozen=True, slots=True)
class Raise:
    """The row fails with this error (the engine words it, and it may stop the run)."""

    error: Exception
    created: bool


# --- the events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Read:
    """What is known of the student and the guardian's account (``predicted``: a dry run
    predicted the account, which is not in Canvas)."""

    student: Resolution
    account: ObserverState
    predicted: bool = False


@dataclass(frozen=True, slots=True)
class Enrolled:
    """Whether Canvas would give the student a pairing code."""

    yes: bool


@dataclass(frozen=True, slots=True)
class Recorded:
    """The dry run's prediction is noted for the guardian's next rows."""


@dataclass(frozen=True, slots=True)
class NotEnrolled:
    """The student has no live enrollment: Canvas gives no pairing code."""


@dataclass(frozen=True, slots=True)
class CodeMade:
    """Canvas gave a pairing code."""

    code: PairingCode


@dataclass(frozen=True, slots=True)
class AccountFound:
    """The guardian's account is known (already, by login, by SIS id, or looked up);
    ``meanwhile``: found after a lost create, but made by someone else, not by it."""

    user: CanvasUser
    meanwhile: bool = False


@dataclass(frozen=True, slots=True)
class AccountCreated:
    """Canvas created the guardian's account (with the code: linked by the same request)."""

    user: CanvasUser


@dataclass(frozen=True, slots=True)
class Taken:
    """Canvas refused the create: the login was made meanwhile."""


@dataclass(frozen=True, slots=True)
class SisIdTaken:
    """Canvas refused the create for the login's SIS id alone."""

    rejected: RequestRejected


@dataclass(frozen=True, slots=True)
class Suspended:
    """The account found after "taken" or a lost create has only suspended logins."""

    user: CanvasUser
    login: str


@dataclass(frozen=True, slots=True)
class Lost:
    """The write's answer was lost: it may or may not have been done."""


@dataclass(frozen=True, slots=True)
class NotThere:
    """A look-up proved the write not done (no such login, no such link)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """Canvas rejected the request (e.g. a code that expired between the two calls)."""

    error: Exception


@dataclass(frozen=True, slots=True)
class Paired:
    """The link is made (answered, or found after a lost answer)."""


@dataclass(frozen=True, slots=True)
class AlreadyLinked:
    """The two are linked already (by the create, or through another email of the account)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """Canvas refused this pairing (404, or 401/403 while the token may still pair)."""

    detail: str


Event = (
    Read
    | Enrolled
    | Recorded
    | NotEnrolled
    | CodeMade
    | AccountFound
    | AccountCreated
    | Taken
    | SisIdTaken
    | Suspended
    | Lost
    | NotThere
    | Rejected
    | Paired
    | AlreadyLinked
    | Refused
)


# --- the transitions ------------------------------------------------------------------------


def start(ctx: RowContext, account: ObserverState, *, created: bool) -> FindStudent | End:
    """The row's first step; a student the guardian's observee list shows linked ends here."""
    linked = linked_student(account.observees, ctx.row)
    if linked is not None:
        return End(Outcome.ALREADY_PAIRED, student=linked, created=created)
    return FindStudent(created)


def transition(step: Step, event: Event, ctx: RowContext) -> Step | End | Raise:
    """The next step after ``step`` ended with ``event``; ValueError for a pair not in the table."""
    match step, event:
        case FindStudent(created), Read(student, account, predicted):
            action = _decide(ctx, student, account)
            if (
                isinstance(action, Pair)
                and account.user is None
                and account.login_exists
                and not predicted
            ):
                return FetchAccount(student, created)
            if _logins_unknown(action, account, predicted):
                return CheckLogins(student, created)
            return _decided(ctx, action, student, created)
        case FetchAccount(_, created), Read(student, account, predicted):
            action = _decide(ctx, student, account)
            if _logins_unknown(action, account, predicted):
                return CheckLogins(student, created)
            return _decided(ctx, action, student, created)
        case CheckLogins(_, created), Read(student, account):
            return _decided(ctx, _decide(ctx, student, account), student, created)
        case CheckEnrolled(pair, created), Enrolled(yes):
            if not yes:
                return _not_enrolled(pair.student, created)
            return RecordPrediction(pair, created)
        case RecordPrediction(pair, created), Recorded():
            return End(dry_run_outcome(pair), student=pair.student, created=created)
        case GetCode(student, _, created), NotEnrolled():
            return _not_enrolled(student, created)
        case GetCode(student, attempt, created), CodeMade(code):
            return EnsureAccount(student, code, attempt, created)
        case EnsureAccount() | FindSisHolder(), AccountFound(user):
            return _account_known(step, user, step.created, ctx)
        case FindAccount(), AccountFound(user, meanwhile):
            # A lost create that was done is ours; one someone else's login answered is not.
            return _account_known(step, user, step.lost and not meanwhile, ctx)
        case EnsureAccount(), AccountCreated(user):
            return _account_known(step, user, True, ctx)
        case EnsureAccount(student, code, attempt, created), Taken():
            return FindAccount(student, code, attempt, created, lost=False)
        case EnsureAccount(student, code, attempt, created), Lost():
            return FindAccount(student, code, attempt, created, lost=True)
        case EnsureAccount(student, code, attempt, created), SisIdTaken(rejected):
            return FindSisHolder(student, code, attempt, created, rejected)
        case FindAccount(student, _, _, created) | FindSisHolder(student, _, _, created), Suspended(
            user, login
        ):
            skip = suspended_account(user, login)
            return End(skip.outcome, skip.detail, student=student, created=created)
        case EnsureAccount() | FindAccount() | FindSisHolder() | SendPairing(), Rejected(error):
            if step.attempt >= WRITE_ATTEMPTS:
                return Raise(error, step.created)
            return try_again(step, ctx)
        case FindAccount(student, _, _, created, lost=False), NotThere():
            # "Taken", yet no login has this id in Canvas's LOWER() spelling: another login's
            # id is the same once Canvas normalises it. Another try would be refused again.
            return End(Outcome.FAILED, LOOKALIKE_LOGIN, student=student, created=created)
        case FindAccount(student, _, attempt, created), NotThere():
            if attempt >= WRITE_ATTEMPTS:
                return End(
                    Outcome.FAILED,
                    f"the guardian's account could not be created in {WRITE_ATTEMPTS} tries "
                    "(each answer was lost and the account was not there); the next run tries "
                    "again",
                    student=student,
                    created=created,
                )
            return try_again(step, ctx)
        case SendPairing(student, code, observer, attempt, created), Lost():
            return FindLink(student, code, observer, attempt, created)
        case SendPairing(student, _, _, _, created) | FindLink(student, _, _, _, created), Paired():
            return End(Outcome.CREATED if created else Outcome.PAIRED, student=student)
        case SendPairing(student, _, _, _, created), AlreadyLinked():
            return End(Outcome.CREATED if created else Outcome.ALREADY_PAIRED, student=student)
        case SendPairing(student, _, _, _, created), Refused(detail):
            return End(Outcome.FAILED, detail, student=student, created=created)
        case FindLink(student, _, _, attempt, created), NotThere():
            if attempt >= WRITE_ATTEMPTS:
                return End(
                    Outcome.FAILED,
                    f"the pairing could not be confirmed after {WRITE_ATTEMPTS} tries; the next "
                    "run tries again",
                    student=student,
                    created=created,
                )
            return try_again(step, ctx)
    raise ValueError(f"no transition from {type(step).__name__} on {type(event).__name__}")


def try_again(step: WriteStep, ctx: RowContext) -> GetCode | EnsureAccount:
    """The next try of a write proved not done (the caller checked ``WRITE_ATTEMPTS``)."""
    return first_try(step.student, ctx, attempt=step.attempt + 1, created=step.created)


def first_try(
    student: CanvasUser, ctx: RowContext, *, attempt: int = 1, created: bool
) -> GetCode | EnsureAccount:
    """A try at the pairing: a fresh pairing code first, or straight to the account."""
    if ctx.method == "code":
        return GetCode(student, attempt, created)
    return EnsureAccount(student, None, attempt, created)


def _logins_unknown(action: RowAction, account: ObserverState, predicted: bool) -> bool:
    """A pairing with an existing account whose logins' states are not known yet."""
    return (
        isinstance(action, Pair)
        and not action.create_observer
        and account.user is not None
        and not account.logins_known
        and not predicted
    )


def _decide(ctx: RowContext, student: Resolution, account: ObserverState) -> RowAction:
    return plan_row(
        ctx.row, student, account, method=ctx.method, trust_contact_email=ctx.trust_contact_email
    )


def _decided(ctx: RowContext, action: RowAction, student: Resolution, created: bool) -> Step | End:
    match action:
        case Skip(outcome, detail):
            user = student.user if isinstance(student, Found) else None
            return End(outcome, detail, student=user, created=created)
        case AlreadyPaired(user):
            return End(Outcome.ALREADY_PAIRED, student=user, created=created)
        case Pair():
            if not ctx.dry_run:
                return first_try(action.student, ctx, created=created)
            if action.method == "code":
                return CheckEnrolled(action, created)
            return RecordPrediction(action, created)


def _account_known(
    step: EnsureAccount | FindAccount | FindSisHolder,
    observer: CanvasUser,
    created: bool,
    ctx: RowContext,
) -> SendPairing | End:
    """Pair with the account now known, unless it is the student's own (found after "taken"
    or a lost create): a conflict, and nothing is sent."""
    if observer.id == step.student.id:
        skip = self_pairing(step.student, ctx.row)
        return End(skip.outcome, skip.detail, student=step.student, observer=False, created=created)
    return SendPairing(step.student, step.code, observer, step.attempt, created)


def _not_enrolled(student: CanvasUser, created: bool) -> End:
    skip = not_enrolled()
    return End(skip.outcome, skip.detail, student=student, created=created)
