"""What an account admin of the fake Canvas may do and see: Canvas's permission names.

Canvas's built-in AccountAdmin role has every permission below; a custom admin role may lack
some (app/models/role_override.rb names them). A limited role changes what Canvas answers, not
only whether it answers: without ``view_user_logins`` user JSON has no ``login_id`` and search
does not match logins; without ``read_sis`` (or ``manage_sis``) no ``sis_user_id``; without
``read_email_addresses`` no ``email`` (lib/api/v1/user.rb ``user_json``, lib/user_search.rb).
The fake applies the same rules, so a sync against a limited token sees what it would on Canvas
(docs/canvas-behaviour.md).
"""

from __future__ import annotations

from collections.abc import Iterable

ACCOUNT_ADMIN: frozenset[str] = frozenset(
    {
        "read_roster",  # list and search users, see a user (api_show_user)
        "view_user_logins",  # login_id in user JSON; search by login
        "read_sis",  # sis_user_id / integration_id in user JSON; search by them
        "manage_sis",  # as read_sis, plus sis_import_id; pseudonym[sis_user_id] on create
        "read_email_addresses",  # email in user JSON; search by email
        "manage_user_logins",  # create users (and logins)
        "manage_students",
        "manage_user_observers",  # add, list and remove observer links
        "generate_observer_pairing_code",
        "read_reports",  # start and read account reports (the provisioning report)
        "manage_account_settings",  # list the authentication providers
    }
)
"""Every permission the fake knows: the built-in account admin role has them all."""


def parse_permissions(names: Iterable[str]) -> frozenset[str]:
    """Permission names (as Canvas spells them) -> a set; ValueError naming unknown ones."""
    wanted = frozenset(name.strip() for name in names if name.strip())
    unknown = wanted - ACCOUNT_ADMIN
    if unknown:
        raise ValueError(
            f"unknown permission(s): {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(ACCOUNT_ADMIN))})"
        )
    return wanted


def can_read_sis(rights: frozenset[str]) -> bool:
    """user_json shows SIS ids to a caller with read_sis, or manage_sis."""
    return bool(rights & {"read_sis", "manage_sis"})


def search_fields(rights: frozenset[str]) -> frozenset[str]:
    """UserSearch: which identifier kinds a search term may match besides the name."""
    fields = set()
    if "view_user_logins" in rights:
        fields.add("login")
    if can_read_sis(rights):
        fields.add("sis")
    if "read_email_addresses" in rights:
        fields.add("email")
    return frozenset(fields)
