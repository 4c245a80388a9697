"""Reading Canvas whole (a provisioning report) against row-by-row look-ups: the same row
outcomes and the same Canvas at the end, far fewer calls, and a stale snapshot never
duplicates an account or pairs the wrong child."""

from __future__ import annotations

import asyncio
import io
import zipfile
from typing import Any

import pytest

from canvas_observers.canvas import protocol
from canvas_observers.canvas.models import AccountReport
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, FakeState, create_app
from canvas_observers.fake_canvas import reports as fake_reports
from canvas_observers.fake_canvas.scenarios import build_demo, generate_district
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import AUDIT_KINDS, RunResult, read_canvas, report_kinds
from tests.wiring import HEADER, canvas_client, in_process, roster_of, sync_with

WRITES = ("create_user", "create_pairing_code", "add_observee_with_code", "add_observee")


async def no_sleep(_seconds: float) -> None:
    """Polls after a hundredth of a second, whatever pause the sync asks for."""
    await asyncio.sleep(0.01)


def app_with(csv_builder: str, rows: int = 400, seed: int = 3) -> tuple[FakeCanvasApp, str]:
    state = FakeState()
    if csv_builder == "demo":
        text = build_demo(state)
    else:
        text = generate_district(state, rows=rows, seed=seed)
    return create_app(FakeConfig(throttle=False, report_seconds=0.0), state), text


async def sync(
    app: FakeCanvasApp,
    text: str,
    *,
    journal: Journal | None = None,
    on_report: Any = None,
    **options: Any,
) -> RunResult:
    return await sync_with(
        app,
        roster_of(text),
        options=SyncOptions(**options),
        journal=journal,
        on_report=on_report,
        sleep=no_sleep,
    )


def outcomes(report: RunResult) -> dict[int, str]:
    return {r.line: r.outcome.value for r in report.results}


def end_state(app: FakeCanvasApp) -> tuple[set[tuple[str, str]], set[str]]:
    """Links by (observer login, student login) and the set of logins: ids aside."""
    state = app.fake.state
    logins = {
        u.id: (u.login.unique_id.lower() if u.login else f"#{u.id}")
        for u in state.users.values()
        if u.active
    }
    links = {
        (logins[k.observer_id], logins[k.student_id])
        for k in state.links.values()
        if k.workflow_state == "active"
    }
    return links, set(logins.values())


@pytest.mark.parametrize("district", ["demo", "generated"])
@pytest.mark.parametrize("method", ["code", "direct"])
async def test_report_and_lookups_give_the_same_outcomes_and_canvas(
    district: str, method: str
) -> None:
    """The same district synced both ways: the same outcome per row (dry run and real), the
    same links and accounts; the report's first run sends few calls besides the writes, and
    its unchanged re-run fewer than 25 calls and no write."""
    by_lookups, text = app_with(district)
    by_report, same = app_with(district)
    assert same == text
    dry_l = await sync(by_lookups, text, method=method, dry_run=True, canvas_state="lookups")
    dry_r = await sync(by_report, text, method=method, dry_run=True, canvas_state="report")
    assert dry_r.info.canvas_state == "report"
    assert outcomes(dry_r) == outcomes(dry_l)
    first_l = await sync(by_lookups, text, method=method, canvas_state="lookups")
    journal = Journal.open(":memory:")
    first_r = await sync(by_report, text, method=method, canvas_state="report", journal=journal)
    assert outcomes(first_r) == outcomes(first_l)
    assert end_state(by_report) == end_state(by_lookups)
    assert outcomes(first_r) == outcomes(dry_r) | {
        line: {"would_create": "created", "would_pair": "paired"}.get(value, value)
        for line, value in outcomes(dry_r).items()
    }
    writes = sum(first_r.info.api_calls.get(k, 0) for k in WRITES)
    assert sum(first_r.info.api_calls.values()) <= writes + 25
    rerun = await sync(by_report, text, method=method, canvas_state="report", journal=journal)
    assert sum(rerun.info.api_calls.values()) <= 25
    assert not set(WRITES) & set(rerun.info.api_calls)


async def test_auto_reads_a_report_for_a_large_roster_and_lookups_for_a_small_one() -> None:
    """auto: a report from 300 rows up, look-ups below."""
    large, text = app_with("generated", rows=400)
    assert (await sync(large, text, dry_run=True)).info.canvas_state == "report"
    small, small_text = app_with("generated", rows=40)
    assert (await sync(small, small_text, dry_run=True)).info.canvas_state == "lookups"


