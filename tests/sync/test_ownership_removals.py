"""Removals touch only links this tool made, end to end through run_sync and its journal.

A link whose pairing the tool attempted and Canvas refused is not the tool's, even when a
parent links the same pair themself later: when the pair leaves the roster, the runs that read
Canvas whole and count absence (``--remove-ended``, over the grace runs) leave it alone. And
the do-not-pair list alone (``--exclude`` without ``--remove-ended``) removes only the pairs
it names: an owned link the SIS ends, or that leaves the roster, stays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.core.outcomes import Outcome
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.roster.model import RemovalCandidate, Roster
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult, run_sync
from tests.wiring import BASE_URL, HEADER, roster_of, sync_with

KIDS = 14
Link = tuple[int, int]
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}


class Town:
    """Enrolled students S0..S13 and, for each, guardian g<i>@home.test with an account."""

    def __init__(self) -> None:
        self.app: FakeCanvasApp = create_app(FakeConfig(throttle=False, report_seconds=0.0))
        state = self.app.fake.state
        course = state.add_course("C")
        self.kid: dict[int, int] = {}
        self.parent: dict[int, int] = {}
        for i in range(KIDS):
            self.kid[i] = state.add_user(f"Kid {i}", login_id=f"k{i}@s.test", sis_user_id=f"S{i}")
            state.enroll(self.kid[i], course)
            self.parent[i] = state.add_user(f"Gee Family{i}", login_id=f"g{i}@home.test")

    def link(self, i: int) -> Link:
        return (self.parent[i], self.kid[i])

    def linked(self, i: int) -> bool:
        return self.app.fake.state.is_linked(*self.link(i))


def roster(indexes: range | list[int]) -> Roster:
    """The same roster source every night: rows S<i>,g<i>@home.test."""
    body = "".join(f"S{i},g{i}@home.test,Gee,Family{i}\n" for i in indexes)
    return roster_of(HEADER + body, source="guardians.csv")


async def no_sleep(_seconds: float) -> None:
    return None


async def sync_refusing(
    town: Town, rows: Roster, journal: Journal, refuse: Collection[Link] = (), **options: Any
) -> RunResult:
    """One sync reading Canvas whole (a provisioning report); Canvas answers the direct
    pairings of ``refuse`` with a 404, as it does for two users it cannot pair."""
    refused = {f"/api/v1/users/{o}/observees/{s}" for o, s in refuse}
    app = httpx.ASGITransport(app=town.app)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and request.url.path in refused:
            return httpx.Response(404, json=NOT_FOUND)
        return await app.handle_async_request(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE_URL) as h:
        client = CanvasClient(h, base_url=BASE_URL, token=town.app.fake.config.admin_token)
        result = await run_sync(
            rows,
            client=client,
            options=SyncOptions(method="direct", canvas_state="report", **options),
            canvas_url=BASE_URL,
            journal=journal,
            sleep=no_sleep,
        )
    assert result.aborted is None and result.info.canvas_state == "report"
    return result


def about(result: RunResult, town: Town, i: int) -> list[str]:
    """The outcomes of the run's rows about pair i (removals are line 0 rows)."""
    return [
        r.outcome.value
        for r in result.results
        if (r.canvas_observer_id, r.canvas_student_id) == town.link(i) or r.student_id == f"S{i}"
    ]


async def test_a_link_the_tool_failed_to_make_is_never_removed() -> None:
    """Night 1 the tool's pairing of S0 fails (Canvas refuses it); the parent then links S0
    themself. From night 3 S0 leaves the roster: nights 3, 4 and 5 (grace 2, removals on) keep
    that link, while S1's link, which the tool made and which left the roster with it, goes."""
    town = Town()
    with Journal.open(":memory:") as journal:
        first = await sync_refusing(
            town, roster(range(12)), journal, refuse={town.link(0)}, remove_ended=True
        )
        assert about(first, town, 0) == ["failed"] and not town.linked(0)
        assert about(first, town, 1) == ["paired"]
        town.app.fake.state.link(*town.link(0))  # the parent pairs with S0 themself

        second = await sync_refusing(town, roster(range(12)), journal, remove_ended=True)
        assert about(second, town, 0) == ["already_paired"]
        owned = {x.link for x in journal.owned_links(canvas_url=BASE_URL)}
        assert town.link(0) not in owned and town.link(1) in owned

        later = range(2, 14)  # S0 and S1 leave, S12 and S13 join: the roster keeps its size
        third = await sync_refusing(town, roster(later), journal, remove_ended=True)
        assert about(third, town, 0) == []
        assert about(third, town, 1) == [Outcome.REMOVAL_PENDING.value]
        fourth = await sync_refusing(town, roster(later), journal, remove_ended=True)
        assert about(fourth, town, 0) == []
        assert about(fourth, town, 1) == [Outcome.REMOVED.value] and not town.linked(1)
        fifth = await sync_refusing(town, roster(later), journal, remove_ended=True)
        assert about(fifth, town, 0) == []
        assert town.linked(0), "the parent's own link was removed"


async def test_without_remove_ended_the_do_not_pair_list_removes_nothing() -> None:
    """With --exclude and without --remove-ended, Canvas read whole, night after night: S1's
    owned link, ended by the SIS, and S2's, absent from the roster, stay; so does the listed
    pair's link (removed at once only with --remove-ended, docs/cli.md), reported excluded.
    The night --remove-ended is given, the ended and the listed links go at once."""
    town = Town()
    with Journal.open(":memory:") as journal:
        first = await sync_with(
            town.app,
            roster(range(12)),
            options=SyncOptions(method="direct", canvas_state="report"),
            journal=journal,
            sleep=no_sleep,
        )
        assert first.aborted is None
        assert all(town.linked(i) for i in range(12))
        owned = {x.link for x in journal.owned_links(canvas_url=BASE_URL)}
        assert {town.link(1), town.link(2), town.link(3)} <= owned

        # S1's guardianship ends in the SIS (its row goes, a removal candidate names it); S2's
        # row leaves the roster; the do-not-pair list names S3 and its guardian.
        nightly = dataclasses.replace(
            roster([0, *range(3, 14)]),
            removal_candidates=(RemovalCandidate("S1", "g1@home.test", "tobedeleted"),),
        )
        excluded = {("S3", "g3@home.test"): "court order"}

        async def night(*, remove_ended: bool) -> RunResult:
            result = await sync_with(
                town.app,
                nightly,
                options=SyncOptions(
                    method="direct", canvas_state="report", remove_ended=remove_ended
                ),
                journal=journal,
                sleep=no_sleep,
                excluded=excluded,
            )
            assert result.aborted is None and result.info.canvas_state == "report"
            return result

        for n in range(4):
            result = await night(remove_ended=False)
            assert all(town.linked(i) for i in (1, 2, 3)), f"night {n}: a link was removed"
            assert about(result, town, 1) == [] and about(result, town, 2) == []
            assert about(result, town, 3) == [Outcome.EXCLUDED.value]
            assert not [r for r in result.results if r.line == 0]
        result = await night(remove_ended=True)
        assert not town.linked(1) and not town.linked(3)
        assert about(result, town, 1) == [Outcome.REMOVED.value]
        assert sorted(about(result, town, 3)) == [Outcome.EXCLUDED.value, Outcome.REMOVED.value]
