"""Canvas's provisioning report (`provisioning_csv`): a run, its clock, its file and its JSON.

The rules follow canvas-lms (docs/canvas-behaviour.md, "Account reports (provisioning)"):
`gems/plugins/account_reports/lib/account_reports/sis_exporter.rb` picks the CSVs (built in
report_csv.py), `account_reports.rb` zips several, `lib/api/v1/account_report.rb` renders
the report.

The data is read from the FakeState when the report is requested, and the whole outcome (the
file, its line counts) is fixed then; only the status changes afterwards, driven by
`state.clock`. A run takes `report_seconds` plus `ROW_SECONDS` per CSV row: the first
`QUEUED_SHARE` of it `created` (a queued job), then `running`, then `complete`.
"""

from __future__ import annotations

import io
import os
import secrets
import zipfile
from datetime import datetime, timedelta
from typing import Any, Final

from canvas_observers.fake_canvas.records import AccountReport, StoredFile, iso
from canvas_observers.fake_canvas.report_csv import BUILDERS, HEADERS, render_csv
from canvas_observers.fake_canvas.state import ROOT_ACCOUNT_ID, FakeState

REPORT_TYPE: Final = "provisioning_csv"
ROW_SECONDS: Final = 20e-6  # each CSV row adds 20 µs: 100,000 users take 2 s more
QUEUED_SHARE: Final = 0.1  # the first tenth of a run the job waits in the queue ("created")
LINE_STEP: Final = 1000  # ExtendedCSV writes current_line every 1,000 lines

# SisExporter::SIS_CSV_REPORTS: the order the CSVs are built (and zipped) in, whatever the
# order of the parameters.
SIS_CSV_REPORTS: Final = (
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
)
BUILT: Final = frozenset({"users", "enrollments", "user_observers"})  # what the fake can build

FAILED_TEXT: Final = "Failed, the report failed to generate a file. Please try again."
_TRUE: Final = frozenset({"1", "true", "t", "on", "yes", "y"})  # Canvas value_to_boolean


class UnsupportedReport(ValueError):
    """A CSV kind Canvas builds but the fake does not (accounts, terms, courses, ...)."""


