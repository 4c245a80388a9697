"""Where a roster comes from: format detection, and dispatch to the format's reader.

Formats (``--format``): ``csv`` (the four-column roster, ``csv_reader``), ``oneroster``
(OneRoster 1.1/1.2: a folder or ``.zip`` with ``users.csv``, or a lone ``users.csv``) and
``sds`` (Microsoft School Data Sync v2.1: a folder or ``.zip`` with ``relationships.csv``).
Detection: a folder or zip holding ``relationships.csv`` is SDS, one holding
``users.csv`` is OneRoster; a CSV file whose header has ``sourcedId`` and ``role`` (or
``agentSourcedIds``) is OneRoster; anything else is the four-column CSV.

The readers live in ``csv_reader.py``, ``oneroster.py`` and ``sds.py`` (the last two on
``bundle.py`` and ``links.py``); this module sits above them all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from canvas_observers.roster.bundle import Bundle
from canvas_observers.roster.columns import REQUIRED_COLUMNS
from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.roster.model import Roster, RosterError
from canvas_observers.roster.oneroster import read_oneroster
from canvas_observers.roster.sds import read_sds
from canvas_observers.roster.xlsx_reader import is_workbook, read_workbook

FORMATS = ("csv", "oneroster", "sds")
_FORMAT_NAMES = {"oneroster": "OneRoster", "sds": "School Data Sync"}
DEFAULT_GUARDIAN_ROLES: tuple[str, ...] = ("parent", "guardian")


@dataclass(frozen=True, slots=True)
class SourceRead:
    """What reading a source gives: the roster, the format used, and, for OneRoster and SDS,
    the guardian ``sourcedId`` behind each email (the first one, when an email is shared)."""

    roster: Roster
    format: str
    guardian_ids: Mapping[str, str] = field(default_factory=dict)


def _header_names(path: Path) -> set[str]:
    try:
        with path.open("rb") as fp:
            head = fp.read(1 << 16)
    except OSError as exc:
        raise RosterError(f"cannot read: {exc}", source=path.name) from exc
    text = head.decode("utf-8-sig", errors="replace")
    first = next(csv.reader(io.StringIO(text.splitlines()[0] if text else "")), [])
    return {h.strip().lower() for h in first}


def detect_format(path: Path) -> str:
    """``csv``, ``oneroster`` or ``sds``, from what ``path`` holds (see the module docstring)."""
    if not path.exists():
        raise RosterError("no such file or folder", source=str(path))
    bundle = Bundle(path)
    if bundle.kind in ("dir", "zip"):
        if bundle.has("relationships.csv"):
            return "sds"
        return "oneroster" if bundle.has("users.csv") else "csv"
    header = _header_names(path)
    if "sourcedid" in header and ("role" in header or "agentsourcedids" in header):
        return "oneroster"
    return "csv"


def read_source_detailed(
    path: Path,
    *,
    format: str | None = None,
    guardian_roles: Sequence[str] = DEFAULT_GUARDIAN_ROLES,
    student_id_field: str = "identifier",
    prefer_preferred_names: bool = True,
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
    own: bool = False,
    sheet: str | None = None,
    keep: Sequence[str] = (),
) -> SourceRead:
    """Like ``read_source``, also returning the format and the guardians' sourcedIds.

    ``columns`` and ``delimiter`` (``--column``, ``--delimiter``) apply to the four-column
    CSV only: OneRoster and SDS files have fixed headers and commas. A four-column roster may
    also be an Excel workbook (``xlsx_reader``), its sheet ``sheet`` (default: the first).
    ``own``: the bundle is one this tool wrote (``Bundle.own``). ``keep``: other columns of a
    four-column roster (CSV or workbook) whose values each row keeps (``RosterRow.extra``);
    OneRoster and SDS have fixed fields, so ``keep`` is refused for them.
    """
    fmt = (format or detect_format(path)).lower()
    if fmt not in FORMATS:
        raise RosterError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    if keep and fmt != "csv":
        raise RosterError(
            f"this is a {_FORMAT_NAMES.get(fmt, fmt)} roster, whose fields are fixed: the "
            f"column{'s' if len(keep) > 1 else ''} {', '.join(repr(k) for k in keep)} can be "
            "read only from a four-column CSV or Excel roster",
            source=path.name,
        )
    if not path.exists():
        raise RosterError("no such file or folder", source=str(path))
    roles = tuple(r.strip().lower() for r in guardian_roles if r.strip())
    if fmt == "csv":
        if path.is_dir():
            raise RosterError(
                "is a folder with neither users.csv (OneRoster) nor relationships.csv (SDS); "
                "give the roster CSV file, or the folder of a OneRoster or SDS export",
                source=str(path),
            )
        if is_workbook(path):
            roster = read_workbook(path, source=path.name, sheet=sheet, columns=columns, keep=keep)
            return SourceRead(roster, "csv")
        if sheet is not None:
            raise RosterError(
                f"--sheet {sheet!r} is for an Excel workbook (.xlsx); this is a CSV file",
                source=path.name,
            )
        try:
            with path.open("rb") as fp:
                roster = read_roster(
                    fp,
                    source=path.name,
                    encoding=encoding,
                    columns=columns,
                    delimiter=delimiter,
                    keep=keep,
                )
                return SourceRead(roster, "csv")
        except OSError as exc:
            raise RosterError(f"cannot read: {exc}", source=path.name) from exc
    if not roles:
        raise RosterError("--guardian-roles names no role; the default is parent,guardian")
    bundle = Bundle(path, own=own)
    if fmt == "sds" and bundle.kind == "file":
        raise RosterError(
            "SDS needs the folder or .zip holding relationships.csv and users.csv",
            source=path.name,
        )
    reader = read_sds if fmt == "sds" else read_oneroster
    got = reader(
        bundle,
        guardian_roles=roles,
        student_id_field=student_id_field,
        prefer_preferred_names=prefer_preferred_names,
        encoding=encoding,
    )
    roster = got.roster
    if not roster.rows and not roster.removal_candidates and not roster.problems:
        # Like a four-column file with a header only: nothing to do is worth saying loudly
        # (a wrong --guardian-roles or an export without guardians looks exactly like this).
        raise RosterError(
            f"found no guardian-student links for the roles {', '.join(roles)}; check "
            "--guardian-roles and that the export includes guardians",
            source=path.name,
        )
    return SourceRead(got.roster, fmt, got.guardian_ids)


def read_source(
    path: Path,
    *,
    format: str | None = None,
    guardian_roles: Sequence[str] = DEFAULT_GUARDIAN_ROLES,
    student_id_field: str = "identifier",
    prefer_preferred_names: bool = True,
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    delimiter: str = ",",
) -> Roster:
    """Read a roster from a four-column CSV, a OneRoster bundle or an SDS bundle.

    Raises ``RosterError`` (naming file, line and field where known) when the source cannot
    be read at all; row-level trouble is in ``Roster.problems``.
    """
    return read_source_detailed(
        path,
        format=format,
        guardian_roles=guardian_roles,
        student_id_field=student_id_field,
        prefer_preferred_names=prefer_preferred_names,
        encoding=encoding,
        columns=columns,
        delimiter=delimiter,
    ).roster


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """The source flags of the CLI (``cli.export.source_options``) as one value."""

    format: str | None = None
    guardian_roles: tuple[str, ...] = DEFAULT_GUARDIAN_ROLES
    student_id_field: str = "identifier"
    prefer_preferred_names: bool = True
    encoding: str = "utf-8"
    columns: tuple[tuple[str, str], ...] = ()  # (roster column, the file's header)
    delimiter: str = ","
    own_snapshot: bool = False  # the tool's own OneRoster API snapshot (Bundle.own)
    sheet: str | None = None  # an Excel roster's sheet (default: the first)
    keep: tuple[str, ...] = ()  # other columns whose values each row keeps (RosterRow.extra)

    def read_detailed(self, path: Path) -> SourceRead:
        return read_source_detailed(
            path,
            format=self.format,
            guardian_roles=self.guardian_roles,
            student_id_field=self.student_id_field,
            prefer_preferred_names=self.prefer_preferred_names,
            encoding=self.encoding,
            columns=dict(self.columns),
            delimiter=self.delimiter,
            own=self.own_snapshot,
            sheet=self.sheet,
            keep=self.keep,
        )

    def read(self, path: Path) -> Roster:
        return self.read_detailed(path).roster


def to_four_column_csv(roster: Roster) -> str:
    """The roster as the equivalent four-column CSV text (for comparing formats in tests).

    Values are written as they are, not formula-guarded: the text is meant for
    ``csv_reader.read_roster``, which must get back the very same rows.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REQUIRED_COLUMNS)
    for row in roster.rows:
        writer.writerow(
            (row.student_id, row.observer_email, row.observer_first_name, row.observer_last_name)
        )
    return out.getvalue()
