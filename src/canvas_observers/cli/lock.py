"""One run at a time per Canvas: a lock in the user's state folder, named for the Canvas.

Two syncs on one Canvas at once would both create the same guardians and race on the same
links, whichever journals they write, so the lock is kept per Canvas, not per journal:
``<state folder>/locks/<canvas>.lock``, the state folder being the user's (platformdirs'
``user_state_dir``, where the default journals are too) and ``<canvas>`` the Canvas URL in
its one spelling (``canonical_url``: scheme and host lower-cased, no default port, no trailing
slash). ``--state`` does not move it: two journals, or a journal and a symbolic link to it,
on one Canvas share one lock. A run holds it from before the journal is opened until its last
write is recorded.

The lock is ``filelock``'s: an ``flock`` on POSIX, a locked byte on Windows. The system drops
either when its process ends, however it ends (``kill -9`` and a power cut included), so a
lock can never be left held by a dead run. Beside it, ``<canvas>.lock.json`` says who holds
it (pid, host, start, command, journal); it serves only the message a second run prints, and
a run that ends removes it while it still holds the lock. One a killed run left is taken
over, and said in the log. Both files are created owner-only (0600) in an owner-only folder,
and never opened through a symbolic link (one clear error instead). The state folder is per
OS user: runs by different OS users do not share a lock.

The same folder keeps ``journals.json``, the journals each Canvas has had, so a sync that
starts a new journal for a Canvas that already has one says that the links made under the
other are not this one's to remove.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from canvas_observers.cli.exits import Stopped
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import UnsafeFile, open_no_link, private_folder
from canvas_observers.store.journal import state_folder

log = logging.getLogger("canvas_observers")


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or last held) a lock: process id, host, start time (ISO, UTC), and, when
    known, the command and the journal it runs with."""

    pid: int
    host: str
    started_at: str
    command: str = ""
    journal: str = ""

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """The holder written beside a lock, or None for an empty or foreign file."""
        try:
            data = json.loads(text)
            return cls(
                int(data["pid"]),
                str(data["host"]),
                str(data["started_at"]),
                str(data.get("command", "")),
                str(data.get("journal", "")),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def describe(self, now: datetime | None = None) -> str:
        """``pid 4242 on host x, started 2026-01-05 02:15:00 UTC (3 min ago), `sync` with
        the journal /srv/j.sqlite3``."""
        try:
            started = datetime.fromisoformat(self.started_at)
        except ValueError:
            text = f"pid {self.pid} on host {self.host}, started {self.started_at}"
        else:
            minutes = int(((now or datetime.now(UTC)) - started).total_seconds() // 60)
            ago = "just now" if minutes < 1 else f"{minutes} min ago"
            text = (
                f"pid {self.pid} on host {self.host}, started "
                f"{started.strftime('%Y-%m-%d %H:%M:%S')} UTC ({ago})"
            )
        if self.command:
            text += f", `{self.command}`"
        if self.journal:
            text += f" with the journal {self.journal}"
        return text


class LockHeld(CanvasObserversError):
    """Another process holds the Canvas's lock; ``holder`` says who, when it is written."""

    def __init__(self, canvas_url: str, holder: Holder | None) -> None:
        self.canvas_url = canvas_url
        self.holder = holder
        who = holder.describe() if holder else "its details are not written yet"
        stop = f" (kill {holder.pid} on {holder.host})" if holder else ""
        super().__init__(
            f"another run is using {canvas_url} ({who}); one run at a time per Canvas: wait "
            f"for it to end, or stop it{stop}, then run again"
        )


def _safe_name(text: str) -> str:
    """A file name on every system: no ':' (Windows), no path separators, no leading dot."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in text)
    return safe.lstrip(".") or "_"


def lock_path(canvas_url: str) -> Path:
    """The lock of a Canvas: ``https://school.instructure.com`` ->
    ``<state folder>/locks/https_school.instructure.com.lock``.

    ``canvas_url`` is the URL in its one spelling (``canonical_url``), so every spelling of
    one Canvas has one lock.
    """
    return state_folder() / "locks" / f"{_safe_name(canvas_url.replace('://', '_', 1))}.lock"


def holder_path(lock: Path) -> Path:
    """Where the holder of ``lock`` is written: ``<canvas>.lock.json``."""
    return lock.with_name(lock.name + ".json")


def _read_holder(path: Path) -> Holder | None:
    try:
        fd = open_no_link(path, os.O_RDONLY, what="the lock's holder file")
    except (OSError, UnsafeFile):
        return None
    try:
        return Holder.parse(os.read(fd, 4096).decode("utf-8", errors="replace"))
    finally:
        os.close(fd)


def _write_holder(path: Path, command: str, journal: Path) -> None:
    me = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "journal": str(journal),
    }
    fd = open_no_link(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, what="the lock's holder file")
    try:
        os.write(fd, json.dumps(me).encode())
    finally:
        os.close(fd)


def acquire(canvas_url: str, journal: Path, command: str) -> tuple[FileLock, Holder | None]:
    """Take the lock of ``canvas_url``; return it and the holder a killed run left behind.

    Raises ``LockHeld`` when another process holds it, ``UnsafeFile`` when the lock's path
    (or its holder file's) is a symbolic link, ``OSError`` when it cannot be made.
    """
    path = lock_path(canvas_url)
    private_folder(path.parent)
    # Created here, owner-only and never through a link, before filelock opens it.
    os.close(open_no_link(path, os.O_RDWR | os.O_CREAT, what="the lock file"))
    lock = FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeld(canvas_url, _read_holder(holder_path(path))) from None
    try:
        left = _read_holder(holder_path(path))
        _write_holder(holder_path(path), command, journal)
    except BaseException:
        lock.release()
        raise
    return lock, left


def release(canvas_url: str, lock: FileLock) -> None:
    """Remove the holder file while still holding the lock, then let go."""
    try:
        holder_path(lock_path(canvas_url)).unlink(missing_ok=True)
    finally:
        lock.release()


@contextmanager
def run_lock(canvas_url: str, journal: Path, command: str) -> Iterator[None]:
    """Hold ``canvas_url``'s lock for the block; exit 2 naming who holds it when another run
    does. ``journal`` and ``command`` are written for that message."""
    try:
        lock, left = acquire(canvas_url, journal, command)
    except (LockHeld, UnsafeFile):
        raise
    except OSError as error:
        raise Stopped(
            f"cannot create the lock file {lock_path(canvas_url)}: {error.strerror or error}"
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
        release(canvas_url, lock)


# -- the journals each Canvas has had ----------------------------------------------------------


def registry_path() -> Path:
    """``<state folder>/journals.json``: {Canvas URL: [journal paths]}."""
    return state_folder() / "journals.json"


def _read_registry(path: Path) -> dict[str, list[str]]:
    try:
        fd = open_no_link(path, os.O_RDONLY, what="the journal registry")
    except FileNotFoundError:
        return {}
    with open(fd, encoding="utf-8", errors="replace") as file:
        text = file.read()
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}  # damaged: rebuilt from the journals used from now on
    if not isinstance(data, dict):
        return {}
    return {
        str(url): [str(p) for p in paths if isinstance(p, str)]
        for url, paths in data.items()
        if isinstance(paths, list)
    }


def register_journal(canvas_url: str, journal: Path) -> list[Path]:
    """Record that ``journal`` serves ``canvas_url``; return the other journals recorded for
    it that still exist. A symbolic link to a journal counts as that journal."""
    path = registry_path()
    private_folder(path.parent)
    mine = str(journal.resolve())
    with FileLock(str(path.with_name(path.name + ".lock")), timeout=30, mode=0o600):
        registry = _read_registry(path)
        known = registry.get(canvas_url, [])
        others = [Path(p) for p in known if p != mine and Path(p).exists()]
        if mine not in known:
            registry[canvas_url] = [*(str(p) for p in others), mine]
            temporary = path.with_name(path.name + ".new")
            fd = open_no_link(
                temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, what="the journal registry"
            )
            try:
                os.write(fd, json.dumps(registry, indent=1, sort_keys=True).encode())
            finally:
                os.close(fd)
            os.replace(temporary, path)
    return others


def warn_other_journals(canvas_url: str, journal: Path, *, new: bool) -> None:
    """Register ``journal``; when it is ``new`` and the Canvas already has another, warn that
    the links made under the other are not this journal's to remove."""
    try:
        others = register_journal(canvas_url, journal)
    except (OSError, UnsafeFile, Timeout) as error:
        log.warning("could not record the journal in %s: %s", registry_path(), error)
        return
    if new and others:
        listed = ", ".join(str(p) for p in others)
        log.warning(
            "%s already has the journal %s: this run starts a new journal, %s, and links made "
            "under the other are not this one's to remove (--remove-ended removes only the "
            "links its own journal recorded). To keep one history, pass --state %s.",
            canvas_url,
            listed,
            journal,
            others[0],
        )
