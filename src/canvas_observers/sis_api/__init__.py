"""Reading the roster from the SIS's OneRoster 1.1/1.2 REST API (OAuth 2.0 client
credentials) into a OneRoster CSV bundle folder that the bundle reader then reads."""

from canvas_observers.sis_api.config import ApiConfig, SecretRead, read_client_secret, resolve
from canvas_observers.sis_api.errors import (
    ConfigError,
    CredentialsRefused,
    MalformedRecord,
    ProviderError,
    Secret,
    SisApiError,
    UnsafeUrl,
)
from canvas_observers.sis_api.fetch import FetchResult, Progress, fetch_bundle

__all__ = [
    "ApiConfig",
    "ConfigError",
    "CredentialsRefused",
    "FetchResult",
    "MalformedRecord",
    "Progress",
    "ProviderError",
    "Secret",
    "SecretRead",
    "SisApiError",
    "UnsafeUrl",
    "fetch_bundle",
    "read_client_secret",
    "resolve",
]
