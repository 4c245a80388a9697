"""Validating one row: the rules for ids, emails and names that every roster reader applies.

The four-column reader (``csv_reader``) and the OneRoster/SDS link assembly (``links``) both
check their values here, so the two give the same rows for the same people. Each function
returns why a value is refused (the text that reaches the report) or None.

* Email validation is a practical check, not an RFC 5322 parser: one ``@``, a non-empty
  local part of at most 64 characters, a dotted domain with no empty labels, no whitespace,
  control or invisible characters, none of ``<>()[],;:"\\``, and at most 100 characters in all
  because Canvas refuses longer logins (``pseudonym[unique_id]`` max 100,
  docs/canvas-behaviour.md). Non-ASCII letters are allowed (internationalised addresses exist).
* Ids (a student's SIS id, a guardian's id or sourcedId) have no spaces, control or invisible
  characters, and at most 255 characters.
* Names are trimmed and inner whitespace runs collapse to one space; control characters and
  names longer than 255 characters are refused (Canvas's ``maximum_string_length``).
* A name that shows mojibake (``ZoÃ« MÃ¼ller``: UTF-8 read somewhere as cp1252) is refused,
  naming the likely intended text: an account created with it would greet the parent by a
  garbled name, in every email Canvas sends, until someone renames it by hand. ``mojibake``
  asks ftfy (which knows the many ways text gets garbled, and leaves real names alone), and
  also applies the plain rule ftfy is careful about: re-encoding as cp1252 gives valid UTF-8
  that differs (``Ã…se`` is ``Åse``; no real name is spelled with those letter pairs).
"""

from __future__ import annotations

import re

import ftfy

MAX_NAME_LENGTH = 255  # Canvas ActiveRecord maximum_string_length (users.name, sortable_name)
MAX_LOGIN_LENGTH = 100  # Canvas Pseudonym unique_id maximum (app/models/pseudonym.rb)
MAX_LOCAL_PART = 64  # RFC 5321 section 4.5.3.1.1
MAX_ID_LENGTH = 255  # sis_user_id and unique_id are string columns

