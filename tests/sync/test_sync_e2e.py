"""End-to-end sync against the in-process fake Canvas: every outcome from a real scenario."""

from __future__ import annotations

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.fake_canvas import FakeCanvasApp
from canvas_observers.roster.model import Roster, RosterRow
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import run_sync
from tests.wiring import BASE_URL

from .conftest import District, SyncRunner, outcomes


async def test_every_outcome_from_one_district(district: District, sync_csv: SyncRunner) -> None:
    """One roster reaches created, paired, already_paired, every skip and invalid_row."""
    a = district.student("A1")
    b = district.student("B2")
    district.student("C3", enrolled=False)
    district.student("D4", login="d4@kids.test", email="shared@home.test")
    district.student("E5", login="e5@kids.test", email="shared@home.test")
    f = district.student("F6", login="f6@kids.test")
    existing = district.guardian("sam@home.test")
    linked = district.guardian("lee@home.test")
    district.fake.state.link(linked, b)
    district.fake.state.add_user("Twin 1", email="twin@home.test", login_id="twin1")
    district.fake.state.add_user("Twin 2", email="twin@home.test", login_id="twin2")
    roster = (
        "A1,new@home.test,New,Parent\n"  # 2 created
        "A1,sam@home.test,Sam,Existing\n"  # 3 paired
        "B2,lee@home.test,Lee,Linked\n"  # 4 already_paired
        "ZZ9,new2@home.test,No,Student\n"  # 5 student_not_found
        "shared@home.test,new3@home.test,Amb,Student\n"  # 6 student_ambiguous
        "A1,twin@home.test,Twin,Parent\n"  # 7 observer_ambiguous
        "C3,new4@home.test,Not,Enrolled\n"  # 8 not_enrolled
        "A1,not-an-email,Bad,Row\n"  # 9 invalid_row
        "F6,f6@kids.test,Self,Conflict\n"  # 10 conflict
    )
    report = await sync_csv(roster)
    assert outcomes(report) == {
        2: "created",
        3: "paired",
        4: "already_paired",
        5: "student_not_found",
        6: "student_ambiguous",
        7: "observer_ambiguous",
        8: "not_enrolled",
        9: "invalid_row",
        10: "conflict",
    }
    new = district.fake.state.user_by_login("new@home.test")
    assert new is not None
    assert district.links() == {(new.id, a), (existing, a), (linked, b)}
    assert f not in {s for _, s in district.links()}
    assert report.aborted is None and report.attention()


async def test_failed_pairing_is_reported_and_cured_next_run(
    district: District, fake_app: FakeCanvasApp
) -> None:
    """A pairing whose answer is always lost ends `failed` with the reason; the next run pairs."""
    a = district.student("A1")
    pat = district.guardian("pat@home.test")
    roster = Roster(rows=(RosterRow(2, "A1", "pat@home.test", "Pat", "Lee"),), source="r.csv")
    broken = {"on": True}

    async def handler(request: httpx.Request) -> httpx.Response:
        if broken["on"] and request.method == "POST" and request.url.path.endswith("/observees"):
            raise httpx.ReadTimeout("lost", request=request)  # Canvas never answered
        return await httpx.ASGITransport(app=fake_app).handle_async_request(request)

    async def once() -> list[str]:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url=BASE_URL
        ) as http:
            client = CanvasClient(http, base_url=BASE_URL, token=fake_app.fake.config.admin_token)
            report = await run_sync(
                roster, client=client, options=SyncOptions(), canvas_url=BASE_URL
            )
        return [f"{r.outcome.value}: {r.detail}" for r in report.results]

    first = await once()
    assert first[0].startswith("failed: the pairing could not be confirmed")
    assert district.links() == set()
    broken["on"] = False
    assert (await once())[0] == "paired: "
    assert district.links() == {(pat, a)}


async def test_substring_trap_never_pairs_the_wrong_student(
    district: District, sync_csv: SyncRunner
) -> None:
    """Searching for 100 finds 1001 and 1002 too; only the exact SIS id is ever paired."""
    district.student("1001")
    district.student("1002")
    report = await sync_csv("100,pat@home.test,Pat,Lee\n")
    assert outcomes(report) == {2: "student_not_found"}
    assert district.links() == set()
    exact = district.student("100")
    report = await sync_csv("100,pat@home.test,Pat,Lee\n")
    assert outcomes(report) == {2: "created"}
    assert {s for _, s in district.links()} == {exact}


async def test_case_and_padding_of_emails(district: District, sync_csv: SyncRunner) -> None:
    """An upper-case, padded email finds the guardian's existing account; none is created."""
    a = district.student("A1")
    sam = district.guardian("sam@home.test")
    report = await sync_csv("A1,  SAM@Home.TEST  ,Sam,Smith\n")
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(sam, a)}
    assert district.fake.state.snapshot()["registration_emails"] == []


