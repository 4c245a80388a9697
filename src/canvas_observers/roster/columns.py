"""Which header column holds each of the four roster fields, and the separator between them.

The four-column roster names its columns ``REQUIRED_COLUMNS`` (any case, any order); an SIS
that exports its own headers ("Student ID", "Parent Email") maps them with ``--column
NAME=HEADER``. A column missing from the header is a ``RosterError`` that lists the headers
found and, when some of them look like the missing ones, the ``--column`` flags to pass.
``--delimiter`` picks the separator: ``,`` (the default), ``;`` or a tab (``\\t`` or ``tab``).
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable, Mapping

from canvas_observers.core.columns import ROSTER_COLUMNS
from canvas_observers.roster.model import RosterError

REQUIRED_COLUMNS = ROSTER_COLUMNS
OPTIONAL_COLUMNS = ("guardian_id",)  # the SIS's own guardian id, when the export has one
COLUMNS_HINT = "The roster needs the columns " + ", ".join(REQUIRED_COLUMNS) + "."
DELIMITERS = {",": ",", ";": ";", "\\t": "\t", "\t": "\t", "tab": "\t"}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_DELIMITER_FLAGS = {",": "','", ";": "';'", "\t": "tab"}
# Words SIS headers use for the roster's own: "Parent Email" is observer_email.
_SYNONYMS = {
    "parent": "observer", "guardian": "observer", "contact": "observer", "mail": "email",
    "given": "first", "forename": "first", "surname": "last", "family": "last",
    "number": "id", "num": "id", "no": "id", "code": "id", "pupil": "student",
}  # fmt: skip
# What each column is compared with (after _key): its own name and the shorter ways SIS
# exports name it.
_ALIASES = {
    "student_id": ("studentid", "id", "sisid"),
    "observer_email": ("observeremail", "email"),
    "observer_first_name": ("observerfirstname", "firstname", "first"),
    "observer_last_name": ("observerlastname", "lastname", "last"),
}
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_CLOSE_ENOUGH = 0.5


def parse_delimiter(value: str) -> str:
    """``,``, ``;``, or a tab given as ``\\t`` or ``tab``; ValueError for anything else."""
    try:
        return DELIMITERS[value.lower() if value.isalpha() else value]
    except KeyError:
        raise ValueError(f"{value!r} is not a separator the reader knows: use , ; or tab") from None


def parse_mapping(values: Iterable[str]) -> dict[str, str]:
    """``NAME=HEADER`` values to ``{name: header}``; ValueError naming the first bad one."""
    mapping: dict[str, str] = {}
    for value in values:
        name, sep, header = value.partition("=")
        name, header = name.strip().lower(), header.strip()
        if not sep or not header:
            raise ValueError(f"{value!r} is not NAME=HEADER, e.g. 'student_id=Student ID'")
        if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
            known = ", ".join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
            raise ValueError(f"{name!r} is not a roster column: use {known}")
        if name in mapping:
            raise ValueError(f"{name} is mapped twice")
        mapping[name] = header
    return mapping


def _key(header: str) -> str:
    """``Parent E-mail`` -> ``observeremail``: what a header is compared by when suggesting."""
    words = [w.lower() for w in _WORDS.findall(header)]
    return "".join(_SYNONYMS.get(w, w) for w in words)


def _likeness(column: str, header: str) -> float:
    key = _key(header)
    return max(difflib.SequenceMatcher(None, alias, key).ratio() for alias in _ALIASES[column])


def suggest(missing: Iterable[str], headers: Iterable[str]) -> dict[str, str]:
    """The header that looks most like each missing column (each header used once)."""
    candidates = [h for h in headers if h]
    scored = sorted(
        (
            (_likeness(column, header), column, header)
            for column in missing
            for header in candidates
        ),
        reverse=True,
    )
    chosen: dict[str, str] = {}
    for score, column, header in scored:
        if score >= _CLOSE_ENOUGH and column not in chosen and header not in chosen.values():
            chosen[column] = header
    return {column: chosen[column] for column in REQUIRED_COLUMNS if column in chosen}


def _flags(mapping: Mapping[str, str]) -> str:
    return " ".join(f"--column {shlex.quote(f'{c}={h}')}" for c, h in mapping.items())


def kept_columns(
    header: list[str], keep: Iterable[str], *, line: int, source: str
) -> dict[str, int]:
    """The index of each column a command asked to keep (``letters --language-column``), by
    its name as given; RosterError naming the column and the headers found when one is not in
    the header. Matched like the roster's own columns: trimmed, any case."""
    names = [h.replace("\ufeff", "").strip().casefold() for h in header]
    index: dict[str, int] = {}
    for column in keep:
        wanted = column.strip().casefold()
        if wanted not in names:
            found = ", ".join(repr(h.replace("\ufeff", "").strip()) for h in header if h.strip())
            raise RosterError(
                f"the header has no column {column!r} (found: {found or 'none'})",
                source=source,
                line=line,
                field=column,
            )
        index[column] = names.index(wanted)
    return index


def resolve(
    header: list[str],
    *,
    line: int,
    source: str,
    mapping: Mapping[str, str] | None = None,
    delimiter: str = ",",
) -> dict[str, int]:
    """The index of each required column in ``header``; RosterError when one is missing."""
    names = [h.replace("\ufeff", "").strip() for h in header]
    if len(names) == 1:
        others = [d for d in _DELIMITER_NAMES if d != delimiter and d in names[0]]
        if others:
            kind = max(others, key=names[0].count)
            raise RosterError(
                f"the file is {_DELIMITER_NAMES[kind]}-separated, not "
                f"{_DELIMITER_NAMES[delimiter]}-separated; pass --delimiter "
                f"{_DELIMITER_FLAGS[kind]}",
                source=source,
                line=line,
            )
    mapping = mapping or {}
    wanted = {mapping.get(c, c).casefold(): c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        column = wanted.get(name.casefold())
        if column is None:
            continue
        if column in index:
            raise RosterError(
                f"the column {name.casefold()!r} appears twice in the header "
                f"(columns {index[column] + 1} and {i + 1}); keep one",
                source=source,
                line=line,
                field=column,
            )
        index[column] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if not missing:
        return {c: index[c] for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in index}
    found = ", ".join(repr(n) for n in names if n) or "none"
    unmapped = [c for c in missing if c in mapping]
    if unmapped:
        given = _flags({c: mapping[c] for c in unmapped})
        raise RosterError(
            f"the header has no column {', '.join(repr(mapping[c]) for c in unmapped)} "
            f"(given as {given}; found: {found})",
            source=source,
            line=line,
            field=unmapped[0],
        )
    what = "column" if len(missing) == 1 else "columns"
    message = f"the header has no {what} {', '.join(missing)} (found: {found}). {COLUMNS_HINT}"
    taken = {names[i] for i in index.values()}
    close = suggest(missing, [n for n in names if n not in taken])
    if close:
        message += f" To map the SIS's own headers: {_flags(close)}"
    raise RosterError(message, source=source, line=line, field=missing[0])
