"""Frozen values parsed once at the edge from Canvas's JSON."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class CanvasUser:
    """A Canvas user as the API showed it; fields the token may not see are None."""

    id: int
    name: str
    sortable_name: str | None = None
    sis_user_id: str | None = None
    login_id: str | None = None
    email: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CanvasUser:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            sortable_name=_opt_str(data.get("sortable_name")),
            sis_user_id=_opt_str(data.get("sis_user_id")),
            login_id=_opt_str(data.get("login_id")),
            email=_opt_str(data.get("email")),
        )


@dataclass(frozen=True, slots=True)
class PairingCode:
    """An observer pairing code (6 case-sensitive characters, valid 7 days, single use)."""

    user_id: int
    code: str
    expires_at: str
    workflow_state: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairingCode:
        return cls(
            user_id=int(data["user_id"]),
            code=str(data["code"]),
            expires_at=str(data.get("expires_at") or ""),
            workflow_state=str(data.get("workflow_state") or ""),
        )


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A course enrollment (only what the sync needs: its type and state)."""

    id: int
    course_id: int
    user_id: int
    type: str
    enrollment_state: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Enrollment:
        return cls(
            id=int(data["id"]),
            course_id=int(data.get("course_id") or 0),
            user_id=int(data.get("user_id") or 0),
            type=str(data.get("type") or ""),
            enrollment_state=str(data.get("enrollment_state") or data.get("workflow_state") or ""),
        )


REPORT_DONE = frozenset({"complete"})
REPORT_FAILED = frozenset({"error", "aborted", "deleted"})


@dataclass(frozen=True, slots=True)
class AccountReport:
    """An account report as Canvas shows it while it runs (docs/canvas-behaviour.md,
    "Account reports"): ``status`` created/running/compiling/complete/error/aborted."""

    id: int
    status: str
    progress: int = 0
    file_url: str | None = None
    message: str = ""
    adopted: bool = False  # Canvas was already running it when asked to start one (409)

    @property
    def done(self) -> bool:
        return self.status in REPORT_DONE

    @property
    def failed(self) -> bool:
        return self.status in REPORT_FAILED

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountReport:
        attachment = data.get("attachment")
        url = attachment.get("url") if isinstance(attachment, dict) else None
        try:
            progress = int(data.get("progress") or 0)
        except (TypeError, ValueError):
            progress = 0
        params = data.get("parameters")
        extra = params.get("extra_text") if isinstance(params, dict) else None
        return cls(
            id=int(data["id"]),
            status=str(data.get("status") or ""),
            progress=max(0, min(progress, 100)),
            file_url=_opt_str(url or data.get("file_url")),
            # Canvas's own account of the run once it ended (what failed, for a failed run);
            # before that, or without it, the extra_text (a failed run's says "try again").
            message=str(data.get("message") or extra or ""),
        )

    @classmethod
    def named_by_conflict(cls, data: Any, location: str | None) -> AccountReport | None:
        """The report a 409 to a start names: Canvas already runs one of the same type and
        parameters, and answers with its JSON and a Location naming it. Marked ``adopted``;
        None when the answer names no report."""
        if isinstance(data, dict) and str(data.get("id", "")).isdigit():
            return replace(cls.from_json(data), adopted=True)
        tail = (location or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if tail.isdigit():
            return cls(id=int(tail), status="created", adopted=True)
        return None


@dataclass(frozen=True, slots=True)
class Login:
    """A login (pseudonym) of a user; ``sis_user_id`` is None when the token may not see it.
    ``workflow_state`` is active or suspended (the list leaves deleted logins out);
    ``authentication_provider_id`` None: bound to no provider."""

    id: int
    user_id: int
    unique_id: str
    sis_user_id: str | None = None
    workflow_state: str = "active"
    authentication_provider_id: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Login:
        provider = data.get("authentication_provider_id")
        return cls(
            id=int(data["id"]),
            user_id=int(data.get("user_id") or 0),
            unique_id=str(data.get("unique_id") or ""),
            sis_user_id=_opt_str(data.get("sis_user_id")),
            workflow_state=str(data.get("workflow_state") or "active"),
            authentication_provider_id=None if provider is None else int(provider),
        )


@dataclass(frozen=True, slots=True)
class AuthProvider:
    """An authentication provider of the account: ``auth_type`` canvas, saml, cas..."""

    id: int
    auth_type: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuthProvider:
        return cls(id=int(data["id"]), auth_type=str(data.get("auth_type") or ""))


@dataclass(frozen=True, slots=True)
class Channel:
    """A communication channel of a user (``type`` "email" for an email address)."""

    id: int
    address: str
    type: str
    workflow_state: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Channel:
        return cls(
            id=int(data["id"]),
            address=str(data.get("address") or ""),
            type=str(data.get("type") or ""),
            workflow_state=str(data.get("workflow_state") or ""),
        )
