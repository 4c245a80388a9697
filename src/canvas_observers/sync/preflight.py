"""Before any write: prove that the token sees what exact matching relies on.

A custom admin role may lack the permissions behind the fields the sync matches on. Canvas
then leaves the field out of every answer and its search stops matching it, silently: an
existing guardian looks absent (and would get a second account) and an existing pairing looks
missing. Missing fields cannot tell "no such value" from "not allowed to see it", so the sync
never guesses from them; it asks Canvas for the token's rights by name
(``GET /accounts/self/permissions``) once, before the first row (docs/canvas-behaviour.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canvas_observers.canvas.models import AuthProvider

PAIRING_RIGHT = "manage_user_observers"


@dataclass(frozen=True, slots=True)
class Need:
    """A right the sync needs: any one of ``names``, shown to admins as ``label``."""

    names: tuple[str, ...]
    label: str  # as Canvas's permissions page shows it (app/models/role_override.rb)
    why: str


LOGINS = Need(("view_user_logins",), "Users - view login IDs", "guardians are matched by login")
EMAILS = Need(
    ("read_email_addresses",),
    "Email addresses - view",
    "an account found by email is checked before use",
)
SIS = Need(
    ("read_sis", "manage_sis"),
    "SIS Data - read",
    "students are matched by SIS id",
)


def needs(*, sis_ids: bool) -> tuple[Need, ...]:
    """What the run reads: logins and emails always, SIS ids when the roster has any."""
    return (LOGINS, EMAILS, SIS) if sis_ids else (LOGINS, EMAILS)


def asked(wanted: tuple[Need, ...]) -> list[str]:
    """The permission names to ask Canvas about."""
    return [name for need in wanted for name in need.names]


def missing(rights: Mapping[str, object], wanted: tuple[Need, ...]) -> list[Need]:
    """The needs no granted right covers (only a JSON ``true`` grants)."""
    return [need for need in wanted if not any(rights.get(n) is True for n in need.names)]


def explain(gaps: list[Need]) -> str:
    """The stop reason: each missing permission in Canvas's words, and why the sync needs it."""
    parts = [f"'{need.label}' ({' or '.join(need.names)}: {need.why})" for need in gaps]
    return (
        "the token's admin role cannot see what exact matching needs, so existing guardians "
        "and pairings would look absent; nothing was written. Give the role " + "; ".join(parts)
    )


PROVIDERS_RIGHT = "manage_account_settings"


def chosen_provider(choice: str, providers: Sequence[AuthProvider]) -> AuthProvider | None:
    """The provider ``--login-provider`` names among the account's active ones, as Canvas
    finds it for ``pseudonym[authentication_provider_id]``: an id, or a type such as
    ``canvas`` for the first of that type (AuthenticationProvider's ``find``); None when the
    account has none such, and a create would be a 404."""
    for provider in providers:
        if str(provider.id) == choice or provider.auth_type == choice:
            return provider
    return None


def no_such_provider(choice: str, providers: Sequence[AuthProvider]) -> str:
    """The stop reason when the chosen provider is not the account's."""
    have = ", ".join(f"{p.id} ({p.auth_type})" for p in providers) or "none"
    what = "no Canvas sign-in provider" if choice == "canvas" else f"no provider {choice!r}"
    return (
        f"the account has {what} to bind new guardian logins to (its providers: {have}); "
        "nothing was written. Give --login-provider one of those ids, or none for logins "
        "bound to no provider"
    )


def providers_unreadable(choice: str) -> str:
    """The warning when the token may not list the providers: the run goes on."""
    return (
        f"the token may not list the account's authentication providers ({PROVIDERS_RIGHT}), "
        f"so --login-provider {choice} is not checked before the run; a create Canvas refuses "
        "for an unknown provider stops the run"
    )
