"""Where a roster comes from: format detection, dispatch, and reading SIS export bundles.

Formats (``--format``): ``csv`` (the four-column roster, ``csv_reader``), ``oneroster``
(OneRoster 1.1/1.2: a folder or ``.zip`` with ``users.csv``, or a lone ``users.csv``) and
``sds`` (Microsoft School Data Sync v2.1: a folder or ``.zip`` with ``relationships.csv``).
Detection: a folder or zip holding ``relationships.csv`` is SDS, one holding
``users.csv`` is OneRoster; a CSV file whose header has ``sourcedId`` and ``role`` (or
``agentSourcedIds``) is OneRoster; anything else is the four-column CSV.

The readers live in ``oneroster.py`` and ``sds.py``; they import the bundle and table helpers
from here, so ``read_source`` imports them when called (a top-level import would be circular).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from canvas_observers.roster.model import Roster, RosterError, RowProblem, eight_bit_guess

FORMATS = ("csv", "oneroster", "sds")
DEFAULT_GUARDIAN_ROLES: tuple[str, ...] = ("parent", "guardian")
# A zip member is read into memory: refuse a "zip bomb" rather than exhaust it (the memory
# target is a 100,000-row roster in under 300 MB, docs/performance.md; its users.csv is ~30 MB).
MAX_MEMBER_BYTES = 256 * 1024 * 1024
FOUR_COLUMNS = ("student_id", "observer_email", "observer_first_name", "observer_last_name")


# -- bundles and tables (shared by the OneRoster and SDS readers) ---------------------------


@dataclass(frozen=True, slots=True)
class Bundle:
    """An SIS export: a folder, a ``.zip`` (files at any depth), or a lone ``users.csv``."""

    path: Path

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        """``dir``, ``zip`` (by the .zip suffix: an .xlsx is a zip too, but not a bundle) or
        ``file``."""
        if self.path.is_dir():
            return "dir"
        return "zip" if self.path.suffix.lower() == ".zip" else "file"

    def _open_zip(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RosterError(f"not a readable zip file ({exc})", source=self.label) from exc

    def _zip_member(self, zf: zipfile.ZipFile, name: str) -> str | None:
        """The member ``name`` in the export's folder inside the zip (case-insensitive).

        Exports are often zipped with their folder, so the export's folder is the one holding
        the shallowest users.csv (or relationships.csv for SDS), and every file is read from
        that same folder. Two such folders at the same depth (two exports in one zip) are an
        error rather than a guess.
        """
        files = [
            info.filename
            for info in zf.infolist()
            if not info.is_dir() and not info.filename.startswith("__MACOSX/")
        ]

        def folder(member: str) -> str:
            return member.rsplit("/", 1)[0] + "/" if "/" in member else ""

        def base(member: str) -> str:
            return member.rsplit("/", 1)[-1].lower()

        anchors = [m for m in files if base(m) in {"users.csv", "relationships.csv"}]
        if not anchors:
            return None
        depth = min(m.count("/") for m in anchors)
        roots = sorted({folder(m) for m in anchors if m.count("/") == depth})
        if len(roots) > 1:
            raise RosterError(
                f"holds more than one export ({', '.join(r or '(top)' for r in roots)}); "
                "give the zip of one export, or its folder",
                source=self.label,
            )
        root = roots[0]
        found = [m for m in files if folder(m) == root and base(m) == name.lower()]
        return found[0] if found else None

    def has(self, name: str) -> bool:
        match self.kind:
            case "dir":
                return (self.path / name).is_file()
            case "zip":
                with self._open_zip() as zf:
                    return self._zip_member(zf, name) is not None
            case _:  # a lone CSV file stands for users.csv and nothing else
                return name == "users.csv"

    def source_name(self, name: str) -> str:
        """The name used in messages: the file's own name for a lone CSV."""
        return self.path.name if self.kind == "file" else name

    def read_bytes(self, name: str) -> bytes:
        source = self.source_name(name)
        try:
            match self.kind:
                case "dir":
                    if not (self.path / name).is_file():
                        raise RosterError(f"missing from the folder {self.path}", source=name)
                    return (self.path / name).read_bytes()
                case "zip":
                    with self._open_zip() as zf:
                        member = self._zip_member(zf, name)
                        if member is None:
                            raise RosterError(f"missing from {self.label}", source=name)
                        if zf.getinfo(member).file_size > MAX_MEMBER_BYTES:
                            raise RosterError(
                                f"{member} in {self.label} unpacks to more than "
                                f"{MAX_MEMBER_BYTES // 2**20} MB; unzip it and check it",
                                source=name,
                            )
                        return zf.read(member)
                case _:
                    if name != "users.csv":
                        raise RosterError(f"missing: only {self.label} was given", source=name)
                    return self.path.read_bytes()
        except (OSError, zipfile.BadZipFile) as exc:
            raise RosterError(f"cannot read: {exc}", source=source) from exc


