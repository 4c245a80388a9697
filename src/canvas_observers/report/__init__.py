"""Run reports: pure summaries (``summary``) and the terminal / JSON / CSV renderers."""

from canvas_observers.report.render import (
    ROW_FIELDS,
    render_summary,
    report_json,
    write_report,
)
from canvas_observers.report.summary import RunInfo, needs_attention, totals

__all__ = [
    "ROW_FIELDS",
    "RunInfo",
    "needs_attention",
    "render_summary",
    "report_json",
    "totals",
    "write_report",
]
