"""Records of the fake Canvas's district (mutable rows, owned by FakeState) and helpers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Canvas prints UTC times as ISO 8601 with a Z (e.g. PairingCode.expires_at)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sortable_from(name: str) -> str:
    """User.last_name_first: "Ana María Pérez" -> "Pérez, Ana María" (suffixes stay last)."""
    parts = name.split()
    suffix = ""
    if len(parts) > 2 and parts[-1].lower() in _SUFFIXES:
        suffix = " " + parts.pop()
    if len(parts) < 2:
        return name.strip()
    return f"{parts[-1]}, {' '.join(parts[:-1])}{suffix}"


def is_email(address: str) -> bool:
    return bool(_EMAIL.match(address))


def login_key(unique_id: str) -> str:
    """The form Canvas compares login ids on for uniqueness (``unique_id_normalized``):
    compatibility-folded (NFKC: "Ⅳ" is "IV"), case-folded, surrounding spaces dropped and
    inner runs of spaces made one (db/migrate/20250417195912_normalize_pseudonyms.rb and
    lib/data_fixup/normalize_pseudonyms.rb; docs/canvas-behaviour.md)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", unique_id).casefold())
    return " ".join(folded.split())


class StateError(Exception):
    """A builder was asked for something Canvas would refuse (caught by the routes)."""

    def __init__(self, field_name: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.kind = kind
        self.message = message


@dataclass
class Login:
    """A pseudonym: the login id (unique_id) and SIS ids, in the root account.

    ``workflow_state`` is active, suspended or deleted; ``authentication_provider_id`` None
    is a login bound to no provider (Canvas guesses how it signs in: managed_password?)."""

    id: int
    user_id: int
    unique_id: str
    sis_user_id: str | None = None
    integration_id: str | None = None
    workflow_state: str = "active"
    authentication_provider_id: int | None = None

    @property
    def live(self) -> bool:
        """Not deleted: an active or suspended login still holds its login id."""
        return self.workflow_state != "deleted"


@dataclass
class Provider:
    """An authentication provider of the root account (``canvas`` or an SSO type)."""

    id: int
    auth_type: str  # canvas, saml, cas, ldap, openid_connect, google...
    position: int
    workflow_state: str = "active"


@dataclass
class Channel:
    """An email communication channel (contact address) of a user."""

    id: int
    address: str
    workflow_state: str = "unconfirmed"  # "active" once confirmed (or skip_confirmation)


@dataclass
class User:
    id: int
    name: str
    sortable_name: str
    short_name: str
    created_at: datetime
    workflow_state: str = "pre_registered"
    is_admin: bool = False
    permissions: frozenset[str] = frozenset()  # an admin's rights (fake_canvas/roles.py)
    locale: str | None = None
    logins: list[Login] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)  # email channels, by position
    haystack: str = ""  # lower-cased searchable fields joined by NUL, rebuilt on change

    @property
    def active(self) -> bool:
        return self.workflow_state != "deleted"

    @property
    def login(self) -> Login | None:
        """The login Canvas shows (SisPseudonym.for: deleted logins skipped, suspended ones
        kept, one with a SIS id preferred)."""
        live = [p for p in self.logins if p.live]
        with_sis = [p for p in live if p.sis_user_id is not None]
        candidates = with_sis or live
        return candidates[0] if candidates else None

    def can(self, permission: str) -> bool:
        """An account admin whose role grants this permission."""
        return self.is_admin and permission in self.permissions

    @property
    def emails(self) -> list[str]:
        """The addresses of the user's email channels, first one first."""
        return [c.address for c in self.channels]

    @property
    def email(self) -> str | None:
        return self.emails[0] if self.emails else None

    def sort_key(self) -> tuple[str, int]:
        return (self.sortable_name.casefold(), self.id)


@dataclass
class Course:
    id: int
    name: str
    course_code: str
    sis_course_id: str | None = None
    workflow_state: str = "unpublished"


@dataclass
class Enrollment:
    id: int
    user_id: int
    course_id: int
    type: str
    state: str
    created_at: datetime
    associated_user_id: int | None = None  # the student an ObserverEnrollment follows


@dataclass
class ObservationLink:
    observer_id: int
    student_id: int
    workflow_state: str = "active"
    created_by_sis: bool = False  # made by an SIS import (tests stage one with state.link)


@dataclass
class PairingCodeRecord:
    user_id: int
    code: str
    expires_at: datetime
    workflow_state: str = "active"


@dataclass(frozen=True)
class SentEmail:
    user_id: int
    address: str
    # "confirm_registration", "pseudonym_registration", "pseudonym_registration_done",
    # "confirm_email_communication_channel", "new_email_address_added"
    kind: str


@dataclass
class StoredFile:
    """A report's file (an account attachment): served by the files store once available."""

    id: int
    filename: str
    content_type: str
    data: bytes
    verifier: str  # the download URL's `verifier` (Canvas uses the attachment's uuid)
    created_at: datetime
    available_at: datetime  # when its report completes; before that the file is not found


@dataclass
class AccountReport:
    """One run of an account report, its outcome fixed when it was requested (see reports.py)."""

    id: int
    report_type: str
    parameters: dict[str, Any]  # as sent, e.g. {"users": "true", "user_observers": "true"}
    created_at: datetime
    seconds: float  # how long the run takes from created_at to complete (or error)
    extra_text: str  # parameters["extra_text"] once running
    lines: list[int]  # lines of each CSV written (header included), in order
    file: StoredFile | None  # None: no CSV asked for, the run ends in "error"
    user_id: int  # who asked for it: the report's `user`, and whom its message goes to
