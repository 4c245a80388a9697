"""A user's logins, email channels and names: the endpoints that change who an account is.

``pseudonyms_controller.rb`` (list and edit logins), ``communication_channels_controller.rb``
(list and add channels) and ``users_controller.rb`` ``update`` (names). The Canvas behaviour
they follow is in docs/canvas-behaviour.md ("Changing a guardian's login, email and name").
Rights, as Canvas's policies give them to an account admin: ``manage_user_logins`` lets an
admin read a user (``:read``), update their logins (``Pseudonym`` ``:update``), manage their
details (``:manage_user_details``, which adding a channel needs) and rename them (``:rename``);
a login's SIS id also needs ``manage_sis``; ``skip_confirmation`` needs ``manage_students``.
"""

from __future__ import annotations

import bisect
from typing import Any

from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas import views
from canvas_observers.fake_canvas.roles import can_read_sis
from canvas_observers.fake_canvas.state import (
    ROOT_ACCOUNT_ID,
    Channel,
    FakeState,
    Login,
    StateError,
    User,
    is_email,
    sortable_from,
)
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    error,
    get,
    get_bool,
    get_str,
    internal_error,
    not_found,
    paged_json,
)

MAX_UNIQUE_ID_LENGTH = 100  # Pseudonym::MAX_UNIQUE_ID_LENGTH
MAX_SIS_ID_LENGTH = 255  # maximum_string_length, which Pseudonym validates sis_user_id against
LOGIN_FIELDS = frozenset(
    {
        "unique_id",
        "password",
        "sis_user_id",
        "authentication_provider_id",
        "integration_id",
        "workflow_state",
        "declared_user_type",
    }
)  # update_pseudonym_from_params: at least one, else 400 "missing required parameter"
RENAME_FIELDS = frozenset({"name", "short_name", "sortable_name"})  # need :rename
DETAIL_FIELDS = frozenset({"time_zone", "locale", "event"})  # need :manage_user_details


def _model_error(attribute: str, kind: str, message: str) -> JSONResponse:
    """`render json: record.errors, status: :bad_request` (Canvas's error hash reporter)."""
    item = {"attribute": attribute, "type": kind, "message": message}
    return JSONResponse({"errors": {attribute: [item]}}, status_code=400)


def _manages(call: Call, user: User) -> bool:
    """The caller is the user, or an admin with manage_user_logins."""
    return call.caller.id == user.id or call.can("manage_user_logins")


# -- views -------------------------------------------------------------------------------
def login_json(login: Login, *, rights: frozenset[str]) -> dict[str, Any]:
    """pseudonym_json: the SIS ids only for a caller who may read SIS data."""
    data: dict[str, Any] = {
        "id": login.id,
        "user_id": login.user_id,
        "account_id": ROOT_ACCOUNT_ID,
        "unique_id": login.unique_id,
        "authentication_provider_id": login.authentication_provider_id,
        "workflow_state": login.workflow_state,
        "declared_user_type": None,
    }
    if can_read_sis(rights):
        data["sis_user_id"] = login.sis_user_id
        data["integration_id"] = login.integration_id
    return data


def channel_json(user: User, channel: Channel) -> dict[str, Any]:
    """communication_channel_json."""
    return {
        "id": channel.id,
        "address": channel.address,
        "type": "email",
        "position": user.channels.index(channel) + 1,
        "user_id": user.id,
        "workflow_state": channel.workflow_state,
    }


# -- state changes (synchronous: see state.py) -------------------------------------------
def change_unique_id(state: FakeState, user: User, login: Login, unique_id: str) -> None:
    """A login's new unique_id (the caller checked it is free)."""
    state.change_unique_id(login, unique_id)
    state._reindex(user)


