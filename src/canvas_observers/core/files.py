"""Files the tool writes for people: owner-only, atomic, and safe to open in a spreadsheet.

Reports and exports hold guardians' emails and students' ids, so they are created
readable by their owner only (0600) and written atomically: a temporary file in the same
directory, then ``os.replace``, so a reader never sees half a file and a crash leaves the old
one intact.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are prefixed with ``'``, per the OWASP "CSV Injection" guidance: a
roster typed by office staff, or a name from Canvas, must not run code on an admin's machine.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_risk(value: str) -> bool:
    """True when a spreadsheet would evaluate ``value`` as a formula."""
    return value.startswith(FORMULA_START)


def csv_safe(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would otherwise evaluate as a formula."""
    return "'" + value if formula_risk(value) else value


def write_private(path: Path, text: str | Iterable[str], *, encoding: str = "utf-8") -> None:
    """Write ``text`` (a string, or its pieces) to ``path`` atomically, as a file only its
    owner can read (0600). ``encoding="utf-8-sig"`` adds the byte-order mark Excel needs to
    read a CSV as UTF-8."""
    # mkstemp creates the file with O_EXCL and mode 0600, whatever the umask.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as f:
            for piece in [text] if isinstance(text, str) else text:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
