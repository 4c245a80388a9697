"""Accounts and users: show account, list/search users, show user, create user.

The Canvas behaviour they follow is in docs/canvas-behaviour.md.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from canvas_observers.fake_canvas import views
from canvas_observers.fake_canvas.roles import ACCOUNT_ADMIN, search_fields
from canvas_observers.fake_canvas.state import ACCOUNT_NAME, StateError, is_email
from canvas_observers.fake_canvas.web import (
    ApiRoute,
    Call,
    get_bool,
    get_list,
    get_str,
    internal_error,
    not_found,
    paged_json,
    resolve_account,
)

MIN_SEARCH_TERM_LENGTH = 2  # SearchTermHelper::MIN_SEARCH_TERM_LENGTH (3 in older Canvas)
SEARCH_TERM_TOO_SHORT = {
    "errors": [
        {
            "field": "search_term",
            "code": "invalid",
            "message": f"{MIN_SEARCH_TERM_LENGTH} or more characters is required",
        }
    ]
}


PseudonymError = tuple[str, str, str]  # (attribute, type, message)
PAIRING_CODE_INVALID: dict[str, object] = {
    "code": [{"attribute": "code", "type": "invalid", "message": "invalid"}]
}
# What @user.valid? adds when its new pseudonym is invalid.
PSEUDONYMS_INVALID: dict[str, object] = {
    "pseudonyms": [{"attribute": "pseudonyms", "type": "invalid", "message": "invalid"}]
}


def _create_error(
    pseudonym: PseudonymError | None, *, bad_code: bool = False, via_user: bool = True
) -> JSONResponse:
    """The create 400: a nested object per model with every model's errors at once.

    app/controllers/users_controller.rb create_user: the pairing code is looked up first
    (@invalid_observee_code), then @user.valid? (which adds "pseudonyms invalid" for its bad new
    pseudonym) and @pseudonym.valid?; the body carries all of them together. A reused login
    (`via_user` false) is no new pseudonym of the user, so only @pseudonym.errors show it."""
    user: dict[str, object] = {}
    login: dict[str, object] = {}
    if pseudonym is not None:
        field_name, kind, message = pseudonym
        user = PSEUDONYMS_INVALID if via_user else {}
        login = {field_name: [{"attribute": field_name, "type": kind, "message": message}]}
    return JSONResponse(
        {
            "errors": {
                "user": user,
                "pseudonym": login,
                "observee": {},
                "pairing_code": PAIRING_CODE_INVALID if bad_code else {},
                "recaptcha": None,
            }
        },
        status_code=400,
    )


async def show_account(call: Call) -> Response:
    """AccountsController#show: :read on the account (any account admin here, 401/403 for
    others); default_time_zone is the IANA name of the account's zone (config.time_zone)."""
    if resolve_account(call.path("id")) is None:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    return JSONResponse(views.account(ACCOUNT_NAME, call.config.time_zone))


async def account_permissions(call: Call) -> Response:
    """AccountsController#permissions: the caller's rights by Canvas's names, ``{name: bool}``
    (an unknown name is simply false); with no names, every right of the account (the fake's
    list: roles.ACCOUNT_ADMIN); any account admin may ask."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.caller.is_admin:
        return call.forbidden()
    names = get_list(call.params, "permissions") or sorted(ACCOUNT_ADMIN)
    return JSONResponse({name: call.can(name) for name in names})


async def list_providers(call: Call) -> Response:
    """AuthenticationProvidersController#index: the root account's `manage_account_settings`
    right (require_root_account_management, 401/403 otherwise); the active providers by
    position, as one unpaginated list."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.can("manage_account_settings"):
        return call.forbidden()
    return JSONResponse([views.provider(p) for p in call.state.active_providers()])


