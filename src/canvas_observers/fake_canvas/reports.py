"""Canvas's provisioning report (`provisioning_csv`): a run, its clock, its file and its JSON.

The rules follow canvas-lms (docs/canvas-behaviour.md, "Account reports (provisioning)"):
`gems/plugins/account_reports/lib/account_reports/sis_exporter.rb` picks the CSVs (built in
report_csv.py), `account_reports.rb` zips several, `lib/api/v1/account_report.rb` renders
the report.

The data is read from the FakeState when the report is requested, and the whole outcome (the
file, its line counts) is fixed then; only the status changes afterwards, driven by
`state.clock`. A run takes `report_seconds` plus `ROW_SECONDS` per CSV row: the first
`QUEUED_SHARE` of it `created` (a queued job), then `running`, then `complete`.

Canvas writes the users and user_observers CSVs without an ORDER BY, so their rows come in
whatever order the database gives; the fake shuffles them (seeded) so that no client comes to
rely on an order. A finished report's "Report Generated" message is not sent anywhere: the
fake works out from the clock which ones Canvas would have sent (`messages`).
"""

from __future__ import annotations

import io
import os
import random
import secrets
import zipfile
from datetime import datetime, timedelta
from typing import Any, Final

from canvas_observers.fake_canvas.records import AccountReport, StoredFile, User, iso
from canvas_observers.fake_canvas.report_csv import BUILDERS, HEADERS, render_csv
from canvas_observers.fake_canvas.state import ACCOUNT_NAME, ROOT_ACCOUNT_ID, FakeState

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

# Written without ORDER BY in sis_exporter.rb: their rows come in no set order (the
# enrollments CSV is ordered by enrollment id).
UNORDERED: Final = frozenset({"users", "user_observers"})

REPORT_TITLE: Final = "Provisioning"  # the report's title in AccountReports.available_reports
FAILED_TEXT: Final = "Failed, the report failed to generate a file. Please try again."
GENERATED: Final = "Report Generated"  # the notification for a report with a file
GENERATION_FAILED: Final = "Report Generation Failed"  # ...and for one without
_TRUE: Final = frozenset({"1", "true", "t", "on", "yes", "y"})  # Canvas value_to_boolean
RUNNING: Final = frozenset({"created", "running"})  # a run a second identical start meets


class UnsupportedReport(ValueError):
    """A CSV kind Canvas builds but the fake does not (accounts, terms, courses, ...)."""


def _truthy(value: Any) -> bool:
    """Canvas's value_to_boolean of a report parameter."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in _TRUE


def _present(value: Any) -> bool:
    """A parameter read without value_to_boolean: Ruby takes any value but nil and false as
    true, even the string "false"."""
    return value not in (None, False)


def skips_message(parameters: dict[str, Any]) -> bool:
    """`skip_message` among the parameters: no "Report Generated" message for this run."""
    return _present(parameters.get("skip_message"))


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
    state: FakeState,
    parameters: dict[str, Any],
    *,
    report_seconds: float,
    user_id: int,
    order_seed: int | None = None,
) -> AccountReport:
    """Build the report's files from the state now and record the run, asked for by
    `user_id` (kinds checked by the caller with requested_kinds). With `order_seed` the rows
    of the CSVs Canvas writes in no set order are shuffled, by that seed and the report's id;
    without it they stay in id order."""
    kinds = requested_kinds(parameters)
    created = state.clock()
    report_id = state.new_id("report")
    include_deleted = _truthy(parameters.get("include_deleted"))
    # SisExporter reads created_by_sis without value_to_boolean: any value but JSON false
    # limits every CSV to rows from SIS imports (in the fake, only links staged as such).
    created_by_sis = _present(parameters.get("created_by_sis"))
    shuffler = random.Random(f"{order_seed}:{report_id}") if order_seed is not None else None
    csvs: dict[str, bytes] = {}
    lines: list[int] = []
    rows_total = 0
    for kind in kinds:
        rows = BUILDERS[kind](state, include_deleted=include_deleted)
        if created_by_sis:
            column = HEADERS[kind].index("created_by_sis")
            rows = [row for row in rows if row[column] is True]
        if shuffler is not None and kind in UNORDERED:
            shuffler.shuffle(rows)
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
        user_id=user_id,
    )
    state.reports[report_id] = report
    return report


def running_twin(
    state: FakeState, report_type: str, parameters: dict[str, Any], now: datetime
) -> AccountReport | None:
    """AccountReport.recent_for as AccountReportsController#create uses it: the newest report
    of this type with these very parameters that is still created or running (a second start
    of it is a 409 naming this one)."""
    twins = [
        report
        for report in state.reports.values()
        if report.report_type == report_type
        and report.parameters == parameters
        and status_at(report, now) in RUNNING
    ]
    return max(twins, key=lambda report: (report.created_at, report.id), default=None)


def messages(state: FakeState) -> list[dict[str, Any]]:
    """The notifications Canvas would have sent by now (account_reports.rb,
    message_recipient): one per finished report, to the user who asked for it, "Report
    Generated" (or "Report Generation Failed" without a file), unless its parameters carry
    skip_message."""
    now = state.clock()
    sent: list[dict[str, Any]] = []
    for report in sorted(state.reports.values(), key=lambda report: report.id):
        status = status_at(report, now)
        if status in RUNNING or skips_message(report.parameters):
            continue
        user = state.users.get(report.user_id)
        sent.append(
            {
                "notification": GENERATED if status == "complete" else GENERATION_FAILED,
                "report_id": report.id,
                "user_id": report.user_id,
                "address": user.email if user is not None else None,
            }
        )
    return sent


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


def status_at(report: AccountReport, now: datetime, *, just_created: bool = False) -> str:
    """The run's workflow state at `now`: created (queued), running, then complete, or error
    when no CSV was asked for."""
    elapsed = (now - report.created_at).total_seconds()
    if just_created or elapsed < report.seconds * QUEUED_SHARE:
        return "created"
    if elapsed < report.seconds:
        return "running"
    return "complete" if report.file is not None else "error"


def report_message(report: AccountReport, *, account_name: str = ACCOUNT_NAME) -> str:
    """The report's `message` once it has ended (report_helper.rb, send_report): what it
    was, for which account, and its extra_text."""
    if report.file is not None:
        what = "report successfully generated"
    else:
        what = "report failed to generate"
    return (
        f"{REPORT_TITLE} {what} with the following settings. "
        f"Account: {account_name}; {report.extra_text}"
    )


def user_display_json(user: User, *, base_url: str) -> dict[str, Any]:
    """lib/api/v1/user.rb user_display_json: the report's `user`, who asked for it."""
    return {
        "id": user.id,
        "anonymous_id": _base36(user.id),
        "display_name": user.short_name,
        "avatar_image_url": f"{base_url}/images/messages/avatar-50.png",
        "html_url": f"{base_url}/about/{user.id}",
        "pronouns": None,
    }


