"""The four columns of the roster CSV, named once: the reader requires them, the fake Canvas's
demo roster and the generated districts write them (docs/cli.md, "Roster format")."""

from __future__ import annotations

from typing import Final

ROSTER_COLUMNS: Final = (
    "student_id",
    "observer_email",
    "observer_first_name",
    "observer_last_name",
)
