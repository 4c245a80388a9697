"""Read a four-column roster straight from an Excel workbook (``.xlsx``/``.xlsm``), the form
many SIS exports take, so nobody has to re-save it as CSV (where Excel's "CSV" choice picks
the encoding and mangles ids with leading zeros).

The sheet's rows go through the CSV reader's own validation (``csv_reader.roster_from_records``):
same columns and ``--column`` mapping, same row problems and messages. What is particular to a
workbook:

* ``--sheet NAME`` picks the sheet; by default the first one. An unknown name lists the sheets.
* Line numbers are the spreadsheet's row numbers, what Excel shows at the left.
* Read with openpyxl in read-only mode, values only: a formula gives the value Excel saved with
  it. A workbook written by a program that does not calculate (no value saved) has that cell
  reported as a formula without a value, not as empty.
* Numbers Excel stores as floats become the digits a person typed: a student id ``12345.0`` is
  ``"12345"``, and one shown with a zero-padded format (``00000``) keeps its leading zeros.
* A date becomes ISO text (``2024-09-01``). An error cell (``#N/A``) reads as blank, and a
  row that needs it is a problem that names the cell and the error.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from canvas_observers.roster.columns import COLUMNS_HINT, resolve
from canvas_observers.roster.csv_reader import roster_from_records
from canvas_observers.roster.model import Roster, RosterError

SUFFIXES = (".xlsx", ".xlsm")
_ZERO_PADDED = re.compile(r"0+")


def is_workbook(path: Path) -> bool:
    """An Excel 2007+ workbook: a zip archive holding ``xl/workbook.xml``, whatever its name."""
    try:
        with path.open("rb") as fp:
            if fp.read(4) != b"PK\x03\x04":
                return False
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def read_workbook(
    path: Path,
    *,
    source: str,
    sheet: str | None = None,
    columns: Mapping[str, str] | None = None,
    keep: Sequence[str] = (),
) -> Roster:
    """Read the four-column roster from ``sheet`` (default: the first) of the workbook at
    ``path``, each row keeping the values of the columns ``keep`` names. Raises
    ``RosterError`` when it cannot be read as a roster at all."""
    book = _open(path, source, data_only=True)
    try:
        ws = _sheet(book, sheet, source)
        rows = _rows(ws)
        header_line, header = _header(rows, source)
        blank: dict[tuple[int, int], str] = {}
        try:
            used = set(resolve(header, line=header_line, source=source, mapping=columns).values())
            roster = roster_from_records(
                header_line,
                header,
                _records(rows, blank, used),
                source=source,
                columns=columns,
                keep=keep,
            )
        except RosterError as error:
            others = [repr(w.title) for w in book.worksheets if w is not ws]
            if sheet is None and others and error.line == header_line:
                error.message += (
                    f" (this is the first sheet, {ws.title!r}; the workbook also has "
                    f"{', '.join(others)}: pass --sheet NAME)"
                )
            raise
    finally:
        book.close()
    if not blank or not roster.problems:
        return roster
    return _explain_blanks(roster, path, ws.title, blank, source)


def _open(path: Path, source: str, *, data_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise RosterError(
            f"cannot read the Excel workbook ({exc}); open it in Excel and save it again as "
            '"Excel Workbook (.xlsx)", or save the sheet as "CSV UTF-8"',
            source=source,
        ) from None
    except OSError as exc:
        raise RosterError(f"cannot read: {exc}", source=source) from exc


def _sheet(book: Any, name: str | None, source: str) -> Any:
    sheets = book.worksheets
    if not sheets:
        raise RosterError("the workbook has no worksheet", source=source)
    if name is None:
        return sheets[0]
    for ws in sheets:
        if ws.title == name:
            return ws
    found = ", ".join(repr(ws.title) for ws in sheets)
    raise RosterError(f"the workbook has no sheet {name!r}; its sheets: {found}", source=source)


_Cells = Iterator[tuple[int, tuple[Any, ...]]]


def _rows(ws: Any) -> _Cells:
    """(spreadsheet row number, cells) for every row, empty ones included."""
    # The stored dimension is sometimes wrong (some exporters write "A1"); read what is there.
    ws.reset_dimensions()
    return enumerate(ws.iter_rows(min_row=1), start=1)


def _header(rows: _Cells, source: str) -> tuple[int, list[str]]:
    """The first row with anything in it."""
    for number, cells in rows:
        values = [_text(cell) for cell in cells]
        texts = [v if isinstance(v, str) else "" for v in values]
        if any(t.strip() for t in texts):
            while texts and not texts[-1].strip():
                texts.pop()
            return number, texts
    raise RosterError(f"the sheet is empty; expected a header row. {COLUMNS_HINT}", source=source)


def _records(
    rows: _Cells, blank: dict[tuple[int, int], str], used: set[int]
) -> Iterator[tuple[int, list[str] | str]]:
    """Each non-empty row as text fields. A cell holding an error (``#N/A``) reads as blank,
    so a required one makes the row a problem (an unused column's does not matter); ``blank``
    collects (row, column) of the blank cells in ``used`` columns of non-empty rows, with the
    error if any, for ``_explain_blanks`` (a formula without a saved value reads as blank)."""
    for number, cells in rows:
        values = [_text(cell) for cell in cells]
        fields = [v if isinstance(v, str) else "" for v in values]
        if not any(f.strip() for f in fields):
            continue
        for i in used:
            value = values[i] if i < len(values) else ""
            if isinstance(value, _ErrorValue):
                blank[number, i] = f"holds the spreadsheet error {value.code}"
            elif not value:
                blank[number, i] = ""
        yield number, fields


@dataclasses.dataclass(frozen=True, slots=True)
class _ErrorValue:
    code: str  # "#N/A", "#REF!", ...


def _text(cell: Any) -> str | _ErrorValue:
    """A cell's value as the text a person reads in it."""
    value = cell.value
    if value is None:
        return ""
    if getattr(cell, "data_type", None) == "e":
        return _ErrorValue(str(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return _number(value, getattr(cell, "number_format", None) or "General")
    if isinstance(value, datetime.datetime):
        midnight = value.time() == datetime.time()
        return value.date().isoformat() if midnight else value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _number(value: float, number_format: str) -> str:
    """``12345.0`` -> ``"12345"``; a zero-padded format (``00000``) keeps its zeros."""
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    whole = int(value)
    if _ZERO_PADDED.fullmatch(number_format) and whole >= 0:
        return f"{whole:0{len(number_format)}d}"
    return str(whole)


def _explain_blanks(
    roster: Roster,
    path: Path,
    title: str,
    blank: dict[tuple[int, int], str],
    source: str,
) -> Roster:
    """Say of each problem row why a cell it needs read as blank: an error value, or a formula
    whose value the workbook does not hold. Formulas are found by reading the sheet again with
    them (a second pass, only when a problem row has a blank cell that is not an error)."""
    lines = {p.line for p in roster.problems}
    wanted = {cell: why for cell, why in blank.items() if cell[0] in lines}
    unexplained = [cell for cell, why in wanted.items() if not why]
    if unexplained:
        last = max(r for r, _ in unexplained)
        book = _open(path, source, data_only=False)
        try:
            for number, cells in _rows(book[title]):
                if number > last:
                    break
                for i, cell in enumerate(cells):
                    value = cell.value
                    if (number, i) in wanted and isinstance(value, str) and value[:1] == "=":
                        wanted[number, i] = (
                            f"is a formula ({value}) whose value the workbook does not hold (a "
                            "program that does not calculate saved it): open the workbook in "
                            "Excel and save it again"
                        )
        finally:
            book.close()
    said: dict[int, list[str]] = {}
    for (number, i), why in sorted(wanted.items()):
        if why:
            said.setdefault(number, []).append(f"cell {get_column_letter(i + 1)}{number} {why}")
    if not said:
        return roster
    # A cell that reads blank because of an error or a formula without a value is not a
    # guardian the SIS has no email for: the row is invalid, with the cell named.
    problems = tuple(
        dataclasses.replace(p, reason=f"{'; '.join(said[p.line])}; so {p.reason}", no_email=False)
        if p.line in said
        else p
        for p in roster.problems
    )
    return dataclasses.replace(roster, problems=problems)
