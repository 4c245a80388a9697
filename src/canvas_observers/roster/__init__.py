"""Rosters: the shared values and the four-column CSV reader."""

from canvas_observers.roster.columns import REQUIRED_COLUMNS
from canvas_observers.roster.csv_reader import check_email, read_roster
from canvas_observers.roster.model import (
    RemovalCandidate,
    Roster,
    RosterError,
    RosterRow,
    RowProblem,
)

__all__ = [
    "REQUIRED_COLUMNS",
    "RemovalCandidate",
    "Roster",
    "RosterError",
    "RosterRow",
    "RowProblem",
    "check_email",
    "read_roster",
]