# Control characters other than tab/CR/LF (which in names are just whitespace to collapse).
_NAME_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In ids and emails also refuse whitespace and invisible format characters (zero-width
# spaces, bidi marks, BOM, soft hyphen) that copy-paste from documents brings along.
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s")
_PLAIN_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[A-Za-z0-9._%+'&=!#$*/?^`{|}~-]{1,64}(?<!\.)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_EMAIL_FORBIDDEN = re.compile(r'[<>()\[\],;:"\\]')


def normalise_email(value: str) -> str:
    """Trim and lower-case: Canvas compares logins case-insensitively."""
    return value.strip().lower()


def normalise_name(value: str) -> str:
    """Trim and collapse inner whitespace runs to one space."""
    return " ".join(value.split())


def check_email(email: str, *, field: str = "observer_email") -> str | None:
    """Return why ``email`` (already trimmed) is not a usable Canvas login, or None if it is.

    ``field`` is the column the message names (``email`` in OneRoster and SDS files).
    """
    # Fast path for the common plain-ASCII address; everything else gets the detailed checks.
    if len(email) <= MAX_LOGIN_LENGTH and _PLAIN_EMAIL.fullmatch(email):
        return None
    return email_problem(email, field=field)


def email_problem(email: str, *, field: str = "observer_email") -> str | None:
    """The detailed checks behind ``check_email`` (the fast path must agree with these)."""
    shown = show(email)
    if _ID_CONTROL.search(email):
        return f"{field} {shown} contains control or invisible characters"
    if _SPACE.search(email):
        return f"{field} {shown} contains spaces"
    ats = email.count("@")
    if ats == 0:
        return f"{field} {shown} has no '@'"
    if ats > 1:
        return f"{field} {shown} has more than one '@'"
    bad = _EMAIL_FORBIDDEN.search(email)
    if bad:
        return f"{field} {shown} contains {bad.group()!r}, which an email cannot"
    local, domain = email.split("@")
    if not local:
        return f"{field} {shown} has nothing before the '@'"
    if not domain:
        return f"{field} {shown} has nothing after the '@'"
    if len(local) > MAX_LOCAL_PART:
        return f"{field} {shown} has more than {MAX_LOCAL_PART} characters before the '@'"
    if len(email) > MAX_LOGIN_LENGTH:
        return (
            f"{field} {shown} is longer than {MAX_LOGIN_LENGTH} characters, "
            "the longest login Canvas accepts"
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return f"{field} {shown} has a misplaced '.' before the '@'"
    if "." not in domain:
        return f"{field} {shown} has no dot in the domain {domain!r}"
    if domain.endswith("."):
        return f"{field} {shown} ends with a dot"
    if domain.startswith(".") or ".." in domain:
        return f"{field} {shown} has an empty part in the domain {domain!r}"
    return None


def check_student_id(student_id: str) -> str | None:
    """Why a (trimmed) student id is missing or unusable, or None."""
    if not student_id:
        return "student_id is missing"
    return check_id(student_id, "student_id")


def check_id(value: str, field: str) -> str | None:
    """Why an id (student or guardian, trimmed, not empty) is unusable, or None."""
    shown = show(value)
    if _ID_CONTROL.search(value):
        return f"{field} {shown} contains control or invisible characters"
    if _SPACE.search(value):
        return f"{field} {shown} contains spaces"
    if len(value) > MAX_ID_LENGTH:
        return f"{field} is longer than {MAX_ID_LENGTH} characters"
    return None


def check_name(value: str, field: str) -> tuple[str, str | None]:
    """The four-column reader's name check: the normalised name and why it is refused (None
    when it is fine). Control characters are looked for in the cell as given."""
    if _NAME_CONTROL.search(value):
        return "", f"{field} {show(value.strip())} contains control characters"
    name = normalise_name(value)
    if not name:
        return "", f"{field} is missing"
    if len(name) > MAX_NAME_LENGTH:
        return "", (
            f"{field} is {len(name)} characters long; Canvas allows at most {MAX_NAME_LENGTH}"
        )
    if (intended := mojibake(name)) is not None:
        return "", garbled(field, name, intended)
    return name, None


def mojibake(text: str) -> str | None:
    """The text ``text`` was probably meant to be, when it shows mojibake; None otherwise.

    ASCII text is never garbled, so it costs nothing; the cp1252 rule is applied until it
    stops changing the text (a name garbled twice: ``ZoÃƒÂ«``).
    """
    if text.isascii():
        return None
    fixed = ftfy.fix_encoding(text)
    for _ in range(3):
        try:
            again = fixed.encode("cp1252").decode("utf-8")
        except UnicodeError:
            break
        if again == fixed:
            break
        fixed = again
    return fixed if fixed != text else None


def garbled(field: str, value: str, intended: str) -> str:
    """Why a name showing mojibake is refused: what it probably says, and what to do."""
    return (
        f"{field} {show(value)} looks garbled (mojibake), probably {show(intended)}: correct "
        "it in the SIS (when every accented name looks like this, check --encoding)"
    )


def guardian_problem(email: str, names: tuple[str, str], sourced_id: str) -> tuple[str, str] | None:
    """(column, why) a OneRoster or SDS guardian cannot be provisioned: the four-column
    reader's rules, in the bundle's column names. The sourcedId becomes the guardian id,
    checked as the CSV's ``guardian_id``; ``email`` and ``names`` are already normalised."""
    if check_id(sourced_id, "sourcedId"):
        return "sourcedId", "has an unusable sourcedId (spaces, control characters or too long)"
    if not email:
        return "email", "has no email"
    if why := check_email(email, field="email"):
        return "email", why
    return guardian_names_problem(names)


def guardian_names_problem(names: tuple[str, str]) -> tuple[str, str] | None:
    """(column, why) a OneRoster or SDS guardian's (already normalised) names are unusable."""
    for column, value in zip(("givenName", "familyName"), names, strict=True):
        if not value:
            return column, f"has no {column}"
        if _NAME_CONTROL.search(value) or len(value) > MAX_NAME_LENGTH:
            return column, f"has an unusable {column} (control characters or too long)"
        if (intended := mojibake(value)) is not None:
            return column, (
                f"has a garbled {column} {show(value)} (mojibake), probably {show(intended)}: "
                "correct it in the SIS"
            )
    return None


def show(value: str, limit: int = 60) -> str:
    """A value quoted for a message: control characters escaped, long values cut short."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)
