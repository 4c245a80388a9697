"""Operating knobs and request statistics of the fake Canvas (shared by app and middleware)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

SELF_REGISTRATION = ("none", "observer", "all")
DEFAULT_ADMIN_TOKEN = "fake-admin-token"  # noqa: S105 - a fake server's well-known demo token


@dataclass
class FakeConfig:
    """Knobs that `fake-canvas` flags and `POST /__fake__/config` set (mutable on purpose)."""

    admin_token: str = DEFAULT_ADMIN_TOKEN
    latency_ms: float = 0.0
    throttle: bool = True
    throttle_status: int = 429  # or 403 with the plain-text body of older Canvas
    request_cost: float = 0.05  # units added per finished request
    fault_rate: float = 0.0  # share of requests answered 500/502/503 before doing anything
    lost_response_rate: float = 0.0  # share of writes committed, then 502 or dropped
    seed: int = 0
    forbidden_status: int = 401  # 403 imitates Canvas's api_auth_error_updates flag
    # The built-in admin's role: None = every permission (roles.ACCOUNT_ADMIN), else these.
    admin_permissions: frozenset[str] | None = None
    # Single sign-on: the account has a SAML provider next to Canvas's own, so an unbound
    # login with an SIS id has a managed password (Pseudonym#managed_password?).
    sso: bool = False
    # Account reports: a report takes report_seconds plus reports.ROW_SECONDS per CSV row.
    report_seconds: float = 2.0
    # Canvas writes the users and user_observers CSVs in no set order: shuffle their rows
    # (by `seed` and the report's id). False keeps them in id order.
    report_shuffle: bool = True
    # A Canvas whose file URLs carry no verifier (the root-account feature
    # disable_adding_uuid_verifier_in_api) and which reads no API token on file paths: a
    # report's download is sent to the login page.
    files_behind_login: bool = False
    # Where report downloads redirect to (the signed-URL files store). In-process the app
    # answers this host too; the real server sets it to its second loopback port.
    files_origin: str = "http://127.0.0.2:8901"
    # The account's default_time_zone (GET /accounts/self): Canvas's own default for an account
    # whose admins never set one (Account: time_zone_attribute default "America/Denver").
    time_zone: str = "America/Denver"
    # The root account's self_registration setting (Account#self_registration_allowed_for?):
    # "none", "observer" (parents only, with a pairing code) or "all". The fake's account
    # lets parents sign up, as the accounts that hand out pairing codes do.
    self_registration: str = "observer"
    # Leaky bucket (app/middleware/request_throttle.rb defaults)
    hwm: float = 600.0
    up_front_cost: float = 50.0
    outflow: float = 10.0

    KNOBS = (
        "latency_ms",
        "throttle",
        "throttle_status",
        "request_cost",
        "fault_rate",
        "lost_response_rate",
        "seed",
        "forbidden_status",
        "report_seconds",
        "report_shuffle",
        "files_behind_login",
        "sso",
        "time_zone",
        "self_registration",
        "hwm",
        "up_front_cost",
        "outflow",
    )

    def update(self, values: dict[str, Any]) -> None:
        """Apply a JSON object of knobs; unknown keys raise ValueError."""
        unknown = set(values) - set(self.KNOBS)
        if unknown:
            raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
        for key, value in values.items():
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false, not {value!r}")
                setattr(self, key, value)
            else:
                number = type(current)(value)
                if key == "self_registration" and number not in SELF_REGISTRATION:
                    raise ValueError(
                        f"self_registration must be none, observer or all, not {value!r}"
                    )
                if key == "report_seconds" and not number >= 0:
                    raise ValueError(f"report_seconds must be 0 or more, not {value!r}")
                setattr(self, key, number)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("admin_token")
        if self.admin_permissions is not None:
            data["admin_permissions"] = sorted(self.admin_permissions)
        return data


@dataclass
class FakeStats:
    """Request counts served at `GET /__fake__/stats`."""

    by_method: Counter[str] = field(default_factory=Counter)
    by_route: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    faults: int = 0
    lost_responses: int = 0
    files_with_authorization: int = 0  # files-store requests refused for an Authorization header
    file_downloads: int = 0  # report files the files store handed out

    def as_json(self) -> dict[str, Any]:
        return {
            "by_method": dict(self.by_method),
            "by_route": dict(self.by_route),
            "throttled": self.throttled,
            "faults": self.faults,
            "lost_responses": self.lost_responses,
            "files_with_authorization": self.files_with_authorization,
            "file_downloads": self.file_downloads,
        }

    def reset(self) -> None:
        self.by_method.clear()
        self.by_route.clear()
        self.throttled = self.faults = self.lost_responses = 0
        self.files_with_authorization = self.file_downloads = 0
