"""One run at a time per Canvas: a lock file next to the run's journal.

Two syncs on one Canvas at once would both create the same guardians and race on the same
links, so a run holds ``<journal>.lock`` from before the journal is opened until its last
write is recorded. The file is created owner-only (0600), never opened through a symbolic
link (the run would lock and empty the file the link names: one clear error instead), and
held with an exclusive ``flock``; it holds the holder's pid, host and start time, which only
serve the message a second run prints ("pid 4242 on host x, started ...").

Why ``flock`` rather than creating the file with ``O_EXCL``: the kernel drops a ``flock`` when
its process ends, however it ends (``kill -9`` and a power cut included), so a lock can never
be left held by a dead run. With ``O_EXCL`` alone a killed run's file would have to be judged
stale by its pid, and two runs taking over the same stale file could both win. Here the file
a killed run leaves behind is simply free: the next run locks it, notes in the log whose it
was, and writes its own details. A run that ends removes the file while it still holds it.
On Windows, which has no ``flock``, no lock is taken.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from canvas_observers.cli.exits import Stopped
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import UnsafeFile, open_no_link, private_folder

log = logging.getLogger("canvas_observers")


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a lock: process id, host and start time (ISO, UTC)."""

    pid: int
    host: str
    started_at: str

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder written in a lock file, or None for an empty or foreign file."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started_at"]))
        except (ValueError, TypeError, KeyError):
            return None

    def describe(self, now: datetime | None = None) -> str:
        """``pid 4242 on host x, started 2026-01-05 02:15 UTC (3 min ago)``."""
        try:
            started = datetime.fromisoformat(self.started_at)
        except ValueError:
            return f"pid {self.pid} on host {self.host}, started {self.started_at}"
        minutes = int(((now or datetime.now(UTC)) - started).total_seconds() // 60)
        ago = "just now" if minutes < 1 else f"{minutes} min ago"
        return (
            f"pid {self.pid} on host {self.host}, started "
            f"{started.strftime('%Y-%m-%d %H:%M:%S')} UTC ({ago})"
        )


class LockHeld(CanvasObserversError):
    """Another process holds the lock; ``holder`` says who, when the file says so."""

    def __init__(self, journal: Path, holder: Holder | None) -> None:
        self.journal = journal
        self.holder = holder
        who = holder.describe() if holder else "its details are not written yet"
        super().__init__(
            f"another run is using this Canvas's journal {journal} ({who}); one run at a time "
            "per Canvas: wait for it to end, or stop it, then run again"
        )


def lock_path(journal: Path) -> Path:
    """``journal.sqlite3`` -> ``journal.sqlite3.lock``, in the same folder."""
    return journal.with_name(journal.name + ".lock")


def _read(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return Holder.parse(os.read(fd, 4096).decode("utf-8", errors="replace"))


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (a run that ends removes its file)."""
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def acquire(journal: Path) -> tuple[int, Holder | None]:
    """Lock ``journal``'s lock file; return its descriptor and the holder a killed run left.

    Raises ``LockHeld`` when another process holds it, ``UnsafeFile`` when the lock's path is
    a symbolic link (locking and truncating it would empty whatever file the link names, with
    this run's rights), ``OSError`` when it cannot be made.
    """
    import fcntl  # not on Windows: run_lock does not call this there

    path = lock_path(journal)
    private_folder(path.parent)
    while True:
        fd = open_no_link(path, os.O_RDWR | os.O_CREAT, what="the lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise LockHeld(journal, holder) from None
        if _same_file(fd, path):
            break
        os.close(fd)  # locked a file its holder had just removed: lock the new one
    left = _read(fd)
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(me).encode())
    return fd, left


def release(journal: Path, fd: int) -> None:
    """Remove the lock file while still holding it, then let go."""
    try:
        lock_path(journal).unlink(missing_ok=True)
    finally:
        os.close(fd)


@contextmanager
def run_lock(journal: Path) -> Iterator[None]:
    """Hold the journal's lock for the block; exit 2 with who holds it when another run does."""
    if sys.platform == "win32":  # pragma: no cover - no flock there
        yield
        return
    try:
        fd, left = acquire(journal)
    except (LockHeld, UnsafeFile):
        raise
    except OSError as error:
        raise Stopped(
            f"cannot create the lock file {lock_path(journal)}: {error.strerror}"
        ) from error
    if left is not None:
        log.warning(
            "took over the lock of a run that ended without releasing it (%s); "
            "`canvas-observers runs` shows it as interrupted",
            left.describe(),
        )
    try:
        yield
    finally:
        release(journal, fd)
