"""Rosters: the shared values, the four-column CSV reader and its email check.

The OneRoster and SDS readers are reached through ``roster.sources`` (``read_source``,
``SourceOptions``), which detects the format and dispatches."""

from canvas_observers.roster.columns import REQUIRED_COLUMNS
from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.roster.model import (
    RemovalCandidate,
    Roster,
    RosterError,
    RosterRow,
    RowProblem,
)
from canvas_observers.roster.validate import check_email

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
