"""The local SQLite journal: runs, row outcomes, write actions, and Canvas ids learned.

One file per Canvas instance (``default_state_path``), created owner-only (0600) because it
holds guardian emails. Tables (see ``migrations.py``)::

    runs     one per sync: canvas_url, roster, dry_run, started_at/ended_at, state,
             settings/totals/api_calls (JSON), pid + host of the process that ran it
    rows     the final outcome of each roster row of a run (a ``RowResult``), with the
             names of the student and guardian it was about ('' where not known)
    actions  each write sent to Canvas (an ``ActionRecord``), in the order sent
    users    (canvas_url, kind, key) -> Canvas id learned earlier; a hint, re-verified

Writes are small and frequent (one per row and per action), so every ``record_*`` call is
its own autocommit transaction in WAL mode with ``synchronous=NORMAL``: a commit is an append
to the WAL with no fsync (https://www.sqlite.org/wal.html#performance_considerations), so
each recorded row survives the process being killed right after the call returns; only an
OS crash or power loss can lose the last few commits. No ``flush()`` is needed.

A run that never finished is "running" while its process is alive, and "interrupted" once
that process is gone (or it ran on another host, which we cannot check); the state is
computed when read, never stored, so a crash needs no clean-up.

Errors: ``JournalError`` (cannot open or use the file), with ``NotAJournal`` for a file that
is not SQLite, is corrupt, or is some other program's database.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import stat
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from platformdirs import user_state_dir

from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import private_folder
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, ActionRecord, Outcome, RowResult
from canvas_observers.core.recorder import UserKind
from canvas_observers.store import history, letters
from canvas_observers.store.history import (
    CreatedAccount,
    Link,
    ListedRow,
    OwnedLink,
    SourceRun,
)
from canvas_observers.store.letters import StoredCode
from canvas_observers.store.migrations import MIGRATIONS, applied_migrations, apply_migrations

log = logging.getLogger(__name__)

MEMORY = ":memory:"
FINAL_STATES = frozenset({"complete", "failed", "stopped"})
USER_KINDS = frozenset({"student", "observer", "unenrolled"})
# SQLite primary result codes meaning "this file is not a database we can read"
# (https://www.sqlite.org/rescode.html): SQLITE_CORRUPT, SQLITE_NOTADB.
_NOT_A_DATABASE_CODES = frozenset({11, 26})
_BUSY_TIMEOUT_MS = 5000
_DEFAULT_PORTS = {"http": 80, "https": 443}


class JournalError(CanvasObserversError):
    """The journal file cannot be opened or used; ``path`` says which file."""

    def __init__(self, message: str, *, path: str) -> None:
        self.path = path
        super().__init__(message)


class NotAJournal(JournalError):
    """The file exists but is not a canvas-observers journal (not SQLite, corrupt, foreign)."""

    def __init__(self, path: str, reason: str = "") -> None:
        message = f"not a canvas-observers journal: {path}"
        super().__init__(f"{message} ({reason})" if reason else message, path=path)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as read back from the journal; ``state`` already accounts for dead processes."""

    id: int
    canvas_url: str
    roster: str
    dry_run: bool
    started_at: str
    ended_at: str | None
    state: str  # running | interrupted | complete | failed | stopped
    settings: dict[str, object]
    totals: dict[str, int]
    api_calls: dict[str, int]
    pid: int
    host: str
    stop_reason: str = ""  # why a stopped run stopped
    source: str | None = None  # the named roster source; None: recorded before sources
    undoes: int | None = None  # for an `undo` run, the run it undid
    held: str = ""  # why its removals were held (a truncated roster), '' when not
    valid_rows: int | None = None
    # The outcomes its --fail-on counted as needing attention; runs recorded before the
    # journal kept them get the default set.
    fail_on: frozenset[Outcome] = DEFAULT_FAIL_ON

    def needs_attention(self, outcome: Outcome) -> bool:
        """Whether a row of this run with ``outcome`` needs a person, as the run counted it."""
        return outcome in self.fail_on


def state_folder() -> Path:
    """The user's state folder (``~/.local/state/canvas-observers`` on Linux): the default
    journals, the run locks and the registry of journals per Canvas live here."""
    return Path(user_state_dir("canvas-observers", appauthor=False))