def rename(
    state: FakeState,
    user: User,
    *,
    name: str | None,
    short_name: str | None,
    sortable_name: str | None,
) -> None:
    """User#update of the names, with User#infer_defaults: a sortable name that was derived
    from the old name follows a new name unless one is sent; the short name stays."""
    if name is not None and name != user.name:
        if sortable_name is None and user.sortable_name == sortable_from(user.name):
            sortable_name = sortable_from(name)
        user.name = name
    if short_name is not None:
        user.short_name = short_name
    if sortable_name is not None and sortable_name != user.sortable_name:
        at = bisect.bisect_left(state._sort_keys, user.sort_key())
        del state._sort_keys[at], state._sorted[at]
        user.sortable_name = sortable_name
        key = user.sort_key()
        at = bisect.bisect(state._sort_keys, key)
        state._sort_keys.insert(at, key)
        state._sorted.insert(at, user)
    state._reindex(user)


# -- logins ------------------------------------------------------------------------------
async def list_logins(call: Call) -> Response:
    """PseudonymsController#index for a user: the user's active logins by id; the user's
    `:read` right (the user, or manage_user_logins)."""
    user = call.user("user_id")
    if user is None:
        return not_found()
    if not _manages(call, user):
        return call.forbidden()
    logins = sorted((p for p in user.logins if p.workflow_state != "deleted"), key=lambda p: p.id)
    return paged_json(
        call.request,
        call.params,
        logins,
        lambda p: login_json(p, rights=call.rights),
        with_last=False,  # a bookmarked collection: no total
    )


async def update_login(call: Call) -> Response:
    """PseudonymsController#update: `Pseudonym.active.find(:id)` (the URL's account is not
    consulted), then the `:update` right, then `login[...]`: `sis_user_id` needs manage_sis
    when sent at all, and must be no other login's SIS id (Pseudonym
    #verify_unique_sis_user_id counts deleted logins too)."""
    found = _active_login(call.state, call.path("id"))
    if found is None:
        return not_found()
    user, login = found
    if not call.can("manage_user_logins"):
        return call.forbidden()
    fields = get(call.params, "login")
    if not isinstance(fields, dict) or not LOGIN_FIELDS & fields.keys():
        # Current canvas-lms (docs/canvas-behaviour.md); older copies rendered a `null` body.
        return JSONResponse({"message": "missing required parameter"}, status_code=400)
    if "sis_user_id" in fields and not call.can("manage_sis"):
        return call.forbidden()  # has_right_if_requests_change(:sis_user_id, :manage_sis)
    unique_id = get_str(call.params, "login", "unique_id")
    if unique_id is not None:
        if not unique_id:
            return _model_error("unique_id", "too_short", "is too short (minimum is 1 character)")
        if len(unique_id) > MAX_UNIQUE_ID_LENGTH:
            return _model_error("unique_id", "too_long", "is too long (maximum is 100 characters)")
    sis_sent = "sis_user_id" in fields
    # params[:login][:sis_user_id].presence: a blank one removes the SIS id.
    sis_user_id = get_str(call.params, "login", "sis_user_id") if sis_sent else None
    sis_user_id = sis_user_id if sis_user_id and sis_user_id.strip() else None
    if sis_user_id is not None and len(sis_user_id) > MAX_SIS_ID_LENGTH:
        return _model_error("sis_user_id", "too_long", "is too long (maximum is 255 characters)")
    provider = login.authentication_provider_id
    try:
        # One save: a taken login id is found first, then a taken SIS id (any other login,
        # deleted ones too), and either refusal changes nothing.
        call.state.check_login(
            unique_id or login.unique_id, sis_user_id, provider_id=provider, reusing=login
        )
    except StateError as exc:
        return _model_error(exc.field, exc.kind, exc.message)
    if unique_id is not None and call.state.family_clash(unique_id, provider, reusing=login):
        # The normalisation trigger refuses the save after the validations passed.
        return internal_error(call.state.new_id("error_report"))
    if unique_id is not None:
        change_unique_id(call.state, user, login, unique_id)
    if sis_sent:
        call.state.set_sis_id(login, sis_user_id)
        call.state._reindex(user)
    return JSONResponse(login_json(login, rights=call.rights))