def report_json(
    report: AccountReport,
    *,
    now: datetime,
    base_url: str,
    user: User | None = None,
    just_created: bool = False,
    with_verifier: bool = True,
) -> dict[str, Any]:
    """lib/api/v1/account_report.rb account_report_json at `now` (`with_verifier` False: the
    attachment's url carries none, as under disable_adding_uuid_verifier_in_api).

    created (queued) -> running (progress stays 0: the provisioning report never sets
    total_lines; current_line rises every 1,000 lines) -> complete (progress 100, file_url and
    attachment), or error when no CSV was asked for. `run_time` counts from the start of the
    run (null while queued), `message` is set when the run ends, `user` is who asked for it."""
    status = status_at(report, now, just_created=just_created)
    started = report.created_at + timedelta(seconds=report.seconds * QUEUED_SHARE)
    ended = report.created_at + timedelta(seconds=report.seconds)
    parameters = dict(report.parameters)
    progress = 0
    current_line: int | None = None
    run_time: float | None = None
    message: str | None = None
    started_at = ended_at = None
    if status != "created":
        started_at = iso(started)
        parameters["extra_text"] = report.extra_text
    if status == "running":
        elapsed = (now - started).total_seconds()
        share = elapsed / max(report.seconds - report.seconds * QUEUED_SHARE, 1e-9)
        current_line = _current_line(report, share) if report.lines else None
        run_time = round(elapsed, 3)
    elif status != "created":
        progress, ended_at = 100, iso(ended)
        current_line = report.lines[-1] if report.lines else None
        run_time = round((ended - started).total_seconds(), 3)
        message = report_message(report)
        if status == "error":
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
        "run_time": run_time,
        "message": message,
    }
    if user is not None:
        data["user"] = user_display_json(user, base_url=base_url)
    if status == "complete" and report.file is not None:
        data["file_url"] = f"{base_url}/accounts/{ROOT_ACCOUNT_ID}/files/{report.file.id}/download"
        data["attachment"] = attachment_json(
            report.file, base_url=base_url, with_verifier=with_verifier
        )
    return data


def attachment_json(
    stored: StoredFile, *, base_url: str, with_verifier: bool = True
) -> dict[str, Any]:
    """lib/api/v1/attachment.rb attachment_json; `url` is the verifier download URL on the
    Canvas host (file_download_url with download_frd=1 and the verifier, unless the root
    account's disable_adding_uuid_verifier_in_api leaves it out)."""
    url = f"{base_url}/files/{stored.id}/download?download_frd=1"
    if with_verifier:
        url += f"&verifier={stored.verifier}"
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
