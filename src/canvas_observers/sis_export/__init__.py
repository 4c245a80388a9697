"""Writing Canvas SIS-import CSVs (``users.csv`` + ``user_observers.csv``) from a roster."""

from canvas_observers.sis_export.writer import (
    ExportError,
    ExportResult,
    build_export,
    check_template,
    export_sis,
    observer_sis_id,
)

__all__ = [
    "ExportError",
    "ExportResult",
    "build_export",
    "check_template",
    "export_sis",
    "observer_sis_id",
]
