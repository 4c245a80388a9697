"""Roster values shared by every reader (four-column CSV, OneRoster, SDS) and the sync."""

from __future__ import annotations

from dataclasses import dataclass, field

from canvas_observers.core.errors import CanvasObserversError


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One valid (student, guardian) link, trimmed and validated.

    ``line`` is the 1-based line of the source file where the row starts; ``source`` is the
    file name used in messages. ``notes`` are non-fatal remarks shown in the row's detail
    (e.g. the same guardian email given with other names elsewhere). ``guardian_id`` is the
    SIS's own id of the guardian (optional), which follows them when their email changes.
    ``extra``: (column, value) of the other columns a command asked the reader to keep (the
    letters' language and school), in the order asked; empty otherwise.
    """

    line: int
    student_id: str
    observer_email: str
    observer_first_name: str
    observer_last_name: str
    source: str = ""
    notes: tuple[str, ...] = ()
    guardian_id: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def email_key(self) -> str:
        """The guardian email as compared: lower-cased, as Canvas compares logins (``LOWER()``).

        Not ``casefold()``: that would also equate ``straße`` with ``strasse``, two different
        Canvas logins, and so two different guardians.
        """
        return self.observer_email.lower()

    @property
    def student_is_login(self) -> bool:
        """A student id with ``@`` is the student's login/email, not an SIS id."""
        return "@" in self.student_id

    @property
    def observer_name(self) -> str:
        return f"{self.observer_first_name} {self.observer_last_name}".strip()

    @property
    def observer_sortable_name(self) -> str:
        return f"{self.observer_last_name}, {self.observer_first_name}".strip(", ")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was rejected (skipped), with where it was and why.

    The guardian's names are kept when the row gave usable ones, so the report can name the
    person. ``no_email``: the row is fine but for the guardian's missing email, which is
    common in an SIS and no mistake to fix in the row: the sync reports it as ``no_email``
    (not ``invalid_row``), and writes nothing for it. ``extra`` as on ``RosterRow``.
    """

    line: int
    reason: str
    student_id: str = ""
    observer_email: str = ""
    source: str = ""
    field: str = ""
    observer_first_name: str = ""
    observer_last_name: str = ""
    guardian_id: str | None = None
    no_email: bool = False
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def observer_name(self) -> str:
        return f"{self.observer_first_name} {self.observer_last_name}".strip()


def extra_value(extra: tuple[tuple[str, str], ...], column: str) -> str:
    """The value a row holds in a kept column (``RosterRow.extra``); "" when not kept."""
    return next((value for name, value in extra if name == column), "")


@dataclass(frozen=True, slots=True)
class RemovalCandidate:
    """A link the SIS marks as ending (tobedeleted/inactive/disabled): reported, not removed."""

    student_id: str
    observer_email: str
    reason: str
    source: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Roster:
    """The result of reading a roster: valid rows, rejected rows, and counts."""

    rows: tuple[RosterRow, ...]
    problems: tuple[RowProblem, ...] = ()
    duplicates: int = 0
    source: str = ""
    removal_candidates: tuple[RemovalCandidate, ...] = field(default_factory=tuple)
    ineligible: tuple[NotEligible, ...] = ()  # rows an eligibility rule left out (--only/--skip)


@dataclass(frozen=True, slots=True)
class NotEligible:
    """A roster row an eligibility rule (``--only``, ``--skip``) left out: nothing is written
    for it and it lists no link, so with ``--remove-ended`` a link made for it earlier goes as
    one whose row left the roster. ``reason`` names the rule and the row's value."""

    line: int
    student_id: str
    observer_email: str
    reason: str
    source: str = ""
    guardian_name: str = ""


class RosterError(CanvasObserversError):
    """The file cannot be read as a roster at all; the run stops before any write.

    The message names the file and, where known, the line and the field, and says what to do.
    """

    def __init__(
        self, message: str, *, source: str = "", line: int | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(message)

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        if self.field:
            where = f"{where} ({self.field})" if where else self.field
        return f"{where}: {self.message}" if where else self.message


def roster_pair(student_id: str, email: str) -> tuple[str, str]:
    """How a roster row's (student, guardian) pair is compared across runs: the student id as
    given (an SIS id is case-sensitive; a login-style id is lower-cased) and the lower-cased
    email, as Canvas compares logins."""
    student = student_id.strip()
    return (student.lower() if "@" in student else student, email.strip().lower())


_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def eight_bit_guess(data: bytes) -> str:
    """The ``--encoding`` to suggest for text that is not UTF-8: ``cp1252`` (what Excel on
    Windows writes), unless it holds a byte cp1252 leaves undefined, then ``latin-1``.

    Latin-1 reads the same letters (``é``, ``ñ``) but turns cp1252's quotes and dashes
    (``O’Brien``: byte 0x92) into control characters, so cp1252 is the safer guess.
    """
    return "latin-1" if any(b in _CP1252_UNDEFINED for b in data) else "cp1252"