async def test_auto_falls_back_to_lookups_when_the_report_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token that may not run reports: auto says why in one log line and uses look-ups;
    an explicit --canvas-state report stops the run instead."""
    app, text = app_with("generated", rows=400)
    rights = app.fake.state.users[app.fake.state.admin_id].permissions
    app.fake.state.make_admin(app.fake.state.admin_id, rights - {"read_reports"})
    caplog.set_level("INFO")
    report = await sync(app, text, dry_run=True)
    assert report.info.canvas_state == "lookups"
    assert any("instead of a report" in r.getMessage() for r in caplog.records)
    stopped = await sync(app, text, dry_run=True, canvas_state="report")
    assert stopped.aborted is not None and "provisioning report" in stopped.aborted


async def test_a_report_that_does_not_finish_in_time_falls_back() -> None:
    """A report still running at --report-timeout: auto uses look-ups instead."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 3600.0
    report = await sync(app, text, dry_run=True, report_timeout=5.0)
    assert report.info.canvas_state == "lookups"


async def test_a_stale_snapshot_duplicates_nothing() -> None:
    """Canvas changes after the report is taken (a guardian registers, a pair is made by
    hand, a student is deleted): no second account, no wrong pairing, each row told truly."""
    app, _ = app_with("generated", rows=10)
    state = app.fake.state
    course = state.add_course("C")
    kids = [
        state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"K{i}") for i in range(3)
    ]
    for kid in kids:
        state.enroll(kid, course)
    text = (
        HEADER + "K0,early@home.test,Early,Bird\n"
        "K1,hand@home.test,Hand,Made\n"
        "K2,gone@home.test,Gone,Kid\n"
    )
    hand = state.add_user("Hand Made", login_id="hand@home.test")
    changed: list[str] = []

    def meanwhile(report: AccountReport) -> None:
        if not changed:  # after the report was taken, before any write
            changed.append(report.status)
            state.add_user("Early Bird", login_id="early@home.test")
            state.link(hand, kids[1])
            state.delete_user(kids[2])

    report = await sync(app, text, canvas_state="report", on_report=meanwhile)
    assert changed
    assert outcomes(report)[2] == "paired"  # the account made meanwhile is used, not doubled
    assert outcomes(report)[3] in {"paired", "already_paired"}
    assert outcomes(report)[4] == "failed"  # Canvas's 404 for the deleted student
    early = [u for u in state.users.values() if u.login and u.login.unique_id == "early@home.test"]
    assert len(early) == 1
    assert state.is_linked(early[0].id, kids[0]) and state.is_linked(hand, kids[1])


