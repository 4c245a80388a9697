"""The provisioning report: start, poll, download through the files origin, and the CSVs.

Canvas's rules are in docs/canvas-behaviour.md ("Account reports (provisioning)"); the fake's
clock is `state.clock`, so the tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas, FakeConfig, create_app, report_csv
from canvas_observers.fake_canvas import reports as fake_reports
from canvas_observers.fake_canvas.server import running_server

ClientFor = Callable[..., httpx.AsyncClient]
REPORTS = "/api/v1/accounts/self/reports/provisioning_csv"
FILES_ORIGIN = "http://127.0.0.2:8901"
REPORT_FIELDS = [
    "id",
    "progress",
    "parameters",
    "current_line",
    "status",
    "report",
    "created_at",
    "started_at",
    "ended_at",
    "file_url",
    "run_time",
    "message",
    "user",
]


class Clock:
    """A hand-driven replacement for FakeState.clock."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(fake: FakeCanvas) -> Clock:
    """The fake's clock, frozen until advanced."""
    hand = Clock(fake.state.clock())
    fake.state.clock = hand
    return hand


def form(*kinds: str, **extra: str) -> dict[str, str]:
    data = {f"parameters[{kind}]": "true" for kind in kinds}
    data.update({f"parameters[{key}]": value for key, value in extra.items()})
    return data


