"""Pairing codes and observer links (observer_pairing_codes_api_controller.rb,
user_observees_controller.rb). The fake has one root account, shared by every user.

Observing yourself never reaches the model's "Cannot observe yourself" validation through the
API: the controller first looks for the root accounts both users belong to
(``common_root_accounts_for(observer, student)``), which for one user twice is always empty. So
a PUT answers 404, and a POST with the user's own pairing code answers 401/403 to an admin
after the code is used up, or 200 with no link to the user themself (docs/canvas-behaviour.md).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas import views
from canvas_observers.fake_canvas.state import User
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    error,
    get_list,
    get_str,
    not_found,
    paged_json,
)


def _allowed(call: Call, user: User) -> bool:
    """self_or_admin_permission_check: the path user, or an admin with manage_user_observers."""
    return call.caller.id == user.id or call.can("manage_user_observers")


async def create_pairing_code(call: Call) -> Response:
    student = call.user("user_id")
    if student is None:
        return not_found()
    # has_student_enrollment? is checked before authorized_action, so admins are refused too.
    if not call.state.has_student_enrollment(student.id):
        return call.forbidden()
    if not (call.caller.id == student.id or call.can("generate_observer_pairing_code")):
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
        # (docs/canvas-behaviour.md); the fake supports pairing codes only and answers like
        # ParameterMissing.
        return error(400, "pairing_code is missing")
    record = call.state.redeem_pairing_code(code)  # used up before any link is made
    student = None if record is None else call.state.users.get(record.user_id)
    if student is None or not student.active:
        return error(422, "Invalid pairing code.")
    if student.id == observer.id:
        # No common root account for (u, u): an admin is refused, the code is already gone;
        # the user redeeming their own code gets 200 and no link.
        if call.caller.id != observer.id:
            return call.forbidden()
        return JSONResponse(views.observee(student, root_account_ids=[]))
    call.state.link(observer.id, student.id)  # a no-op for an existing live link
    return JSONResponse(views.observee(student))


async def put_observee(call: Call) -> Response:
    """UserObserveesController#update: admin only, create_or_restore, idempotent."""
    observer = call.user("user_id")
    student = call.user("observee_id")
    if observer is None or student is None:
        return not_found()
    if observer.id == student.id:
        return not_found()  # no common root account for (u, u), before any permission check
    if not call.can("manage_user_observers"):
        return call.forbidden()
    call.state.link(observer.id, student.id)
    return JSONResponse(views.observee(student))


def _list(call: Call, related: set[int]) -> Response:
    include_email = "email" in get_list(call.params, "include")
    return paged_json(
        call.request,
        call.params,
        call.state.sorted_ids(related),
        lambda u: views.observee_listed(u, rights=call.rights, include_email=include_email),
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
    """UserObserveesController#destroy: the caller's rights on the observer are checked first
    (self_or_admin_permission_check, a before-action), then the student is looked up; the
    links are soft-deleted (no live link -> 404, so not idempotent) and the answer is the
    student with the links that are left: none (`observation_link_root_account_ids: []`)."""
    observer = call.user("user_id")
    if observer is None:
        return not_found()
    if not _allowed(call, observer):
        return call.forbidden()
    student = call.user("observee_id")
    if student is None or not call.state.unlink(observer.id, student.id):
        return not_found()
    return JSONResponse(views.observee(student, root_account_ids=[]))


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