async def start_as_the_sync_would(app: FakeCanvasApp, kinds: tuple[str, ...]) -> int:
    """Start, straight on the fake, the very report the sync asks for (as a run that gave up
    waiting, or an audit running alongside, left it): its id."""
    request = protocol.start_provisioning_report(kinds)
    token = app.fake.config.admin_token
    async with in_process(app) as http:
        answer = await http.post(
            request.path,
            content=request.body(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert answer.status_code == 200, answer.text
    report_id: int = answer.json()["id"]
    return report_id


async def test_a_report_already_running_is_waited_for_not_a_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Canvas answers 409 naming the report of the same kinds that still runs: the sync
    waits for that one and reads Canvas whole from it, with no second report."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 1.0
    running = await start_as_the_sync_would(app, report_kinds(SyncOptions()))
    caplog.set_level("INFO")
    report = await sync(app, text, dry_run=True, canvas_state="report")
    assert report.aborted is None, report.aborted
    assert report.info.canvas_state == "report"
    assert list(app.fake.state.reports) == [running]
    assert report.info.api_calls["start_report"] == 1
    assert any("already running" in r.getMessage() for r in caplog.records)


async def test_the_audit_waits_for_a_report_already_running() -> None:
    """The audit's report start met by a 409 reads the running report instead of stopping."""
    app, _ = app_with("generated", rows=40)
    app.fake.config.report_seconds = 1.0
    running = await start_as_the_sync_would(app, AUDIT_KINDS)
    async with canvas_client(app) as client:
        snapshot = await read_canvas(client, wait_at_most=60.0, sleep=no_sleep)
    assert len(snapshot.users) == len(app.fake.state.users)
    assert list(app.fake.state.reports) == [running]


def test_a_conflict_names_its_report_by_body_or_by_location() -> None:
    """The 409's report JSON names the report; without one, the Location's last segment does;
    an answer naming neither is no report to wait for."""
    body = {"id": 7, "status": "running", "progress": 0, "parameters": {}}
    assert AccountReport.named_by_conflict(body, None) == AccountReport(
        id=7, status="running", adopted=True
    )
    where = "https://canvas.test/api/v1/accounts/1/reports/provisioning_csv/42"
    assert AccountReport.named_by_conflict({"errors": []}, where) == AccountReport(
        id=42, status="created", adopted=True
    )
    assert AccountReport.named_by_conflict({"errors": []}, None) is None
    assert AccountReport.named_by_conflict(None, "https://canvas.test/login") is None


async def test_reading_canvas_whole_emails_no_one() -> None:
    """The sync's and the audit's reports carry skip_message: Canvas sends the token's user
    no "Report Generated" email for them."""
    app, text = app_with("generated", rows=400)
    app.fake.state.add_channel(app.fake.state.users[app.fake.state.admin_id], "it@district.test")
    report = await sync(app, text, dry_run=True, canvas_state="report")
    assert report.info.canvas_state == "report"
    async with canvas_client(app) as client:
        await read_canvas(client, wait_at_most=60.0, sleep=no_sleep)
    assert len(app.fake.state.reports) == 2
    assert all(r.parameters.get("skip_message") == "true" for r in app.fake.state.reports.values())
    assert fake_reports.messages(app.fake.state) == []


async def test_a_report_behind_the_login_page_is_one_clear_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Canvas that sends the report's download to its login page: --canvas-state report
    stops with one error naming the setting, auto says so and reads by look-ups."""
    app, text = app_with("generated", rows=400)
    app.fake.config.files_behind_login = True
    stopped = await sync(app, text, dry_run=True, canvas_state="report")
    assert stopped.aborted is not None
    assert "login page" in stopped.aborted
    assert "disable_adding_uuid_verifier_in_api" in stopped.aborted
    assert "--canvas-state lookups" in stopped.aborted
    caplog.set_level("INFO")
    fallen_back = await sync(app, text, dry_run=True)
    assert fallen_back.aborted is None
    assert fallen_back.info.canvas_state == "lookups"
    said = [r.getMessage() for r in caplog.records if "instead of a report" in r.getMessage()]
    assert len(said) == 1 and "login page" in said[0]


async def test_a_web_page_where_the_report_should_be_is_the_same_error() -> None:
    """The download answered with HTML (a login page served without a redirect) is not parsed
    as a report: the same error as the redirect to /login."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 0.2

    def replace_the_file(report: AccountReport) -> None:
        for stored in app.fake.state.files.values():
            stored.data = b"<!DOCTYPE html>\n<html><body>Log In to Canvas</body></html>\n"
            stored.content_type = "text/html; charset=utf-8"

    stopped = await sync(app, text, dry_run=True, canvas_state="report", on_report=replace_the_file)
    assert stopped.aborted is not None and "login page" in stopped.aborted


async def test_a_failed_report_is_told_in_canvas_words() -> None:
    """A report that ends in error stops --canvas-state report with the report's message,
    Canvas's own account of the run."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 0.2

    def lose_the_file(report: AccountReport) -> None:
        app.fake.state.reports[report.id].file = None  # the run ends in error

    stopped = await sync(app, text, dry_run=True, canvas_state="report", on_report=lose_the_file)
    assert stopped.aborted is not None
    assert "ended error: Provisioning report failed to generate" in stopped.aborted
    assert "Account: Fake District" in stopped.aborted


def spoil(app: FakeCanvasApp, data: bytes) -> Any:
    """An on_report hook that puts ``data`` in place of the report's file."""

    def hook(report: AccountReport) -> None:
        for stored in app.fake.state.files.values():
            stored.data = data

    return hook


def zip_of(**tables: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, body in tables.items():
            archive.writestr(f"{name}.csv", body)
    return buffer.getvalue()


async def test_a_damaged_report_zip_is_one_error_and_auto_falls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An encrypted member (as for a bad checksum or an unknown method): --canvas-state report
    stops with one line, auto reads by look-ups; neither raises zipfile's exception."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 0.2
    users = b"canvas_user_id,user_id,login_id,email,status\n1,,admin,,active\n"
    links = b"canvas_observer_id,canvas_student_id,status\n"
    encrypted = bytearray(zip_of(users=users, user_observers=links))
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        encrypted[encrypted.index(signature) + at] |= 0x1
    hook = spoil(app, bytes(encrypted))
    stopped = await sync(app, text, dry_run=True, canvas_state="report", on_report=hook)
    assert stopped.aborted is not None and "encrypted" in stopped.aborted
    assert "\n" not in stopped.aborted
    caplog.set_level("INFO")
    fallen_back = await sync(app, text, dry_run=True, on_report=hook)
    assert fallen_back.aborted is None
    assert fallen_back.info.canvas_state == "lookups"
    assert any("encrypted" in r.getMessage() for r in caplog.records)


async def test_a_report_without_its_links_table_stops_instead_of_reading_no_links() -> None:
    """The file holds users.csv only, though user_observers was asked for: the run stops (it
    would otherwise take every guardian for unlinked)."""
    app, text = app_with("generated", rows=400)
    app.fake.config.report_seconds = 0.2
    users = b"canvas_user_id,user_id,login_id,email,status\n1,,admin,,active\n"
    hook = spoil(app, zip_of(users=users))
    stopped = await sync(app, text, dry_run=True, canvas_state="report", on_report=hook)
    assert stopped.aborted is not None
    assert "no user_observers table" in stopped.aborted
