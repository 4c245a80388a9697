"""Reading an SIS export bundle: a folder, a ``.zip`` or a lone ``users.csv``, and its tables.

A ``Bundle`` finds and reads the files of one export (inside a zip, the folder holding the
shallowest ``users.csv`` or ``relationships.csv``); ``read_table`` parses one of its CSVs by
header name into ``Record``s, skipping and reporting rows whose cell count is off. The
OneRoster and SDS readers are built on these.

A bundle this tool wrote itself (the OneRoster API snapshot, ``Bundle.own``) is read without
the csv module's field limit: see ``_field_limit``.
"""

from __future__ import annotations

import codecs
import csv
import io
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from canvas_observers.roster.model import RosterError, RowProblem, eight_bit_guess

# A zip member is read into memory: refuse a "zip bomb" rather than exhaust it (the memory
# target is a 100,000-row roster in under 300 MB, docs/performance.md; its users.csv is ~30 MB).
MAX_MEMBER_BYTES = 256 * 1024 * 1024
_CSV_LIMIT_MAX = 2**31 - 1  # csv.field_size_limit takes a C long: 32 bits on Windows
_LIMIT_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Bundle:
    """An SIS export: a folder, a ``.zip`` (files at any depth), or a lone ``users.csv``.

    ``own``: written by this tool (the OneRoster API snapshot, by ``csv.DictWriter``), so
    read back whatever the length of its fields.
    """

    path: Path
    own: bool = False

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


@contextmanager
def _field_limit(at_least: int) -> Iterator[None]:
    """Let the csv module read fields of up to ``at_least`` characters in the block.

    Python's csv module refuses a field longer than 131,072 characters ("field larger than
    field limit"). For an export someone gave us that limit is worth keeping: past it, an
    unmatched quote that would swallow the rest of the file into one field stops the read
    with an error instead. The tool's own snapshot cannot have an unmatched quote (the csv
    module quoted it), yet the SIS may send any field at any length (a guardian of 20,000
    students' ``agentSourcedIds``, a long ``userIds``): a snapshot written whole must be read
    whole, or the run stops on its own file. The field cannot be longer than the text it is
    in, which is already in memory, so the limit becomes the text's length, never less than
    the default.

    The limit is a setting of the whole process: it is restored on leaving, and a lock keeps
    two such blocks from restoring each other's value. Meanwhile a reader on another thread
    (the CLI has none then) could take a longer field than usual, nothing worse.
    """
    with _LIMIT_LOCK:
        before = csv.field_size_limit()
        csv.field_size_limit(min(max(before, at_least), _CSV_LIMIT_MAX))
        try:
            yield
        finally:
            csv.field_size_limit(before)


def read_table(bundle: Bundle, name: str, *, encoding: str, required: Iterable[str] = ()) -> Table:
    """Parse one CSV of the bundle; raise RosterError if it is missing a required column."""
    source = bundle.source_name(name)
    text = decode(bundle.read_bytes(name), source=source, encoding=encoding)
    with _field_limit(len(text)) if bundle.own else nullcontext():
        return _parse_table(text, source, required)


def _parse_table(text: str, source: str, required: Iterable[str]) -> Table:
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
