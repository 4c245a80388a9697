"""Named schema migrations for the journal, each applied once, in its own transaction.

The ``migrations`` table records which names were applied and when. A migration is a tuple
of single SQL statements rather than a script: ``sqlite3.Connection.executescript`` commits
any open transaction first, which would break the "all or nothing" promise. SQLite DDL is
transactional (https://www.sqlite.org/lang_transaction.html), so a failing statement rolls
the whole migration back and the next open tries it again.

Never edit a migration that has shipped: add a new one. Names sort in the order applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One named, append-only schema change."""

    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_runs_rows_actions_users",
        (
            # pid + host tell an abandoned run (killed, crashed, power loss) from a live one.
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                canvas_url TEXT NOT NULL,
                roster TEXT NOT NULL,
                dry_run INTEGER NOT NULL,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                state TEXT NOT NULL DEFAULT 'running',
                settings TEXT NOT NULL DEFAULT '{}',
                totals TEXT NOT NULL DEFAULT '{}',
                api_calls TEXT NOT NULL DEFAULT '{}',
                pid INTEGER NOT NULL,
                host TEXT NOT NULL
            )""",
            """CREATE TABLE rows (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                line INTEGER NOT NULL,
                student_id TEXT NOT NULL,
                observer_email TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                canvas_student_id INTEGER,
                canvas_observer_id INTEGER,
                at TEXT NOT NULL
            )""",
            "CREATE INDEX rows_by_run ON rows(run_id, id)",
            """CREATE TABLE actions (
                id INTEGER PRIMARY KEY,
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                line INTEGER NOT NULL,
                at TEXT NOT NULL,
                result TEXT NOT NULL,
                canvas_observer_id INTEGER,
                canvas_student_id INTEGER,
                detail TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX actions_by_run ON actions(run_id, id)",
            # Canvas ids learned in earlier runs: a hint to save look-ups, never trusted
            # blindly (the engine verifies before it pairs).
            """CREATE TABLE users (
                canvas_url TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('student', 'observer')),
                key TEXT NOT NULL,
                canvas_id INTEGER NOT NULL,
                learned_at TEXT NOT NULL,
                PRIMARY KEY (canvas_url, kind, key)
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        "0002_users_kind_unenrolled",
        (
            # The sync also remembers students Canvas refused a pairing code for, so that the
            # next run reads their enrollments before it writes again. SQLite cannot change a
            # CHECK constraint in place: rebuild the table (https://www.sqlite.org/lang_altertable.html).
            """CREATE TABLE users_new (
                canvas_url TEXT NOT NULL,
                kind TEXT NOT NULL CHECK (kind IN ('student', 'observer', 'unenrolled')),
                key TEXT NOT NULL,
                canvas_id INTEGER NOT NULL,
                learned_at TEXT NOT NULL,
                PRIMARY KEY (canvas_url, kind, key)
            ) WITHOUT ROWID""",
            "INSERT INTO users_new SELECT canvas_url, kind, key, canvas_id, learned_at FROM users",
            "DROP TABLE users",
            "ALTER TABLE users_new RENAME TO users",
        ),
    ),
    Migration(
        "0003_runs_stop_reason",
        # Why a stopped run stopped, for `show` and `runs` (the report had it, the journal not).
        ("ALTER TABLE runs ADD COLUMN stop_reason TEXT NOT NULL DEFAULT ''",),
    ),
    Migration(
        "0004_sources_listed_guardians",
        (
            # The named roster source a run belongs to. NULL for runs recorded before sources
            # existed: their roster string names them until a source adopts it (history.py).
            "ALTER TABLE runs ADD COLUMN source TEXT",
            # The run an `undo` run undid (NULL for a sync).
            "ALTER TABLE runs ADD COLUMN undoes INTEGER",
            # The roster's valid rows, for the truncation check (was counted from rows).
            "ALTER TABLE runs ADD COLUMN valid_rows INTEGER",
            # Why removals were held (a truncated roster), '' when not held.
            "ALTER TABLE runs ADD COLUMN held TEXT NOT NULL DEFAULT ''",
            # 1 when --force-removals made this run the new baseline of its source.
            "ALTER TABLE runs ADD COLUMN baseline INTEGER NOT NULL DEFAULT 0",
            # 1 when the run recorded the Canvas links its roster listed (table listed).
            "ALTER TABLE runs ADD COLUMN listed INTEGER NOT NULL DEFAULT 0",
            """UPDATE runs SET undoes = json_extract(settings, '$.undo')
               WHERE json_valid(settings) AND json_extract(settings, '$.undo') IS NOT NULL""",
            """UPDATE runs SET valid_rows = (
                   SELECT count(*) FROM rows r WHERE r.run_id = runs.id
                   AND r.outcome NOT IN ('invalid_row', 'removed', 'would_remove'))""",
            # Why a link was removed: absent | ended | excluded ('' before this migration).
            "ALTER TABLE actions ADD COLUMN cause TEXT NOT NULL DEFAULT ''",
            # The Canvas links (observer, student) a run's roster listed, with the row text
            # that listed each: rows resolved that night, and rows that did not resolve,
            # carried over from the source's run before.
            """CREATE TABLE listed (
                run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                student_key TEXT NOT NULL,
                guardian_email TEXT NOT NULL,
                guardian_id TEXT,
                observer_id INTEGER NOT NULL,
                student_id INTEGER NOT NULL
            )""",
            "CREATE INDEX listed_by_run ON listed(run_id)",
            # The link each row text of a source last listed, whichever run that was: what a
            # row that does not resolve tonight carries over (a held or short run between
            # does not make it forget).
            """CREATE TABLE last_listed (
                canvas_url TEXT NOT NULL,
                source TEXT NOT NULL,
                student_key TEXT NOT NULL,
                guardian_email TEXT NOT NULL,
                guardian_id TEXT,
                observer_id INTEGER NOT NULL,
                student_id INTEGER NOT NULL,
                run_id INTEGER NOT NULL,
                PRIMARY KEY (canvas_url, source, student_key, guardian_email)
            ) WITHOUT ROWID""",
            # A guardian followed by their SIS guardian id: (Canvas, source, id) -> account.
            """CREATE TABLE guardians (
                canvas_url TEXT NOT NULL,
                source TEXT NOT NULL,
                guardian_id TEXT NOT NULL,
                canvas_id INTEGER NOT NULL,
                learned_at TEXT NOT NULL,
                PRIMARY KEY (canvas_url, source, guardian_id)
            ) WITHOUT ROWID""",
            # A link whose ownership moved to another source (that source's roster listed it
            # when its owner's no longer did), from run_id on.
            """CREATE TABLE link_owners (
                canvas_url TEXT NOT NULL,
                observer_id INTEGER NOT NULL,
                student_id INTEGER NOT NULL,
                source TEXT NOT NULL,
                run_id INTEGER NOT NULL,
                PRIMARY KEY (canvas_url, observer_id, student_id)
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        "0005_runs_fail_on",
        # The outcomes the run's --fail-on counted (a JSON list of names): what `runs` and
        # `show --needs-attention` count as needing attention for that run. NULL for runs
        # recorded before: they fall back to the default set (core.outcomes.DEFAULT_FAIL_ON).
        ("ALTER TABLE runs ADD COLUMN fail_on TEXT",),
    ),
    Migration(
        "0006_rows_names",
        (
            # Who a row was about, as people read it: the student's name as Canvas gave it and
            # the guardian's as the roster did ('' in rows recorded before, or not known).
            "ALTER TABLE rows ADD COLUMN student_name TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE rows ADD COLUMN guardian_name TEXT NOT NULL DEFAULT ''",
        ),
    ),
    Migration(
        "0007_letter_codes",
        (
            # The pairing code last printed in a letter for one guardian of one student
            # (`letters`): a later run prints it again while it has days left and nobody
            # has been linked to the student since. The student is a Canvas id; a guardian
            # with no Canvas account is known by the SIS's guardian id, else by their names.
            # `observers` are the Canvas ids observing the student when the code was issued
            # (a JSON list). A live code: never logged, never shown by `show`.
            """CREATE TABLE letter_codes (
                canvas_url TEXT NOT NULL,
                student_id INTEGER NOT NULL,
                guardian TEXT NOT NULL,
                code TEXT NOT NULL,
                issued_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                observers TEXT NOT NULL DEFAULT '[]',
                PRIMARY KEY (canvas_url, student_id, guardian)
            ) WITHOUT ROWID""",
        ),
    ),
)

_CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)


def applied_migrations(conn: sqlite3.Connection) -> set[str]:
    """Names recorded in the ``migrations`` table (empty if it does not exist yet)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {name for (name,) in conn.execute("SELECT name FROM migrations")}


def apply_migrations(
    conn: sqlite3.Connection,
    *,
    now: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> list[str]:
    """Apply every migration not yet recorded, each in one transaction; return their names.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so that the transactions
    here are the only ones. ``BEGIN IMMEDIATE`` takes the write lock before re-reading the
    applied set, so two processes opening a new journal at once do not both migrate it.
    """
    conn.execute(_CREATE_MIGRATIONS_TABLE)
    applied: list[str] = []
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM migrations WHERE name = ?", (migration.name,)
            ).fetchone()
            if done is None:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    (migration.name, now),
                )
                applied.append(migration.name)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied
