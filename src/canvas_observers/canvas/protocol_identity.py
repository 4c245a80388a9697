"""Requests that change who a guardian's account is: its logins, email channels and names.

Pure builders, as in ``protocol.py`` (whose ``Request``, ``object_ref`` and ``flatten_form``
they use). The writes are never replayed after a lost answer, although two of them are PUTs:
the sync looks the result up instead (a second channel POST would be a 400 ``unique!``), so
every write is judged the same way [Changing a guardian's login, email and name].
"""

from __future__ import annotations

from canvas_observers.canvas.protocol import (
    PER_PAGE,
    Request,
    _request,
    flatten_form,
    object_ref,
)


def _page(per_page: int) -> tuple[tuple[str, str], ...]:
    if not 1 <= per_page <= PER_PAGE:
        raise ValueError(f"per_page must be 1..{PER_PAGE}")
    return (("per_page", str(per_page)),)


def list_logins(user_id: int, *, per_page: int = PER_PAGE) -> Request:
    # GET /users/:user_id/logins: the user's active logins by id (bookmark pages).
    path = f"/users/{object_ref(user_id)}/logins"
    return _request("list_logins", "GET", path, query=_page(per_page), paginated=True)


def update_login(
    login_id: int,
    unique_id: str,
    *,
    sis_user_id: str | None = None,
    account: str | int = "self",
) -> Request:
    # PUT /accounts/:account_id/logins/:id with login[unique_id]: 400 "taken" when another
    # active login has it (any case); 400 with a null body when no known field is sent.
    # login[sis_user_id] (sent only when given) needs manage_sis, else 401/403 and nothing is
    # saved; another login's SIS id, deleted logins included, is 400 "taken" on sis_user_id.
    if not unique_id.strip():
        raise ValueError("a login id cannot be empty")
    if sis_user_id is not None and not sis_user_id.strip():
        raise ValueError("an SIS id cannot be empty (Canvas would remove the login's)")
    path = f"/accounts/{object_ref(account)}/logins/{object_ref(login_id)}"
    form = flatten_form({"login": {"unique_id": unique_id, "sis_user_id": sis_user_id}})
    return _request("update_login", "PUT", path, form=form, replay_safe=False)


def list_channels(user_id: int, *, per_page: int = PER_PAGE) -> Request:
    # GET /users/:user_id/communication_channels: unretired channels by position.
    path = f"/users/{object_ref(user_id)}/communication_channels"
    return _request("list_channels", "GET", path, query=_page(per_page), paginated=True)


def add_email_channel(user_id: int, address: str, *, skip_confirmation: bool = True) -> Request:
    # POST /users/:user_id/communication_channels: with skip_confirmation (honoured for an
    # admin with manage_students) the channel is active and no confirmation is sent; the same
    # address again is a 400 "unique!".
    path = f"/users/{object_ref(user_id)}/communication_channels"
    fields = {
        "communication_channel": {"address": address, "type": "email"},
        "skip_confirmation": skip_confirmation or None,
    }
    return _request("add_email_channel", "POST", path, form=flatten_form(fields), replay_safe=False)


def rename_user(user_id: int, *, name: str, sortable_name: str) -> Request:
    # PUT /users/:id with user[name] and user[sortable_name] (the :rename right, which
    # manage_user_logins gives an admin); any other user[...] key could make it a 401/403.
    path = f"/users/{object_ref(user_id)}"
    form = flatten_form({"user": {"name": name, "sortable_name": sortable_name}})
    return _request("rename_user", "PUT", path, form=form, replay_safe=False)