async def list_users(call: Call) -> Response:
    """UsersController#api_index: read_roster on the account, search, no rel="last"."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.can("read_roster"):
        return call.forbidden()
    # `params[:search_term].present?`: a blank or spaces-only term is no search at all, and
    # the users are listed unfiltered.
    term = (get_str(call.params, "search_term") or "").strip()
    if term:
        if len(term) < MIN_SEARCH_TERM_LENGTH:
            return JSONResponse(SEARCH_TERM_TOO_SHORT, status_code=400)
        users = call.state.search(term, search_fields(call.rights))
    else:
        users = call.state.sorted_users()
    include_email = "email" in get_list(call.params, "include")
    return paged_json(
        call.request,
        call.params,
        users,
        lambda u: views.user_in_account(u, rights=call.rights, include_email=include_email),
        with_last=False,  # api_index passes total_entries: nil
    )


async def show_user(call: Call) -> Response:
    """UsersController#api_show: 404 for unknown or hidden users, 404 + JSON when deleted.
    api_show_user: the user themself, or an admin with manage_user_logins or read_roster."""
    user = call.state_user("id")
    allowed = call.can("manage_user_logins") or call.can("read_roster")
    if user is None or not (allowed or user.id == call.caller.id):
        return not_found()
    body = views.user_show(user, rights=call.rights)
    return JSONResponse(body, status_code=200 if user.active else 404)


async def create_user(call: Call) -> Response:
    """UsersController#create on the root account (admin flow)."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.can("manage_user_logins"):
        # require_self_registration: no manage_user_logins and no self-registration -> 403 {}
        return JSONResponse({}, status_code=403)
    params = call.params
    unique_id = (get_str(params, "pseudonym", "unique_id") or "").strip()
    # pseudonym[sis_user_id] is honoured with manage_sis only, else silently dropped.
    sis_user_id = (get_str(params, "pseudonym", "sis_user_id") or "").strip() or None
    if not call.can("manage_sis"):
        sis_user_id = None
    # pseudonym[authentication_provider_id]: an id, or a type such as `canvas`, looked up with
    # `authentication_providers.active.find` before any validation: unknown → 404.
    provider_id = None
    provider_ref = get_str(params, "pseudonym", "authentication_provider_id")
    if provider_ref:
        provider = call.state.find_provider(provider_ref)
        if provider is None:
            return not_found()
        provider_id = provider.id
    # A login of a user who never finished registering is saved again, not "taken".
    reused = call.state.reusable_login(unique_id)
    pseudonym_error: PseudonymError | None = None
    if not unique_id:
        pseudonym_error = ("unique_id", "too_short", "is too short (minimum is 1 character)")
    elif len(unique_id) > 100:
        pseudonym_error = ("unique_id", "too_long", "is too long (maximum is 100 characters)")
    else:
        try:
            call.state.check_login(unique_id, sis_user_id, provider_id=provider_id, reusing=reused)
        except StateError as exc:
            # Pseudonym#validate_unique_id ("taken") or #verify_unique_sis_user_id.
            pseudonym_error = (exc.field, exc.kind, exc.message)
    name = (get_str(params, "user", "name") or "").strip() or None
    channel_type = get_str(params, "communication_channel", "type") or "email"
    address = (get_str(params, "communication_channel", "address") or unique_id).strip()
    # An invalid email address is dropped silently: no channel, so no notification either.
    email = address if channel_type == "email" and is_email(address) else None
    # user[initial_enrollment_type]=observer + pairing_code[code]: the code is checked with the
    # other validations (an unknown, used or expired code is a 400 with a pairing_code error,
    # next to any login error, and nothing is created); after the save the new user observes
    # the code's student and the code is used up (UsersController#create_user: @pairing_code,
    # UserObservationLink.create_or_restore).
    code = None
    bad_code = False
    if get_str(params, "user", "initial_enrollment_type") == "observer":
        code = call.state.active_pairing_code(get_str(params, "pairing_code", "code") or "")
        bad_code = code is None
    if pseudonym_error is not None or bad_code:
        return _create_error(pseudonym_error, bad_code=bad_code, via_user=reused is None)
    if call.state.family_clash(unique_id, provider_id, reusing=reused) is not None:
        # Not "taken": the model's check is per provider, and the normalisation trigger
        # refuses the save (an unbound login and a Canvas/CAS/SAML/LDAP-bound one with one
        # normalised id); nothing is created.
        return internal_error(call.state.new_id("error_report"))
    user = call.state.create_user(
        name,
        unique_id=unique_id,
        sis_user_id=sis_user_id,
        sortable_name=get_str(params, "user", "sortable_name") or None,
        short_name=get_str(params, "user", "short_name") or None,
        email=email,
        skip_registration=get_bool(params, "user", "skip_registration"),
        password=bool(get_str(params, "pseudonym", "password")),
        provider_id=provider_id,
    )
    if locale := get_str(params, "user", "locale"):
        user.locale = locale
    # create_user links and uses the code up only for a pair not linked yet (a completed
    # unfinished user may be linked already). A completed user who is the code's student is
    # left unlinked here; Canvas's link validation would fail after the save instead.
    if (
        code is not None
        and code.user_id != user.id
        and not call.state.is_linked(user.id, code.user_id)
    ):
        call.state.redeem_pairing_code(code.code)
        call.state.link(user.id, code.user_id)
    # Users::CreationNotifyPolicy: only with a channel and without skip_confirmation.
    if email is not None and not get_bool(params, "communication_channel", "skip_confirmation"):
        if get_bool(params, "pseudonym", "force_self_registration"):
            call.state.record_email(user.id, email, "confirm_registration")
        elif get_bool(params, "pseudonym", "send_confirmation"):
            done = user.workflow_state == "registered"
            kind = "pseudonym_registration_done" if done else "pseudonym_registration"
            call.state.record_email(user.id, email, kind)
    return JSONResponse(views.user_created(user, rights=call.rights))


async def delete_user(call: Call) -> Response:
    """AccountsController#remove_user: with one root account the user is deleted."""
    if resolve_account(call.path("account_id")) is None:
        return not_found()
    if not call.can("manage_user_logins"):
        return call.forbidden()
    user = call.user("user_id")
    if user is None:
        return not_found()
    call.state.delete_user(user.id)
    return JSONResponse(views.user_basic(user))


ROUTES = [
    ApiRoute("GET", "/api/v1/accounts/:id", show_account),
    ApiRoute("GET", "/api/v1/accounts/:account_id/permissions", account_permissions),
    ApiRoute("GET", "/api/v1/accounts/:account_id/authentication_providers", list_providers),
    ApiRoute("GET", "/api/v1/accounts/:account_id/users", list_users),
    ApiRoute("POST", "/api/v1/accounts/:account_id/users", create_user),
    ApiRoute("DELETE", "/api/v1/accounts/:account_id/users/:user_id", delete_user),
    ApiRoute("GET", "/api/v1/users/:id", show_user),
]