@dataclass(frozen=True, slots=True)
class Record:
    """One data row of a table: its first line and its cells keyed by lower-cased header."""

    line: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column.lower(), "").strip()


@dataclass(frozen=True, slots=True)
class Table:
    source: str
    columns: frozenset[str]  # lower-cased header names
    records: tuple[Record, ...]
    problems: tuple[RowProblem, ...] = ()

    def has(self, column: str) -> bool:
        return column.lower() in self.columns


def decode(data: bytes, *, source: str, encoding: str) -> str:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise RosterError(f"unknown encoding {encoding!r}", source=source) from exc
    # utf-8-sig drops the byte-order mark Excel and some SIS exports put first.
    codec = "utf-8-sig" if codec == "utf-8" else codec
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError(
            f"not valid {encoding} text (byte 0x{data[exc.start]:02x}); "
            f"save the export as UTF-8 or pass --encoding {eight_bit_guess(data)}",
            source=source,
            line=line,
        ) from exc


def read_table(bundle: Bundle, name: str, *, encoding: str, required: Iterable[str] = ()) -> Table:
    """Parse one CSV of the bundle; raise RosterError if it is missing a required column."""
    source = bundle.source_name(name)
    text = decode(bundle.read_bytes(name), source=source, encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[Record] = []
    problems: list[RowProblem] = []
    try:
        header = next(reader, None)
        if header is None:
            raise RosterError("the file is empty (no header row)", source=source, line=1)
        names = [h.strip().lower() for h in header]
        for col in required:
            if col.lower() not in names:
                raise RosterError(
                    f"no {col} column (the header has: {', '.join(h.strip() for h in header)})",
                    source=source,
                    line=1,
                    field=col,
                )
        last = reader.line_num
        for cells in reader:
            start, last = last + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                problems.append(
                    RowProblem(
                        line=start,
                        reason=f"has {len(cells)} fields but the header has {len(names)} "
                        "(an unquoted comma?); row skipped",
                        source=source,
                    )
                )
                continue
            row: dict[str, str] = {}
            for key, value in zip(names, cells, strict=True):
                row.setdefault(key, value)
            records.append(Record(start, row))
    except csv.Error as exc:
        raise RosterError(
            f"not readable as CSV: {exc}", source=source, line=reader.line_num
        ) from exc
    return Table(source, frozenset(names), tuple(records), tuple(problems))


# -- detection and dispatch -----------------------------------------------------------------


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
) -> SourceRead:
    """Like ``read_source``, also returning the format and the guardians' sourcedIds.

    ``columns`` and ``delimiter`` (``--column``, ``--delimiter``) apply to the four-column
    CSV only: OneRoster and SDS files have fixed headers and commas.
    """
    # Imported here: those modules import Bundle and read_table from this one.
    from canvas_observers.roster.csv_reader import read_roster
    from canvas_observers.roster.oneroster import read_oneroster
    from canvas_observers.roster.sds import read_sds

    fmt = (format or detect_format(path)).lower()
    if fmt not in FORMATS:
        raise RosterError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
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
        try:
            with path.open("rb") as fp:
                roster = read_roster(
                    fp, source=path.name, encoding=encoding, columns=columns, delimiter=delimiter
                )
                return SourceRead(roster, "csv")
        except OSError as exc:
            raise RosterError(f"cannot read: {exc}", source=path.name) from exc
    if not roles:
        raise RosterError("--guardian-roles names no role; the default is parent,guardian")
    bundle = Bundle(path)
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
    writer.writerow(FOUR_COLUMNS)
    for row in roster.rows:
        writer.writerow(
            (row.student_id, row.observer_email, row.observer_first_name, row.observer_last_name)
        )
    return out.getvalue()
