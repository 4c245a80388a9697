"""Talking to Canvas: the pure protocol, the async client, pacing, retries and the error tree."""

from canvas_observers.canvas.client import CanvasClient, RequestCounts
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    InvalidToken,
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
    RetryableError,
    ServerError,
    Throttled,
    TransportError,
    UnsafeRequest,
)
from canvas_observers.canvas.models import CanvasUser, PairingCode
from canvas_observers.canvas.net import check_base_url, is_loopback
from canvas_observers.canvas.pacing import PacingPolicy
from canvas_observers.canvas.retry import RetryPolicy

__all__ = [
    "CanvasClient",
    "CanvasError",
    "CanvasUser",
    "ConfigurationError",
    "InvalidToken",
    "NotAllowed",
    "NotFound",
    "OutcomeUnknown",
    "PacingPolicy",
    "PairingCode",
    "RequestCounts",
    "RequestRejected",
    "RetryPolicy",
    "RetryableError",
    "ServerError",
    "Throttled",
    "TransportError",
    "UnsafeRequest",
    "check_base_url",
    "is_loopback",
]
