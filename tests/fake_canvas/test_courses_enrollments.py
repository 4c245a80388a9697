"""Courses and enrollments through the API: create, enroll, end, list."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]


async def make_course(api: httpx.AsyncClient, name: str = "Biology 9") -> int:
    """Create a course through the API."""
    response = await api.post("/api/v1/accounts/self/courses", data={"course[name]": name})
    assert response.status_code == 200
    return int(response.json()["id"])


async def test_create_course(api: httpx.AsyncClient) -> None:
    """POST /accounts/:id/courses answers the course JSON (unpublished unless offer=true)."""
    response = await api.post("/api/v1/accounts/1/courses", data={"course[name]": "Chem"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Chem"
    assert body["account_id"] == 1
    assert body["workflow_state"] == "unpublished"
    offered = await api.post(
        "/api/v1/accounts/self/courses", json={"course": {"name": "Phys"}, "offer": True}
    )
    assert offered.json()["workflow_state"] == "available"


async def test_enroll_form_and_json(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Enrollments take form or JSON bodies and answer Canvas-shaped JSON."""
    course = await make_course(api)
    kid = fake.state.add_user("Kid One", login_id="kid1", sis_user_id="K-1")
    teacher = fake.state.add_user("Teach Er", login_id="teach")
    form = await api.post(
        f"/api/v1/courses/{course}/enrollments",
        data={
            "enrollment[user_id]": str(kid),
            "enrollment[type]": "StudentEnrollment",
            "enrollment[enrollment_state]": "active",
        },
    )
    assert form.status_code == 200
    body = form.json()
    assert (body["course_id"], body["user_id"], body["type"], body["enrollment_state"]) == (
        course,
        kid,
        "StudentEnrollment",
        "active",
    )
    as_json = await api.post(
        f"/api/v1/courses/{course}/enrollments",
        json={"enrollment": {"user_id": teacher, "type": "TeacherEnrollment"}},
    )
    assert as_json.json()["enrollment_state"] == "invited"  # Canvas's default
    assert as_json.json()["type"] == "TeacherEnrollment"


