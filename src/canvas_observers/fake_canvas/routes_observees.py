"""Pairing codes and observer links (§5-§6: observer_pairing_codes_api_controller.rb,
user_observees_controller.rb). The fake has one root account, shared by every user."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas import views
from canvas_observers.fake_canvas.state import StateError, User
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    error,
    get_list,
    get_str,
    not_found,
    paged_json,
)

# UserObservationLink validation "Cannot observe yourself" -> ActiveRecord::RecordInvalid -> 422.
# The exact `type` is not confirmed in the Canvas source (canvas-api.md §11); "invalid" is ours.
CANNOT_OBSERVE_YOURSELF = {
    "errors": {
        "observer_id": [
            {"attribute": "observer_id", "type": "invalid", "message": "Cannot observe yourself"}
        ]
    }
}


def _allowed(call: Call, user: User) -> bool:
    """self_or_admin_permission_check: the path user, or manage_user_observers (admins)."""
    return call.caller.is_admin or call.caller.id == user.id


async def create_pairing_code(call: Call) -> Response:
    student = call.user("user_id")
    if student is None:
        return not_found()
    # has_student_enrollment? is checked before authorized_action, so admins are refused too.
    if not call.state.has_student_enrollment(student.id):
        return call.forbidden()
    if not _allowed(call, student):
        return call.forbidden()
    return JSONResponse(views.pairing_code(call.state.new_pairing_code(student.id)))


async def add_observee_with_code(call: Call) -> Response:
    observer = call.user("user_id")
    if observer is None:
        return not_found()
    if not _allowed(call, observer):
        return call.forbidden()
    code = get_str(call.params, "pairing_code")
    if code is None:
        # Canvas also takes `access_token` or `observee[unique_id]`+`observee[password]` here
        # (§6.1); the fake supports pairing codes only and answers like ParameterMissing.
        return error(400, "pairing_code is missing")
    record = call.state.redeem_pairing_code(code)  # used up before any link is made
    student = None if record is None else call.state.users.get(record.user_id)
    if student is None or not student.active:
        return error(422, "Invalid pairing code.")
    try:
        call.state.link(observer.id, student.id)  # a no-op for an existing live link
    except StateError:
        return JSONResponse(CANNOT_OBSERVE_YOURSELF, status_code=422)
    return JSONResponse(views.observee(student))


async def put_observee(call: Call) -> Response:
    """UserObserveesController#update: admin only, create_or_restore, idempotent."""
    observer = call.user("user_id")
    student = call.user("observee_id")
    if observer is None or student is None:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    try:
        call.state.link(observer.id, student.id)
    except StateError:
        return JSONResponse(CANNOT_OBSERVE_YOURSELF, status_code=422)
    return JSONResponse(views.observee(student))


def _list(call: Call, related: set[int]) -> Response:
    include_email = "email" in get_list(call.params, "include")
    return paged_json(
        call.request,
        call.params,
        call.state.sorted_ids(related),
        lambda u: views.observee_listed(u, admin=call.caller.is_admin, include_email=include_email),
        with_last=True,
    )


async def list_observees(call: Call) -> Response:
    observer = call.user("user_id")
    if observer is None:
        return not_found()
    if not _allowed(call, observer):
        return call.forbidden()
    return _list(call, call.state.observees_of.get(observer.id, set()))


async def list_observers(call: Call) -> Response:
    student = call.user("user_id")
    if student is None:
        return not_found()
    if not _allowed(call, student):
        return call.forbidden()
    return _list(call, call.state.observers_of.get(student.id, set()))


async def _show_link(call: Call, other_key: str, *, path_user_is_observer: bool) -> Response:
    """Show one linked user of the path user; 404 when either is unknown or not linked."""
    path_user = call.user("user_id")
    other = call.user(other_key)
    if path_user is None or other is None:
        return not_found()
    if not _allowed(call, path_user):
        return call.forbidden()
    observer, student = (path_user, other) if path_user_is_observer else (other, path_user)
    if not call.state.is_linked(observer.id, student.id):
        return not_found()
    return JSONResponse(views.observee(other))


async def show_observee(call: Call) -> Response:
    return await _show_link(call, "observee_id", path_user_is_observer=True)


async def show_observer(call: Call) -> Response:
    return await _show_link(call, "observer_id", path_user_is_observer=False)


async def delete_observee(call: Call) -> Response:
    """UserObserveesController#destroy: soft-delete; no live link -> 404 (not idempotent)."""
    observer = call.user("user_id")
    student = call.user("observee_id")
    if observer is None or student is None:
        return not_found()
    if not _allowed(call, observer):
        return call.forbidden()
    if not call.state.unlink(observer.id, student.id):
        return not_found()
    return JSONResponse(views.observee(student))


ROUTES = [
    ApiRoute("POST", "/api/v1/users/:user_id/observer_pairing_codes", create_pairing_code),
    ApiRoute("POST", "/api/v1/users/:user_id/observees", add_observee_with_code),
    ApiRoute("GET", "/api/v1/users/:user_id/observees", list_observees),
    ApiRoute("GET", "/api/v1/users/:user_id/observees/:observee_id", show_observee),
    ApiRoute("PUT", "/api/v1/users/:user_id/observees/:observee_id", put_observee),
    ApiRoute("DELETE", "/api/v1/users/:user_id/observees/:observee_id", delete_observee),
    ApiRoute("GET", "/api/v1/users/:user_id/observers", list_observers),
    ApiRoute("GET", "/api/v1/users/:user_id/observers/:observer_id", show_observer),
]
