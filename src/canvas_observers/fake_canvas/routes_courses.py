"""Courses and enrollments, so a district can be built through the API itself
(courses_controller.rb#create/#destroy, enrollments_api_controller.rb#create/#destroy/#index)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas import views
from canvas_observers.fake_canvas.state import ENROLLMENT_TYPES
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    get_bool,
    get_list,
    get_str,
    not_found,
    paged_json,
    resolve_account,
    resolve_user,
)

# EnrollmentsApiController#create: enrollment[enrollment_state] "active" or "inactive" as
# given; anything else is an invitation ("Default is 'invited'", Doc: enrollments.html).
CREATE_STATES = frozenset({"active", "invited", "inactive"})
# EnrollmentsApiController#destroy tasks (Doc: "Conclude, deactivate, or delete an enrollment").
TASKS = {
    "conclude": "completed",
    "delete": "deleted",
    "inactivate": "inactive",
    "deactivate": "inactive",
}
DEFAULT_LIST_STATES = frozenset({"active", "invited"})  # "current_and_invited" by default


COURSE_EVENTS = frozenset({"delete", "conclude"})
BAD_COURSE_EVENT = {"message": 'Only "delete" and "conclude" events are allowed.'}


def _course_id(call: Call, name: str = "course_id", *, deleted: bool = False) -> int | None:
    """The path's course; a deleted one only with `deleted` (application_controller.rb
    get_context finds `Course.active` for the nested routes, courses_controller.rb destroy any
    course)."""
    raw = call.path(name)
    course = call.state.courses.get(int(raw)) if raw.isdigit() else None
    if course is None or (course.workflow_state == "deleted" and not deleted):
        return None
    return course.id


async def create_course(call: Call) -> Response:
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    name = (get_str(call.params, "course", "name") or "").strip() or "Unnamed Course"
    course_id = call.state.add_course(
        name, sis_course_id=get_str(call.params, "course", "sis_course_id") or None
    )
    course = call.state.courses[course_id]
    course.course_code = get_str(call.params, "course", "course_code") or name
    # New API courses are unpublished unless offer=true (Doc: courses.html "Create a new course").
    course.workflow_state = "available" if get_bool(call.params, "offer") else "unpublished"
    return JSONResponse(views.course(course))


async def end_course(call: Call) -> Response:
    """CoursesController#destroy: `event=delete` deletes the course (and every enrollment in
    it), `event=conclude` completes it; the answer is `{event: true}`."""
    course_id = _course_id(call, "id", deleted=True)
    if course_id is None:
        return not_found()
    event = get_str(call.params, "event")
    if event not in COURSE_EVENTS:
        return JSONResponse(BAD_COURSE_EVENT, status_code=400)
    if not call.caller.is_admin:
        return call.forbidden()
    if event == "delete":
        call.state.delete_course(course_id)
    else:
        call.state.conclude_course(course_id)
    return JSONResponse({event: True})


async def create_enrollment(call: Call) -> Response:
    course_id = _course_id(call)
    if course_id is None:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    raw_user = get_str(call.params, "enrollment", "user_id")
    if not raw_user:
        return JSONResponse(
            {
                "message": "Can't create an enrollment without a user. "
                "Include enrollment[user_id] to create an enrollment"
            },
            status_code=403,
        )
    user = resolve_user(call.state, raw_user, call.caller)
    if user is None or not user.active:
        return not_found()
    kind = get_str(call.params, "enrollment", "type") or "StudentEnrollment"
    if kind not in ENROLLMENT_TYPES:
        # @@errors[:bad_type], rendered as {"message": ...} with 403 (status NOT CONFIRMED).
        return JSONResponse({"message": "Invalid type"}, status_code=403)
    state = get_str(call.params, "enrollment", "enrollment_state") or "invited"
    state = state if state in CREATE_STATES else "invited"
    enrollment_id = call.state.enroll(user.id, course_id, type=kind, state=state)
    return JSONResponse(views.enrollment(call.state.enrollments[enrollment_id]))


async def end_enrollment(call: Call) -> Response:
    course_id = _course_id(call)
    raw = call.path("id")
    enrollment = call.state.enrollments.get(int(raw)) if raw.isdigit() else None
    if course_id is None or enrollment is None or enrollment.course_id != course_id:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    task = get_str(call.params, "task") or "conclude"
    if task not in TASKS:
        return JSONResponse({"message": f"{task} is not a valid task"}, status_code=400)
    call.state.set_enrollment_state(enrollment.id, TASKS[task])
    return JSONResponse(views.enrollment(enrollment))


async def list_user_enrollments(call: Call) -> Response:
    user = call.user("user_id")
    if user is None:
        return not_found()
    if not (call.caller.is_admin or call.caller.id == user.id):
        return call.forbidden()
    states = set(get_list(call.params, "state")) or DEFAULT_LIST_STATES
    types = set(get_list(call.params, "type"))
    items = [
        e
        for e in call.state.user_enrollments(user.id)
        if e.state in states and (not types or e.type in types)
    ]
    return paged_json(call.request, call.params, items, views.enrollment, with_last=True)


ROUTES = [
    ApiRoute("POST", "/api/v1/accounts/:account_id/courses", create_course),
    ApiRoute("DELETE", "/api/v1/courses/:id", end_course),
    ApiRoute("POST", "/api/v1/courses/:course_id/enrollments", create_enrollment),
    ApiRoute("DELETE", "/api/v1/courses/:course_id/enrollments/:id", end_enrollment),
    ApiRoute("GET", "/api/v1/users/:user_id/enrollments", list_user_enrollments),
]
