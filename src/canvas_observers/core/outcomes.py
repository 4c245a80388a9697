"""Row outcomes, per-row results and write-action records: what the report and journal hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """Every outcome a roster row can end in (docs/cli.md lists them with what to do)."""

    CREATED = "created"  # account created and paired
    PAIRED = "paired"  # existing account newly paired
    ALREADY_PAIRED = "already_paired"
    STUDENT_NOT_FOUND = "student_not_found"
    STUDENT_AMBIGUOUS = "student_ambiguous"
    OBSERVER_AMBIGUOUS = "observer_ambiguous"
    OBSERVER_MISMATCH = "observer_mismatch"  # the email is only the contact address of another name
    NOT_ENROLLED = "not_enrolled"
    INVALID_ROW = "invalid_row"
    # The SIS gives the guardian no email: nothing to sign in with, so nothing is written;
    # the district adds the email in the SIS, or gives the family the student's pairing code.
    NO_EMAIL = "no_email"
    CONFLICT = "conflict"
    # Found by the guardian id's SIS id, with another login than the roster's email: paired
    # with that account all the same; --update-guardians changes the login.
    GUARDIAN_EMAIL_CHANGED = "guardian_email_changed"
    GUARDIAN_UPDATED = "guardian_updated"  # --update-guardians changed login, email or name
    # The account remembered for the row's guardian id was deleted in Canvas: nothing is
    # created (a second account for a known guardian never is); `forget-guardian` clears it.
    GUARDIAN_ACCOUNT_DELETED = "guardian_account_deleted"
    FAILED = "failed"
    # The run stopped (a safety stop, Ctrl-C or SIGTERM, Canvas gone) before reaching the row:
    # nothing was tried; the next run takes it. What needs a person is the stop itself.
    NOT_PROCESSED = "not_processed"
    WOULD_CREATE = "would_create"  # dry run
    WOULD_PAIR = "would_pair"  # dry run
    EXCLUDED = "excluded"  # the do-not-pair list names this pair: never linked
    # An eligibility rule (--only, --skip) leaves the row out: nothing written, no link listed.
    NOT_ELIGIBLE = "not_eligible"
    REMOVED = "removed"  # a link the SIS ended, or the do-not-pair list names, was removed
    WOULD_REMOVE = "would_remove"  # dry run
    # An owned link the roster no longer lists, removed after more runs without it (line 0).
    REMOVAL_PENDING = "removal_pending"

    @property
    def is_success(self) -> bool:
        """Rows that need no human: paired, already paired, or would be (exit code 0)."""
        return self in _SUCCESS


_SUCCESS = frozenset(
    {
        Outcome.CREATED,
        Outcome.PAIRED,
        Outcome.ALREADY_PAIRED,
        Outcome.GUARDIAN_UPDATED,
        Outcome.WOULD_CREATE,
        Outcome.WOULD_PAIR,
        Outcome.EXCLUDED,
        Outcome.NOT_ELIGIBLE,
        Outcome.REMOVED,
        Outcome.WOULD_REMOVE,
        Outcome.REMOVAL_PENDING,
    }
)


EXPECTED = frozenset({Outcome.NOT_ENROLLED, Outcome.NO_EMAIL})
"""Outcomes that need no action tonight: every district has students with no enrollment yet,
and a later run pairs them by itself; and guardians the SIS has no email for, whom no run can
pair until it has one (``excluded`` is a success already). Both are still reported."""

NOT_REACHED = frozenset({Outcome.NOT_PROCESSED})
"""Outcomes only a stopped run gives: the stop is what needs a person (it exits 2 whatever
``--fail-on`` says), not each row it did not reach, which the next run takes by itself."""

DEFAULT_FAIL_ON = frozenset(
    o for o in Outcome if not o.is_success and o not in EXPECTED and o not in NOT_REACHED
)
"""The outcomes that make a finished run exit 1 unless ``--fail-on`` says otherwise, and what
the run's summary, `runs` and `show --needs-attention` count as needing attention."""


@dataclass(frozen=True, slots=True)
class RowResult:
    """The final word on one roster row (a report row and a journal row)."""

    line: int
    student_id: str
    observer_email: str
    outcome: Outcome
    detail: str = ""
    canvas_student_id: int | None = None
    canvas_observer_id: int | None = None
    # Who the row is about, as people read it: the student's name as Canvas gives it (empty
    # when the student was not found) and the guardian's name as the roster gives it.
    student_name: str = ""
    guardian_name: str = ""

    def as_json(self) -> dict[str, object]:
        """The row as the report and `show --json` give it (docs/cli.md)."""
        return {
            "line": self.line,
            "student_id": self.student_id,
            "observer_email": self.observer_email,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "canvas_student_id": self.canvas_student_id,
            "canvas_observer_id": self.canvas_observer_id,
            "student_name": self.student_name,
            "guardian_name": self.guardian_name,
        }

    @property
    def student_label(self) -> str:
        """The student as people read them: ``Sam Lee (S123)``, or the id alone when Canvas
        gave no name."""
        return _label(self.student_name, self.student_id)

    @property
    def guardian_label(self) -> str:
        """The guardian as people read them: ``Pat Lee (pat@home.test)``, the email alone when
        the roster gave no name, ``Pat Lee (no email)`` when it gave no email."""
        return _label(self.guardian_name, self.observer_email or "no email")


def _label(name: str, key: str) -> str:
    if not name:
        return key
    return f"{name} ({key})" if key else name


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One write the sync sent to Canvas, for the audit trail.

    ``kind``: ``create_user`` | ``pairing_code`` | ``pair_code`` | ``pair_direct`` |
    ``remove_link`` | ``update_login`` | ``add_email`` | ``rename_user`` (``--update-guardians``).
    ``result``: ``ok`` | ``failed`` | ``unknown`` (sent, no answer; resolved by a look-up)
    | ``recovered`` (the look-up found it done) | ``gone`` (a removal Canvas answered 404: the
    link was already gone, which counts as done).
    """

    kind: str
    line: int
    at: str  # ISO 8601 UTC
    result: str
    canvas_observer_id: int | None = None
    canvas_student_id: int | None = None
    detail: str = ""
    cause: str = ""  # remove_link: absent | ended | excluded (why, for `undo`)