def default_state_path(canvas_url: str) -> Path:
    """The journal for one Canvas: ``<user state dir>/<host>[_<port>].sqlite3``.

    The host's case, the scheme's default port, a trailing slash and any path make no
    difference: ``https://School.example.edu:443/`` and ``https://school.example.edu`` share
    one journal.
    """
    url = canvas_url.strip()
    parts = urlsplit(url if "://" in url else f"//{url}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"no host in Canvas URL: {canvas_url!r}")
    port = None if parts.port == _DEFAULT_PORTS.get(parts.scheme.lower()) else parts.port
    name = f"{host}_{port}" if port is not None else host
    # Keep the name portable (no ':' on Windows, no path separators anywhere).
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in name)
    safe = safe.lstrip(".") or "_"
    return state_folder() / f"{safe}.sqlite3"


def effective_state(
    *,
    stored: str,
    ended_at: str | None,
    pid: int,
    host: str,
    this_host: str,
    is_alive: Callable[[int], bool],
) -> str:
    """The state to show: an unfinished run whose process is gone is ``interrupted``."""
    if ended_at is not None:
        return stored
    if host != this_host or not is_alive(pid):
        return "interrupted"
    return "running"


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks without sending)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would kill it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _canonical_url(canvas_url: str) -> str:
    """``https://X.instructure.com/`` and ``https://x.instructure.com`` are the same Canvas."""
    parts = urlsplit(canvas_url.strip())
    netloc = parts.netloc.lower()
    if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc = netloc.rsplit(":", 1)[0]
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{netloc}{path}" if netloc else canvas_url.strip().rstrip("/")


def _refuse_tokens(settings: Mapping[str, object], where: str = "settings") -> None:
    for key, value in settings.items():
        if "token" in str(key).lower():
            raise ValueError(f"{where}[{key!r}]: a token must never be stored in the journal")
        if isinstance(value, Mapping):
            _refuse_tokens(value, f"{where}[{key!r}]")


def _json_default(value: object) -> object:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot store {type(value).__name__} in the journal settings")


def _create_owner_only(path: Path) -> None:
    """Create the parent (0700) and the file (0600) before SQLite opens it with its own mode.

    SQLite creates its -wal and -shm files with the main file's permissions, so they are
    owner-only too (``robust_open``/``findCreateFileMode`` in SQLite's ``os_unix.c``). A
    journal found open to other users (copied, restored from a backup, or made by an older
    version) is not changed behind its owner's back, but said once in the log, with the fix.
    """
    private_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the journal %s is open to other users of this machine (mode %04o), and it holds "
            "guardians' emails and Canvas ids; run: chmod 600 %s",
            path,
            mode,
            path,
        )


