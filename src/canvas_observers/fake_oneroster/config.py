"""Settings of the fake OneRoster API, and the faults it can inject (tests flip them)."""

from __future__ import annotations

from dataclasses import dataclass, field

VERSION_PREFIXES = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}
TOKEN_PATH = "/oauth/access_token"  # noqa: S105 - a path, not a secret
MALFORMED_KINDS = ("no-sourcedid", "not-object", "bad-agents")


@dataclass
class FakeOneRosterConfig:
    """How the fake answers. Mutable: a test may change a switch between two requests.

    Faults, checked in this order before the request is served: ``rate_limit_every`` (every
    Nth API request is answered 429 with ``Retry-After: retry_after``), ``fault_rate`` (that
    share of API requests answered 500/502/503, seeded by ``seed``). ``expire_tokens_after``
    makes a token refused (401) after that many API requests, as an early expiry would;
    ``refuse_tokens`` refuses every token. ``endless_paging`` answers every offset with the
    first page and a next link; ``malformed`` spoils record ``malformed_index``;
    ``next_link_origin`` puts next links on another origin.
    """

    version: str = "1.1"
    client_id: str = "demo-client"
    client_secret: str = field(default="demo-secret", repr=False)
    client_auth: str = "any"  # any, basic or body: how the token endpoint takes credentials
    token_seconds: float = 3600.0
    max_limit: int = 1000
    total_count: bool = True
    links: bool = True
    rate_limit_every: int = 0
    retry_after: float = 1.0
    fault_rate: float = 0.0
    seed: int = 0
    expire_tokens_after: int = 0
    refuse_tokens: bool = False
    endless_paging: bool = False
    malformed: str = ""
    malformed_index: int = 0
    next_link_origin: str | None = None

    def __post_init__(self) -> None:
        if self.version not in VERSION_PREFIXES:
            raise ValueError(f"version must be 1.1 or 1.2, not {self.version!r}")
        if self.client_auth not in ("any", "basic", "body"):
            raise ValueError("client_auth must be any, basic or body")
        if self.malformed and self.malformed not in MALFORMED_KINDS:
            raise ValueError(f"malformed must be one of {', '.join(MALFORMED_KINDS)}")
        if not self.client_id or not self.client_secret:
            raise ValueError("the client id and secret must not be empty")

    @property
    def prefix(self) -> str:
        return VERSION_PREFIXES[self.version]