def _truthy(value: Any) -> bool:
    """Canvas's value_to_boolean of a report parameter."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in _TRUE


def requested_kinds(parameters: dict[str, Any]) -> list[str]:
    """The CSVs a run builds, in SIS_CSV_REPORTS order; UnsupportedReport for ones the fake
    cannot build."""
    kinds = [kind for kind in SIS_CSV_REPORTS if _truthy(parameters.get(kind))]
    missing = [kind for kind in kinds if kind not in BUILT]
    if missing:
        raise UnsupportedReport(
            "the fake Canvas builds only the users, enrollments and user_observers CSVs "
            f"of the provisioning report, not {', '.join(missing)}"
        )
    return kinds


# -- a run -------------------------------------------------------------------------------
def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def _file_date(moment: datetime) -> str:
    return moment.strftime("%d_%b_%Y")  # AccountReports.generate_file_name: 05_Mar_2025


def start_report(
    state: FakeState, parameters: dict[str, Any], *, report_seconds: float
) -> AccountReport:
    """Build the report's files from the state now and record the run (kinds checked by the
    caller with requested_kinds)."""
    kinds = requested_kinds(parameters)
    created = state.clock()
    report_id = state.new_id("report")
    include_deleted = _truthy(parameters.get("include_deleted"))
    # SisExporter reads created_by_sis without value_to_boolean: any value but JSON false
    # limits every CSV to rows from SIS imports (in the fake, only links staged as such).
    created_by_sis = parameters.get("created_by_sis") not in (None, False)
    csvs: dict[str, bytes] = {}
    lines: list[int] = []
    rows_total = 0
    for kind in kinds:
        rows = BUILDERS[kind](state, include_deleted=include_deleted)
        if created_by_sis:
            column = HEADERS[kind].index("created_by_sis")
            rows = [row for row in rows if row[column] is True]
        csvs[kind] = render_csv(HEADERS[kind], rows)
        lines.append(len(rows) + 1)
        rows_total += len(rows)
    seconds = report_seconds + rows_total * ROW_SECONDS
    extra = ["Term: All Terms;"]
    if include_deleted:
        extra.append("Include Deleted Objects;")
    extra.append("Reports: " + "".join(f"{kind} " for kind in kinds))
    stored = None
    if csvs:
        stored = _store(state, report_id, csvs, created, created + timedelta(seconds=seconds))
    report = AccountReport(
        id=report_id,
        report_type=REPORT_TYPE,
        parameters=dict(parameters),
        created_at=created,
        seconds=seconds,
        extra_text=" ".join(extra),
        lines=lines,
        file=stored,
    )
    state.reports[report_id] = report
    return report


def _store(
    state: FakeState,
    report_id: int,
    csvs: dict[str, bytes],
    created: datetime,
    available: datetime,
) -> StoredFile:
    """The attachment: one CSV as is, several zipped as `<kind>.csv` (report_attachment)."""
    base = f"{REPORT_TYPE}_{_file_date(created)}_{report_id}"
    if len(csvs) == 1:
        (data,) = csvs.values()
        # A single CSV keeps its Tempfile name: base + "YYYYMMDD-pid-random" + ".csv".
        tmp = f"{created:%Y%m%d}-{os.getpid()}-{_base36(secrets.randbelow(0x100000000))}"
        filename, content_type = f"{base}{tmp}.csv", "text/csv"
    else:
        buffer = io.BytesIO()
        stamp = created.timetuple()[:6]
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for kind, body in csvs.items():
                archive.writestr(zipfile.ZipInfo(f"{kind}.csv", date_time=stamp), body)
        data, filename, content_type = buffer.getvalue(), f"{base}.zip", "application/zip"
    stored = StoredFile(
        id=state.new_id("attachment"),
        filename=filename,
        content_type=content_type,
        data=data,
        verifier=secrets.token_urlsafe(30),
        created_at=available,
        available_at=available,
    )
    state.files[stored.id] = stored
    return stored


def _current_line(report: AccountReport, share: float) -> int:
    """current_line while running: lines written so far in the CSV being written, as
    ExtendedCSV records it (every LINE_STEP lines, counting from the header)."""
    total = sum(report.lines)
    written = min(int(share * total), total)
    for count in report.lines:
        if written < count:
            return (written // LINE_STEP) * LINE_STEP
        written -= count
    return (max(report.lines[-1] - 1, 0) // LINE_STEP) * LINE_STEP if report.lines else 0


def report_json(
    report: AccountReport, *, now: datetime, base_url: str, just_created: bool = False
) -> dict[str, Any]:
    """lib/api/v1/account_report.rb account_report_json at `now`.

    created (queued) -> running (progress stays 0: the provisioning report never sets
    total_lines; current_line rises every 1,000 lines) -> complete (progress 100, file_url and
    attachment), or error when no CSV was asked for."""
    elapsed = (now - report.created_at).total_seconds()
    queued = report.seconds * QUEUED_SHARE
    started = report.created_at + timedelta(seconds=queued)
    ended = report.created_at + timedelta(seconds=report.seconds)
    parameters = dict(report.parameters)
    status, progress = "created", 0
    current_line: int | None = None
    started_at = ended_at = None
    if not just_created and elapsed >= queued:
        started_at = iso(started)
        if elapsed < report.seconds:
            status = "running"
            parameters["extra_text"] = report.extra_text
            share = (elapsed - queued) / max(report.seconds - queued, 1e-9)
            current_line = _current_line(report, share) if report.lines else None
        else:
            status, progress, ended_at = "complete", 100, iso(ended)
            parameters["extra_text"] = report.extra_text
            current_line = report.lines[-1] if report.lines else None
            if report.file is None:
                status = "error"
                parameters["extra_text"] = FAILED_TEXT
    data: dict[str, Any] = {
        "id": report.id,
        "progress": progress,
        "parameters": parameters,
        "current_line": current_line,
        "status": status,
        "report": report.report_type,
        "created_at": iso(report.created_at),
        "started_at": started_at,
        "ended_at": ended_at,
        "file_url": None,
    }
    if status == "complete" and report.file is not None:
        data["file_url"] = f"{base_url}/accounts/{ROOT_ACCOUNT_ID}/files/{report.file.id}/download"
        data["attachment"] = attachment_json(report.file, base_url=base_url)
    return data


def attachment_json(stored: StoredFile, *, base_url: str) -> dict[str, Any]:
    """lib/api/v1/attachment.rb attachment_json; `url` is the verifier download URL on the
    Canvas host (file_download_url with download_frd=1 and the verifier)."""
    url = f"{base_url}/files/{stored.id}/download?download_frd=1&verifier={stored.verifier}"
    moment = iso(stored.created_at)
    return {
        "id": stored.id,
        "folder_id": 1,
        "display_name": stored.filename,
        "filename": stored.filename,
        "upload_status": "success",
        "content-type": stored.content_type,
        "url": url,
        "size": len(stored.data),
        "created_at": moment,
        "updated_at": moment,
        "unlock_at": None,
        "locked": False,
        "hidden": False,
        "lock_at": None,
        "hidden_for_user": False,
        "thumbnail_url": None,
        "modified_at": moment,
        "mime_class": "zip" if stored.content_type == "application/zip" else "file",
        "media_entry_id": None,
        "category": "uncategorized",
        "locked_for_user": False,
    }
