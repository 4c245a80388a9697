"""Write the fetched rows as a OneRoster CSV bundle folder, atomically and owner-only.

The folder is built beside its destination under a temporary name (mode 0700, files 0600;
its parents, when they are made here, 0700 as well),
each file flushed to disk, then moved into place: a reader sees the previous snapshot or the
new one, never half of one. A destination that exists must be an earlier snapshot (it holds
``fetch.json``) or an empty folder: anything else is refused rather than replaced.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canvas_observers.core.files import private_folder
from canvas_observers.sis_api.errors import ConfigError

FETCH_INFO = "fetch.json"


@dataclass(frozen=True, slots=True)
class CsvFile:
    """One CSV of the bundle: its header and its rows (cells by header name)."""

    columns: Sequence[str]
    rows: Iterable[Mapping[str, str]]


def manifest_rows(version: str, files: Iterable[str]) -> list[dict[str, str]]:
    """``manifest.csv`` (propertyName, value) of a bulk bundle holding ``files``."""
    rows = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ]
    rows += [{"propertyName": f"file.{Path(n).stem}", "value": "bulk"} for n in sorted(files)]
    rows.append({"propertyName": "source.systemName", "value": "canvas-observers"})
    return rows


def check_destination(dest: Path) -> None:
    """Refuse a destination that is not a folder this tool may replace."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise ConfigError(f"{dest} exists and is not a folder; give a folder for the snapshot")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / FETCH_INFO).is_file():
        raise ConfigError(
            f"{dest} is a folder that is not an earlier snapshot (no {FETCH_INFO}); "
            "give an empty or new folder"
        )


def _write(path: Path, data: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    out: list[str] = []

    class _Sink:
        def write(self, s: str) -> int:
            out.append(s)
            return len(s)

    writer = csv.DictWriter(_Sink(), fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return "".join(out)


def write_snapshot(dest: Path, files: Mapping[str, CsvFile], info: Mapping[str, Any]) -> None:
    """Write ``files`` and ``fetch.json`` as the folder ``dest``, replacing an earlier one."""
    check_destination(dest)
    parent = dest.parent if str(dest.parent) else Path(".")
    private_folder(parent)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{dest.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        os.chmod(tmp, 0o700)
        for name, table in files.items():
            _write(tmp / name, csv_text(table.columns, table.rows))
        _write(tmp / FETCH_INFO, json.dumps(info, indent=2, sort_keys=True) + "\n")
        if dest.exists():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{dest.name}.", suffix=".old"))
            os.replace(dest, old)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not dest.exists():
            with contextlib.suppress(OSError):
                os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