class Journal:
    """The SQLite journal of one Canvas instance. Open with ``Journal.open(path)``."""

    def __init__(self, conn: sqlite3.Connection, *, path: str) -> None:
        self._conn = conn
        self.path = path
        self._host = socket.gethostname()

    @classmethod
    def open(cls, path: Path | str) -> Journal:
        """Open (creating if needed) and migrate the journal at ``path`` (or ``":memory:"``)."""
        where = str(path)
        if where != MEMORY:
            try:
                _create_owner_only(Path(path))
            except OSError as exc:
                raise JournalError(f"cannot create journal {where}: {exc}", path=where) from exc
        try:
            # isolation_level=None: autocommit; transactions are explicit (see migrations).
            conn = sqlite3.connect(where, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {where}: {exc}", path=where) from exc
        try:
            cls._prepare(conn, where)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path=where)

    @staticmethod
    def _prepare(conn: sqlite3.Connection, where: str) -> None:
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")  # ":memory:" answers "memory": fine
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            }
            if tables and "migrations" not in tables:
                raise NotAJournal(where, "it is another program's SQLite database")
            unknown = applied_migrations(conn) - {m.name for m in MIGRATIONS}
            if unknown:
                raise JournalError(
                    f"journal {where} was written by a newer canvas-observers"
                    f" (unknown migrations: {', '.join(sorted(unknown))})",
                    path=where,
                )
            apply_migrations(conn, now=datetime.now(UTC).isoformat(timespec="seconds"))
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _NOT_A_DATABASE_CODES:
                raise NotAJournal(where, str(exc)) from exc
            raise JournalError(f"cannot use journal {where}: {exc}", path=where) from exc

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        canvas_url: str,
        settings: Mapping[str, object],
        roster: str,
        dry_run: bool,
        started_at: str,
        source: str | None = None,
        undoes: int | None = None,
        valid_rows: int | None = None,
        keep_source: bool = False,
        fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
    ) -> int:
        """Record a new run in state "running" and return its id. ``source`` names the roster
        source it belongs to (the roster string when not given, unless ``keep_source``: then
        None stays None, a run of no source yet, as runs from before sources are); ``undoes``
        makes it an `undo` run of that run; ``fail_on`` is what the run counts as needing
        attention (its ``--fail-on``).

        Raises ``ValueError`` if any settings key (at any depth) contains "token".
        """
        _refuse_tokens(settings)
        settings_json = json.dumps(dict(settings), sort_keys=True, default=_json_default)
        cur = self._conn.execute(
            "INSERT INTO runs (canvas_url, roster, dry_run, started_at, settings, pid, host,"
            " source, undoes, valid_rows, fail_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                canvas_url,
                roster,
                int(dry_run),
                started_at,
                settings_json,
                os.getpid(),
                self._host,
                roster if source is None and not keep_source else source,
                undoes,
                valid_rows,
                json.dumps(sorted(outcome.value for outcome in fail_on)),
            ),
        )
        run_id = cur.lastrowid
        assert run_id is not None  # an INSERT into a rowid table always sets it
        return run_id

    def finish_run(
        self,
        run_id: int,
        *,
        ended_at: str,
        state: str,
        totals: Mapping[str, int],
        api_calls: Mapping[str, int],
        stop_reason: str = "",
    ) -> None:
        """Close a run with its final state ("complete" | "failed" | "stopped"), its counts and,
        for a run that stopped, why."""
        if state not in FINAL_STATES:
            raise ValueError(f"state must be one of {sorted(FINAL_STATES)}, not {state!r}")
        cur = self._conn.execute(
            "UPDATE runs SET ended_at = ?, state = ?, totals = ?, api_calls = ?, stop_reason = ?"
            " WHERE id = ? AND ended_at IS NULL",
            (
                ended_at,
                state,
                json.dumps(dict(totals), sort_keys=True),
                json.dumps(dict(api_calls), sort_keys=True),
                stop_reason,
                run_id,
            ),
        )
        if cur.rowcount == 0:
            exists = self._conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
            raise ValueError(f"run {run_id} is already finished" if exists else f"no run {run_id}")

    def mark_removals(self, run_id: int, *, held: str = "", baseline: bool = False) -> None:
        """Record that the run's removals were held (and why), or that --force-removals made
        it its source's new baseline."""
        self._conn.execute(
            "UPDATE runs SET held = ?, baseline = ? WHERE id = ?", (held, int(baseline), run_id)
        )

    def for_run(self, run_id: int, *, canvas_url: str) -> RunJournal:
        """The recorder of run ``run_id`` (from ``start_run``) on ``canvas_url``."""
        row = self._conn.execute("SELECT source FROM runs WHERE id = ?", (run_id,)).fetchone()
        source = row[0] if row is not None else None
        return RunJournal(self._conn, run_id=run_id, canvas_url=canvas_url, source=source)

    def list_runs(self, *, limit: int = 50) -> list[RunRecord]:
        """The most recent runs, newest first."""
        cur = self._conn.execute(f"{_RUN_SELECT} ORDER BY id DESC LIMIT ?", (limit,))
        return [self._run_record(row) for row in cur]

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run, or ``None`` if there is no such id."""
        row = self._conn.execute(f"{_RUN_SELECT} WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._run_record(row)

    def _run_record(self, row: tuple[Any, ...]) -> RunRecord:
        (run_id, url, roster, dry, started, ended, stored, settings, totals, calls, pid, host) = (
            row[:12]
        )
        stop_reason, source, undoes, held, valid_rows, fail_on = row[12:18]
        state = effective_state(
            stored=stored,
            ended_at=ended,
            pid=pid,
            host=host,
            this_host=self._host,
            is_alive=pid_is_alive,
        )
        return RunRecord(
            id=run_id,
            canvas_url=url,
            roster=roster,
            dry_run=bool(dry),
            started_at=started,
            ended_at=ended,
            state=state,
            settings=json.loads(settings),
            totals=json.loads(totals),
            api_calls=json.loads(calls),
            pid=pid,
            host=host,
            stop_reason=stop_reason,
            source=source,
            undoes=undoes,
            held=held,
            valid_rows=valid_rows,
            fail_on=_fail_on(fail_on),
        )

    # -- a run's rows and actions, read back -------------------------------------------------

    def run_rows(self, run_id: int) -> list[RowResult]:
        """A run's row outcomes in the order recorded."""
        cur = self._conn.execute(
            "SELECT line, student_id, observer_email, outcome, detail, canvas_student_id,"
            " canvas_observer_id, student_name, guardian_name FROM rows WHERE run_id = ?"
            " ORDER BY id",
            (run_id,),
        )
        return [
            RowResult(
                line=line,
                student_id=student_id,
                observer_email=email,
                outcome=Outcome(outcome),
                detail=detail,
                canvas_student_id=student,
                canvas_observer_id=observer,
                student_name=student_name,
                guardian_name=guardian_name,
            )
            for (
                line,
                student_id,
                email,
                outcome,
                detail,
                student,
                observer,
                student_name,
                guardian_name,
            ) in cur
        ]

    def run_actions(self, run_id: int) -> list[ActionRecord]:
        """A run's write actions in the order recorded."""
        cur = self._conn.execute(
            "SELECT kind, line, at, result, canvas_observer_id, canvas_student_id, detail, cause"
            " FROM actions WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [
            ActionRecord(
                kind=kind,
                line=line,
                at=at,
                result=result,
                canvas_observer_id=observer,
                canvas_student_id=student,
                detail=detail,
                cause=cause,
            )
            for (kind, line, at, result, observer, student, detail, cause) in cur
        ]

    # -- links and accounts this tool made, the rosters it saw (store/history.py) ----------

    def owned_links(self, *, canvas_url: str) -> list[OwnedLink]:
        """The links this tool made on this Canvas and has not removed since."""
        return history.owned_links(self._conn, canvas_url=canvas_url)

    def letter_codes(self, *, canvas_url: str) -> dict[tuple[int, str], StoredCode]:
        """The pairing codes printed in letters for this Canvas (store/letters.py)."""
        return letters.stored_codes(self._conn, canvas_url=canvas_url)

    def record_letter_codes(self, *, canvas_url: str, codes: list[StoredCode]) -> None:
        """Keep the codes a `letters` run printed, at once."""
        letters.record_codes(self._conn, canvas_url=canvas_url, codes=codes)

    def created_accounts(self, *, canvas_url: str) -> list[CreatedAccount]:
        """The accounts this tool created on this Canvas (in real runs)."""
        return history.created_accounts(self._conn, canvas_url=canvas_url)

    def source_runs(
        self, *, canvas_url: str, source: str, before_run: int, limit: int
    ) -> list[SourceRun]:
        """The latest complete real sync runs of this source before ``before_run``."""
        return history.source_runs(
            self._conn, canvas_url=canvas_url, source=source, before_run=before_run, limit=limit
        )

    def carried_links(self, *, canvas_url: str, source: str) -> list[ListedRow]:
        """Per row text, the link this source's complete runs last listed for it."""
        return history.carried_links(self._conn, canvas_url=canvas_url, source=source)

    def latest_listing(self, *, canvas_url: str, source: str, before_run: int) -> list[ListedRow]:
        """The links the source's latest complete run (that recorded them) listed."""
        return history.latest_listing(
            self._conn, canvas_url=canvas_url, source=source, before_run=before_run
        )

    def other_listings(
        self, *, canvas_url: str, source: str, before_run: int
    ) -> dict[str, frozenset[Link]]:
        """The links the latest complete run of every other source listed."""
        return history.other_listings(
            self._conn, canvas_url=canvas_url, source=source, before_run=before_run
        )

    def record_listed(self, run_id: int, rows: list[ListedRow], *, whole: bool = True) -> None:
        """Record the Canvas links a run's roster listed (``whole``: read from Canvas whole,
        so a link it does not list was absent from its roster)."""
        history.record_listed(self._conn, run_id, rows, whole=whole)

    def move_owner(self, *, canvas_url: str, link: Link, source: str, run_id: int) -> None:
        """Ownership of ``link`` moves to ``source`` (whose roster lists it) from ``run_id``."""
        history.move_owner(
            self._conn, canvas_url=canvas_url, link=link, source=source, run_id=run_id
        )

    def adopt_legacy(self, *, canvas_url: str, source: str, location: str) -> list[str]:
        """Earlier runs recorded before sources existed whose roster string names this source
        become its runs; the roster strings adopted."""
        return history.adopt_legacy(
            self._conn, canvas_url=canvas_url, source=source, location=location
        )

    def known_guardians(self, *, canvas_url: str, source: str) -> dict[str, int]:
        """Guardian id -> the Canvas account this source's rows with that id resolved to."""
        return history.known_guardians(
            self._conn, canvas_url=_canonical_url(canvas_url), source=source
        )

    def guardian_sources(self, *, canvas_url: str, guardian_id: str) -> dict[str, int]:
        """Source -> the account remembered for this guardian id."""
        return history.guardian_sources(
            self._conn, canvas_url=_canonical_url(canvas_url), guardian_id=guardian_id
        )

    def forget_guardian(self, *, canvas_url: str, guardian_id: str, source: str) -> bool:
        """Drop the account remembered for this guardian id of this source."""
        url = _canonical_url(canvas_url)
        return history.forget_guardian(
            self._conn, canvas_url=url, guardian_id=guardian_id, source=source
        )

    def undone_by(self, run_id: int) -> int | None:
        """The complete `undo` run that already undid ``run_id``, if any."""
        return history.undone_by(self._conn, run_id)


