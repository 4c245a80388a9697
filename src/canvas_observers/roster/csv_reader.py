"""Read the four-column roster CSV (``REQUIRED_COLUMNS``) into a validated ``Roster``.

What can go wrong, and what happens:

* The file cannot be a roster at all (empty, header only, a required column missing (with
  the ``--column`` mapping to pass, ``columns.py``), another separator than ``delimiter``,
  wrong encoding, UTF-16, binary, an unmatched quote that swallows the rest of the file)
  -> ``RosterError``: the run stops before any write. The message names the line and field
  where known and says what to do; it reads well after ``error: ``.
* One row is bad (missing field, invalid email, over-long name, control characters, broken
  quoting) -> a ``RowProblem`` with its line; the row is skipped and the other rows still run.

Decisions worth knowing:

* Line numbers are physical lines of the file; a record spanning several lines (a quoted
  field with a newline) is numbered by the line where it starts.
* The file is decoded in chunks and parsed as a stream, so a 100,000-row file needs no more
  than the rows themselves in memory.
* ``observer_email`` is trimmed and lower-cased: Canvas compares logins case-insensitively
  (``LOWER(pseudonyms.unique_id)``, docs/canvas-behaviour.md), so the lower-cased form is the one we
  create and search for. Names are trimmed and inner whitespace runs collapse to one space.
* Each row's values are checked by ``validate.py`` (the rules the OneRoster and SDS readers
  share): a practical email check (at most 100 characters, the longest Canvas login), ids
  without spaces, control or invisible characters, names of at most 255 characters.
* An optional ``guardian_id`` column carries the SIS's own id of the guardian: trimmed, empty
  means none, and checked like ``student_id``.
* Other columns are ignored, but for those a command names (``keep``: the letters' language
  and school columns): each row keeps their trimmed values in ``extra``, and a named column
  missing from the header is a ``RosterError`` that lists the headers found.
* Rows with the same ``student_id`` and the same email (compared lower-cased, as Canvas
  does) are collapsed: the first is kept and notes the lines of the others;
  ``Roster.duplicates`` counts them.
* The same guardian email with different names: every such row still runs (it is one
  account), the first name seen is the one used to create the account, and each affected row
  gets a note naming the other spelling and its line.
* A row whose only fault is an empty ``observer_email`` is a ``RowProblem`` marked
  ``no_email`` with the guardian's names: a guardian the SIS has no email for is common, and
  the sync reports it as ``no_email`` rather than ``invalid_row``. A malformed email is a
  fault of the row.
* A header with no data rows is a ``RosterError`` ("nothing to do"), so a truncated SIS export
  is noticed instead of silently succeeding.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import BinaryIO

from canvas_observers.roster.columns import COLUMNS_HINT, kept_columns, resolve
from canvas_observers.roster.model import (
    Roster,
    RosterError,
    RosterRow,
    RowProblem,
    eight_bit_guess,
)
from canvas_observers.roster.validate import (
    check_email,
    check_id,
    check_name,
    check_student_id,
    normalise_email,
    show,
)

MAX_NAME_NOTES = 3  # per row: list this many other spellings, then summarise

_CHUNK = 1 << 16
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UTF16_FAMILY = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}


def read_roster(
    fp: BinaryIO,
    *,
    source: str,
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    keep: Sequence[str] = (),
) -> Roster:
    """Read a roster CSV from an open binary file; ``source`` names the file in messages.

    ``columns`` maps roster columns to the file's own headers (``--column``); ``delimiter`` is
    the separator (``columns.DELIMITERS``); ``keep`` names other columns whose values each row
    keeps (``RosterRow.extra``). Raises ``RosterError`` when the file cannot be read as a
    roster at all, or has no column ``keep`` names.
    """
    codec = _codec_name(encoding, source)
    decoding = _Decoding(codec, source)
    lines = decoding.lines(fp)
    header_line, header, records = _records(lines, source, delimiter)
    return roster_from_records(
        header_line,
        header,
        records,
        source=source,
        columns=columns,
        delimiter=delimiter,
        finished=decoding.check,
        keep=keep,
    )


def roster_from_records(
    header_line: int,
    header: list[str],
    records: Iterable[tuple[int, list[str] | str]],
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    finished: Callable[[], None] | None = None,
    keep: Sequence[str] = (),
) -> Roster:
    """The roster of a header and its records, (line, fields) or (line, why the row is
    broken): what the CSV reader and the spreadsheet reader (``xlsx_reader``) share, so both
    give the same rows, problems and messages. ``finished`` runs after the last record (the
    CSV's whole-file encoding verdict)."""
    text = ",".join(header)
    if bad := _ESCAPED.search(text):
        column = bad.start() + 1  # the header's own text, as a CSV line without quotes
        raise not_utf8_file(header_line, column, ord(bad.group()) - 0xDC00, b"", source)
    index = resolve(header, line=header_line, source=source, mapping=columns, delimiter=delimiter)
    kept = kept_columns(header, keep, line=header_line, source=source)
    reader = _Reader(index, source, kept)
    for line, fields in records:
        reader.add(line, fields)
    if finished is not None:
        finished()
    if reader.seen == 0:
        raise RosterError(
            "the file has a header but no data rows; nothing to do. "
            "Check that the SIS export is complete.",
            source=source,
        )
    return reader.finish()


# -- decoding -------------------------------------------------------------------------------


def _codec_name(encoding: str, source: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise RosterError(
            f"unknown encoding {encoding!r}; try utf-8, latin-1, cp1252 or utf-16",
            source=source,
        ) from None
    # utf-8-sig reads UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8" adds one).
    return "utf-8-sig" if name == "utf-8" else name


def _sniff(head: bytes, codec: str, source: str) -> None:
    """Refuse UTF-16 and binary files up front, with a hint, instead of decoding garbage."""
    if codec in _UTF16_FAMILY:
        return
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise RosterError(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); "
            'save it as UTF-8 ("CSV UTF-8") or pass --encoding utf-16',
            source=source,
        )
    if b"\x00" not in head:
        return
    if head.startswith(b"PK\x03\x04"):
        raise RosterError(
            "the file is a zip archive, but neither an Excel workbook (.xlsx) nor a OneRoster "
            "or SDS export (it holds no users.csv); check that you picked the roster export",
            source=source,
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterError(
            "the file is an old Excel workbook (.xls), which cannot be read directly; open it "
            'in Excel and save it as "Excel Workbook (.xlsx)" or "CSV UTF-8 (Comma delimited)"',
            source=source,
        )
    sample = head[:8192]
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = max(len(sample) // 2, 1)
    # ASCII text in UTF-16 has a NUL in every other byte: the high byte of each code unit.
    if max(even, odd) >= half * 0.3 and min(even, odd) <= half * 0.02:
        order = "utf-16-le" if odd > even else "utf-16-be"
        raise RosterError(
            f"the file looks like UTF-16 without a byte-order mark; "
            f'save it as UTF-8 ("CSV UTF-8") or pass --encoding {order}',
            source=source,
        )
    # A stray NUL in a text export is one bad row (reported as a control character); a file
    # where control bytes are common is binary (images, archives, databases).
    controls = sum(1 for b in sample if b < 0x20 and b not in b"\t\n\r\x0c")
    if controls > len(sample) * 0.02:
        raise RosterError(
            "this is not a text CSV file (it contains binary data such as NUL bytes); "
            "check that you picked the roster export",
            source=source,
        )


class _Decoding:
    """Decodes the file chunk by chunk into lines, and judges its encoding at the end.

    Under UTF-8 a byte that does not decode is kept as a lone surrogate (``surrogateescape``)
    instead of stopping at once, because what to say depends on the whole file: one that is
    UTF-8 nowhere (no valid non-ASCII character at all) is an 8-bit export, refused at the end
    with the ``--encoding`` to pass (``check``); one that is UTF-8 except a few lines (an SIS
    whose older records were typed in another encoding) has those lines reported as bad rows
    (``_Reader.add``), since re-reading it as cp1252 would garble every other line.
    """

    def __init__(self, codec: str, source: str) -> None:
        self.codec = codec
        self.source = source
        self.errors = "surrogateescape" if codec == "utf-8-sig" else "strict"
        self.first_bad: tuple[int, int, int] | None = None  # (line, column, byte)
        self.bytes_seen = bytearray()  # the undecodable bytes (up to 4 KiB), for the guess
        self.saw_utf8 = False

    def lines(self, fp: BinaryIO) -> Iterator[str]:
        """Decode ``fp`` and yield lines with their endings (CRLF, LF or CR)."""
        decoder = codecs.getincrementaldecoder(self.codec)(errors=self.errors)
        lines_done = 0
        buf = ""
        first = True
        while True:
            chunk = fp.read(_CHUNK)
            if first:
                if not chunk:
                    raise RosterError(_empty_message(), source=self.source)
                _sniff(chunk, self.codec, self.source)
                first = False
            final = not chunk
            # The carried-over text holds no line end (but maybe a final CR), so scan only the
            # new text: a file with very long lines stays linear instead of quadratic.
            scan = max(len(buf) - 1, 0)
            try:
                buf += decoder.decode(chunk, final=final)
            except UnicodeDecodeError as err:
                lines_before = lines_done + buf.count("\n")
                raise _decode_error(err, self.codec, lines_before, self.source) from None
            pos = 0
            for match in _NEWLINE.finditer(buf, scan):
                if not final and match.end() == len(buf) and match.group() == "\r":
                    break  # a CR at the end of a chunk may be the first half of a CRLF
                lines_done += 1
                yield self._seen(buf[pos : match.end()], lines_done)
                pos = match.end()
            buf = buf[pos:]
            if final:
                if buf:
                    yield self._seen(buf, lines_done + 1)
                return

    def _seen(self, line: str, number: int) -> str:
        if self.errors == "strict":
            return line
        if not self.saw_utf8 and _VALID_NON_ASCII.search(line):
            self.saw_utf8 = True
        bad = _ESCAPED.search(line)
        if bad is not None:
            if self.first_bad is None:
                self.first_bad = (number, bad.start() + 1, ord(bad.group()) - 0xDC00)
            if len(self.bytes_seen) < 4096:
                self.bytes_seen += escaped_bytes(line)
        return line

    def check(self) -> None:
        """After the last line: a file with undecodable bytes and no UTF-8 at all is refused
        whole, naming its first bad byte and the ``--encoding`` to pass."""
        if self.first_bad is None or self.saw_utf8:
            return
        line, column, byte = self.first_bad
        raise not_utf8_file(line, column, byte, bytes(self.bytes_seen), self.source)


def not_utf8_file(line: int, column: int, byte: int, seen: bytes, source: str) -> RosterError:
    """The whole file is refused: it (or its header) is not UTF-8."""
    return RosterError(
        f"the file is not UTF-8: byte 0x{byte:02X} at column {column} cannot be decoded; "
        f'save it as UTF-8 ("CSV UTF-8") or pass --encoding {eight_bit_guess(seen)}',
        source=source,
        line=line,
    )


_ESCAPED = re.compile("[\udc80-\udcff]")  # an undecodable byte, kept by surrogateescape
_VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff\ufeff]")


def escaped_bytes(text: str) -> bytes:
    """The undecodable bytes ``surrogateescape`` kept in ``text``."""
    return bytes(ord(ch) - 0xDC00 for ch in _ESCAPED.findall(text))


def not_utf8(fields: Mapping[str, str]) -> str:
    """Why a row whose ``fields`` (column -> value) hold undecodable bytes is refused, with
    what each probably says."""
    said = []
    for field, value in fields.items():
        raw = value.strip().encode("utf-8", "surrogateescape")
        guess = eight_bit_guess(raw)
        said.append(
            f"{field} has byte 0x{escaped_bytes(value)[0]:02X} "
            f"(in {guess}: {show(raw.decode(guess, errors='replace'))})"
        )
    return (
        f"this line is not UTF-8 like the rest of the file: {', '.join(said)}; correct it in "
        'the SIS, or retype it and save the file as "CSV UTF-8", then run again'
    )


def readable(value: str) -> str:
    """``value`` with any undecodable byte read as its likely 8-bit letter, for messages and
    reports (a lone surrogate cannot be written as UTF-8)."""
    if not _ESCAPED.search(value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    return raw.decode(eight_bit_guess(raw), errors="replace")


def _decode_error(
    err: UnicodeDecodeError, codec: str, lines_before: int, source: str
) -> RosterError:
    data = err.object[: err.start]
    line = lines_before + data.count(b"\n") + 1
    column = err.start - (data.rfind(b"\n") + 1) + 1
    bad = err.object[err.start : err.end]
    name = "UTF-8" if codec == "utf-8-sig" else codec
    hint = 'check the --encoding value, or save the file as UTF-8 ("CSV UTF-8")'
    return RosterError(
        f"the file is not {name}: byte 0x{bad[0]:02X} at column {column} cannot be decoded; {hint}",
        source=source,
        line=line,
    )


def _empty_message() -> str:
    return "the file is empty; expected a header row. " + COLUMNS_HINT


# -- CSV records ----------------------------------------------------------------------------


_Records = Iterator[tuple[int, list[str] | str]]  # (line, fields) or (line, row-level error)


def _records(lines: Iterator[str], source: str, delimiter: str) -> tuple[int, list[str], _Records]:
    """Return the header (line, fields) and an iterator over the following records."""
    # strict: an unmatched quote at the end of the file is an error instead of silently
    # swallowing every later row into one field.
    reader = csv.reader(lines, strict=True, delimiter=delimiter)

    def records() -> _Records:
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                text = str(err)
                if "expected after" in text:
                    yield start, text  # one row's quoting is broken; the next line parses anew
                    continue
                raise _csv_fatal(text, start, source) from None
            if any(f.strip() for f in fields):  # blank lines (and ",,,") are skipped
                yield start, fields

    it = records()
    for line, fields in it:
        if isinstance(fields, str):
            raise RosterError(
                f"the header row has broken quoting ({fields})", source=source, line=line
            )
        return line, fields, it
    raise RosterError(_empty_message(), source=source)


def _csv_fatal(text: str, line: int, source: str) -> RosterError:
    if "unexpected end of data" in text or "field larger" in text:
        return RosterError(
            'a quoted field that starts on this line never ends (an unmatched double quote "), '
            "so every later row would be lost; fix the quote and run again",
            source=source,
            line=line,
        )
    return RosterError(f"cannot parse the CSV: {text}", source=source, line=line)


# -- rows -----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _EmailNames:
    """The first name seen for a guardian email, and the other spellings met later."""

    name: tuple[str, str]
    line: int
    index: int
    others: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)


class _Reader:
    """Validates records one at a time, collapsing duplicates and noting name conflicts."""

    def __init__(self, columns: dict[str, int], source: str, kept: dict[str, int]) -> None:
        self.columns = columns
        self.source = source
        self.kept = kept
        self.rows: list[RosterRow] = []
        self.problems: list[RowProblem] = []
        self.notes: dict[int, list[str]] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.names_by_email: dict[str, _EmailNames] = {}
        self.duplicates = 0
        self.seen = 0

    def add(self, line: int, fields: list[str] | str) -> None:
        self.seen += 1
        if isinstance(fields, str):
            reason = f"broken quoting ({fields}); fix the double quotes in this row"
            self.problems.append(RowProblem(line=line, reason=reason, source=self.source))
            return
        raw = {c: fields[i] if i < len(fields) else "" for c, i in self.columns.items()}
        if garbled := [c for c, value in raw.items() if _ESCAPED.search(value)]:
            self.problems.append(
                RowProblem(
                    line=line,
                    reason=not_utf8({c: raw[c] for c in garbled}),
                    student_id=readable(raw["student_id"].strip()),
                    observer_email=normalise_email(readable(raw["observer_email"])),
                    source=self.source,
                    field=garbled[0],
                )
            )
            return
        student_id = raw["student_id"].strip()
        email = normalise_email(raw["observer_email"])
        reasons: list[tuple[str, str]] = []
        if why := check_student_id(student_id):
            reasons.append(("student_id", why))
        if not email:
            reasons.append(("observer_email", "observer_email is missing"))
        elif why := check_email(email):
            reasons.append(("observer_email", why))
        first, why = check_name(raw["observer_first_name"], "observer_first_name")
        if why:
            reasons.append(("observer_first_name", why))
        last, why = check_name(raw["observer_last_name"], "observer_last_name")
        if why:
            reasons.append(("observer_last_name", why))
        guardian_id = raw.get("guardian_id", "").strip() or None
        if guardian_id is not None and (why := check_id(guardian_id, "guardian_id")):
            reasons.append(("guardian_id", why))
        extra = tuple(
            (c, readable(fields[i]).strip() if i < len(fields) else "")
            for c, i in self.kept.items()
        )
        if reasons:
            self.problems.append(
                RowProblem(
                    line=line,
                    reason="; ".join(r for _, r in reasons),
                    student_id=student_id,
                    observer_email=email,
                    source=self.source,
                    field=reasons[0][0],
                    observer_first_name=first,
                    observer_last_name=last,
                    guardian_id=guardian_id,
                    no_email=not email and len(reasons) == 1,
                    extra=extra,
                )
            )
            return
        self._keep(
            RosterRow(
                line,
                student_id,
                email,
                first,
                last,
                source=self.source,
                guardian_id=guardian_id,
                extra=extra,
            )
        )

    def _keep(self, row: RosterRow) -> None:
        # Logins compare case-insensitively in Canvas; SIS ids are compared exactly.
        sid = row.student_id.lower() if row.student_is_login else row.student_id
        key = (sid, row.email_key)
        name = (row.observer_first_name, row.observer_last_name)
        known = self.names_by_email.get(row.email_key)
        if key in self.keys:
            self.duplicates += 1
            kept = self.keys[key]
            note = f"duplicate of this row on line {row.line}"
            if known is not None and name != known.name:
                note += (
                    f" (which gives the name {_full(name)!r}; "
                    f"using {_full(known.name)!r} from line {known.line})"
                )
            self.notes.setdefault(kept, []).append(note)
            return
        index = len(self.rows)
        self.keys[key] = index
        self.rows.append(row)
        if known is None:
            self.names_by_email[row.email_key] = _EmailNames(name, row.line, index)
        elif name != known.name:
            known.others.setdefault(name, row.line)
            self.notes.setdefault(index, []).append(
                f"observer_email first given as {_full(known.name)!r} on line {known.line}; "
                f"using that name for the account, not {_full(name)!r}"
            )

    def finish(self) -> Roster:
        for known in self.names_by_email.values():
            if not known.others:
                continue
            notes = self.notes.setdefault(known.index, [])
            others = list(known.others.items())
            for name, line in others[:MAX_NAME_NOTES]:
                notes.append(
                    f"observer_email also given as {_full(name)!r} on line {line}; "
                    f"using {_full(known.name)!r} from line {known.line}"
                )
            if len(others) > MAX_NAME_NOTES:
                notes.append(
                    f"observer_email also given with {len(others) - MAX_NAME_NOTES} more "
                    f"different names on other rows"
                )
        rows = tuple(
            dataclasses.replace(row, notes=(*row.notes, *self.notes[i])) if i in self.notes else row
            for i, row in enumerate(self.rows)
        )
        return Roster(
            rows=rows,
            problems=tuple(self.problems),
            duplicates=self.duplicates,
            source=self.source,
        )


def _full(name: tuple[str, str]) -> str:
    return f"{name[0]} {name[1]}".strip()
