"""The pairing codes printed in letters (table ``letter_codes``, migration 0007).

One row per (Canvas, student's Canvas id, guardian): the code last printed for that guardian
of that student, its expiry, and who observed the student when it was issued, so a later run
can tell whether the code may still be waiting on a kitchen table (print it again) or may have
been used (issue another). The codes are live secrets until they expire: nothing here logs
them, and `show` never reads this table.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A code printed for ``guardian`` (``letters.guardian_key``) of the student ``student_id``."""

    student_id: int
    guardian: str
    code: str
    issued_at: datetime
    expires_at: datetime
    observers: frozenset[int]


def stored_codes(conn: sqlite3.Connection, *, canvas_url: str) -> dict[tuple[int, str], StoredCode]:
    """Every stored code of this Canvas, by (student id, guardian)."""
    rows = conn.execute(
        "SELECT student_id, guardian, code, issued_at, expires_at, observers"
        " FROM letter_codes WHERE canvas_url = ?",
        (canvas_url,),
    )
    found: dict[tuple[int, str], StoredCode] = {}
    for student_id, guardian, code, issued_at, expires_at, observers in rows:
        found[(student_id, guardian)] = StoredCode(
            student_id=student_id,
            guardian=guardian,
            code=code,
            issued_at=datetime.fromisoformat(issued_at),
            expires_at=datetime.fromisoformat(expires_at),
            observers=frozenset(int(i) for i in json.loads(observers)),
        )
    return found


def record_codes(conn: sqlite3.Connection, *, canvas_url: str, codes: list[StoredCode]) -> None:
    """Keep these codes (replacing the ones stored for the same guardian and student), at once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO letter_codes"
            " (canvas_url, student_id, guardian, code, issued_at, expires_at, observers)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    canvas_url,
                    c.student_id,
                    c.guardian,
                    c.code,
                    c.issued_at.isoformat(),
                    c.expires_at.isoformat(),
                    json.dumps(sorted(c.observers)),
                )
                for c in codes
            ],
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
