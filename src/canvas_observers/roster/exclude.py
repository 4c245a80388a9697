"""The do-not-pair list: ``student_id,observer_email[,reason]`` pairs that must never be linked.

A person puts a pair here (a court order, a custody decision): the sync never links it, and
with ``--remove-ended`` removes it from Canvas whoever made the link. The file is read whole
before any write; anything that is not a clean list stops the run (``RosterError`` naming the
file, line and field), because a half-read do-not-pair list would be worse than none.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from canvas_observers.roster.model import RosterError, roster_pair
from canvas_observers.roster.validate import check_email

COLUMNS = ("student_id", "observer_email")


def read_exclusions(path: Path) -> dict[tuple[str, str], str]:
    """(student id, lower-cased email) -> the reason given (may be empty)."""
    source = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RosterError(
            f"cannot read the do-not-pair list: {exc.strerror}", source=source
        ) from exc
    except UnicodeDecodeError as exc:
        raise RosterError("the do-not-pair list is not UTF-8", source=source) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise RosterError("the do-not-pair list is empty (it needs a header row)", source=source)
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise RosterError(
            f"the do-not-pair list needs the columns student_id, observer_email (and optionally "
            f"reason); missing: {', '.join(missing)}",
            source=source,
            line=1,
        )
    at = {name: names.index(name) for name in (*COLUMNS, "reason") if name in names}
    pairs: dict[tuple[str, str], str] = {}
    try:
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            cells = {name: (record[i].strip() if i < len(record) else "") for name, i in at.items()}
            if not cells["student_id"]:
                raise RosterError(
                    "student_id is empty", source=source, line=number, field="student_id"
                )
            email = cells["observer_email"].lower()
            if (problem := check_email(email)) is not None:
                raise RosterError(problem, source=source, line=number, field="observer_email")
            pairs[roster_pair(cells["student_id"], email)] = cells.get("reason", "")
    except csv.Error as exc:
        raise RosterError(f"not a CSV: {exc}", source=source, line=reader.line_num) from exc
    return pairs
