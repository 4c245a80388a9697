"""JSON shapes of the fake Canvas (lib/api/v1/user.rb#user_json and friends)."""

from __future__ import annotations

from typing import Any

from canvas_observers.fake_canvas.roles import can_read_sis
from canvas_observers.fake_canvas.state import (
    ROOT_ACCOUNT_ID,
    Course,
    Enrollment,
    PairingCodeRecord,
    Provider,
    User,
    iso,
)


def user_basic(user: User) -> dict[str, Any]:
    """user_json without a context: what POST/PUT/DELETE observee answers carry."""
    return {
        "id": user.id,
        "name": user.name,
        "created_at": iso(user.created_at),
        "sortable_name": user.sortable_name,
        "short_name": user.short_name,
    }


def user_in_account(user: User, *, rights: frozenset[str], include_email: bool) -> dict[str, Any]:
    """user_json in the root account's context, for a caller with these admin ``rights``
    (empty for a non-admin): SIS ids with read_sis or manage_sis, ``sis_import_id`` with
    manage_sis, ``login_id`` with view_user_logins, ``email`` only with include[]=email and
    read_email_addresses (lib/api/v1/user.rb; docs/canvas-behaviour.md). A field the caller
    may not see is absent, not null."""
    data = user_basic(user)
    login = user.login
    if can_read_sis(rights):
        data["sis_user_id"] = login.sis_user_id if login else None
        data["integration_id"] = login.integration_id if login else None
    if "manage_sis" in rights:
        data["sis_import_id"] = None  # the fake has no SIS imports: no login came from one
    if "view_user_logins" in rights and login is not None:
        data["login_id"] = login.unique_id
    if include_email and "read_email_addresses" in rights:
        data["email"] = user.email
    return data


def _name_parts(user: User) -> tuple[str, str]:
    last, comma, first = user.sortable_name.partition(",")
    return (first.strip(), last.strip()) if comma else (user.sortable_name, "")


def user_show(user: User, *, rights: frozenset[str]) -> dict[str, Any]:
    """GET /users/:id (api_show): the account view plus the default show includes."""
    data = user_in_account(user, rights=rights, include_email=True)
    first, last = _name_parts(user)
    data.update(
        {
            "first_name": first,
            "last_name": last,
            "locale": user.locale,
            "effective_locale": user.locale or "en",
            "permissions": {
                "can_update_name": True,
                "can_update_avatar": False,
                "limit_parent_app_web_access": False,
            },
        }
    )
    return data


def user_created(user: User, *, rights: frozenset[str]) -> dict[str, Any]:
    """POST /accounts/:id/users answer: user_json with the locale and uuid includes."""
    data = user_in_account(user, rights=rights, include_email=False)
    data["locale"] = user.locale
    data["uuid"] = f"fake{user.id:036d}"
    return data


def observee(user: User, *, root_account_ids: list[int] | None = None) -> dict[str, Any]:
    """The student of a link just made, shown or removed (user_json without a context)."""
    data = user_basic(user)
    data["observation_link_root_account_ids"] = (
        [ROOT_ACCOUNT_ID] if root_account_ids is None else root_account_ids
    )
    return data


def observee_listed(user: User, *, rights: frozenset[str], include_email: bool) -> dict[str, Any]:
    data = user_in_account(user, rights=rights, include_email=include_email)
    data["observation_link_root_account_ids"] = [ROOT_ACCOUNT_ID]
    return data


def pairing_code(record: PairingCodeRecord) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "code": record.code,
        "expires_at": iso(record.expires_at),
        "workflow_state": record.workflow_state,
    }


def account(name: str, time_zone: str = "America/Denver") -> dict[str, Any]:
    return {
        "id": ROOT_ACCOUNT_ID,
        "name": name,
        "uuid": "fakeaccount0000000000000000000000000000001",
        "parent_account_id": None,
        "root_account_id": None,
        "workflow_state": "active",
        "default_time_zone": time_zone,
        "sis_account_id": None,
        "integration_id": None,
    }


def course(c: Course) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "course_code": c.course_code,
        "sis_course_id": c.sis_course_id,
        "account_id": ROOT_ACCOUNT_ID,
        "root_account_id": ROOT_ACCOUNT_ID,
        "workflow_state": c.workflow_state,
    }


def enrollment(e: Enrollment) -> dict[str, Any]:
    return {
        "id": e.id,
        "course_id": e.course_id,
        "user_id": e.user_id,
        "type": e.type,
        "role": e.type,
        "enrollment_state": e.state,
        "associated_user_id": e.associated_user_id,
        "root_account_id": ROOT_ACCOUNT_ID,
        "created_at": iso(e.created_at),
    }


def provider(record: Provider) -> dict[str, Any]:
    """aac_json (lib/api/v1/authentication_provider.rb), the fields every type has."""
    return {
        "id": record.id,
        "auth_type": record.auth_type,
        "position": record.position,
    }