def _active_login(state: FakeState, raw: str) -> tuple[User, Login] | None:
    if not raw.isdigit():
        return None
    wanted = int(raw)
    for user in state.users.values():
        for login in user.logins:
            if login.id == wanted and login.workflow_state != "deleted":
                return user, login
    return None


# -- email channels ----------------------------------------------------------------------
async def list_channels(call: Call) -> Response:
    """CommunicationChannelsController#index: the user's unretired channels by position."""
    user = call.user("user_id")
    if user is None:
        return not_found()
    if not _manages(call, user):
        return call.forbidden()
    return paged_json(
        call.request,
        call.params,
        list(user.channels),
        lambda c: channel_json(user, c),
        with_last=True,
    )


async def add_channel(call: Call) -> Response:
    """CommunicationChannelsController#create: the user, or `:manage_user_details`
    (manage_user_logins); an address that is no email → 400 on `email`; a channel with that
    path and type already → 400 `unique!`; `skip_confirmation` makes it active (and sends no
    confirmation) for manage_students. Either way the user's existing primary address is told
    that an address was added (the `new_email_address_added` notification)."""
    user = call.user("user_id")
    if user is None:
        return not_found()
    if not _manages(call, user):
        return call.forbidden()
    address = (get_str(call.params, "communication_channel", "address") or "").strip()
    kind = get_str(call.params, "communication_channel", "type")
    if not address or kind is None:
        # Canvas reads params[:communication_channel][...] directly; the fake answers as
        # ParameterMissing would rather than with Canvas's 500.
        return error(400, "communication_channel is missing")
    if kind != "email":
        return error(400, "the fake supports email channels only")
    if not is_email(address):
        return _model_error("email", "invalid", "invalid")
    if any(c.address.lower() == address.lower() for c in user.channels):
        return _model_error("path", "unique!", "unique!")
    skip = get_bool(call.params, "skip_confirmation") and call.can("manage_students")
    primary = user.email
    channel = call.state.add_channel(user, address, active=skip)
    call.state._reindex(user)
    if not skip:
        call.state.record_email(user.id, address, "confirm_email_communication_channel")
    if primary is not None:
        call.state.record_email(user.id, primary, "new_email_address_added")
    return JSONResponse(channel_json(user, channel))


# -- names -------------------------------------------------------------------------------
async def update_user(call: Call) -> Response:
    """UsersController#update: every `user[...]` key must be one the caller may change
    (names need `:rename`, time zone and locale `:manage_user_details`; both come with
    manage_user_logins), else 401/403 and nothing changes."""
    user = call.user("id")
    if user is None:
        return not_found()
    fields = get(call.params, "user")
    fields = fields if isinstance(fields, dict) else {}
    allowed: set[str] = set()
    if call.can("manage_user_logins"):
        allowed |= RENAME_FIELDS | DETAIL_FIELDS
    if not allowed or not set(fields) <= allowed:
        return call.forbidden()
    texts = {k: get_str(call.params, "user", k) for k in ("name", "short_name", "sortable_name")}
    for key, value in texts.items():
        if value is not None and len(value) > 255:
            return _model_error(key, "too_long", "is too long (maximum is 255 characters)")
    rename(
        call.state,
        user,
        name=texts["name"] or None,
        short_name=texts["short_name"] or None,
        sortable_name=texts["sortable_name"] or None,
    )
    if locale := get_str(call.params, "user", "locale"):
        user.locale = locale
    body = views.user_in_account(user, rights=call.rights, include_email=True)
    body["locale"] = user.locale
    return JSONResponse(body)


ROUTES = [
    ApiRoute("GET", "/api/v1/users/:user_id/logins", list_logins),
    ApiRoute("PUT", "/api/v1/accounts/:account_id/logins/:id", update_login),
    ApiRoute("GET", "/api/v1/users/:user_id/communication_channels", list_channels),
    ApiRoute("POST", "/api/v1/users/:user_id/communication_channels", add_channel),
    ApiRoute("PUT", "/api/v1/users/:id", update_user),
]
