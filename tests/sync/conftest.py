"""Fixtures for sync tests: a district on the in-process fake and a one-call sync runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from canvas_observers.core.outcomes import RowResult
from canvas_observers.fake_canvas import FakeCanvas, FakeCanvasApp
from canvas_observers.store.journal import Journal
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import RunResult
from tests.wiring import HEADER, roster_of, sync_with


@pytest.fixture(autouse=True)
def _no_retry_sleeps(no_retry_sleeps: None) -> None:
    """Retries never sleep; each keeps its policy's attempt limit (tests/conftest.py)."""


@dataclass
class District:
    """Builders for a small district on the fake, returning Canvas ids."""

    fake: FakeCanvas
    course: int = 0
    ids: dict[str, int] = field(default_factory=dict)

    def student(
        self,
        sis: str,
        *,
        login: str | None = None,
        email: str | None = None,
        enrolled: bool = True,
        name: str | None = None,
    ) -> int:
        uid = self.fake.state.add_user(
            name or f"Student {sis}",
            login_id=login or f"{sis}@kids.test",
            sis_user_id=sis,
            email=email,
        )
        if enrolled:
            if not self.course:
                self.course = self.fake.state.add_course("Grade 5")
            self.fake.state.enroll(uid, self.course)
        self.ids[sis] = uid
        return uid

    def guardian(
        self, email: str, *, name: str = "Existing Parent", login: str | None = None
    ) -> int:
        uid = self.fake.state.add_user(name, login_id=login or email, email=email)
        self.ids[email] = uid
        return uid

    def links(self) -> set[tuple[int, int]]:
        """Every live observer link as (observer id, student id)."""
        state = self.fake.state.snapshot()
        return {
            (link["observer_id"], link["student_id"])
            for link in state["observer_links"]
            if link.get("workflow_state", "active") == "active"
        }

    def writes(self) -> int:
        by_method = self.fake.stats.by_method
        return sum(by_method.get(m, 0) for m in ("POST", "PUT", "DELETE"))


@pytest.fixture
def district(fake: FakeCanvas) -> District:
    return District(fake)


SyncRunner = Callable[..., Awaitable[RunResult]]


@pytest.fixture
def sync_csv(fake_app: FakeCanvasApp) -> SyncRunner:
    """Run a sync of CSV text against the in-process fake; returns the RunResult."""

    async def run(
        csv_text: str,
        *,
        journal: Journal | None = None,
        on_result: Callable[[RowResult], None] | None = None,
        **options: object,
    ) -> RunResult:
        return await sync_with(
            fake_app,
            roster_of(HEADER + csv_text),
            options=SyncOptions(**options),  # type: ignore[arg-type]
            journal=journal,
            on_result=on_result,
        )

    return run


def outcomes(report: RunResult) -> dict[int, str]:
    """Line number -> outcome value."""
    return {r.line: r.outcome.value for r in report.results}
