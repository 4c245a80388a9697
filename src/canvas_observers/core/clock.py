"""The run's clock: UTC now, and the ISO 8601 timestamps the journal and reports hold."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_timestamp(moment: datetime) -> str:
    """``2026-09-01T02:00:00.123Z``: millisecond precision, always UTC."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
