"""What the OneRoster API reader needs to know, checked once before anything is sent.

The base URL names the version by its path (1EdTech's REST bindings put the 1.1 service
under ``/ims/oneroster/v1p1`` and the 1.2 rostering service under
``/ims/oneroster/rostering/v1p2``); a bare host needs ``version``. The token URL defaults to
``<origin>/oauth/access_token`` (PowerSchool's); other providers publish their own, given as
``token_url``. See docs/oneroster.md, "Reading from the SIS's OneRoster API".
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from canvas_observers.canvas.net import is_loopback, origin_of
from canvas_observers.canvas.retry import RetryPolicy
from canvas_observers.sis_api.errors import ConfigError, Secret

VERSIONS = ("1.1", "1.2")
VERSION_PATHS = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}
DEFAULT_TOKEN_PATH = "/oauth/access_token"  # noqa: S105 - a path, not a secret
DEFAULT_PAGE_SIZE = 100  # the default `limit` of the OneRoster 1.1 and 1.2 REST bindings
CLIENT_AUTH = ("basic", "body")


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """The SIS's OneRoster API and how to ask it.

    ``client_auth``: ``basic`` sends the client id and secret as HTTP Basic auth (RFC 6749
    section 2.3.1: every server must support it); ``body`` sends them as form fields, for the
    providers whose token endpoint wants that. ``scope`` is sent when given (some providers
    require one, e.g. ``https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly``).
    """

    base_url: str
    client_id: str
    client_secret: Secret
    version: str | None = None
    token_url: str | None = None
    scope: str | None = None
    client_auth: str = "basic"
    page_size: int = DEFAULT_PAGE_SIZE
    allow_insecure: bool = False
    timeout: float = 60.0
    max_in_flight: int = 2
    min_interval: float = 0.0  # seconds between the starts of two requests
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not isinstance(self.client_secret, Secret):
            raise TypeError("client_secret must be a Secret")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where to send what, resolved from an ``ApiConfig``."""

    base: httpx.URL  # the service root, e.g. https://sis.example/ims/oneroster/v1p1
    version: str
    token_url: httpx.URL

    @property
    def origin(self) -> tuple[str, str, int | None]:
        return origin_of(self.base)

    def collection(self, name: str) -> httpx.URL:
        return self.base.copy_with(path=f"{self.base.path.rstrip('/')}/{name}")


def _parse(url: str, what: str, *, allow_insecure: bool) -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise ConfigError(f"the {what} is not a URL: {url!r}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"the {what} must be http(s)://host...: {url!r}")
    if parsed.username or parsed.password:
        raise ConfigError(f"the {what} must not hold a user name or password")
    if parsed.query or parsed.fragment:
        raise ConfigError(f"the {what} must not have a query or fragment")
    if parsed.scheme == "http" and not allow_insecure and not is_loopback(parsed.host):
        raise ConfigError(
            f"refusing http:// to {parsed.host}: the client secret and the roster would travel "
            "in clear text (use https://)"
        )
    return parsed


def service_root(url: str) -> tuple[str, str | None]:
    """``url`` cut back to its service root when it goes on to a collection or record (a
    ``.../v1p1/users`` copied from the provider's API docs), and what was cut (``users``);
    ``(url, None)`` when there is nothing to cut or it is no URL (``resolve`` says why)."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        return url, None
    path = parsed.path
    for root in VERSION_PATHS.values():
        at = path.lower().find(root + "/")
        if at < 0:
            continue
        end = at + len(root)
        rest = path[end:].strip("/")
        if rest:
            return str(parsed.copy_with(path=path[:end])), rest
    return url, None


def version_of_path(path: str) -> str | None:
    """``1.1`` or ``1.2`` when the path ends with that version's service root, else None."""
    clean = path.rstrip("/").lower()
    for version, root in VERSION_PATHS.items():
        if clean.endswith(root):
            return version
    return None


def resolve(config: ApiConfig) -> Endpoints:
    """The service root, version and token URL; ConfigError when they cannot be told."""
    base = _parse(config.base_url, "OneRoster API URL", allow_insecure=config.allow_insecure)
    if config.version is not None and config.version not in VERSIONS:
        raise ConfigError(f"unknown OneRoster version {config.version!r}; use 1.1 or 1.2")
    if config.client_auth not in CLIENT_AUTH:
        raise ConfigError(f"client_auth must be basic or body, not {config.client_auth!r}")
    if not config.client_id.strip() or any(c in config.client_id for c in "\r\n:"):
        raise ConfigError("the client id is empty or has a colon or a line break")
    if not config.client_secret.reveal():
        raise ConfigError("the client secret is empty")
    if config.page_size < 1:
        raise ConfigError("page_size must be at least 1")
    from_path = version_of_path(base.path)
    if from_path is not None:
        if config.version is not None and config.version != from_path:
            raise ConfigError(
                f"the URL {base.path} is OneRoster {from_path}, but version {config.version} "
                "was asked for"
            )
        version = from_path
    elif base.path.strip("/"):
        raise ConfigError(
            f"the OneRoster API URL path {base.path} is neither a 1.1 root "
            f"({VERSION_PATHS['1.1']}) nor a 1.2 one ({VERSION_PATHS['1.2']}); give the root "
            "that ends in v1p1 or v1p2, or the host alone and the version"
        )
    elif config.version is None:
        raise ConfigError(
            "the OneRoster API URL is a host alone: say which version it serves (1.1 or 1.2), "
            "or give the root that ends in v1p1 or v1p2"
        )
    else:
        version = config.version
        base = base.copy_with(path=VERSION_PATHS[version])
    if config.token_url:
        token = _parse(config.token_url, "token URL", allow_insecure=config.allow_insecure)
    else:
        token = base.copy_with(path=DEFAULT_TOKEN_PATH)
    return Endpoints(
        base=base.copy_with(path=base.path.rstrip("/")), version=version, token_url=token
    )


@dataclass(frozen=True, slots=True)
class SecretRead:
    """The secret of ``--client-secret-file`` and a warning to print, if any."""

    secret: Secret
    warning: str | None = None


def read_client_secret(path: Path) -> SecretRead:
    """The client secret from a file, stripped; a warning when others may read the file."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read the client secret file {path}: {why}") from None
    secret = text.strip()
    if not secret:
        raise ConfigError(f"the client secret file {path} is empty")
    if any(c in secret for c in "\r\n"):
        raise ConfigError(f"the client secret file {path} holds more than one line")
    warning = None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warning = (
            f"warning: {path} can be read by other users of this machine; run: chmod 600 {path}"
        )
    return SecretRead(Secret(secret), warning)