class RunJournal:
    """The journal as one run sees it (``Journal.for_run``): its rows and writes, and the ids
    learned on its Canvas. Implements ``core.recorder.RunRecorder``; every call commits."""

    def __init__(
        self, conn: sqlite3.Connection, *, run_id: int, canvas_url: str, source: str | None = None
    ) -> None:
        self._conn = conn
        self.run_id = run_id
        self.canvas_url = _canonical_url(canvas_url)
        self.source = source

    def record_row(self, result: RowResult, *, at: str) -> None:
        """Record one row's final outcome (committed when this returns)."""
        self._insert(
            "INSERT INTO rows (run_id, line, student_id, observer_email, outcome, detail,"
            " canvas_student_id, canvas_observer_id, at, student_name, guardian_name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run_id,
                result.line,
                result.student_id,
                result.observer_email,
                result.outcome.value,
                result.detail,
                result.canvas_student_id,
                result.canvas_observer_id,
                at,
                result.student_name,
                result.guardian_name,
            ),
        )

    def record_action(self, action: ActionRecord) -> None:
        """Record one write sent to Canvas (committed when this returns)."""
        self._insert(
            "INSERT INTO actions (run_id, kind, line, at, result, canvas_observer_id,"
            " canvas_student_id, detail, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run_id,
                action.kind,
                action.line,
                action.at,
                action.result,
                action.canvas_observer_id,
                action.canvas_student_id,
                action.detail,
                action.cause,
            ),
        )

    def _insert(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:  # the foreign key on run_id
            raise ValueError(f"no run {self.run_id}") from exc

    # -- Canvas ids learned ----------------------------------------------------------------

    def remember_user(self, *, kind: UserKind, key: str, canvas_id: int, at: str) -> None:
        """Remember that roster ``key`` of ``kind`` is Canvas user ``canvas_id`` (upsert)."""
        self._check_kind(kind)
        self._conn.execute(
            "INSERT INTO users (canvas_url, kind, key, canvas_id, learned_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (canvas_url, kind, key)"
            " DO UPDATE SET canvas_id = excluded.canvas_id, learned_at = excluded.learned_at",
            (self.canvas_url, kind, key, canvas_id, at),
        )

    def recall_user(self, *, kind: UserKind, key: str) -> int | None:
        """The Canvas id remembered for ``key``, or ``None``. A hint: verify before pairing."""
        self._check_kind(kind)
        row = self._conn.execute(
            "SELECT canvas_id FROM users WHERE canvas_url = ? AND kind = ? AND key = ?",
            (self.canvas_url, kind, key),
        ).fetchone()
        return None if row is None else int(row[0])

    def forget_user(self, *, kind: UserKind, key: str) -> None:
        """Drop a remembered id (e.g. it turned out stale); no error if none was remembered."""
        self._check_kind(kind)
        self._conn.execute(
            "DELETE FROM users WHERE canvas_url = ? AND kind = ? AND key = ?",
            (self.canvas_url, kind, key),
        )

    def remember_guardian(self, *, guardian_id: str, canvas_id: int, at: str) -> None:
        """Remember that the SIS's guardian ``guardian_id`` (of this run's source) is Canvas
        user ``canvas_id``: the next runs look that account up first."""
        if self.source is None:
            return
        history.remember_guardian(
            self._conn,
            canvas_url=self.canvas_url,
            source=self.source,
            guardian_id=guardian_id,
            canvas_id=canvas_id,
            at=at,
        )

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in USER_KINDS:
            raise ValueError(f"kind must be one of {sorted(USER_KINDS)}, not {kind!r}")


_RUN_SELECT = (
    "SELECT id, canvas_url, roster, dry_run, started_at, ended_at, state, settings, totals,"
    " api_calls, pid, host, stop_reason, source, undoes, held, valid_rows, fail_on FROM runs"
)


def _fail_on(stored: str | None) -> frozenset[Outcome]:
    """A run's stored --fail-on set; the default for a run recorded before it was kept. A name
    this version does not know (a newer version's outcome) is left out."""
    if stored is None:
        return DEFAULT_FAIL_ON
    known = {outcome.value for outcome in Outcome}
    return frozenset(Outcome(name) for name in json.loads(stored) if name in known)