async def test_siblings_of_a_new_guardian_create_one_account(
    district: District, sync_csv: SyncRunner
) -> None:
    """Three siblings' rows, run with many workers, create exactly one account for the guardian."""
    kids = [district.student(f"K{i}") for i in range(3)]
    others = [district.student(f"O{i}") for i in range(20)]
    rows = "".join(f"K{i},mum@home.test,Mum,Doe\n" for i in range(3))
    rows += "".join(f"O{i},p{i}@home.test,P,{i}\n" for i in range(20))
    report = await sync_csv(rows, concurrency=16)
    assert sorted(outcomes(report).values()).count("created") == 21
    mum = [u for u in district.fake.state.snapshot()["users"] if u["name"] == "Mum Doe"]
    assert len(mum) == 1
    assert {(mum[0]["id"], k) for k in kids} <= district.links()
    assert len(district.links()) == 23
    assert len(others) == 20


async def test_code_flow_skips_unenrolled_direct_flow_pairs(
    district: District, sync_csv: SyncRunner
) -> None:
    """Canvas gives no code for a student without enrollment; the direct PUT pairs them."""
    c = district.student("C3", enrolled=False)
    report = await sync_csv("C3,pat@home.test,Pat,Lee\n")
    assert outcomes(report) == {2: "not_enrolled"}
    assert district.fake.state.user_by_login("pat@home.test") is None  # no orphan account
    report = await sync_csv("C3,pat@home.test,Pat,Lee\n", method="direct")
    assert outcomes(report) == {2: "created"}
    assert {s for _, s in district.links()} == {c}


async def test_rerun_writes_nothing(district: District, sync_csv: SyncRunner) -> None:
    """A second run over the same roster sends no POST/PUT/DELETE and reports already_paired."""
    for i in range(5):
        district.student(f"S{i}")
    rows = "".join(f"S{i},g{i % 2}@home.test,G,{i % 2}\n" for i in range(5))
    journal = Journal.open(":memory:")
    first = await sync_csv(rows, journal=journal)
    assert set(outcomes(first).values()) == {"created", "paired"}
    writes = district.writes()
    second = await sync_csv(rows, journal=journal)
    assert set(outcomes(second).values()) == {"already_paired"}
    assert district.writes() == writes
    assert second.aborted is None and not second.attention()
    # one call per guardian (2 guardians, known from the journal) plus the token, rights and
    # authentication provider checks
    assert sum(second.info.api_calls.values()) == 5


async def test_dry_run_writes_nothing(district: District, sync_csv: SyncRunner) -> None:
    """A dry run reports would_create / would_pair / not_enrolled and writes nothing."""
    district.student("A1")
    district.student("A2")
    district.student("C3", enrolled=False)
    district.guardian("sam@home.test")
    rows = (
        "A1,new@home.test,N,P\nA2,new@home.test,N,P\nA1,sam@home.test,S,E\nC3,sam@home.test,S,E\n"
    )
    report = await sync_csv(rows, dry_run=True)
    assert outcomes(report) == {
        2: "would_create",
        3: "would_pair",
        4: "would_pair",
        5: "not_enrolled",
    }
    assert district.writes() == 0
    assert district.links() == set()


async def test_journal_records_rows_and_actions(district: District, sync_csv: SyncRunner) -> None:
    """Every row outcome and every write, with Canvas ids, lands in the journal."""
    a = district.student("A1")
    with Journal.open(":memory:") as journal:
        report = await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
        run_id = report.info.run_id
        assert run_id is not None
        run = journal.get_run(run_id)
        assert run is not None
        assert run.state == "complete"
        rows = journal.run_rows(run_id)
        assert [(r.line, r.outcome.value, r.canvas_student_id) for r in rows] == [(2, "created", a)]
        actions = journal.run_actions(run_id)
        assert [(x.kind, x.result) for x in actions] == [
            ("pairing_code", "ok"),
            ("create_user", "ok"),
        ]
        # the new account was created with the pairing code: one request made and linked it
        assert actions[1].canvas_observer_id is not None
        assert "linked" in actions[1].detail


async def test_rejected_token_stops_the_run(district: District, fake_app: FakeCanvasApp) -> None:
    """A token Canvas rejects stops the run before any row, with exit code 2."""
    district.student("A1")
    roster = Roster(rows=(RosterRow(2, "A1", "pat@home.test", "Pat", "Lee"),), source="r.csv")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake_app), base_url=BASE_URL
    ) as http:
        client = CanvasClient(http, base_url=BASE_URL, token="not-a-token")
        report = await run_sync(roster, client=client, options=SyncOptions(), canvas_url=BASE_URL)
    assert report.aborted is not None
    assert "token" in report.aborted.lower()
    assert report.aborted is not None
    assert report.results == ()
    assert "not-a-token" not in report.aborted


async def test_stale_journal_ids_never_skip_or_misdirect_a_pairing(
    district: District, sync_csv: SyncRunner
) -> None:
    """A guardian the journal remembers but whose account is gone gets a new one and is paired."""
    a = district.student("A1")
    journal = Journal.open(":memory:")
    first = await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    assert outcomes(first) == {2: "created"}
    old = district.fake.state.user_by_login("pat@home.test")
    assert old is not None
    district.fake.state.delete_user(old.id)  # someone deleted the account in Canvas
    second = await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    assert outcomes(second) == {2: "created"}
    new = district.fake.state.user_by_login("pat@home.test")
    assert new is not None
    assert new.id != old.id
    assert district.links() == {(new.id, a)}
    assert second.results[0].canvas_observer_id == new.id
