"""POST /api/v1/users/:id/observer_pairing_codes (docs/canvas-behaviour.md, "Pairing codes")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas, FakeState

ClientFor = Callable[..., httpx.AsyncClient]
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def enrolled_student(
    state: FakeState, *, type: str = "StudentEnrollment", how: str = "active"
) -> int:
    """A student with one enrollment of the given type and state."""
    student = state.add_user("Kid Student", login_id=f"kid{len(state.users)}")
    state.enroll(student, state.add_course("Math"), type=type, state=how)
    return student


async def test_code_shape(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A code is 6 letters/digits, active, expiring 7 days later, for the student."""
    fake.state.clock = lambda: NOW
    student = enrolled_student(fake.state)
    response = await api.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == 200
    body = response.json()
    assert re.fullmatch(r"[A-Za-z0-9]{6}", body["code"])
    assert body == {
        "user_id": student,
        "code": body["code"],
        "expires_at": "2025-03-08T12:00:00Z",
        "workflow_state": "active",
    }


async def test_each_call_makes_another_active_code(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Several codes can be active for one student."""
    student = enrolled_student(fake.state)
    codes = [
        (await api.post(f"/api/v1/users/{student}/observer_pairing_codes")).json()["code"]
        for _ in range(5)
    ]
    listed = [c for c in fake.state.snapshot()["pairing_codes"] if c["workflow_state"] == "active"]
    assert sorted(c["code"] for c in listed) == sorted(codes)


async def test_student_without_enrollment_is_401(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Even the admin gets the 401 "unauthorized" body for a student with no enrollment."""
    student = fake.state.add_user("Lonely Kid", login_id="lonely")
    response = await api.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert fake.state.snapshot()["pairing_codes"] == []


async def test_forbidden_status_403_flag(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """With forbidden_status=403 the same refusal is a 403 with the same body."""
    fake.config.forbidden_status = 403
    student = fake.state.add_user("Lonely Kid", login_id="lonely")
    response = await api.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == 403
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize(
    ("kind", "how", "status"),
    [
        ("StudentEnrollment", "invited", 200),
        ("StudentEnrollment", "completed", 200),
        ("StudentViewEnrollment", "active", 200),
        ("StudentEnrollment", "inactive", 401),
        ("StudentEnrollment", "deleted", 401),
        ("StudentEnrollment", "rejected", 401),
        ("TeacherEnrollment", "active", 401),
        ("ObserverEnrollment", "active", 401),
    ],
)
async def test_which_enrollments_count(
    fake: FakeCanvas, api: httpx.AsyncClient, kind: str, how: str, status: int
) -> None:
    """Only a student enrollment that is not rejected/inactive/deleted allows a code."""
    student = enrolled_student(fake.state, type=kind, how=how)
    response = await api.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == status


async def test_concluded_through_the_api_still_counts(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Concluding keeps codes available; deleting the enrollment ends them."""
    student = fake.state.add_user("Kid", login_id="kid")
    course = fake.state.add_course("Art")
    enrollment = fake.state.enroll(student, course)
    url = f"/api/v1/courses/{course}/enrollments/{enrollment}"
    await api.delete(url, params={"task": "conclude"})
    assert (await api.post(f"/api/v1/users/{student}/observer_pairing_codes")).status_code == 200
    await api.delete(url, params={"task": "delete"})
    assert (await api.post(f"/api/v1/users/{student}/observer_pairing_codes")).status_code == 401


async def test_student_may_make_own_code(fake: FakeCanvas, client_for: ClientFor) -> None:
    """The student's own token may generate a code for `self`."""
    student = enrolled_student(fake.state)
    client = client_for(fake.state.issue_token(student))
    response = await client.post("/api/v1/users/self/observer_pairing_codes")
    assert response.status_code == 200
    assert response.json()["user_id"] == student


async def test_other_non_admin_is_refused(fake: FakeCanvas, client_for: ClientFor) -> None:
    """A plain user asking for someone else's code gets the unauthorized body."""
    student = enrolled_student(fake.state)
    stranger = fake.state.add_user("Stranger", login_id="stranger")
    client = client_for(fake.state.issue_token(stranger))
    response = await client.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_sis_id_path(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """The student may be named by an escaped sis_user_id."""
    student = fake.state.add_user("Kid", login_id="kid", sis_user_id="S/1.2")
    fake.state.enroll(student, fake.state.add_course("Art"))
    response = await api.post("/api/v1/users/sis_user_id:S%2F1%2E2/observer_pairing_codes")
    assert response.status_code == 200
    assert response.json()["user_id"] == student


async def test_unknown_student_is_404(api: httpx.AsyncClient) -> None:
    """An unknown student is a 404, before the enrollment check."""
    response = await api.post("/api/v1/users/4242/observer_pairing_codes")
    assert response.status_code == 404