async def start(api: httpx.AsyncClient, *kinds: str, **extra: str) -> dict[str, Any]:
    response = await api.post(REPORTS, data=form(*kinds, **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def finish(api: httpx.AsyncClient, clock: Clock, report: dict[str, Any]) -> dict[str, Any]:
    """Poll the report, moving the clock half a second each time, until it is done."""
    for _ in range(1000):
        body: dict[str, Any] = (await api.get(f"{REPORTS}/{report['id']}")).json()
        if body["status"] in ("complete", "error"):
            return body
        clock.advance(0.5)
    raise AssertionError("the report never finished")


async def fetch(api: httpx.AsyncClient, report: dict[str, Any]) -> httpx.Response:
    """Follow the attachment URL to the files store, the second hop without a token."""
    redirect = await api.get(report["attachment"]["url"])
    assert redirect.status_code == 302
    request = api.build_request("GET", redirect.headers["location"])
    del request.headers["Authorization"]  # the token goes to the Canvas host only
    stored = await api.send(request)
    assert stored.status_code == 200, stored.text
    return stored


def table(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


async def csvs(api: httpx.AsyncClient, clock: Clock, *kinds: str, **extra: str) -> dict[str, Any]:
    """Run a report of these kinds to the end; {kind: rows with the header first}."""
    done = await finish(api, clock, await start(api, *kinds, **extra))
    body = (await fetch(api, done)).content
    if len(kinds) == 1:
        return {kinds[0]: table(body)}
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name.removesuffix(".csv"): table(archive.read(name)) for name in archive.namelist()}


async def test_start_answers_a_created_report(api: httpx.AsyncClient) -> None:
    """POST answers 200 with Canvas's Report fields, status created, progress 0, no file."""
    body = await start(api, "users", "user_observers")
    assert list(body) == REPORT_FIELDS
    assert body["status"] == "created"
    assert body["report"] == "provisioning_csv"
    assert body["progress"] == 0
    assert body["parameters"] == {"users": "true", "user_observers": "true"}
    assert body["current_line"] is None
    assert body["started_at"] is None and body["ended_at"] is None
    assert body["file_url"] is None
    assert body["created_at"].endswith("Z")


async def test_status_follows_the_clock(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Queued as created, then running (progress 0, as Canvas), then complete with the file."""
    fake.config.report_seconds = 2.0
    report = await start(api, "users", "user_observers")
    url = f"{REPORTS}/{report['id']}"
    clock.advance(0.1)
    assert (await api.get(url)).json()["status"] == "created"
    clock.advance(0.5)
    running = (await api.get(url)).json()
    assert running["status"] == "running"
    assert running["progress"] == 0
    assert running["current_line"] == 0
    assert running["started_at"] is not None and running["ended_at"] is None
    assert running["parameters"]["extra_text"] == "Term: All Terms; Reports: users user_observers "
    assert running["file_url"] is None and "attachment" not in running
    clock.advance(1.5)
    done = (await api.get(url)).json()
    assert done["status"] == "complete"
    assert done["progress"] == 100
    assert done["ended_at"] is not None
    file_id = done["attachment"]["id"]
    assert done["file_url"] == f"http://127.0.0.1/accounts/1/files/{file_id}/download"
    attachment = done["attachment"]
    assert attachment["url"].startswith(
        f"http://127.0.0.1/files/{file_id}/download?download_frd=1&verifier="
    )
    assert attachment["content-type"] == "application/zip"
    assert attachment["upload_status"] == "success"
    assert attachment["filename"] == attachment["display_name"]
    assert attachment["size"] > 0


async def test_runtime_grows_with_the_rows(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """A run takes report_seconds plus ROW_SECONDS per row; current_line steps by 1,000."""
    fake.config.report_seconds = 0.0
    for n in range(2500):
        fake.state.add_user(f"Kid {n}", login_id=f"kid{n}")
    report = await start(api, "users")
    runtime = 2501 * fake_reports.ROW_SECONDS  # the admin and the 2,500 kids
    url = f"{REPORTS}/{report['id']}"
    clock.advance(runtime * 0.6)
    halfway = (await api.get(url)).json()
    assert halfway["status"] == "running"
    assert halfway["current_line"] == 1000
    clock.advance(runtime * 0.41)
    done = (await api.get(url)).json()
    assert done["status"] == "complete"
    assert done["current_line"] == 2502  # lines of the last CSV, header included


async def test_unknown_report_and_account_are_404(api: httpx.AsyncClient) -> None:
    """An unknown report id, another report type or an unknown account is Canvas's 404."""
    report = await start(api, "users")
    for path in (
        f"{REPORTS}/999",
        f"/api/v1/accounts/self/reports/grade_export_csv/{report['id']}",
        f"/api/v1/accounts/2/reports/provisioning_csv/{report['id']}",
    ):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "errors": [{"message": "The specified resource does not exist."}]
        }
    assert (await api.post("/api/v1/accounts/self/reports/no_such_report")).status_code == 404


async def test_callers_without_read_reports_are_refused(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """A plain user or an admin role without read_reports gets the 401 refusal (403 by flag)."""
    plain = client_for(fake.state.issue_token(fake.state.add_user("Kid", login_id="kid")))
    admin_id = fake.state.add_user("Limited", login_id="limited")
    token = (
        await api.post("/__fake__/tokens", json={"user_id": admin_id, "permissions": ["read_sis"]})
    ).json()["token"]
    limited = client_for(token)
    report = await start(api, "users")
    for http in (plain, limited):
        refused = await http.post(REPORTS, data=form("users"))
        assert refused.status_code == 401
        assert refused.json()["status"] == "unauthorized"
        assert "WWW-Authenticate" not in refused.headers
        assert (await http.get(f"{REPORTS}/{report['id']}")).status_code == 401
    fake.config.forbidden_status = 403
    assert (await limited.post(REPORTS, data=form("users"))).status_code == 403
    assert (await client_for(None).post(REPORTS, data=form("users"))).status_code == 401
    fake.state.make_admin(admin_id, frozenset({"read_reports"}))
    # Not "users" alone: the admin's report of it still runs, and would answer 409.
    assert (await limited.post(REPORTS, data=form("user_observers"))).status_code == 200


async def test_one_kind_is_a_csv_file(api: httpx.AsyncClient, clock: Clock) -> None:
    """Asking for one kind gives that CSV itself, text/csv, named like Canvas's Tempfile."""
    done = await finish(api, clock, await start(api, "users"))
    attachment = done["attachment"]
    assert attachment["content-type"] == "text/csv"
    assert attachment["filename"].startswith("provisioning_csv_")
    assert attachment["filename"].endswith(".csv")
    stored = await fetch(api, done)
    assert stored.headers["content-type"].startswith("text/csv")
    assert table(stored.content)[0] == list(report_csv.USERS_HEADERS)


async def test_several_kinds_are_a_zip_in_canvas_order(
    api: httpx.AsyncClient, clock: Clock
) -> None:
    """Several kinds give a zip of <kind>.csv in Canvas's order, whatever the request's order."""
    done = await finish(api, clock, await start(api, "user_observers", "enrollments", "users"))
    assert done["attachment"]["filename"].endswith(f"_{done['id']}.zip")
    stored = await fetch(api, done)
    assert stored.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(stored.content)) as archive:
        assert archive.namelist() == ["users.csv", "enrollments.csv", "user_observers.csv"]
        assert table(archive.read("enrollments.csv"))[0] == list(report_csv.ENROLLMENTS_HEADERS)
        assert table(archive.read("user_observers.csv"))[0] == list(
            report_csv.USER_OBSERVERS_HEADERS
        )


async def test_users_csv_has_one_row_per_login(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Two logins are two rows; deleted logins and users and test students are left out."""
    state = fake.state
    ana = state.add_user(
        "Ana María Pérez", login_id="ana@x.org", sis_user_id="S-1", email="ana@home.example"
    )
    second = state.add_login(ana, "ana.perez", sis_user_id="S-1b", integration_id="I-9")
    gone = state.add_user("Gone Kid", login_id="gone", sis_user_id="S-2")
    state.delete_user(gone)
    old_login = state.add_login(ana, "ana.old")
    state.delete_login(old_login)
    tester = state.add_user("Test Student", login_id="tester")
    state.enroll(tester, state.add_course("Math"), type="StudentViewEnrollment")
    [users] = (await csvs(api, clock, "users")).values()
    assert users[0] == list(report_csv.USERS_HEADERS)
    rows = {row[4]: row for row in users[1:]}
    assert set(rows) == {"admin", "ana@x.org", "ana.perez"}
    assert rows["ana@x.org"] == [
        str(ana),
        "S-1",
        "",
        "",
        "ana@x.org",
        "Ana María",
        "Pérez",
        "Ana María Pérez",
        "Pérez, Ana María",
        "Ana María Pérez",
        "ana@home.example",
        "active",
        "false",
    ]
    assert rows["ana.perez"][:5] == [str(ana), "S-1b", "I-9", "", "ana.perez"]
    assert second > 0
    # include_deleted brings back deleted logins that have a SIS id, and only those.
    [with_deleted] = (await csvs(api, clock, "users", include_deleted="true")).values()
    rows = {row[4]: row for row in with_deleted[1:]}
    assert set(rows) == {"admin", "ana@x.org", "ana.perez", "gone"}
    assert rows["gone"][11] == "deleted"
    assert rows["gone"][10] == ""  # a deleted user's email channels are retired


async def test_user_observers_csv_has_the_links_both_ways(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Each live link is a row (per pair of logins); deleted links only with include_deleted."""
    state = fake.state
    kid1 = state.add_user("Kid One", login_id="kid1", sis_user_id="S-1")
    kid2 = state.add_user("Kid Two", login_id="kid2", sis_user_id="S-2")
    mom = state.add_user("Mom", login_id="mom@x.org")
    dad = state.add_user("Dad", login_id="dad@x.org", sis_user_id="G-2")
    state.link(mom, kid1)
    state.link(mom, kid2)
    state.link(dad, kid1)
    state.link(dad, kid2)
    state.unlink(dad, kid2)
    state.add_login(kid2, "kid2.second", sis_user_id="S-2b")
    [links] = (await csvs(api, clock, "user_observers")).values()
    assert links[0] == list(report_csv.USER_OBSERVERS_HEADERS)
    assert sorted(links[1:]) == sorted(
        [
            [str(mom), "", str(kid1), "S-1", "active", "false"],
            [str(dad), "G-2", str(kid1), "S-1", "active", "false"],
            [str(mom), "", str(kid2), "S-2", "active", "false"],
            [str(mom), "", str(kid2), "S-2b", "active", "false"],  # the student's second login
        ]
    )
    [with_deleted] = (await csvs(api, clock, "user_observers", include_deleted="true")).values()
    assert [str(dad), "G-2", str(kid2), "S-2", "deleted", "false"] in with_deleted


async def test_enrollments_csv_statuses(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Canvas's status names; concluded only with include_deleted; a deleted course is deleted."""
    state = fake.state
    math = state.add_course("Math", sis_course_id="MATH-1")
    art = state.add_course("Art")
    kid = state.add_user("Kid", login_id="kid", sis_user_id="S-1")
    mom = state.add_user("Mom", login_id="mom", sis_user_id="G-1")
    teacher = state.add_user("Teach", login_id="teach")
    active = state.enroll(kid, math)
    invited = state.enroll(teacher, math, type="TeacherEnrollment", state="invited")
    inactive = state.enroll(teacher, art, type="TaEnrollment", state="inactive")
    concluded = state.enroll(kid, art, state="completed")
    state.enroll(teacher, art, type="DesignerEnrollment", state="deleted")
    state.link(mom, kid)  # the observer follows the kid into Math
    lost = state.add_course("Lost")
    orphan = state.enroll(kid, lost)
    state.courses[lost].workflow_state = "deleted"  # deleted without its enrollments
    [rows] = (await csvs(api, clock, "enrollments")).values()
    by_id = {row[14]: row for row in rows[1:]}
    assert by_id[str(active)] == [
        str(math),
        "MATH-1",
        str(kid),
        "S-1",
        "student",
        "3",
        str(math),
        "",
        "active",
        "",
        "",
        "false",
        "StudentEnrollment",
        "false",
        str(active),
    ]
    assert by_id[str(invited)][4:9] == ["teacher", "4", str(math), "", "invited"]
    assert by_id[str(inactive)][8] == "inactive"
    assert by_id[str(orphan)][8] == "deleted"
    assert str(concluded) not in by_id
    observers = {row[0]: row for row in rows[1:] if row[4] == "observer"}
    assert set(observers) == {str(math), str(lost)}  # the observer followed the kid into both
    assert observers[str(math)][2:4] == [str(mom), "G-1"]
    assert observers[str(math)][8:11] == ["active", str(kid), "S-1"]
    assert observers[str(lost)][8] == "deleted"
    assert len(by_id) == 6  # the deleted enrollment is never listed
    [with_deleted] = (await csvs(api, clock, "enrollments", include_deleted="true")).values()
    by_id = {row[14]: row for row in with_deleted[1:]}
    assert by_id[str(concluded)][8] == "concluded"
    assert len(by_id) == 7


async def test_the_data_is_taken_when_the_report_is_requested(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Users added while the report runs are not in it."""
    report = await start(api, "users")
    fake.state.add_user("Late Kid", login_id="late")
    done = await finish(api, clock, report)
    logins = [row[4] for row in table((await fetch(api, done)).content)[1:]]
    assert logins == ["admin"]


async def test_created_by_sis_leaves_every_row_out(api: httpx.AsyncClient, clock: Clock) -> None:
    """created_by_sis (any value, as Canvas reads it) keeps SIS-made rows only: none here."""
    [users] = (await csvs(api, clock, "users", created_by_sis="false")).values()
    assert users == [list(report_csv.USERS_HEADERS)]


async def test_a_link_staged_as_an_sis_import_says_so(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """A link made with created_by_sis=True shows created_by_sis true, and is the only row the
    created_by_sis parameter keeps."""
    state = fake.state
    kid = state.add_user("Kid", login_id="kid", sis_user_id="S-1")
    mom, dad = state.add_user("Mom", login_id="mom@x.org"), state.add_user("Dad", login_id="d@x")
    state.link(mom, kid, created_by_sis=True)
    state.link(dad, kid)
    [links] = (await csvs(api, clock, "user_observers")).values()
    assert [row[0] for row in links[1:] if row[5] == "true"] == [str(mom)]
    [only] = (await csvs(api, clock, "user_observers", created_by_sis="true")).values()
    assert only[1:] == [[str(mom), "", str(kid), "S-1", "active", "true"]]


async def test_no_kind_ends_in_error(api: httpx.AsyncClient, clock: Clock) -> None:
    """Without any CSV asked for, Canvas's run ends in error with no file."""
    done = await finish(api, clock, await start(api, include_deleted="true"))
    assert done["status"] == "error"
    assert done["progress"] == 100
    assert done["file_url"] is None and "attachment" not in done
    assert done["parameters"]["extra_text"].startswith("Failed")


async def test_a_kind_the_fake_cannot_build_is_400(api: httpx.AsyncClient) -> None:
    """courses, terms and the other SIS CSVs are refused with a 400 naming them."""
    response = await api.post(REPORTS, data=form("users", "courses"))
    assert response.status_code == 400
    assert "courses" in response.json()["errors"][0]["message"]


async def test_index_lists_the_reports_newest_first(api: httpx.AsyncClient) -> None:
    """GET /reports/provisioning_csv lists this type's runs, newest first, with a Link."""
    first = await start(api, "users")
    second = await start(api, "user_observers")
    listed = await api.get(REPORTS)
    assert [r["id"] for r in listed.json()] == [second["id"], first["id"]]
    assert 'rel="last"' in listed.headers["Link"]
    assert (await api.get("/api/v1/accounts/self/reports/grade_export_csv")).json() == []


async def test_download_redirects_to_a_signed_url_on_the_files_origin(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor, clock: Clock
) -> None:
    """The verifier URL needs no token; file_url needs a token with read_reports; both 302."""
    report = await start(api, "users")
    anonymous = client_for(None)
    early = await anonymous.get(f"/files/{report['id']}/download?download_frd=1")
    assert early.status_code == 404  # no file before the report completes
    done = await finish(api, clock, report)
    by_verifier = await anonymous.get(done["attachment"]["url"])
    assert by_verifier.status_code == 302
    location = by_verifier.headers["location"]
    name = done["attachment"]["filename"]
    assert location.startswith(f"{FILES_ORIGIN}/store/{done['attachment']['id']}/{name}?")
    assert "signature=" in location
    assert (await api.get(done["file_url"])).status_code == 302
    assert (await anonymous.get(done["file_url"])).status_code == 401
    wrong = done["attachment"]["url"].rsplit("=", 1)[0] + "=nope"
    assert (await anonymous.get(wrong)).status_code == 401
    assert (await api.get(wrong)).status_code == 302  # the token is enough
    plain = client_for(fake.state.issue_token(fake.state.add_user("Kid", login_id="kid")))
    assert (await plain.get(done["file_url"])).status_code == 401


async def test_files_behind_login_send_the_download_to_the_login_page(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """files_behind_login: the attachment url has no verifier and the token is not read on
    file paths, so both URLs answer 302 to /login, which leads to an HTML login page."""
    fake.config.files_behind_login = True
    done = await finish(api, clock, await start(api, "users"))
    url = done["attachment"]["url"]
    assert url == f"http://127.0.0.1/files/{done['attachment']['id']}/download?download_frd=1"
    for path in (url, done["file_url"]):
        refused = await api.get(path)
        assert refused.status_code == 302
        assert refused.headers["location"] == "http://127.0.0.1/login"
    onward = await api.get("/login")
    assert onward.status_code == 302
    assert onward.headers["location"] == "http://127.0.0.1/login/canvas"
    page = await api.get("/login/canvas")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.startswith("<!DOCTYPE html>")
    verifier = fake.state.files[done["attachment"]["id"]].verifier
    assert (await api.get(f"{url}&verifier={verifier}")).status_code == 302  # to the store
    fake.config.files_behind_login = False
    assert "verifier=" in (await api.get(f"{REPORTS}/{done['id']}")).json()["attachment"]["url"]


async def test_files_store_refuses_authorization_and_bad_signatures(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor, clock: Clock
) -> None:
    """Authorization on the store is 400 (counted); a bad or no signature 403; other paths 404."""
    done = await finish(api, clock, await start(api, "users"))
    location = (await api.get(done["attachment"]["url"])).headers["location"]
    with_token = await api.get(location)
    assert with_token.status_code == 400
    assert "InvalidArgument" in with_token.text
    anonymous = client_for(None)
    assert (await anonymous.get(location)).status_code == 200
    assert (await anonymous.get(location[:-4] + "0000")).status_code == 403
    assert (await anonymous.get(location.split("?")[0])).status_code == 403
    assert (await anonymous.get(f"{FILES_ORIGIN}/__fake__/stats")).status_code == 404
    assert (await anonymous.get(f"{FILES_ORIGIN}/api/v1/accounts/self")).status_code == 404
    store_path = location.removeprefix(FILES_ORIGIN)
    assert (await anonymous.get(store_path)).status_code == 404  # not on the Canvas host
    stats = (await api.get("/__fake__/stats")).json()
    assert stats["files_with_authorization"] == 1
    assert stats["file_downloads"] == 1
    assert "GET /store" not in str(stats["by_route"])


async def test_downloads_are_not_throttled_or_faulted(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Outside /api/ the download and the files store work whatever the fault knobs say."""
    done = await finish(api, clock, await start(api, "users"))
    fake.config.fault_rate = 1.0
    stored = await fetch(api, done)
    assert stored.content.startswith(b"canvas_user_id,")


async def test_a_second_identical_start_is_409_naming_the_running_report(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """While a report of the same type and parameters is created or running, a start answers
    409 with that report and a Location naming it, and makes no new one; other parameters,
    or the same once it has ended, start a new run."""
    first = await start(api, "users", "user_observers", skip_message="true")
    again = await api.post(REPORTS, data=form("users", "user_observers", skip_message="true"))
    assert again.status_code == 409
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "created"
    assert again.headers["Location"] == (
        f"http://127.0.0.1/api/v1/accounts/1/reports/provisioning_csv/{first['id']}"
    )
    assert list(fake.state.reports) == [first["id"]]
    clock.advance(1.0)  # running now
    running = await api.post(REPORTS, data=form("users", "user_observers", skip_message="true"))
    assert running.status_code == 409
    assert running.json()["status"] == "running"
    other = await start(api, "users", "user_observers")  # without skip_message: other params
    assert other["id"] != first["id"]
    await finish(api, clock, first)
    await finish(api, clock, other)
    after = await start(api, "users", "user_observers", skip_message="true")
    assert after["id"] not in (first["id"], other["id"])


async def test_a_finished_report_sends_a_message_unless_skip_message(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """Each finished report emails its user "Report Generated" ("Report Generation Failed"
    without a file); skip_message (any value, as Canvas reads it) sends none."""
    fake.state.add_channel(fake.state.users[fake.state.admin_id], "admin@district.test")
    told = await start(api, "users")
    quiet = await start(api, "user_observers", skip_message="true")
    failed = await start(api, include_deleted="true")
    assert fake_reports.messages(fake.state) == []  # nothing is sent before the end
    for report in (told, quiet, failed):
        await finish(api, clock, report)
    expected = [
        {
            "notification": "Report Generated",
            "report_id": told["id"],
            "user_id": fake.state.admin_id,
            "address": "admin@district.test",
        },
        {
            "notification": "Report Generation Failed",
            "report_id": failed["id"],
            "user_id": fake.state.admin_id,
            "address": "admin@district.test",
        },
    ]
    assert fake_reports.messages(fake.state) == expected
    assert (await api.get("/__fake__/state")).json()["report_messages"] == expected


async def test_users_and_links_rows_come_in_no_set_order(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """users.csv and user_observers.csv are shuffled (seeded by `seed` and the report), the
    enrollments CSV stays in enrollment-id order; report_shuffle off keeps id order."""
    state = fake.state
    course = state.add_course("C")
    for n in range(30):
        kid = state.add_user(f"Kid {n}", login_id=f"kid{n}", sis_user_id=f"S-{n}")
        state.enroll(kid, course)
        state.link(state.add_user(f"Parent {n}", login_id=f"p{n}@home.test"), kid)
    shuffled = await csvs(api, clock, "users", "enrollments", "user_observers")
    fake.config.report_shuffle = False
    ordered = await csvs(api, clock, "users", "enrollments", "user_observers")
    for kind in ("users", "user_observers"):
        assert shuffled[kind][0] == ordered[kind][0]
        assert sorted(shuffled[kind][1:]) == sorted(ordered[kind][1:])
        assert shuffled[kind][1:] != ordered[kind][1:]
    assert shuffled["enrollments"] == ordered["enrollments"]
    ids = [int(row[14]) for row in ordered["enrollments"][1:]]
    assert ids == sorted(ids)
    logins = [row[4] for row in ordered["users"][1:]]
    assert logins[:3] == ["admin", "kid0", "p0@home.test"]  # login-id order
    fake.config.report_shuffle = True
    again = await csvs(api, clock, "users", "enrollments", "user_observers")
    assert sorted(again["users"][1:]) == sorted(ordered["users"][1:])


async def test_the_report_says_its_run_time_message_and_user(
    fake: FakeCanvas, api: httpx.AsyncClient, clock: Clock
) -> None:
    """run_time null while queued, then seconds since the start; message once ended; user is
    who asked for it (user_display_json)."""
    fake.config.report_seconds = 2.0
    report = await start(api, "users", "user_observers")
    assert report["run_time"] is None and report["message"] is None
    admin = fake.state.users[fake.state.admin_id]
    assert report["user"] == {
        "id": admin.id,
        "anonymous_id": "1",
        "display_name": admin.short_name,
        "avatar_image_url": "http://127.0.0.1/images/messages/avatar-50.png",
        "html_url": f"http://127.0.0.1/about/{admin.id}",
        "pronouns": None,
    }
    url = f"{REPORTS}/{report['id']}"
    clock.advance(1.0)
    running = (await api.get(url)).json()
    assert running["status"] == "running" and running["message"] is None
    assert running["run_time"] == pytest.approx(1.0 - 0.2, abs=0.01)
    clock.advance(5.0)
    done = (await api.get(url)).json()
    assert done["run_time"] == pytest.approx(done_seconds(fake, report) * 0.9, abs=0.01)
    assert done["message"] == (
        "Provisioning report successfully generated with the following settings. "
        "Account: Fake District; Term: All Terms; Reports: users user_observers "
    )
    failed = await finish(api, clock, await start(api, include_deleted="true"))
    assert failed["message"].startswith("Provisioning report failed to generate")
    listed = (await api.get(REPORTS)).json()
    assert all(item["user"]["id"] == admin.id for item in listed)


def done_seconds(fake: FakeCanvas, report: dict[str, Any]) -> float:
    return fake.state.reports[report["id"]].seconds


async def test_side_door_knobs(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """report_seconds and report_shuffle are settable and the report knobs are readable at
    /__fake__/config."""
    config = (await api.get("/__fake__/config")).json()
    assert config["report_seconds"] == 2.0
    assert config["report_shuffle"] is True
    assert config["files_behind_login"] is False
    shuffle = await api.post("/__fake__/config", json={"report_shuffle": False})
    assert shuffle.json()["report_shuffle"] is False
    login = await api.post("/__fake__/config", json={"files_behind_login": True})
    assert login.json()["files_behind_login"] is True
    assert config["files_origin"] == FILES_ORIGIN
    changed = await api.post("/__fake__/config", json={"report_seconds": 0.25})
    assert changed.json()["report_seconds"] == 0.25
    assert fake.config.report_seconds == 0.25
    assert (await api.post("/__fake__/config", json={"report_seconds": -1})).status_code == 400
    refused = await api.post("/__fake__/config", json={"files_origin": "http://x"})
    assert refused.status_code == 400  # readable, not settable


def test_name_parts_follow_canvas() -> None:
    """User.name_parts of the sortable name, as the users CSV shows first and last names."""
    assert report_csv.name_parts("Pérez, Ana María") == ("Ana María", "Pérez")
    assert report_csv.name_parts("Doe, John, Jr.") == ("John", "Doe")
    assert report_csv.name_parts("Ho, Chi, Min") == ("Chi Min", "Ho")
    assert report_csv.name_parts("John Doe") == ("John", "Doe")
    assert report_csv.name_parts("Cher") == ("Cher", None)


def test_report_over_real_http_and_the_second_origin() -> None:
    """Over loopback the zip comes from the files port without the token; with it, 400."""
    app = create_app(FakeConfig(throttle=False))
    hand = Clock(app.fake.state.clock())
    app.fake.state.clock = hand
    kid = app.fake.state.add_user("Kid", login_id="kid", sis_user_id="S-1")
    app.fake.state.link(app.fake.state.add_user("Mom", login_id="mom"), kid)
    auth = {"Authorization": f"Bearer {app.fake.config.admin_token}"}
    with running_server(app) as url, httpx.Client(base_url=url, headers=auth) as http:
        files_origin = app.fake.config.files_origin
        assert files_origin.startswith("http://127.0.0.1:") and files_origin != url
        report = http.post(
            "/api/v1/accounts/self/reports/provisioning_csv", data=form("users", "user_observers")
        ).json()
        while report["status"] != "complete":
            hand.advance(0.5)
            report = http.get(
                f"/api/v1/accounts/self/reports/provisioning_csv/{report['id']}"
            ).json()
        redirect = http.get(report["attachment"]["url"])
        assert redirect.status_code == 302
        location = redirect.headers["location"]
        assert location.startswith(f"{files_origin}/store/")
        stored = httpx.get(location)  # a fresh request: no Authorization header
        assert stored.status_code == 200
        with zipfile.ZipFile(io.BytesIO(stored.content)) as archive:
            assert archive.namelist() == ["users.csv", "user_observers.csv"]
            assert b"S-1" in archive.read("user_observers.csv")
        assert http.get(location).status_code == 400  # the token must not follow the redirect
        stats = httpx.get(f"{url}/__fake__/stats").json()
        assert stats["files_with_authorization"] == 1
        assert stats["file_downloads"] == 1
        following = http.get(report["file_url"], follow_redirects=True)  # httpx drops it
        assert following.status_code == 200
    assert app.fake.config.files_origin == FILES_ORIGIN  # restored after the block