async def test_enroll_by_sis_user_id(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """enrollment[user_id] accepts a sis_user_id: reference."""
    course = await make_course(api)
    kid = fake.state.add_user("Kid One", login_id="kid1", sis_user_id="K-1")
    response = await api.post(
        f"/api/v1/courses/{course}/enrollments",
        data={"enrollment[user_id]": "sis_user_id:K-1", "enrollment[enrollment_state]": "active"},
    )
    assert response.json()["user_id"] == kid


async def test_enroll_errors(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Unknown course or user is 404; a bad type or a missing user is refused."""
    course = await make_course(api)
    kid = fake.state.add_user("Kid", login_id="kid")
    assert (
        await api.post("/api/v1/courses/999/enrollments", data={"enrollment[user_id]": str(kid)})
    ).status_code == 404
    assert (
        await api.post(f"/api/v1/courses/{course}/enrollments", data={"enrollment[user_id]": "77"})
    ).status_code == 404
    bad_type = await api.post(
        f"/api/v1/courses/{course}/enrollments",
        data={"enrollment[user_id]": str(kid), "enrollment[type]": "ParentEnrollment"},
    )
    assert bad_type.status_code == 403
    assert bad_type.json() == {"message": "Invalid type"}
    no_user = await api.post(f"/api/v1/courses/{course}/enrollments", data={})
    assert no_user.status_code == 403


@pytest.mark.parametrize(
    ("task", "state"),
    [("conclude", "completed"), ("delete", "deleted"), ("inactivate", "inactive")],
)
async def test_end_enrollment_tasks(
    fake: FakeCanvas, api: httpx.AsyncClient, task: str, state: str
) -> None:
    """DELETE with task=conclude|delete|inactivate moves the enrollment to that state."""
    kid = fake.state.add_user("Kid", login_id="kid")
    course = fake.state.add_course("Art")
    enrollment = fake.state.enroll(kid, course)
    response = await api.delete(
        f"/api/v1/courses/{course}/enrollments/{enrollment}", params={"task": task}
    )
    assert response.status_code == 200
    assert response.json()["enrollment_state"] == state
    assert fake.state.enrollments[enrollment].state == state


async def test_end_enrollment_in_wrong_course_is_404(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """An enrollment id under another course is not found."""
    kid = fake.state.add_user("Kid", login_id="kid")
    enrollment = fake.state.enroll(kid, fake.state.add_course("Art"))
    other = fake.state.add_course("Music")
    response = await api.delete(f"/api/v1/courses/{other}/enrollments/{enrollment}")
    assert response.status_code == 404


async def test_list_user_enrollments_filters(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """By default active and invited enrollments are listed; state[] selects others."""
    kid = fake.state.add_user("Kid", login_id="kid")
    active = fake.state.enroll(kid, fake.state.add_course("A"))
    invited = fake.state.enroll(kid, fake.state.add_course("B"), state="invited")
    done = fake.state.enroll(kid, fake.state.add_course("C"), state="completed")
    default = await api.get(f"/api/v1/users/{kid}/enrollments")
    assert sorted(e["id"] for e in default.json()) == sorted([active, invited])
    completed = await api.get(f"/api/v1/users/{kid}/enrollments", params={"state[]": "completed"})
    assert [e["id"] for e in completed.json()] == [done]


async def test_plain_user_cannot_build_courses(fake: FakeCanvas, client_for: ClientFor) -> None:
    """Course and enrollment writes are admin-only (401 unauthorized body)."""
    uid = fake.state.add_user("Plain", login_id="plain")
    course = fake.state.add_course("Art")
    client = client_for(fake.state.issue_token(uid))
    made = await client.post("/api/v1/accounts/self/courses", data={"course[name]": "X"})
    assert made.status_code == 401
    assert made.json()["status"] == "unauthorized"
    enrolled = await client.post(
        f"/api/v1/courses/{course}/enrollments", data={"enrollment[user_id]": str(uid)}
    )
    assert enrolled.status_code == 401
    assert fake.state.user_enrollments(uid) == []


async def test_delete_course_deletes_its_enrollments(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Deleting a course answers {"delete": true} and deletes every enrollment in it."""
    kid = fake.state.add_user("Kid", login_id="kid")
    parent = fake.state.add_user("Parent", login_id="parent")
    course = await make_course(api)
    enrollment = fake.state.enroll(kid, course)
    fake.state.link(parent, kid)
    other = fake.state.enroll(kid, fake.state.add_course("Other"))
    response = await api.delete(f"/api/v1/courses/{course}", params={"event": "delete"})
    assert response.status_code == 200
    assert response.json() == {"delete": True}
    default = await api.get(f"/api/v1/users/{kid}/enrollments")
    assert [e["id"] for e in default.json()] == [other]
    deleted = await api.get(f"/api/v1/users/{kid}/enrollments", params={"state[]": "deleted"})
    assert [(e["id"], e["enrollment_state"]) for e in deleted.json()] == [(enrollment, "deleted")]
    observed = await api.get(f"/api/v1/users/{parent}/enrollments")
    assert [e["course_id"] for e in observed.json()] == [fake.state.enrollments[other].course_id]
    # Enrollment routes find only live courses (get_context: Course.active).
    gone = await api.delete(f"/api/v1/courses/{course}/enrollments/{enrollment}")
    assert gone.status_code == 404


async def test_course_deletion_ends_pairing_codes_of_its_only_students(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """A student whose only course was deleted has no live enrollment left: no pairing code."""
    kid = fake.state.add_user("Kid", login_id="kid")
    course = await make_course(api)
    fake.state.enroll(kid, course)
    assert (await api.post(f"/api/v1/users/{kid}/observer_pairing_codes")).status_code == 200
    await api.delete(f"/api/v1/courses/{course}", params={"event": "delete"})
    refused = await api.post(f"/api/v1/users/{kid}/observer_pairing_codes")
    assert refused.status_code == 401


def test_has_student_enrollment_ignores_the_course_state(fake: FakeCanvas) -> None:
    """User#has_student_enrollment? reads the enrollment's own state, never the course's."""
    kid = fake.state.add_user("Kid", login_id="kid")
    course = fake.state.add_course("Art")
    fake.state.enroll(kid, course)
    fake.state.courses[course].workflow_state = "deleted"
    assert fake.state.has_student_enrollment(kid)


async def test_delete_course_events_and_errors(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """event must be delete or conclude (400 otherwise); conclude completes live enrollments."""
    kid = fake.state.add_user("Kid", login_id="kid")
    course = await make_course(api)
    enrollment = fake.state.enroll(kid, course)
    only = {"message": 'Only "delete" and "conclude" events are allowed.'}
    for params in ({}, {"event": "rm -rf"}):
        response = await api.delete(f"/api/v1/courses/{course}", params=params)
        assert response.status_code == 400
        assert response.json() == only
    assert (await api.delete("/api/v1/courses/999", params={"event": "delete"})).status_code == 404
    plain = client_for(fake.state.issue_token(kid))
    refused = await plain.delete(f"/api/v1/courses/{course}", params={"event": "delete"})
    assert refused.status_code == 401
    concluded = await api.delete(f"/api/v1/courses/{course}", params={"event": "conclude"})
    assert concluded.json() == {"conclude": True}
    assert fake.state.courses[course].workflow_state == "completed"
    assert fake.state.enrollments[enrollment].state == "completed"
