"""Files the tool writes for people: owner-only, atomic, and safe to open in a spreadsheet.

Reports and exports hold guardians' emails and students' ids, so they are created
readable by their owner only (0600) and written atomically: a temporary file in the same
directory, then ``os.replace``, so a reader never sees half a file and a crash leaves the old
one intact.

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return) are prefixed with ``'``, per the OWASP "CSV Injection" guidance: a
roster typed by office staff, or a name from Canvas, must not run code on an admin's machine.

The folders the tool creates for such files are owner-only too (``private_folder``), and a
file it opens by name to append or lock (the log file, the lock file) is never a symbolic
link (``open_no_link``): a link planted there would make the tool write into whatever file
the link names, with the tool's rights.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from canvas_observers.core.errors import CanvasObserversError

# Where the system has it (not Windows), the kernel refuses to open a path that is a link.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class UnsafeFile(CanvasObserversError):
    """A path the tool will not write through: a symbolic link, or not a regular file."""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_risk(value: str) -> bool:
    """True when a spreadsheet would evaluate ``value`` as a formula."""
    return value.startswith(FORMULA_START)


def csv_safe(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would otherwise evaluate as a formula."""
    return "'" + value if formula_risk(value) else value


def _replace_privately(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Put what ``write`` writes at ``path`` atomically (a temporary file beside it, synced,
    then renamed), as a file only its owner can read (0600); nothing is left on failure."""
    # mkstemp creates the file with O_EXCL and mode 0600, whatever the umask.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, as a file only its owner can read (0600): a PDF
    of letters holds live pairing codes."""
    _replace_privately(path, lambda f: f.write(data))


def write_private(path: Path, text: str | Iterable[str], *, encoding: str = "utf-8") -> None:
    """Write ``text`` (a string, or its pieces) to ``path`` atomically, as a file only its
    owner can read (0600). ``encoding="utf-8-sig"`` adds the byte-order mark Excel needs to
    read a CSV as UTF-8."""

    def write(raw: IO[bytes]) -> None:
        # newline="": the pieces' own line ends are written as they are (CSV's \r\n)
        f = io.TextIOWrapper(raw, encoding=encoding, newline="")
        for piece in [text] if isinstance(text, str) else text:
            f.write(piece)
        f.flush()
        f.detach()  # the file stays open for _replace_privately's fsync and close

    _replace_privately(path, write)


def private_folder(folder: Path) -> None:
    """Create ``folder`` and its missing parents as folders only their owner can enter (0700).

    ``mkdir(mode=0o700)`` alone is not enough: the mode is masked by the umask, and with
    ``parents=True`` the parents get the default mode (0777 less the umask: 0755, readable by
    everyone, under the usual umask 022). So each folder made here is set to 0700 after it is
    made. A folder that already exists is left as it is: it may be ``/var/log``, or a folder
    its owner opened on purpose.
    """
    missing: list[Path] = []
    current = folder
    while not os.path.lexists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # another process made it meanwhile: not ours to change
        _owner_only_folder(path)
    if not folder.is_dir():  # it was there already, as a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))


def _owner_only_folder(path: Path) -> None:
    """chmod 0700 the folder just made, through a descriptor opened without following a link
    (so a link swapped in for it meanwhile is never followed), where the system allows it."""
    if not (_DIRECTORY and _NOFOLLOW and hasattr(os, "fchmod")):
        os.chmod(path, 0o700)
        return
    fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def open_no_link(
    path: Path, flags: int, *, what: str, fix: str = "remove the link", mode: int = 0o600
) -> int:
    """``os.open(path, flags, mode)`` that never follows a symbolic link at ``path``; raise
    ``UnsafeFile`` (its message starts with ``what`` and the path, and ends with ``fix``) for
    a link or anything that is not a regular file.

    Checked three ways: before opening (a clear message on every system), by the kernel
    (``O_NOFOLLOW``), and after opening, by comparing the opened file with what is at the
    path (a link swapped in between the check and the open, and systems without
    ``O_NOFOLLOW``).
    """
    if path.is_symlink():
        raise _linked(path, what, fix)
    try:
        fd = os.open(path, flags | _NOFOLLOW, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise _linked(path, what, fix) from None
        raise
    try:
        opened, there = os.fstat(fd), os.lstat(path)
        if stat.S_ISLNK(there.st_mode) or (opened.st_dev, opened.st_ino) != (
            there.st_dev,
            there.st_ino,
        ):
            raise _linked(path, what, fix)
        if not stat.S_ISREG(opened.st_mode):
            raise UnsafeFile(f"{what} {path} is not a regular file; give the path of a file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _linked(path: Path, what: str, fix: str) -> UnsafeFile:
    return UnsafeFile(
        f"{what} {path} is a symbolic link; it is never written through a link (the link "
        f"could point at any file): {fix}"
    )
