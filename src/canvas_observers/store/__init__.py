"""The local SQLite journal: runs, row outcomes, write actions and Canvas ids learned."""

from canvas_observers.store.journal import (
    Journal,
    JournalError,
    NotAJournal,
    RunRecord,
    default_state_path,
)

__all__ = ["Journal", "JournalError", "NotAJournal", "RunRecord", "default_state_path"]
