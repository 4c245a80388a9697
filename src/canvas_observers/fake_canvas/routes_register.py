"""The public sign-up a parent makes with a pairing code: ``POST /users``, no token.

Canvas's login page offers "Parent of a Canvas user? Click here for an account"; its form posts
``user[name]``, ``pseudonym[unique_id]`` (an email), ``pseudonym[password]``,
``pairing_code[code]`` and ``user[initial_enrollment_type]=observer`` to ``/users``
(app/controllers/users_controller.rb, ``create`` and its private ``create_user``):

- ``require_self_registration`` runs first: a caller without ``manage_user_logins`` gets 403
  with the body ``{}`` unless the root account's self-registration allows this enrollment type
  (``Account#self_registration_allowed_for?``: ``all``, or ``observer`` for an observer);
- a caller without ``manage_user_logins`` must give a name (``require_presence_of_name``) and
  an email as the login (``email_pseudonyms``); with a pairing code a password is accepted, and
  a user given one is ``registered``;
- the code is looked up among active codes (exact match); none is the ``pairing_code`` error,
  reported with every other validation error in one 400, and nothing is created;
- after the save the new user observes the code's student and the code is used up.

The answer to this non-API route is the created records, ``{"user", "pseudonym", "channel",
"message_sent", "course"}``; the fake gives each record's main fields (docs/canvas-behaviour.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canvas_observers.fake_canvas.records import StateError, is_email
from canvas_observers.fake_canvas.routes_users import PAIRING_CODE_INVALID
from canvas_observers.fake_canvas.web import BadBody, FakeCanvas, error, get_str, read_params

NAME_BLANK: dict[str, object] = {
    "name": [{"attribute": "name", "type": "blank", "message": "blank"}]
}


def _allowed(fake: FakeCanvas, enrollment_type: str | None) -> bool:
    """Account#self_registration_allowed_for?: on for everyone, or for observers only."""
    setting = fake.config.self_registration
    return setting == "all" or (setting == "observer" and enrollment_type == "observer")


def _field_error(field: str, kind: str, message: str) -> dict[str, object]:
    return {field: [{"attribute": field, "type": kind, "message": message}]}


async def self_register(request: Request) -> Response:
    fake: FakeCanvas = request.app.state.fake
    fake.stats.by_route["POST /users"] += 1
    try:
        params = await read_params(request)  # the only await: the state work below is atomic
    except BadBody as exc:
        return error(400, str(exc))
    state = fake.state
    enrollment_type = get_str(params, "user", "initial_enrollment_type")
    if not _allowed(fake, enrollment_type):
        return JSONResponse({}, status_code=403)
    name = (get_str(params, "user", "name") or "").strip()
    unique_id = (get_str(params, "pseudonym", "unique_id") or "").strip()
    user_errors: dict[str, object] = {} if name else NAME_BLANK
    login_errors: dict[str, object] = {}
    if not unique_id:
        login_errors = _field_error(
            "unique_id", "too_short", "is too short (minimum is 1 character)"
        )
    elif not is_email(unique_id):
        login_errors = _field_error("unique_id", "invalid", "is invalid")
    else:
        try:
            state.check_login(unique_id, None, provider_id=None, reusing=None)
        except StateError as exc:
            login_errors = _field_error(exc.field, exc.kind, exc.message)
    code = None
    bad_code = False
    if enrollment_type == "observer":
        code = state.active_pairing_code(get_str(params, "pairing_code", "code") or "")
        bad_code = code is None
    if user_errors or login_errors or bad_code:
        body: dict[str, Any] = {
            "errors": {
                "user": user_errors,
                "pseudonym": login_errors,
                "observee": {},
                "pairing_code": PAIRING_CODE_INVALID if bad_code else {},
            }
        }
        return JSONResponse(body, status_code=400)
    user = state.create_user(
        name,
        unique_id=unique_id,
        email=unique_id,
        password=bool(get_str(params, "pseudonym", "password")),
    )
    if code is not None and code.user_id != user.id:
        state.redeem_pairing_code(code.code)
        state.link(user.id, code.user_id)
    return JSONResponse(
        {
            "user": {"id": user.id, "name": user.name, "workflow_state": user.workflow_state},
            "pseudonym": {"unique_id": unique_id},
            "channel": {"path": unique_id, "path_type": "email"},
            "message_sent": False,
            "course": None,
        }
    )


ROUTES = [Route("/users", self_register, methods=["POST"])]
